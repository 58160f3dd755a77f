package io.routewise.server;

import static io.routewise.RawHttp.contentLength;
import static io.routewise.RawHttp.readHead;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.routewise.Routewise;
import io.routewise.TestConfigs;
import io.routewise.routers.RouterCatalog;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A client that gives up on a slow completion (its own timeout, a closed tab, Ctrl-C) must not leave
 * routewise waiting on, and paying for, a generation nobody will read. The upstream here is a raw
 * socket server, so the test sees exactly when routewise drops the upstream connection; the
 * upstream timeout is 30 s, so nothing else would drop it within the test's waits.
 */
class ClientDisconnectTest {
  private static final String ANSWER =
      "{\"id\":\"c1\",\"object\":\"chat.completion\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
          + "\"content\":\"slow but sure\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":3,"
          + "\"completion_tokens\":4,\"total_tokens\":7}}";

  private RawUpstream upstream;
  private Routewise routewise;

  @AfterEach
  void stop() throws IOException {
    if (routewise != null) {
      routewise.close();
    }
    upstream.close();
  }

  private void start(long answerAfterMs) throws IOException {
    upstream = new RawUpstream(answerAfterMs);
    String url = "http://127.0.0.1:" + upstream.port() + "/v1";
    routewise = Routewise.start(TestConfigs.config(TestConfigs.yaml(url, url, "")
        .replace("timeout_ms: 1500", "timeout_ms: 30000")), RouterCatalog.standard(), id -> null, () -> {});
  }

  /**
   * A router that takes its time (a causal_llm judge timing out): a client that gave up meanwhile
   * still had its answer bought from the upstream, counted as a 200 (a helper's trial).
   */
  @Test
  void aClientThatLeavesDuringASlowDecisionCostsNoUpstreamCall() throws Exception {
    upstream = new RawUpstream(0);
    String url = "http://127.0.0.1:" + upstream.port() + "/v1";
    io.routewise.routing.Router slow = prompt -> {
      Thread.sleep(1_500);
      return 0.9;
    };
    routewise = Routewise.start(TestConfigs.config(TestConfigs.yaml(url, url, "routers: {slow: {}}")),
        RouterCatalog.standard().with("slow", ctx -> slow), id -> null, () -> {});
    try (Socket client = new Socket(InetAddress.getLoopbackAddress(), routewise.port())) {
      client.getOutputStream().write(new String(request(false), StandardCharsets.UTF_8)
          .replace("router-random-0.5", "router-slow-0.500").getBytes(StandardCharsets.UTF_8)); // same length
      Thread.sleep(300);
    } // gone while the router thinks
    awaitMetric("status=\"499\"} 1.0");
    assertFalse(upstream.received.await(1, TimeUnit.SECONDS), "no upstream call for a client that left");
  }

  @Test
  void aNonStreamedCallIsCancelledWhenItsClientDisconnects() throws Exception {
    start(-1); // never answers
    try (Socket client = new Socket(InetAddress.getLoopbackAddress(), routewise.port())) {
      client.getOutputStream().write(request(false));
      assertTrue(upstream.received.await(5, TimeUnit.SECONDS), "the call reached the upstream");
    } // the client gives up
    assertTrue(upstream.dropped.await(5, TimeUnit.SECONDS),
        "routewise dropped the upstream call (otherwise it waits out the 30 s timeout)");
    String metrics = awaitMetric("status=\"499\"} 1.0");
    assertTrue(metrics.contains("outcome=\"client_closed\""), metrics);
  }

  @Test
  void aStreamStillWaitingForItsFirstByteIsCancelledWhenItsClientDisconnects() throws Exception {
    start(-1);
    try (Socket client = new Socket(InetAddress.getLoopbackAddress(), routewise.port())) {
      client.getOutputStream().write(request(true));
      assertTrue(upstream.received.await(5, TimeUnit.SECONDS), "the call reached the upstream");
    }
    assertTrue(upstream.dropped.await(5, TimeUnit.SECONDS), "routewise dropped the upstream call");
    awaitMetric("status=\"499\"} 1.0");
  }

  /** A stream gone quiet (a reasoning model thinking) has no write to reveal that its client left. */
  @Test
  void aSilentStreamIsCancelledWhenItsClientDisconnects() throws Exception {
    start(-2); // one chunk, then silence
    try (Socket client = new Socket(InetAddress.getLoopbackAddress(), routewise.port())) {
      client.setSoTimeout(10_000);
      client.getOutputStream().write(request(true));
      String head = readHead(client.getInputStream());
      assertTrue(head.startsWith("HTTP/1.1 200"), head);
      StringBuilder first = new StringBuilder();
      while (!first.toString().contains("Hmm")) { // the first chunk, in routewise's chunked framing
        first.append((char) client.getInputStream().read());
      }
    }
    assertTrue(upstream.dropped.await(5, TimeUnit.SECONDS), "routewise dropped the silent upstream stream");
    String metrics = awaitMetric("outcome=\"client_closed\"");
    assertFalse(metrics.contains("outcome=\"stream_failed\""), metrics);
  }

  /**
   * A stream whose upstream sent its headers and nothing more (a reasoning model thinking) had sent
   * its client nothing either: a client that left then (a browser's AbortController) was counted as
   * a 200 in the metrics and the access log, not as the 499 of a request not answered yet.
   */
  @Test
  void aStreamWhoseClientLeftBeforeItsFirstByteIsA499() throws Exception {
    start(-5); // a stream's headers, then silence
    try (Socket client = new Socket(InetAddress.getLoopbackAddress(), routewise.port())) {
      client.getOutputStream().write(request(true));
      assertTrue(upstream.received.await(5, TimeUnit.SECONDS), "the call reached the upstream");
      Thread.sleep(300); // its headers reached routewise
    }
    assertTrue(upstream.dropped.await(5, TimeUnit.SECONDS), "routewise dropped the silent upstream stream");
    String metrics = awaitMetric("outcome=\"client_closed\"");
    assertTrue(metrics.contains("status=\"499\"} 1.0"), metrics);
    assertFalse(metrics.contains("status=\"200\"} 1.0"), metrics);
  }

  /** Many clients stop reading at {@code data: [DONE]} and close: that is a finished answer, not an abandoned one. */
  @Test
  void aClientClosingAfterDoneHasNotAbandonedTheStream() throws Exception {
    start(-4); // a chunk, 1.5 s later [DONE], then the stream's end 0.5 s after that
    try (Socket client = new Socket(InetAddress.getLoopbackAddress(), routewise.port())) {
      client.setSoTimeout(10_000);
      client.getOutputStream().write(request(true));
      StringBuilder got = new StringBuilder();
      while (!got.toString().contains("data: [DONE]")) {
        got.append((char) client.getInputStream().read());
      }
    }
    String metrics = awaitMetric("outcome=\"ok\"");
    assertFalse(metrics.contains("outcome=\"client_closed\""), metrics);
  }

  /** A stream that outlasts the watch's start ends cleanly and leaves its connection usable. */
  @Test
  void aLongStreamEndsCleanlyAndKeepsItsConnection() throws Exception {
    start(-3); // two chunks 1.5 s apart
    try (Socket client = new Socket(InetAddress.getLoopbackAddress(), routewise.port())) {
      client.setSoTimeout(10_000);
      for (int i = 0; i < 2; i++) {
        client.getOutputStream().write(request(true));
        String head = readHead(client.getInputStream());
        assertTrue(head.startsWith("HTTP/1.1 200"), head);
        StringBuilder body = new StringBuilder();
        while (!body.toString().endsWith("0\r\n\r\n")) { // the end of routewise's chunked framing
          int b = client.getInputStream().read();
          if (b < 0) {
            throw new IOException("connection closed after: " + body);
          }
          body.append((char) b);
        }
        assertTrue(body.toString().contains("Hmm") && body.toString().contains("Yes")
            && body.toString().contains("data: [DONE]"), body.toString());
        Thread.sleep(300);
      }
    }
    assertEquals(1, upstream.connections.get(), "both streams used one upstream connection");
  }

  /**
   * The watch on the connection must be taken back cleanly: the same connection carries the next
   * request. The pause lets Jetty finish each response before the next request arrives (a leftover
   * watch makes it drop the connection then); answering after 2.2 s leaves the watch time to arm
   * even on a busy machine.
   */
  @Test
  void aClientThatWaitsGetsTheSlowAnswerAndKeepsItsConnection() throws Exception {
    start(2_200); // past the 1 s after which routewise watches the client
    try (Socket client = new Socket(InetAddress.getLoopbackAddress(), routewise.port())) {
      client.setSoTimeout(10_000);
      for (int i = 0; i < 3; i++) {
        client.getOutputStream().write(request(false));
        Reply reply = Reply.read(client.getInputStream());
        assertEquals(200, reply.status, reply.body);
        assertEquals(ANSWER, reply.body);
        Thread.sleep(300);
      }
    }
    assertEquals(1, upstream.connections.get(), "both calls reused one upstream connection: none was cancelled");
  }

  /** Bytes arriving while a request waits are the next request, not a disconnect. */
  @Test
  void aPipelinedRequestIsNotMistakenForADisconnect() throws Exception {
    start(2_000);
    try (Socket client = new Socket(InetAddress.getLoopbackAddress(), routewise.port())) {
      client.setSoTimeout(10_000);
      OutputStream out = client.getOutputStream();
      out.write(request(false));
      Thread.sleep(1_400); // the first request is now being watched
      out.write(request(false));
      for (int i = 0; i < 2; i++) {
        Reply reply = Reply.read(client.getInputStream());
        assertEquals(200, reply.status, "reply " + i + ": " + reply.body);
        assertEquals(ANSWER, reply.body);
      }
    }
    assertFalse(metrics().contains("status=\"499\""), "nothing was cancelled");
  }

  private static byte[] request(boolean stream) {
    String body = "{\"model\":\"router-random-0.5\",\"stream\":" + stream
        + ",\"messages\":[{\"role\":\"user\",\"content\":\"write a long essay\"}]}";
    return ("POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        + "Content-Length: " + body.length() + "\r\n\r\n" + body).getBytes(StandardCharsets.UTF_8);
  }

  private String metrics() throws IOException, InterruptedException {
    return HttpClient.newHttpClient().send(HttpRequest.newBuilder(
        URI.create("http://127.0.0.1:" + routewise.port() + "/metrics")).build(),
        HttpResponse.BodyHandlers.ofString()).body();
  }

  private String awaitMetric(String needle) throws IOException, InterruptedException {
    String metrics = "";
    for (int i = 0; i < 50 && !metrics.contains(needle); i++) {
      Thread.sleep(100);
      metrics = metrics();
    }
    assertTrue(metrics.contains(needle), needle + " in\n" + metrics);
    return metrics;
  }

  /** One HTTP/1.1 response with a Content-Length body. */
  private record Reply(int status, String body) {
    static Reply read(InputStream in) throws IOException {
      String head = readHead(in);
      int status = Integer.parseInt(head.substring(9, 12));
      int length = contentLength(head);
      return new Reply(status, new String(in.readNBytes(length), StandardCharsets.UTF_8));
    }
  }

  /**
   * An upstream that reads each request, then answers after {@code answerAfterMs} and keeps the
   * connection open. Negative: never answers, waiting instead for routewise to close the
   * connection; -2 sends a stream's headers and first chunk before that silence; -3 streams two
   * chunks 1.5 s apart and ends the stream; -4 sends a chunk, [DONE] 1.5 s later, and ends 0.5 s after;
   * -5 sends a stream's headers alone before that silence.
   */
  private static final class RawUpstream implements AutoCloseable {
    final CountDownLatch received = new CountDownLatch(1);
    final CountDownLatch dropped = new CountDownLatch(1);
    final AtomicInteger connections = new AtomicInteger();
    private final ServerSocket server;
    private final long answerAfterMs;

    RawUpstream(long answerAfterMs) throws IOException {
      this.answerAfterMs = answerAfterMs;
      this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
      Thread.ofVirtual().start(this::accept);
    }

    int port() {
      return server.getLocalPort();
    }

    private void accept() {
      while (!server.isClosed()) {
        try {
          Socket s = server.accept();
          connections.incrementAndGet();
          Thread.ofVirtual().start(() -> serve(s));
        } catch (IOException closed) {
          return;
        }
      }
    }

    private void serve(Socket s) {
      try (s) {
        InputStream in = s.getInputStream();
        while (true) {
          String head = readHead(in);
          in.readNBytes(contentLength(head));
          received.countDown();
          if (answerAfterMs <= -2) {
            OutputStream out = s.getOutputStream();
            out.write(("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                + "Transfer-Encoding: chunked\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            if (answerAfterMs != -5) {
              chunk(out, "data: {\"choices\":[{\"delta\":{\"content\":\"Hmm\"}}]}\n\n");
            }
            if (answerAfterMs == -4) {
              Thread.sleep(1_500);
              chunk(out, "data: [DONE]\n\n");
              Thread.sleep(500);
              out.write("0\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
              out.flush();
              continue;
            }
            if (answerAfterMs == -3) {
              Thread.sleep(1_500);
              chunk(out, "data: {\"choices\":[{\"delta\":{\"content\":\"Yes\"}}]}\n\ndata: [DONE]\n\n");
              out.write("0\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
              out.flush();
              continue;
            }
          }
          if (answerAfterMs < 0) {
            try {
              in.read(); // blocks until routewise closes the connection (end of stream or reset)
            } catch (IOException reset) {
              // dropped all the same
            }
            dropped.countDown();
            return;
          }
          Thread.sleep(answerAfterMs);
          byte[] body = ANSWER.getBytes(StandardCharsets.UTF_8);
          s.getOutputStream().write(("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
              + body.length + "\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
          s.getOutputStream().write(body);
        }
      } catch (IOException | InterruptedException e) {
        // routewise closed the connection between requests, or the test ended
      }
    }

    private static void chunk(OutputStream out, String data) throws IOException {
      out.write((Integer.toHexString(data.length()) + "\r\n" + data + "\r\n").getBytes(StandardCharsets.ISO_8859_1));
      out.flush();
    }

    @Override
    public void close() throws IOException {
      server.close();
    }
  }
}
