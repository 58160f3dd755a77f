package io.routewise.upstream;

import static io.routewise.RawHttp.contentLength;
import static io.routewise.RawHttp.readHead;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.routewise.config.ClientConfig;
import io.routewise.config.Secret;
import io.routewise.config.UpstreamConfig;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import okhttp3.OkHttpClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Servers close idle keep-alive connections (uvicorn, so vLLM, and Node after 5 s) long before
 * routewise's pool lets them go (client.keep_alive_ms, 5 min). Before, the next request drew such a
 * connection and its client got a 502 (or a needless failover): the request had never reached
 * the upstream. Now it is sent once more on a new connection. Not resent: a connection that fails
 * later than a second after the request (the upstream may have been working on it), and one used
 * less than a second before (a worker crashing on the request: UpstreamReplayTest).
 */
class StaleConnectionTest {
  private static final byte[] BODY = "{\"id\":\"c1\",\"object\":\"chat.completion\",\"choices\":[]}"
      .getBytes(StandardCharsets.UTF_8);

  private final AtomicInteger received = new AtomicInteger();
  private volatile int answerFirst = Integer.MAX_VALUE; // requests answered on a connection before it misbehaves
  private ServerSocket server;
  private IdleTimeouts timeouts;
  private OkHttpClient shared;
  private UpstreamClient upstream;

  @BeforeEach
  void start() throws IOException {
    server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    Thread.ofVirtual().start(this::accept);
    timeouts = IdleTimeouts.forTimeouts(Duration.ofSeconds(5));
    shared = HttpClients.shared(new ClientConfig(4, Duration.ofSeconds(30)));
    upstream = new UpstreamClient(new UpstreamConfig("weak",
        URI.create("http://127.0.0.1:" + server.getLocalPort() + "/v1"), Secret.of("none"), "m",
        Duration.ofSeconds(5), Duration.ofSeconds(5)), shared, timeouts, UpstreamListener.NONE);
  }

  @AfterEach
  void stop() throws IOException {
    HttpClients.shutdown(shared);
    timeouts.close();
    server.close();
  }

  private void call() throws Exception {
    try (UpstreamResponse r = upstream.send("{\"messages\":[]}".getBytes(StandardCharsets.UTF_8), false)) {
      assertEquals(200, r.status());
      r.bodyBytes(1 << 20);
    }
  }

  @Test
  void aPooledConnectionTheUpstreamClosedWhileIdleIsNotTheClientsFailure() throws Exception {
    call();
    Thread.sleep(1200); // the server's 300 ms keep-alive is over: it closed the connection
    call();
    assertEquals(2, received.get(), "each request reached the upstream once");
    Thread.sleep(1200);
    call(); // and again: a resend goes on a new connection, which the pool does not keep
    assertEquals(3, received.get());
  }

  @Test
  void aPooledConnectionThatBreaksAfterWorkingOnTheRequestIsNotResent() throws Exception {
    answerFirst = 1; // then it reads the next request, works on it for 1.5 s and drops the connection
    call();
    Thread.sleep(1200); // idle long enough to be taken for stale, had it failed at once
    UpstreamException e = assertThrows(UpstreamException.class, this::call);
    assertEquals("Could not reach the weak upstream: the connection closed before a complete answer.", e.getMessage());
    assertEquals(2, received.get(), "not sent twice");
  }

  private void accept() {
    while (!server.isClosed()) {
      try {
        Socket s = server.accept();
        Thread.ofVirtual().start(() -> serve(s));
      } catch (IOException closed) {
        return;
      }
    }
  }

  /** Keep-alive for 300 ms between requests, as uvicorn's is for 5 s. */
  private void serve(Socket s) {
    try (s) {
      s.setSoTimeout(300);
      InputStream in = s.getInputStream();
      OutputStream out = s.getOutputStream();
      for (int answered = 0; ; answered++) {
        String head;
        try {
          head = readHead(in);
        } catch (SocketTimeoutException idle) {
          return; // closes the idle connection, as the servers do
        }
        s.setSoTimeout(0);
        in.readNBytes(contentLength(head));
        received.incrementAndGet();
        if (answered >= answerFirst) {
          Thread.sleep(1500);
          return;
        }
        out.write(("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + BODY.length
            + "\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
        out.write(BODY);
        out.flush();
        s.setSoTimeout(answerFirst == Integer.MAX_VALUE ? 300 : 0);
      }
    } catch (IOException | InterruptedException e) {
      // the client closed the connection, or the test ended
    }
  }
}
