package io.routewise.upstream;

import static io.routewise.RawHttp.contentLength;
import static io.routewise.RawHttp.readHead;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
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
 * the upstream. Now a connection idle a second or more is looked at before the request is written
 * on it, and a closed one is passed over for a new connection. A connection that breaks after the
 * request was written is not resent, however soon: the upstream got the request (a worker that
 * crashed on it), and a resend would run it twice.
 */
class StaleConnectionTest {
  private static final byte[] BODY = "{\"id\":\"c1\",\"object\":\"chat.completion\",\"choices\":[]}"
      .getBytes(StandardCharsets.UTF_8);

  private final AtomicInteger received = new AtomicInteger();
  private volatile int answerFirst = Integer.MAX_VALUE; // requests answered on a connection before it misbehaves
  private volatile String extra; // written after each answer, past its Content-Length
  private volatile boolean http10; // answers as HTTP/1.0 without keep-alive, and closes the connection after it
  private ServerSocket server;
  private IdleTimeouts timeouts;
  private OkHttpClient shared;
  private UpstreamClient upstream;

  @BeforeEach
  void start() throws IOException {
    server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    io.routewise.RawHttp.serveEach(server, this::serve);
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

  /**
   * A call started after a shutdown cancelled every call (its decision ended just then) is cancelled
   * too: it was sent, an answer bought for a client the stopping server was about to cut off (a review).
   */
  @Test
  void aCallStartedAfterAllWereCancelledIsNeverSent() throws Exception {
    call();
    upstream.cancelAllCalls();
    UpstreamException e = assertThrows(UpstreamException.class, this::call);
    assertEquals(1, received.get(), "the second request never reached the upstream: " + e.getMessage());
  }

  @Test
  void aPooledConnectionTheUpstreamClosedWhileIdleIsNotTheClientsFailure() throws Exception {
    try (io.routewise.StderrCapture log = new io.routewise.StderrCapture()) {
      call();
      Thread.sleep(1200); // the server's 300 ms keep-alive is over: it closed the connection
      call();
      assertTrue(log.text().contains("Setting client.keep_alive_ms below"), log.text());
    }
    assertEquals(2, received.get(), "each request reached the upstream once");
    Thread.sleep(1200);
    call(); // and again: a resend goes on a new connection, which the pool does not keep
    assertEquals(3, received.get());
  }

  /**
   * An upstream that went down closed its pooled connections too: the request finds one closed, and
   * the new connection is refused. That is no keep-alive to tune; the hint to lower
   * client.keep_alive_ms had been logged (an operator trial), and comes only when the new one answers.
   */
  @Test
  void anUpstreamThatWentDownIsNotBlamedOnKeepAlive() throws Exception {
    try (io.routewise.StderrCapture log = new io.routewise.StderrCapture()) {
      call();
      server.close(); // down: its idle connection closes after 300 ms, new ones are refused
      Thread.sleep(1200);
      assertThrows(UpstreamException.class, this::call);
      assertFalse(log.text().contains("keep_alive_ms"), log.text());
    }
  }

  @Test
  void aPooledConnectionThatBreaksOnceTheRequestArrivedIsNotResent() throws Exception {
    answerFirst = 1; // then it reads the next request and drops the connection at once (a crashed worker)
    call();
    Thread.sleep(1200); // idle long enough to be looked at: alive then
    UpstreamException e = assertThrows(UpstreamException.class, this::call);
    assertEquals("Could not reach the weak upstream: the connection closed before a complete answer.", e.getMessage());
    assertEquals(2, received.get(), "not sent twice");
  }

  /**
   * Looking at a live TLS connection (a 1 ms read on the TLS socket) leaves it usable: the next call
   * goes out on it as if nothing had happened.
   */
  @Test
  void lookingAtALiveTlsConnectionLeavesItWorking() throws Exception {
    com.github.tomakehurst.wiremock.WireMockServer tls = new com.github.tomakehurst.wiremock.WireMockServer(
        com.github.tomakehurst.wiremock.core.WireMockConfiguration.options().httpDisabled(true).dynamicHttpsPort()
            .bindAddress("127.0.0.1"));
    tls.start();
    javax.net.ssl.X509TrustManager trustAll = new javax.net.ssl.X509TrustManager() { // WireMock's own certificate
      @Override
      public void checkClientTrusted(java.security.cert.X509Certificate[] chain, String type) {}

      @Override
      public void checkServerTrusted(java.security.cert.X509Certificate[] chain, String type) {}

      @Override
      public java.security.cert.X509Certificate[] getAcceptedIssuers() {
        return new java.security.cert.X509Certificate[0];
      }
    };
    try {
      tls.stubFor(com.github.tomakehurst.wiremock.client.WireMock.post("/v1/chat/completions").willReturn(
          com.github.tomakehurst.wiremock.client.WireMock.okJson(new String(BODY, StandardCharsets.UTF_8))));
      javax.net.ssl.SSLContext ssl = javax.net.ssl.SSLContext.getInstance("TLS");
      ssl.init(null, new javax.net.ssl.TrustManager[] {trustAll}, null);
      OkHttpClient trusting = shared.newBuilder().sslSocketFactory(ssl.getSocketFactory(), trustAll)
          .hostnameVerifier((host, session) -> true).protocols(java.util.List.of(okhttp3.Protocol.HTTP_1_1)).build();
      upstream = new UpstreamClient(new UpstreamConfig("strong", URI.create("https://127.0.0.1:" + tls.httpsPort() + "/v1"),
          Secret.of("none"), "m", Duration.ofSeconds(5), Duration.ofSeconds(5)), trusting, timeouts, UpstreamListener.NONE);
      for (int i = 0; i < 3; i++) {
        call();
        Thread.sleep(1200);
      }
      assertEquals(1, trusting.connectionPool().connectionCount(), "one connection, looked at and kept");
    } finally {
      tls.stop();
    }
  }


  /**
   * An upstream that writes more than its answer: a Content-Length counted in characters, or an
   * answer sent twice. The next request on that connection read the rest as its own answer, so each
   * client got the one before it's. Now a pooled connection holding bytes is not used again.
   */
  @Test
  void bytesPastAnAnswerAreNeverReadAsTheNextRequestsAnswer() throws Exception {
    assertTrue(StaleConnections.seesBufferedBytes(), "OkHttp's buffer is where the check looks first");
    extra = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
    try (io.routewise.StderrCapture log = new io.routewise.StderrCapture()) {
      for (int i = 0; i < 4; i++) {
        try (UpstreamResponse r = upstream.send("{\"messages\":[]}".getBytes(StandardCharsets.UTF_8), false)) {
          assertEquals(200, r.status());
          assertEquals(new String(BODY, StandardCharsets.UTF_8), new String(r.bodyBytes(1 << 20), StandardCharsets.UTF_8));
        }
      }
      assertEquals(4, received.get(), "each request answered once, on a fresh connection");
      String said = log.text();
      assertTrue(said.contains("sent bytes past the end of an answer"), said);
      assertEquals(said.indexOf("past the end"), said.lastIndexOf("past the end"), "said once: " + said);
    }
  }

  /**
   * An HTTP/1.0 answer without {@code Connection: keep-alive} ends its connection (RFC 9112 section 9.3:
   * Python's http.server, the mock upstream many write first, answers so). OkHttp pooled it anyway, so
   * the next request, drawn within the second before the pool's look, was written into the closed
   * connection: every other call to such an upstream was a 502 (a review, by hand).
   */
  @Test
  void anHttp10AnswerWithoutKeepAliveEndsItsConnection() throws Exception {
    http10 = true;
    for (int i = 0; i < 4; i++) {
      call();
    }
    assertEquals(4, received.get(), "each request reached the upstream once, each on a connection of its own");
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
          return;
        }
        java.io.ByteArrayOutputStream answer = new java.io.ByteArrayOutputStream();
        answer.write(((http10 ? "HTTP/1.0" : "HTTP/1.1")
            + " 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + BODY.length
            + "\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
        answer.write(BODY);
        if (extra != null) { // in the same write, as a miscounted Content-Length sends it (later bytes can race the check)
          answer.write(extra.getBytes(StandardCharsets.ISO_8859_1));
        }
        out.write(answer.toByteArray());
        out.flush();
        if (http10) {
          return; // closed after its answer, as HTTP/1.0 is without keep-alive
        }
        s.setSoTimeout(answerFirst == Integer.MAX_VALUE ? 300 : 0);
      }
    } catch (IOException e) {
      // the client closed the connection, or the test ended
    }
  }
}
