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
