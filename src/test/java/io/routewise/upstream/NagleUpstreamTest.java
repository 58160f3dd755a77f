package io.routewise.upstream;

import static io.routewise.RawHttp.contentLength;
import static io.routewise.RawHttp.readHead;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.routewise.config.ClientConfig;
import io.routewise.config.Secret;
import io.routewise.config.UpstreamConfig;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import okhttp3.OkHttpClient;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;

/**
 * An upstream that leaves Nagle's algorithm on (Java's and Python's servers do by default) and
 * writes its headers and its body separately holds the body until the headers are acknowledged. On
 * a pooled connection Linux delays that ACK, so before routewise acknowledged at once, every such
 * call took 40+ ms however small the answer (measured through routewise: 45 ms against 0.6 ms for
 * a client on a fresh connection; 3 ms with the fix). routewise learns it from the first such
 * call, so only that one may wait. The bound on the median is half the stall, far above the
 * healthy figure: this guards against the stall, it does not time the proxy.
 */
@EnabledOnOs(value = OS.LINUX, disabledReason = "TCP_QUICKACK and the 40 ms delayed ACK are Linux's")
class NagleUpstreamTest {
  private static final byte[] BODY = ("{\"id\":\"c1\",\"object\":\"chat.completion\",\"choices\":[{\"index\":0,"
      + "\"message\":{\"role\":\"assistant\",\"content\":\"" + "y".repeat(200) + "\"}}]}").getBytes(StandardCharsets.UTF_8);

  @Test
  void aBodyWrittenAfterItsHeadersIsNotHeldByOurDelayedAck() throws Exception {
    long[] millis = new long[11];
    calls(true, millis);
    assertTrue(millis[millis.length / 2] < 20, "median call " + millis[millis.length / 2]
        + " ms: the body waited for a delayed ACK; all, sorted: " + Arrays.toString(millis));
  }

  /** An upstream that sends headers and body together (nginx, most servers) must never pay the extra syscall. */
  @Test
  void anUpstreamSendingHeadersAndBodyTogetherIsNeverMarked() throws Exception {
    long[] millis = new long[11];
    UpstreamClient upstream = calls(false, millis);
    assertFalse(upstream.sendsBodyLate(), "marked as sending its body late; calls, sorted: " + Arrays.toString(millis));
  }

  /** One call per slot of {@code millis}, on one pooled connection; fills in their times, sorted. */
  private static UpstreamClient calls(boolean split, long[] millis) throws Exception {
    try (ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        IdleTimeouts timeouts = IdleTimeouts.forTimeouts(Duration.ofSeconds(5))) {
      Thread.ofVirtual().start(() -> serve(server, split));
      OkHttpClient shared = HttpClients.shared(new ClientConfig(4, Duration.ofSeconds(30)));
      try {
        UpstreamClient upstream = new UpstreamClient(new UpstreamConfig("weak",
            URI.create("http://127.0.0.1:" + server.getLocalPort() + "/v1"), Secret.of("none"), "m",
            Duration.ofSeconds(5), Duration.ofSeconds(5)), shared, timeouts, UpstreamListener.NONE);
        for (int i = 0; i < millis.length; i++) {
          long start = System.nanoTime();
          try (UpstreamResponse r = upstream.send("{\"messages\":[]}".getBytes(StandardCharsets.UTF_8), false)) {
            assertArrayEquals(BODY, r.bodyBytes(1 << 20));
          }
          millis[i] = (System.nanoTime() - start) / 1_000_000;
        }
        Arrays.sort(millis);
        return upstream;
      } finally {
        HttpClients.shutdown(shared);
      }
    }
  }

  /** Keep-alive, Nagle on (the default), headers and body in two writes when {@code split}, else one. */
  private static void serve(ServerSocket server, boolean split) {
    try (Socket s = server.accept()) {
      InputStream in = s.getInputStream();
      OutputStream out = s.getOutputStream();
      while (true) {
        String head = readHead(in);
        in.readNBytes(contentLength(head));
        byte[] headers = ("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + BODY.length
            + "\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1);
        if (split) {
          out.write(headers);
          out.flush();
          out.write(BODY);
        } else {
          byte[] whole = Arrays.copyOf(headers, headers.length + BODY.length);
          System.arraycopy(BODY, 0, whole, headers.length, BODY.length);
          out.write(whole);
        }
        out.flush();
      }
    } catch (IOException endOfTest) {
      // the client closed the connection
    }
  }

}
