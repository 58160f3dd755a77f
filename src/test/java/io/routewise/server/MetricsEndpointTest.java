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
      assertTrue(m.contains("routewise_upstream_ttfb_seconds_count{upstream=\"strong\"} 3"), m);
      assertTrue(m.contains("routewise_upstream_duration_seconds_count{outcome=\"ok\",upstream=\"weak\"} 1"), m);
      assertTrue(m.contains("routewise_tokens_total{type=\"prompt\",upstream=\"strong\"} 33.0"), m);
      assertTrue(m.contains("routewise_tokens_total{type=\"completion\",upstream=\"weak\"} 7.0"), m);
      assertTrue(m.contains("routewise_strong_share{router=\"random\"} 0.75"), m);
      assertTrue(m.contains("routewise_routed_total{route=\"strong\",router=\"random\"} 3.0"), m);
    }
  }
}
