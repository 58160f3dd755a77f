package io.routewise.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.http.HttpResponse;
import org.junit.jupiter.api.Test;

class MetricsEndpointTest {
  @Test
  void metricsShowRequestsDecisionsUpstreamLatencyTokensAndStrongShare() throws Exception {
    try (ProxyFixture f = new ProxyFixture("")) {
      for (int i = 0; i < 3; i++) {
        f.chat("router-random-0", "s");
      }
      f.chat("router-random-1", "w");
      f.chat("router-nope-0.5", "bad");
      HttpResponse<String> r = f.get("/metrics");
      assertEquals(200, r.statusCode());
      assertTrue(r.headers().firstValue("content-type").orElseThrow().startsWith("text/plain"));
      String m = r.body();
      assertTrue(m.contains("routewise_requests_total{route=\"strong\",router=\"random\",status=\"200\"} 3.0"), m);
      assertTrue(m.contains("routewise_requests_total{route=\"weak\",router=\"random\",status=\"200\"} 1.0"), m);
      assertTrue(m.contains("routewise_requests_total{route=\"none\",router=\"none\",status=\"400\"} 1.0"), m);
      assertTrue(m.contains("routewise_routing_decision_seconds_bucket{router=\"random\""), m);
      assertTrue(m.contains("routewise_routing_decision_seconds_count{router=\"random\"} 4"), m);
      // length, random and mf on the static table decide in a few µs: buckets from 1 µs resolve them
      double firstBucket = m.lines().filter(l -> l.startsWith("routewise_routing_decision_seconds_bucket{router=\"random\"") && !l.contains("+Inf"))
          .mapToDouble(l -> Double.parseDouble(l.replaceAll(".*le=\"([^\"]+)\".*", "$1"))).min().orElseThrow();
      assertTrue(firstBucket <= 1.1e-6, "first bucket at " + firstBucket + " s");
      assertTrue(m.contains("routewise_upstream_ttfb_seconds_count{upstream=\"strong\"} 3"), m);
      assertTrue(m.contains("routewise_upstream_duration_seconds_count{outcome=\"ok\",upstream=\"weak\"} 1"), m);
      assertTrue(m.contains("routewise_tokens_total{type=\"prompt\",upstream=\"strong\"} 33.0"), m);
      assertTrue(m.contains("routewise_tokens_total{type=\"completion\",upstream=\"weak\"} 7.0"), m);
      assertTrue(m.contains("routewise_strong_share{router=\"random\"} 0.75"), m);
      assertTrue(m.contains("routewise_routed_total{route=\"strong\",router=\"random\"} 3.0"), m);
    }
  }

  @Test
  void proxyOverheadLeavesOutTheTimeSpentWaitingOnTheUpstream() throws Exception {
    try (ProxyFixture f = new ProxyFixture("")) {
      f.strong.resetAll();
      f.strong.stubFor(com.github.tomakehurst.wiremock.client.WireMock.post(
              com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo("/v1/chat/completions"))
          .willReturn(com.github.tomakehurst.wiremock.client.WireMock.aResponse().withStatus(200)
              .withHeader("Content-Type", "application/json").withFixedDelay(400)
              .withBody(ProxyFixture.COMPLETION.formatted("strong-model", "strong"))));
      for (int i = 0; i < 2; i++) {
        assertEquals(200, f.chat("router-random-0", "slow upstream").statusCode());
      }
      String m = f.get("/metrics").body();
      assertTrue(m.contains("routewise_proxy_overhead_seconds_count{router=\"random\"} 2"), m);
      double upstream = value(m, "routewise_upstream_duration_seconds_sum{outcome=\"ok\",upstream=\"strong\"}");
      double overhead = value(m, "routewise_proxy_overhead_seconds_sum{router=\"random\"}");
      assertTrue(upstream >= 0.8, "the upstream took 2 x 400 ms: " + upstream);
      assertTrue(overhead < 0.4, "the proxy's own time excludes those waits: " + overhead);
    }
  }

  @Test
  void theProcessItselfIsVisibleForSizingAPod() throws Exception {
    try (ProxyFixture f = new ProxyFixture("")) {
      System.gc(); // so that a GC pause has been seen whichever collector runs
      // The JVM hands GC notifications to Micrometer on its own thread: the pause may reach the
      // registry a little after System.gc() returns.
      String m = f.get("/metrics").body();
      for (long end = System.nanoTime() + 10_000_000_000L;
          !m.contains("jvm_gc_pause_seconds_count{") && System.nanoTime() < end; ) {
        Thread.sleep(50);
        m = f.get("/metrics").body();
      }
      // Summed over the heap's pools: right after System.gc() G1's eden (the first pool listed) is empty.
      assertTrue(heapUsed(m) > 0, m);
      assertTrue(value(m, "jvm_memory_max_bytes{area=\"heap\",id=\"" + heapPool(m) + "\"}") != 0, m);
      assertTrue(value(m, "jvm_threads_live_threads") > 0, m);
      assertTrue(value(m, "process_files_open_files") > 0, m);
      assertTrue(value(m, "process_uptime_seconds") > 0, m);
      assertTrue(m.contains("process_cpu_usage "), m);
      assertTrue(m.contains("jvm_gc_pause_seconds_count{"), m);
    }
  }

  /**
   * A prompt whose MiniLM embedding is cached is one hit per decision, with three upstreams as with
   * two: the request thread's look for it and the scoring that follows were counted as two hits, so
   * three decisions on one prompt read as 1 miss and 4 hits (80 % answered from the cache, not 67 %).
   */
  @Test
  void aCachedEmbeddingCountsOneHitPerDecisionWithThreeUpstreams() throws Exception {
    String yaml = """
        server: {host: 127.0.0.1, port: 0}
        upstreams:
          strong: {base_url: "http://127.0.0.1:9/v1", model: gpt-4o, price: {input: 5, output: 15}}
          mini: {base_url: "http://127.0.0.1:9/v1", model: gpt-4o-mini, router_model: gpt-4o-mini-2024-07-18,
                 price: {input: 0.15, output: 0.6}}
          weak: {base_url: "http://127.0.0.1:9/v1", model: llama3.1:8b, price: {input: 0.05, output: 0.05}}
        embedding: {model: all-minilm-l6-v2-q}
        routers: {mf: {model_dir: models/mf-minilm}}
        """;
    try (io.routewise.embedding.Embedders embedders = new io.routewise.embedding.Embedders(
            io.routewise.embedding.EmbeddingSettings.defaults().withModel("all-minilm-l6-v2-q"));
        io.routewise.Routewise r = io.routewise.Routewise.start(io.routewise.TestConfigs.config(yaml),
            io.routewise.routers.RouterCatalog.standard(), embedders, () -> {})) {
      java.net.http.HttpClient http = java.net.http.HttpClient.newHttpClient();
      java.util.Set<String> answers = new java.util.HashSet<>();
      for (int i = 0; i < 3; i++) {
        HttpResponse<String> d = http.send(java.net.http.HttpRequest.newBuilder(
                java.net.URI.create("http://127.0.0.1:" + r.port() + "/v1/route"))
            .POST(java.net.http.HttpRequest.BodyPublishers.ofString("{\"model\":\"router-mf-0.5\",\"messages\":"
                + "[{\"role\":\"user\",\"content\":\"What is the capital of Peru?\"}]}")).build(),
            HttpResponse.BodyHandlers.ofString());
        assertEquals(200, d.statusCode(), d.body());
        assertTrue(d.body().contains("\"top_win_rates\""), d.body());
        answers.add(d.body());
      }
      assertEquals(1, answers.size(), "scored on a scoring thread, then from the cache: the same rates " + answers);
      String m = http.send(java.net.http.HttpRequest.newBuilder(
          java.net.URI.create("http://127.0.0.1:" + r.port() + "/metrics")).build(), HttpResponse.BodyHandlers.ofString()).body();
      assertEquals(1.0, value(m, "routewise_embedding_cache_misses_total{model=\"all-minilm-l6-v2-q\"}"), m);
      assertEquals(2.0, value(m, "routewise_embedding_cache_hits_total{model=\"all-minilm-l6-v2-q\"}"),
          "one hit for each of the two repeats");
    }
  }

  /** Heap bytes in use, over every heap pool of the scrape. */
  private static double heapUsed(String metrics) {
    double sum = 0;
    for (String line : metrics.split("\n")) {
      if (line.startsWith("jvm_memory_used_bytes{area=\"heap\"")) {
        sum += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
      }
    }
    return sum;
  }

  /** The name of one heap memory pool in the scrape (they differ between collectors). */
  private static String heapPool(String metrics) {
    String prefix = "jvm_memory_used_bytes{area=\"heap\",id=\"";
    int i = metrics.indexOf(prefix);
    assertTrue(i >= 0, metrics);
    return metrics.substring(i + prefix.length(), metrics.indexOf('"', i + prefix.length()));
  }

  /** The value of one series line in a Prometheus scrape. */
  static double value(String metrics, String series) {
    for (String line : metrics.split("\n")) {
      if (line.startsWith(series + " ")) {
        return Double.parseDouble(line.substring(series.length() + 1).trim());
      }
    }
    throw new AssertionError(series + " not in\n" + metrics);
  }
}
