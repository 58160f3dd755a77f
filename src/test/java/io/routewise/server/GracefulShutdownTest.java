package io.routewise.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import io.routewise.Routewise;
import io.routewise.TestConfigs;
import io.routewise.routers.RouterCatalog;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A restart (SIGTERM runs {@link Routewise#close()}) must not cut off completions already being
 * streamed: they finish within server.shutdown_grace_ms while new requests are turned away with a
 * retryable 503 and /health says draining. The upstream streams one chunk, then holds the rest
 * until the test releases it, so "in flight" is certain rather than timed (the upstream timeout is
 * 30 s here, so the held stream never times out by itself).
 */
class GracefulShutdownTest {
  private final HttpClient http = HttpClient.newHttpClient();
  private final CountDownLatch release = new CountDownLatch(1);
  private HttpServer upstream;
  private Routewise routewise;
  private Thread closer;

  @BeforeEach
  void startUpstream() throws IOException {
    upstream = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    upstream.setExecutor(java.util.concurrent.Executors.newCachedThreadPool());
    upstream.createContext("/v1/chat/completions", ex -> {
      try (InputStream in = ex.getRequestBody()) {
        in.readAllBytes();
      }
      ex.getResponseHeaders().set("Content-Type", "text/event-stream");
      ex.sendResponseHeaders(200, 0);
      OutputStream out = ex.getResponseBody();
      try {
        out.write(chunk("Hel"));
        out.flush();
        if (release.await(20, TimeUnit.SECONDS)) {
          out.write(chunk("lo"));
          out.write("data: [DONE]\n\n".getBytes(StandardCharsets.UTF_8));
          out.flush();
        }
      } catch (IOException | InterruptedException ignored) {
        // routewise cut the call off: what the short-grace test expects
      } finally {
        ex.close();
      }
    });
    upstream.start();
  }

  private void startRoutewise(long graceMs) {
    startRoutewise("", graceMs);
  }

  /** Both upstreams at {@code path} (a context of the test's server, "" for the streaming one). */
  private void startRoutewise(String path, long graceMs) {
    routewise = Routewise.start(TestConfigs.config(configYaml(path, graceMs)), RouterCatalog.standard(), id -> null,
        () -> {});
  }

  private String configYaml(long graceMs) {
    return configYaml("", graceMs);
  }

  private String configYaml(String path, long graceMs) {
    String url = "http://127.0.0.1:" + upstream.getAddress().getPort() + path + "/v1";
    return TestConfigs.withServer(TestConfigs.yaml(url, url, ""), "shutdown_grace_ms: " + graceMs
        + ", max_body_bytes: 2000").replace("timeout_ms: 1500", "timeout_ms: 30000");
  }

  @AfterEach
  void stop() throws InterruptedException {
    release.countDown();
    if (closer != null) {
      closer.join(10_000);
    } else if (routewise != null) {
      routewise.close(); // a test that failed before shutting down; a no-op after one that did
    }
    upstream.stop(0);
    ((java.util.concurrent.ExecutorService) upstream.getExecutor()).shutdownNow();
  }

  @Test
  void aStreamInFlightFinishesWhileNewRequestsGet503AndHealthSaysDraining() throws Exception {
    startRoutewise(15_000);
    BufferedReader stream = openStream();
    assertTrue(stream.readLine().contains("Hel"), "the stream is under way");

    closer = Thread.ofPlatform().start(routewise::close);
    HttpResponse<String> health = awaitDraining();
    assertEquals(503, health.statusCode());
    assertTrue(health.body().contains("\"status\":\"draining\""), health.body());

    HttpResponse<String> turnedAway = http.send(TestConfigs.chat(routewise.port(), "router-random-0.5"),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(503, turnedAway.statusCode());
    assertTrue(turnedAway.body().contains("\"code\":\"shutting_down\"")
        && turnedAway.body().contains("\"type\":\"server_error\""), turnedAway.body());
    assertEquals("1", turnedAway.headers().firstValue("Retry-After").orElse(null), turnedAway.headers().toString());
    // The stream and the scrape itself; the 503 leaves the count just after its last byte, so wait for it.
    String metrics = awaitMetric("routewise_requests_in_flight 2.0");
    assertTrue(metrics.contains("routewise_requests_total{route=\"none\",router=\"none\",status=\"503\"} 1.0"),
        metrics);

    Thread.sleep(300);
    assertTrue(closer.isAlive(), "shutdown waits for the stream in flight");
    release.countDown();
    List<String> rest = readRest(stream);
    assertEquals(List.of("data: {\"choices\":[{\"delta\":{\"content\":\"lo\"}}]}", "data: [DONE]"), rest);
    closer.join(5_000);
    assertFalse(closer.isAlive(), "shutdown ends once nothing is in flight");
  }

  /**
   * What {@code docker stop} does: SIGTERM to a real routewise process. Before graceful shutdown the
   * process exited within ~0.2 s and cut the stream off after its first chunk.
   */
  @Test
  void sigtermToTheProcessLetsAStreamInFlightFinish(@TempDir Path dir) throws Exception {
    String url = "http://127.0.0.1:" + upstream.getAddress().getPort() + "/v1";
    Path config = Files.writeString(dir.resolve("config.yaml"), configYaml(15_000));
    Process proc = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Dorg.slf4j.simpleLogger.log.io.routewise=info", // the start-up line says the port
        // Surefire runs tests from a manifest-only jar; the real class path is in this property.
        "-cp", System.getProperty("surefire.test.class.path", System.getProperty("java.class.path")),
        "io.routewise.Main", "serve", "--config", config.toString())
        .redirectErrorStream(true).start();
    try {
      int port = listeningPort(proc);
      BufferedReader stream = openStream(port);
      assertTrue(stream.readLine().contains("Hel"), "the stream is under way");

      proc.destroy(); // SIGTERM
      HttpResponse<String> health = awaitDraining(port);
      assertEquals(503, health.statusCode(), health.body());
      assertTrue(proc.isAlive(), "the process waits for the stream in flight");

      release.countDown();
      assertEquals(List.of("data: {\"choices\":[{\"delta\":{\"content\":\"lo\"}}]}", "data: [DONE]"),
          readRest(stream));
      assertTrue(proc.waitFor(10, TimeUnit.SECONDS), "the process exits once nothing is in flight");
    } finally {
      proc.destroyForcibly();
    }
  }

  /** Reads the child's log until it says where it listens; keeps draining it so the child never blocks. */
  private static int listeningPort(Process proc) throws Exception {
    Pattern listening = Pattern.compile("listening on 127\\.0\\.0\\.1:(\\d+)");
    java.util.concurrent.CompletableFuture<Integer> port = new java.util.concurrent.CompletableFuture<>();
    List<String> seen = java.util.Collections.synchronizedList(new ArrayList<>());
    Thread.ofPlatform().daemon().start(() -> {
      try (BufferedReader log = new BufferedReader(new InputStreamReader(proc.getInputStream(), StandardCharsets.UTF_8))) {
        String line;
        while ((line = log.readLine()) != null) {
          seen.add(line);
          Matcher m = listening.matcher(line);
          if (m.find()) {
            port.complete(Integer.parseInt(m.group(1)));
          }
        }
        port.completeExceptionally(new IllegalStateException("routewise exited before listening"));
      } catch (IOException e) {
        port.completeExceptionally(e);
      }
    });
    try {
      return port.get(60, TimeUnit.SECONDS);
    } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
      throw new AssertionError("routewise did not start: " + seen, e);
    }
  }

  @Test
  void afterTheGraceWhatIsStillInFlightIsCutOff() throws Exception {
    startRoutewise(400);
    BufferedReader stream = openStream();
    assertTrue(stream.readLine().contains("Hel"));
    long start = System.nanoTime();
    closer = Thread.ofPlatform().start(routewise::close);
    closer.join(10_000);
    long ms = (System.nanoTime() - start) / 1_000_000;
    assertFalse(closer.isAlive());
    // Without the grace the stream would hold shutdown until the upstream's 30 s timeout.
    assertTrue(ms >= 350 && ms < 2_500, "shutdown took " + ms + " ms with a 400 ms grace");
    List<String> rest;
    try {
      rest = readRest(stream);
    } catch (IOException cut) {
      rest = List.of();
    }
    assertFalse(rest.contains("data: [DONE]"), "the stream was cut off, not finished: " + rest);
    long again = System.nanoTime();
    routewise.close(); // the cut-off stream is never uncounted; a second close must not wait the grace again
    assertTrue((System.nanoTime() - again) / 1_000_000 < 300, "a second close drained again");
  }

  /**
   * A stream cut off by the shutdown ended with no word (an SDK raised a network error) and was logged,
   * if at all, as its client leaving; its upstream call is now cancelled first (an SDK trial).
   */
  @Test
  void aStreamCutOffByTheShutdownEndsWithAShuttingDownEventAndIsLoggedSo() throws Exception {
    routewise = Routewise.start(TestConfigs.config(configYaml(400).replace("shutdown_grace_ms:", "access_log: true, shutdown_grace_ms:")),
        RouterCatalog.standard(), id -> null, () -> {});
    String logged;
    String rest;
    try (io.routewise.StderrCapture log = new io.routewise.StderrCapture();
        java.net.Socket client = new java.net.Socket("127.0.0.1", routewise.port())) {
      byte[] body = "{\"model\":\"router-random-0\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"
          .getBytes(StandardCharsets.UTF_8);
      client.getOutputStream().write(("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
          + "Content-Length: " + body.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
      client.getOutputStream().write(body);
      client.getOutputStream().flush();
      client.setSoTimeout(10_000);
      java.io.ByteArrayOutputStream got = new java.io.ByteArrayOutputStream();
      byte[] buf = new byte[4096];
      while (!got.toString(StandardCharsets.UTF_8).contains("Hel")) {
        got.write(buf, 0, client.getInputStream().read(buf));
      }
      routewise.close();
      try {
        for (int n; (n = client.getInputStream().read(buf)) > 0; ) {
          got.write(buf, 0, n);
        }
      } catch (IOException closed) {
        // the connection closed with the server, after what it wrote
      }
      rest = got.toString(StandardCharsets.UTF_8);
      logged = log.text();
    }
    assertTrue(rest.contains("data: {\"error\":") && rest.contains("\"code\":\"shutting_down\""), rest + "\n" + logged);
    assertTrue(logged.contains("POST /v1/chat/completions 200") && logged.contains("outcome=shutting_down"), logged);
  }

  /** A whole answer still awaited at the end of the grace: its client's connection closed with no answer. */
  @Test
  void aRequestAwaitingItsAnswerAtTheEndOfTheGraceGetsA503() throws Exception {
    upstream.createContext("/held/v1/chat/completions", ex -> {
      try (InputStream in = ex.getRequestBody()) {
        in.readAllBytes();
        release.await(20, TimeUnit.SECONDS); // never answers within the test's grace
      } catch (InterruptedException ignored) {
        // cut off
      } finally {
        ex.close();
      }
    });
    startRoutewise("/held", 400);
    java.util.concurrent.CompletableFuture<HttpResponse<String>> answer =
        http.sendAsync(TestConfigs.chat(routewise.port(), "router-random-0.5"), HttpResponse.BodyHandlers.ofString());
    awaitMetric("routewise_requests_in_flight 2.0"); // it and the scrape
    routewise.close();
    HttpResponse<String> r = answer.get(10, TimeUnit.SECONDS);
    assertEquals(503, r.statusCode(), r.body());
    assertTrue(r.body().contains("\"code\":\"shutting_down\""), r.body());
    assertEquals("1", r.headers().firstValue("Retry-After").orElse(null), r.headers().toString());
    // counted so, not as the (healthy) upstream unreachable, which alerts would read as an outage (a review)
    String m = routewise.metrics().scrape();
    assertTrue(m.contains("routewise_upstream_duration_seconds_count{outcome=\"shutting_down\",upstream=\"weak\"} 1")
        || m.contains("routewise_upstream_duration_seconds_count{outcome=\"shutting_down\",upstream=\"strong\"} 1"), m);
    assertFalse(m.contains("outcome=\"unreachable\""), m);
  }

  /**
   * A stream whose upstream sent its headers but no byte of its body by the end of the grace: nothing
   * has reached the client, so it gets a 503 of its own, as a whole answer does, not a 200 whose only
   * event is the error (a review).
   */
  @Test
  void aStreamWithNoByteYetAtTheEndOfTheGraceGetsA503() throws Exception {
    upstream.createContext("/silent/v1/chat/completions", ex -> {
      try (InputStream in = ex.getRequestBody()) {
        in.readAllBytes();
        ex.getResponseHeaders().set("Content-Type", "text/event-stream");
        ex.sendResponseHeaders(200, 0);
        ex.getResponseBody().flush();
        release.await(20, TimeUnit.SECONDS);
      } catch (InterruptedException | IOException ignored) {
        // cut off
      } finally {
        ex.close();
      }
    });
    startRoutewise("/silent", 400);
    HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + routewise.port() + "/v1/chat/completions"))
        .header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(
            "{\"model\":\"router-random-0.5\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"))
        .build();
    java.util.concurrent.CompletableFuture<HttpResponse<String>> answer =
        http.sendAsync(request, HttpResponse.BodyHandlers.ofString());
    awaitMetric("routewise_requests_in_flight 2.0");
    routewise.close();
    HttpResponse<String> r = answer.get(10, TimeUnit.SECONDS);
    assertEquals(503, r.statusCode(), r.body());
    assertTrue(r.body().startsWith("{\"error\":") && r.body().contains("\"code\":\"shutting_down\""), r.body());
    assertFalse(r.headers().firstValue("Content-Type").orElse("").contains("event-stream"), r.headers().toString());
    String m = routewise.metrics().scrape();
    assertTrue(m.contains("outcome=\"shutting_down\""), m);
  }

  /**
   * A request whose decision (a causal_llm judge) was still pending at the end of the grace: once
   * decided it gets a 503 and its upstream is never called. It was sent upstream, an answer bought for
   * a client the stopping server was about to cut off (a review).
   */
  @Test
  void aDecisionThatEndsAfterTheGraceIsNotSentUpstream() throws Exception {
    CountDownLatch judged = new CountDownLatch(1);
    java.util.concurrent.atomic.AtomicInteger answered = new java.util.concurrent.atomic.AtomicInteger();
    upstream.createContext("/judge/v1/chat/completions", ex -> {
      try (InputStream in = ex.getRequestBody()) {
        in.readAllBytes();
        judged.await(20, TimeUnit.SECONDS);
        byte[] rating = ("{\"id\":\"j\",\"object\":\"chat.completion\",\"model\":\"judge\",\"choices\":[{\"index\":0,"
            + "\"finish_reason\":\"stop\",\"message\":{\"role\":\"assistant\",\"content\":\"[[5]]\"}}]}")
            .getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", "application/json");
        ex.sendResponseHeaders(200, rating.length);
        ex.getResponseBody().write(rating);
      } catch (InterruptedException | IOException ignored) {
        // cut off
      } finally {
        ex.close();
      }
    });
    upstream.createContext("/counted/v1/chat/completions", ex -> {
      answered.incrementAndGet();
      try (InputStream in = ex.getRequestBody()) {
        in.readAllBytes();
      }
      answerWhole(ex);
    });
    String base = "http://127.0.0.1:" + upstream.getAddress().getPort();
    routewise = Routewise.start(TestConfigs.config(TestConfigs.withServer(TestConfigs.yaml(base + "/counted/v1",
        base + "/counted/v1", "routers: {causal_llm: {base_url: \"" + base + "/judge/v1\", model: judge, timeout_ms: 20000}}"),
        "shutdown_grace_ms: 300")), RouterCatalog.standard(), id -> null, () -> {});
    java.util.concurrent.CompletableFuture<HttpResponse<String>> answer =
        http.sendAsync(TestConfigs.chat(routewise.port(), "router-causal_llm-0.5"), HttpResponse.BodyHandlers.ofString());
    awaitMetric("routewise_requests_in_flight 2.0");
    closer = Thread.ofPlatform().start(routewise::close);
    Thread.sleep(500); // past the grace: the request is cut off while its decision waits
    judged.countDown();
    HttpResponse<String> r = answer.get(10, TimeUnit.SECONDS);
    assertEquals(503, r.statusCode(), r.body());
    assertTrue(r.body().contains("\"code\":\"shutting_down\""), r.body());
    assertEquals(0, answered.get(), "no upstream call after the cut-off");
  }

  /**
   * A judge that is still silent when the grace runs out (its timeout_ms, 2 s by default, is longer than
   * the second the cut-off gives): the README's cut-off ("one still being decided, waiting on a judge, is
   * never sent ... it ends as a 503 shutting_down") must hold without waiting the judge out. The judge
   * call was left running, the server stopped a second later, and the client's connection was closed
   * with no answer.
   */
  @Test
  void aDecisionWaitingOnASilentJudgeAtTheEndOfTheGraceGetsA503() throws Exception {
    CountDownLatch asked = new CountDownLatch(1);
    java.util.concurrent.atomic.AtomicInteger answered = new java.util.concurrent.atomic.AtomicInteger();
    upstream.createContext("/silentjudge/v1/chat/completions", ex -> {
      try (InputStream in = ex.getRequestBody()) {
        in.readAllBytes();
        asked.countDown();
        release.await(20, TimeUnit.SECONDS); // answers only once the test is over
      } catch (InterruptedException | IOException ignored) {
        // cut off
      } finally {
        ex.close();
      }
    });
    upstream.createContext("/counted/v1/chat/completions", ex -> {
      answered.incrementAndGet();
      ex.sendResponseHeaders(500, -1);
      ex.close();
    });
    String base = "http://127.0.0.1:" + upstream.getAddress().getPort();
    routewise = Routewise.start(TestConfigs.config(TestConfigs.withServer(TestConfigs.yaml(base + "/counted/v1",
        base + "/counted/v1", "routers: {causal_llm: {base_url: \"" + base + "/silentjudge/v1\", model: judge,"
            + " timeout_ms: 15000}}"), "shutdown_grace_ms: 300")), RouterCatalog.standard(), id -> null, () -> {});
    java.util.concurrent.CompletableFuture<HttpResponse<String>> answer =
        http.sendAsync(TestConfigs.chat(routewise.port(), "router-causal_llm-0.5"), HttpResponse.BodyHandlers.ofString());
    assertTrue(asked.await(5, TimeUnit.SECONDS), "the judge was asked");
    long start = System.nanoTime();
    closer = Thread.ofPlatform().start(routewise::close);
    HttpResponse<String> r;
    try {
      r = answer.get(10, TimeUnit.SECONDS);
    } catch (java.util.concurrent.ExecutionException e) {
      throw new AssertionError("the client got no answer: " + e.getCause(), e);
    }
    assertEquals(503, r.statusCode(), r.body());
    assertTrue(r.body().contains("\"code\":\"shutting_down\""), r.body());
    closer.join(10_000);
    long ms = (System.nanoTime() - start) / 1_000_000;
    assertTrue(ms < 3_000, "shutdown took " + ms + " ms with a 300 ms grace");
    assertEquals(0, answered.get(), "no upstream call after the cut-off");
  }

  /**
   * Decisions of a CPU-bound router still on the scoring threads when the grace runs out, one being
   * scored and one queued behind it: with scoring_timeout_ms longer than the second the cut-off gives,
   * each waited out its deadline after the server had stopped, and its client's connection closed with
   * no answer, where the README promises the cut-off's 503 shutting_down.
   */
  @Test
  void decisionsOnTheScoringThreadsAtTheEndOfTheGraceGetA503() throws Exception {
    CountDownLatch entered = new CountDownLatch(1);
    java.util.concurrent.atomic.AtomicInteger answered = new java.util.concurrent.atomic.AtomicInteger();
    upstream.createContext("/counted/v1/chat/completions", ex -> {
      answered.incrementAndGet();
      ex.sendResponseHeaders(500, -1);
      ex.close();
    });
    io.routewise.routing.Router spinner = new io.routewise.routing.Router() {
      @Override
      public double strongWinRate(io.routewise.routing.Prompt prompt) {
        entered.countDown();
        while (release.getCount() > 0) { // busy, as a native ONNX call, deaf to interrupts
          Thread.onSpinWait();
        }
        return 0.0;
      }

      @Override
      public boolean cpuBound() {
        return true;
      }
    };
    String base = "http://127.0.0.1:" + upstream.getAddress().getPort();
    routewise = Routewise.start(TestConfigs.config(TestConfigs.withRouting(TestConfigs.withServer(
            TestConfigs.yaml(base + "/counted/v1", base + "/counted/v1", "routers: {spin: {}}"), "shutdown_grace_ms: 300"),
            "scoring_threads: 1, scoring_queue: 4, scoring_timeout_ms: 8000")),
        RouterCatalog.standard().with("spin", ctx -> spinner), id -> null, () -> {});
    java.util.concurrent.CompletableFuture<HttpResponse<String>> scoring =
        http.sendAsync(TestConfigs.chat(routewise.port(), "router-spin-0.5"), HttpResponse.BodyHandlers.ofString());
    assertTrue(entered.await(5, TimeUnit.SECONDS), "the first decision is being scored");
    java.util.concurrent.CompletableFuture<HttpResponse<String>> queued =
        http.sendAsync(TestConfigs.chat(routewise.port(), "router-spin-0.5"), HttpResponse.BodyHandlers.ofString());
    awaitMetric("routewise_scoring_queued 1.0");
    long start = System.nanoTime();
    closer = Thread.ofPlatform().start(routewise::close);
    for (var answer : List.of(scoring, queued)) {
      HttpResponse<String> r;
      try {
        r = answer.get(10, TimeUnit.SECONDS);
      } catch (java.util.concurrent.ExecutionException e) {
        throw new AssertionError("the client got no answer after "
            + (System.nanoTime() - start) / 1_000_000 + " ms: " + e.getCause(), e);
      }
      assertEquals(503, r.statusCode(), r.body());
      assertTrue(r.body().contains("\"code\":\"shutting_down\""), r.body());
    }
    long ms = (System.nanoTime() - start) / 1_000_000;
    assertTrue(ms < 3_000, "answered " + ms + " ms after a shutdown with a 300 ms grace");
    assertEquals(0, answered.get(), "no upstream call after the cut-off");
    release.countDown(); // the scoring thread may stop now; the shutdown closes the routers after it
  }

  /**
   * With server.shutdown_delay_ms, /health says draining at once while requests are still served, each
   * answer closing its connection, for the delay; then the drain goes as without it. A load balancer
   * that polls /health took seconds to see an instance leave, and meanwhile its new requests met a
   * closed port (nothing in flight: routewise exited within 100 ms of SIGTERM).
   */
  @Test
  void aShutdownDelaySaysDrainingWhileRequestsAreStillServed() throws Exception {
    release.countDown();
    routewise = Routewise.start(TestConfigs.config(configYaml(15_000).replace("shutdown_grace_ms:",
        "shutdown_delay_ms: 1500, shutdown_grace_ms:")), RouterCatalog.standard(), id -> null, () -> {});
    long start = System.nanoTime();
    closer = Thread.ofPlatform().start(routewise::close);
    HttpResponse<String> health = awaitDraining();
    assertEquals(503, health.statusCode());
    assertTrue(health.body().contains("\"status\":\"draining\""), health.body());
    HttpResponse<String> served = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + routewise.port()
        + "/v1/chat/completions")).header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(
            "{\"model\":\"router-random-0.5\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"))
        .build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(200, served.statusCode(), "still served within the delay: " + served.body());
    assertTrue(served.body().contains("data: [DONE]"), served.body());
    assertEquals("close", served.headers().firstValue("Connection").orElse(null), served.headers().map().toString());
    closer.join(10_000);
    long ms = (System.nanoTime() - start) / 1_000_000;
    assertTrue(ms >= 1_500 && ms < 5_000, "the delay, then nothing in flight: " + ms + " ms");
  }

  /** A whole chat completion, as the fake upstream's /whole path answers. */
  private static void answerWhole(com.sun.net.httpserver.HttpExchange ex) throws java.io.IOException {
    byte[] answer = ("{\"id\":\"c\",\"object\":\"chat.completion\",\"model\":\"m\",\"choices\":[{\"index\":0,"
        + "\"finish_reason\":\"stop\",\"message\":{\"role\":\"assistant\",\"content\":\"hi\"}}]}")
        .getBytes(StandardCharsets.UTF_8);
    ex.getResponseHeaders().set("Content-Type", "application/json");
    ex.sendResponseHeaders(200, answer.length);
    ex.getResponseBody().write(answer);
    ex.close();
  }

  /**
   * An answer written once the shutdown has begun closes its connection too, though its request came
   * before: within the delay, "every answer closing its connection". A whole answer in flight at SIGTERM
   * went out keeping its connection alive (a trial: SIGTERM 0.5 s into a 4 s answer, delay 5 s), so a
   * pooling client sent its next request to the leaving instance, and after the delay met a 503 there.
   */
  @Test
  void anAnswerInFlightWhenTheShutdownBeginsClosesItsConnection() throws Exception {
    CountDownLatch asked = new CountDownLatch(1);
    upstream.createContext("/whole/v1/chat/completions", ex -> {
      ex.getRequestBody().readAllBytes();
      asked.countDown();
      try {
        release.await(20, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      answerWhole(ex);
    });
    routewise = Routewise.start(TestConfigs.config(configYaml("/whole", 15_000).replace("shutdown_grace_ms:",
        "shutdown_delay_ms: 1500, shutdown_grace_ms:")), RouterCatalog.standard(), id -> null, () -> {});
    java.util.concurrent.CompletableFuture<HttpResponse<String>> answer = http.sendAsync(
        TestConfigs.chat(routewise.port(), "router-random-0.5"), HttpResponse.BodyHandlers.ofString());
    assertTrue(asked.await(10, TimeUnit.SECONDS), "the request reached the upstream");

    closer = Thread.ofPlatform().start(routewise::close);
    assertEquals(503, awaitDraining().statusCode());
    release.countDown(); // answered within the delay
    HttpResponse<String> served = answer.get(10, TimeUnit.SECONDS);
    assertEquals(200, served.statusCode(), served.body());
    assertEquals("close", served.headers().firstValue("Connection").orElse(null), served.headers().map().toString());
  }

  @Test
  void withNothingInFlightShutdownIsImmediate() throws Exception {
    startRoutewise(15_000);
    release.countDown();
    readRest(openStream()); // a request that has finished is no longer in flight
    long start = System.nanoTime();
    routewise.close();
    long ms = (System.nanoTime() - start) / 1_000_000;
    assertTrue(ms < 3_000, "shutdown with nothing in flight took " + ms + " ms (grace 15 s)");
  }

  /** Errors answered before or instead of the handler must leave the count too, or every shutdown waits the grace. */
  @Test
  void requestsThatEndInErrorsDoNotHoldUpShutdown() throws Exception {
    startRoutewise(15_000);
    assertEquals(404, get("/v1/nowhere").statusCode());
    assertEquals(405, get("/v1/chat/completions").statusCode());
    assertEquals(413, post("{\"messages\":\"" + "x".repeat(5_000) + "\"}").statusCode());
    assertEquals(400, post("{not json").statusCode());
    awaitMetric("routewise_requests_in_flight 1.0"); // the scrape alone
    long start = System.nanoTime();
    routewise.close();
    routewise.close(); // a second close returns too, without draining again
    long ms = (System.nanoTime() - start) / 1_000_000;
    assertTrue(ms < 3_000, "shutdown after error responses took " + ms + " ms (grace 15 s)");
  }

  /**
   * A request whose client has its whole answer and whose connection has closed is no longer waited for.
   * It stayed counted a moment longer (its handler's thread returning, Jetty closing the connection), and
   * the shutdown read the count at once: a SIGTERM right after a /health poll logged "waiting up to 25000 ms
   * for 1 request(s) in flight" with nothing under way (a trial). Each kind of request is sent with
   * Connection: close and read to its end, then routewise is closed; a few rounds, as the moment is short.
   */
  @Test
  void aShutdownRightAfterAnAnswerDoesNotSayItWaitsForIt() throws Exception {
    release.countDown(); // streams end at once
    upstream.createContext("/v1/files", ex -> {
      ex.getRequestBody().readAllBytes();
      byte[] files = "{\"object\":\"list\",\"data\":[]}".getBytes(StandardCharsets.UTF_8);
      ex.getResponseHeaders().set("Content-Type", "application/json");
      ex.sendResponseHeaders(200, files.length);
      ex.getResponseBody().write(files);
      ex.close();
    });
    upstream.createContext("/whole/v1/chat/completions", ex -> {
      ex.getRequestBody().readAllBytes();
      answerWhole(ex);
    });
    String base = "http://127.0.0.1:" + upstream.getAddress().getPort();
    String yaml = TestConfigs.withRouting(TestConfigs.withServer(TestConfigs.yaml(base + "/v1", base + "/whole/v1", ""),
        "shutdown_grace_ms: 15000, api_keys: [sk-k], cors_origins: [\"http://app\"]"), "passthrough: strong");
    String whole = "{\"model\":\"router-random-1\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"; // weak
    String stream = "{\"model\":\"router-random-0\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    String key = "Authorization: Bearer sk-k\r\n";
    String[][] requests = {
        {"GET /health", "", "", "200"},
        {"GET /metrics", "", "", "200"},
        {"GET /v1/models", key, "", "200"},
        {"POST /v1/chat/completions", key, whole, "200"},
        {"POST /v1/chat/completions", key, stream, "200"},
        {"POST /v1/route", key, whole, "200"},
        {"GET /v1/files", key, "", "200"}, // passthrough
        {"POST /v1/chat/completions", "", whole, "401"},
        {"POST /v1/chat/completions", key + "Origin: http://elsewhere\r\n", whole, "403"},
        {"GET /nowhere", "", "", "404"},
        {"OPTIONS /v1/chat/completions", "Origin: http://app\r\nAccess-Control-Request-Method: POST\r\n", "", "200"},
    };
    List<String> waited = new ArrayList<>();
    for (int round = 0; round < 3; round++) {
      for (String[] r : requests) {
        routewise = Routewise.start(TestConfigs.config(yaml), RouterCatalog.standard(), id -> null, () -> {});
        String answer = exchange(r[0], r[1], r[2]);
        assertTrue(answer.startsWith("HTTP/1.1 " + r[3]), r[0] + ": " + answer);
        try (io.routewise.StderrCapture log = new io.routewise.StderrCapture()) {
          routewise.close();
          if (log.text().contains("in flight")) {
            waited.add(r[0] + " (" + r[3] + "): " + log.text().strip());
          }
        }
      }
    }
    assertEquals(List.of(), waited, "shutdowns right after an answer whose connection had closed");
  }

  /** One request on a connection of its own (Connection: close), read until the server closes it. */
  private String exchange(String requestLine, String headers, String body) throws IOException {
    try (java.net.Socket client = new java.net.Socket("127.0.0.1", routewise.port())) {
      client.setSoTimeout(10_000);
      byte[] content = body.getBytes(StandardCharsets.UTF_8);
      client.getOutputStream().write((requestLine + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" + headers
          + (body.isEmpty() ? "" : "Content-Type: application/json\r\nContent-Length: " + content.length + "\r\n")
          + "\r\n").getBytes(StandardCharsets.US_ASCII));
      client.getOutputStream().write(content);
      client.getOutputStream().flush();
      return new String(client.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  private HttpResponse<String> post(String body) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + routewise.port() + "/v1/chat/completions"))
        .timeout(Duration.ofSeconds(5)).POST(HttpRequest.BodyPublishers.ofString(body)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private String awaitMetric(String line) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    String metrics;
    do {
      metrics = get("/metrics").body();
    } while (!metrics.contains(line) && System.nanoTime() < deadline && sleep());
    assertTrue(metrics.contains(line), metrics);
    return metrics;
  }

  private BufferedReader openStream() throws Exception {
    return openStream(routewise.port());
  }

  private BufferedReader openStream(int port) throws Exception {
    HttpResponse<InputStream> r = http.send(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/v1/chat/completions"))
            .timeout(Duration.ofSeconds(10))
            .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"router-random-0\",\"stream\":true,"
                + "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"))
            .build(),
        HttpResponse.BodyHandlers.ofInputStream());
    assertEquals(200, r.statusCode());
    return new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8));
  }

  private static List<String> readRest(BufferedReader stream) throws IOException {
    List<String> lines = new ArrayList<>();
    String line;
    while ((line = stream.readLine()) != null) {
      if (!line.isEmpty()) {
        lines.add(line);
      }
    }
    return lines;
  }

  private HttpResponse<String> awaitDraining() throws Exception {
    return awaitDraining(routewise.port());
  }

  private HttpResponse<String> awaitDraining(int port) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    HttpResponse<String> r;
    do {
      r = get(port, "/health");
    } while (r.statusCode() == 200 && System.nanoTime() < deadline && sleep());
    return r;
  }

  private static boolean sleep() throws InterruptedException {
    Thread.sleep(20);
    return true;
  }

  private HttpResponse<String> get(String path) throws Exception {
    return get(routewise.port(), path);
  }

  private HttpResponse<String> get(int port, String path) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
        .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
  }

  private static byte[] chunk(String content) {
    return ("data: {\"choices\":[{\"delta\":{\"content\":\"" + content + "\"}}]}\n\n")
        .getBytes(StandardCharsets.UTF_8);
  }
}
