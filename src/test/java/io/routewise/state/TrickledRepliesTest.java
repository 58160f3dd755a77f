package io.routewise.state;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.routewise.RedisServer;
import io.routewise.config.Secret;
import io.routewise.config.StateConfig;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * A Redis whose replies come a few bytes at a time (a congested or lossy link, a proxy in between, a
 * loaded Redis answering a pipeline in pieces): each read gets some bytes well within {@code
 * state.timeout_ms}, but the reply as a whole takes far longer. README: timeout_ms is the "connect/reply
 * limit of each Redis call; slower counts as down". A helper's trial: with replies trickled one byte per
 * 50 ms, the sync thread sat in one read for two minutes, routewise_state_redis_up stayed 1, no
 * warning, and α froze (the targets were neither shared nor held on the replica's own traffic).
 */
class TrickledRepliesTest {

  /** Forwards to Redis; once {@code trickle} is set, its replies go one byte every {@code gapMillis}. */
  static final class TrickleProxy implements AutoCloseable {
    final ServerSocket server;
    volatile boolean trickle;
    final long gapMillis;

    TrickleProxy(int redisPort, long gapMillis) throws Exception {
      this.gapMillis = gapMillis;
      server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
      Thread.ofPlatform().daemon().start(() -> {
        while (!server.isClosed()) {
          try {
            Socket client = server.accept();
            Socket redis = new Socket(InetAddress.getLoopbackAddress(), redisPort);
            pump(client.getInputStream(), redis.getOutputStream(), false, client, redis);
            pump(redis.getInputStream(), client.getOutputStream(), true, client, redis);
          } catch (Exception closed) {
            return;
          }
        }
      });
    }

    private void pump(InputStream in, OutputStream out, boolean replies, Socket a, Socket b) {
      Thread.ofPlatform().daemon().start(() -> {
        byte[] buf = new byte[8192];
        try {
          for (int n; (n = in.read(buf)) > 0; ) {
            if (replies && trickle) {
              for (int i = 0; i < n; i++) {
                out.write(buf[i]);
                out.flush();
                Thread.sleep(gapMillis);
              }
            } else {
              out.write(buf, 0, n);
              out.flush();
            }
          }
        } catch (Exception gone) {
          // either side closed
        } finally {
          try {
            a.close();
            b.close();
          } catch (Exception ignored) {
            // closed already
          }
        }
      });
    }

    String url() {
      return "redis://127.0.0.1:" + server.getLocalPort() + "/0";
    }

    @Override
    public void close() throws Exception {
      server.close();
    }
  }

  @Test
  void aReplyTrickledPastTheTimeoutFailsTheCallInAboutTheTimeout() throws Exception {
    try (RedisServer redis = RedisServer.start(); TrickleProxy proxy = new TrickleProxy(redis.port(), 50);
        RedisStateStore store = new RedisStateStore(new StateConfig(Secret.of(proxy.url()), Duration.ofMillis(1000),
            Duration.ofMillis(250), Duration.ofMillis(10), "trickle"))) {
      store.ping(); // connected, version checked
      proxy.trickle = true;
      // INFO stats is about a kilobyte: some 50 s at a byte every 50 ms. Every byte comes well within
      // the 250 ms timeout, the reply as a whole does not.
      long start = System.nanoTime();
      assertTimeoutPreemptively(Duration.ofSeconds(5), () -> assertThrows(Exception.class, store::evictedKeys),
          "a Redis call must not outlast state.timeout_ms by far, however its reply is cut up");
      long millis = (System.nanoTime() - start) / 1_000_000;
      assertTrue(millis < 2_000, "the call failed only after " + millis + " ms (timeout_ms 250)");
    }
  }

  /**
   * The sync (here one that only checks that Redis takes writes) counts a Redis whose replies come in
   * pieces, each within the timeout, the whole not, as down: routewise_state_redis_up says 0, and each
   * replica holds its targets on its own. Before, every sync "worked", slowly, and Redis stayed up.
   */
  @Test
  void theSyncCountsARedisWhoseRepliesTrickleAsDown() throws Exception {
    try (RedisServer redis = RedisServer.start(); TrickleProxy proxy = new TrickleProxy(redis.port(), 100);
        RedisStateStore store = new RedisStateStore(new StateConfig(Secret.of(proxy.url()), Duration.ofMillis(100),
            Duration.ofMillis(250), Duration.ofMillis(10), "trickle"));
        io.routewise.routing.StateSync sync = new io.routewise.routing.StateSync(java.util.List.of(), store,
            Duration.ofMillis(100), io.routewise.routing.StateListener.NONE)) {
      sync.runOnce();
      assertTrue(sync.storeUp());
      proxy.trickle = true; // "+OK" to each write: half a second a reply, every byte within 100 ms
      sync.runOnce();
      sync.runOnce(); // the first on a connection still open; this one, on a new one
      assertTrue(!sync.storeUp(), "a Redis whose every reply takes twice timeout_ms counts as down");
      proxy.trickle = false;
      long deadline = System.nanoTime() + 5_000_000_000L;
      while (!sync.storeUp() && System.nanoTime() < deadline) {
        sync.runOnce();
      }
      assertTrue(sync.storeUp(), "rejoined once its replies come whole again");
    }
  }
}
