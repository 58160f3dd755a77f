package io.routewise.server;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.client.WireMock;
import com.github.tomakehurst.wiremock.core.WireMockConfiguration;
import io.routewise.Routewise;
import io.routewise.TestConfigs;
import io.routewise.routers.RouterCatalog;
import io.routewise.routing.Prompt;
import io.routewise.routing.Router;
import java.net.InetAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Routers that burn CPU (ONNX inference) score on routewise's scoring threads: the server keeps
 * answering while they compute, and a full backlog routes strong instead of piling up.
 */
class CpuBoundRoutersTest {
  private final WireMockServer upstream =
      new WireMockServer(WireMockConfiguration.options().dynamicPort().bindAddress("127.0.0.1"));
  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  private Routewise routewise;
  private volatile boolean release;
  private CountDownLatch entered;
  private final AtomicInteger scored = new AtomicInteger();

  /** Holds its thread busy (no parking, like a native ONNX call) until the test releases it. */
  private class Spinner implements Router {
    @Override
    public double strongWinRate(Prompt prompt) {
      scored.incrementAndGet();
      entered.countDown();
      while (!release) {
        Thread.onSpinWait();
      }
      return 0.0;
    }

    @Override
    public boolean cpuBound() {
      return true;
    }
  }

  /** A spinner whose every prompt is already cached (as mf's embedding is after the first call). */
  private final class Warm extends Spinner {
    @Override
    public double cachedWinRate(Prompt prompt) {
      return 0.0;
    }
  }

  @BeforeEach
  void startUpstream() {
    upstream.start();
    upstream.stubFor(WireMock.post(urlEqualTo("/v1/chat/completions")).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", "application/json").withBody(ProxyFixture.COMPLETION.formatted("m", "m"))));
  }

  @AfterEach
  void stop() {
    release = true;
    if (routewise != null) {
      routewise.close();
    }
    upstream.stop();
  }

  private void start(String routing) {
    String yaml = TestConfigs.withRouting(
        TestConfigs.yaml(upstream.baseUrl() + "/v1", upstream.baseUrl() + "/v1", "routers: {spin: {}, warm: {}}"), routing);
    routewise = Routewise.start(TestConfigs.config(yaml),
        RouterCatalog.standard().with("spin", ctx -> new Spinner()).with("warm", ctx -> new Warm()), id -> null, () -> {});
  }

  private HttpRequest chat(String model) {
    return TestConfigs.chat(routewise.port(), model);
  }

  private HttpResponse<String> get(String path) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + routewise.port() + path))
        .timeout(Duration.ofSeconds(5)).GET().build(), HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void theServerKeepsAnsweringWhileEveryCoreScores() throws Exception {
    // As many spinning decisions as there are carrier threads: scored inline, they would hold
    // every carrier and nothing else could run until they finish. Capped so a many-core machine is
    // not flooded with spinning threads (there the test proves less, but still passes or fails honestly).
    int n = Math.min(Runtime.getRuntime().availableProcessors(), 16);
    start("scoring_threads: " + n);
    entered = new CountDownLatch(n);
    List<CompletableFuture<HttpResponse<String>>> busy = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      busy.add(http.sendAsync(chat("router-spin-0.5"), HttpResponse.BodyHandlers.ofString()));
    }
    assertTrue(entered.await(10, TimeUnit.SECONDS), "all decisions started scoring");

    HttpResponse<String> health = get("/health");
    assertEquals(200, health.statusCode());
    HttpResponse<String> other = http.send(chat("router-random-0"), HttpResponse.BodyHandlers.ofString());
    assertEquals(200, other.statusCode());
    assertTrue(get("/metrics").body().contains("routewise_scoring_active " + n + ".0"));
    assertTrue(busy.stream().noneMatch(CompletableFuture::isDone), "the spinning decisions are still running");

    release = true;
    for (var f : busy) {
      HttpResponse<String> r = f.get(10, TimeUnit.SECONDS);
      assertEquals(200, r.statusCode());
      assertEquals("weak weak-model", r.headers().firstValue("x-routewise-model").orElseThrow());
    }
  }

  @Test
  void aFullScoringBacklogRoutesStrongAndIsCounted() throws Exception {
    List<CompletableFuture<HttpResponse<String>>> backlog = fillTheOnlyScoringThreadAndItsQueue();
    CompletableFuture<HttpResponse<String>> first = backlog.get(0);
    CompletableFuture<HttpResponse<String>> queued = backlog.get(1);

    HttpResponse<String> second = http.send(chat("router-spin-0.5"), HttpResponse.BodyHandlers.ofString());
    assertEquals(200, second.statusCode());
    assertEquals("strong strong-model", second.headers().firstValue("x-routewise-model").orElseThrow());
    assertEquals("overloaded", second.headers().firstValue("x-routewise-router-error").orElseThrow());
    String metrics = get("/metrics").body();
    assertTrue(metrics.contains("routewise_router_failures_total{kind=\"overloaded\",router=\"spin\"} 1.0"), metrics);
    assertFalse(first.isDone());
    assertFalse(queued.isDone());

    release = true;
    for (var f : List.of(first, queued)) {
      HttpResponse<String> r = f.get(10, TimeUnit.SECONDS);
      assertEquals("weak weak-model", r.headers().firstValue("x-routewise-model").orElseThrow());
      assertFalse(r.headers().firstValue("x-routewise-router-error").isPresent());
    }
  }

  @Test
  void aCachedPromptIsRoutedAtOnceEvenWithTheBacklogFull() throws Exception {
    List<CompletableFuture<HttpResponse<String>>> backlog = fillTheOnlyScoringThreadAndItsQueue();
    HttpResponse<String> warm = http.send(chat("router-warm-0.5"), HttpResponse.BodyHandlers.ofString());
    assertEquals(200, warm.statusCode());
    assertEquals("weak weak-model", warm.headers().firstValue("x-routewise-model").orElseThrow());
    assertFalse(warm.headers().firstValue("x-routewise-router-error").isPresent());
    assertFalse(backlog.get(0).isDone(), "the cached prompt did not wait for the spinning one");
    release = true;
    assertEquals(200, backlog.get(1).get(10, TimeUnit.SECONDS).statusCode());
  }

  @Test
  void aDecisionPastScoringTimeoutRoutesStrongInsteadOfHanging() throws Exception {
    CompletableFuture<HttpResponse<String>> scoring =
        startWithOneSpinning("scoring_threads: 1, scoring_queue: 4, scoring_timeout_ms: 300");
    HttpResponse<String> waiting = http.send(chat("router-spin-0.5"), HttpResponse.BodyHandlers.ofString());
    HttpResponse<String> stuck = scoring.get(10, TimeUnit.SECONDS);

    for (HttpResponse<String> r : List.of(stuck, waiting)) {
      assertEquals(200, r.statusCode());
      assertEquals("strong strong-model", r.headers().firstValue("x-routewise-model").orElseThrow());
    }
    assertEquals("timeout", stuck.headers().firstValue("x-routewise-router-error").orElseThrow());
    assertEquals("overloaded", waiting.headers().firstValue("x-routewise-router-error").orElseThrow());
    assertFalse(release, "the router is still spinning: the requests did not wait for it");
  }

  @Test
  void aDecisionWhoseClientLeavesWhileQueuedIsWithdrawnNotScored() throws Exception {
    // Under a backlog, clients time out and retry; their abandoned decisions must not use the scoring threads.
    CompletableFuture<HttpResponse<String>> first =
        startWithOneSpinning("scoring_threads: 1, scoring_queue: 4, scoring_timeout_ms: 20000");
    queueAndLeave("/v1/chat/completions"); // the client gives up while its decision waits
    awaitQueued(0); // withdrawn long before scoring_timeout_ms, with the scoring thread still busy
    String metrics = awaitMetric("routewise_requests_total{route=\"none\",router=\"spin\",status=\"499\"} 1.0");
    assertFalse(metrics.contains("routewise_router_failures_total{"), "not counted as a router failure: " + metrics);
    assertFalse(first.isDone());

    release = true;
    assertEquals("weak weak-model", first.get(10, TimeUnit.SECONDS).headers().firstValue("x-routewise-model")
        .orElseThrow());
    // The scoring thread is free again: had the withdrawn decision stayed queued, it would run now.
    Thread.sleep(200);
    assertEquals(1, scored.get(), "only the first decision was scored");
  }

  /**
   * So is a dry run's on {@code /v1/route}: abandoned ones (a flood of them, clients that time out)
   * held the scoring threads every chat request waits for (security review).
   */
  @Test
  void aRoutePreviewWhoseClientLeavesWhileQueuedIsWithdrawnNotScored() throws Exception {
    CompletableFuture<HttpResponse<String>> first =
        startWithOneSpinning("scoring_threads: 1, scoring_queue: 4, scoring_timeout_ms: 20000");
    queueAndLeave("/v1/route");
    awaitQueued(0);
    assertFalse(get("/metrics").body().contains("routewise_router_failures_total{"), "not a router failure");
    release = true;
    assertEquals(200, first.get(10, TimeUnit.SECONDS).statusCode());
    Thread.sleep(200);
    assertEquals(1, scored.get(), "only the first decision was scored");
  }

  /** Posts a spin decision to {@code path}, waits until it is queued, and closes the connection. */
  private void queueAndLeave(String path) throws Exception {
    String body = "{\"model\":\"router-spin-0.5\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    try (Socket client = new Socket(InetAddress.getLoopbackAddress(), routewise.port())) {
      client.getOutputStream().write(("POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
          + "Content-Type: application/json\r\nContent-Length: " + body.length() + "\r\n\r\n" + body)
          .getBytes(StandardCharsets.UTF_8));
      awaitQueued(1);
    }
  }

  /** One spinning decision on the one scoring thread, one waiting in its one-slot queue. */
  private List<CompletableFuture<HttpResponse<String>>> fillTheOnlyScoringThreadAndItsQueue() throws Exception {
    CompletableFuture<HttpResponse<String>> first = startWithOneSpinning("scoring_threads: 1, scoring_queue: 1");
    CompletableFuture<HttpResponse<String>> queued =
        http.sendAsync(chat("router-spin-0.5"), HttpResponse.BodyHandlers.ofString());
    awaitQueued(1);
    return List.of(first, queued);
  }

  private String awaitMetric(String line) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    String metrics;
    while (!(metrics = get("/metrics").body()).contains(line)) {
      assertTrue(System.nanoTime() < deadline, "no " + line + " in " + metrics);
      Thread.sleep(10);
    }
    return metrics;
  }

  private void awaitQueued(int n) throws Exception {
    awaitMetric("routewise_scoring_queued " + n + ".0");
  }

  /** Starts routewise with these routing settings and one decision spinning on a scoring thread. */
  private CompletableFuture<HttpResponse<String>> startWithOneSpinning(String routing) throws Exception {
    start(routing);
    entered = new CountDownLatch(1);
    CompletableFuture<HttpResponse<String>> spinning =
        http.sendAsync(chat("router-spin-0.5"), HttpResponse.BodyHandlers.ofString());
    assertTrue(entered.await(10, TimeUnit.SECONDS), "the decision started scoring");
    return spinning;
  }
}
