package io.routewise.server;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.routewise.Routewise;
import io.routewise.TestConfigs;
import io.routewise.routers.RouterCatalog;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A fresh routewise exposes at 0 the counters whose labels it knows at start. Prometheus takes a
 * series it first meets at 1 to have started there: the first decision for a rare upstream, the
 * first failover or the first tokens would never show in rate() or increase(), and the dashboard's
 * panels would read "no data" until traffic.
 */
class MetricsAtStartTest {
  @Test
  void beforeAnyTrafficEachRouterUpstreamAndReasonIsAtZero() throws Exception {
    // nothing listens on these ports: no request is sent, only /metrics is read
    String yaml = """
        server: {host: 127.0.0.1, port: 0}
        upstreams:
          strong: {base_url: "http://127.0.0.1:9/v1", model: a, price: {input: 2.5, output: 10}}
          mid: {base_url: "http://127.0.0.1:9/v1", model: b, price: {input: 0.5, output: 1}}
          weak: {base_url: "http://127.0.0.1:9/v1", model: c, price: {input: 0.1, output: 0.1}}
        routing: {router: random, threshold: 0.5, failover: true, direct_upstreams: true}
        routers: {length: {}}
        """;
    HttpClient http = HttpClient.newHttpClient();
    try (Routewise r = Routewise.start(TestConfigs.config(yaml), RouterCatalog.standard(), id -> null, () -> {})) {
      String scrape = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + r.port() + "/metrics")).build(),
          HttpResponse.BodyHandlers.ofString()).body();
      for (String router : List.of("random", "length")) {
        for (String upstream : List.of("strong", "mid", "weak")) {
          assertZero(scrape, "routewise_routed_total{route=\"" + upstream + "\",router=\"" + router + "\"}");
          assertZero(scrape, "routewise_requests_total{route=\"" + upstream + "\",router=\"" + router
              + "\",status=\"200\"}");
        }
      }
      for (String upstream : List.of("strong", "mid", "weak")) {
        assertZero(scrape, "routewise_requests_total{route=\"" + upstream + "\",router=\"direct\",status=\"200\"}");
        assertZero(scrape, "routewise_tokens_total{type=\"prompt\",upstream=\"" + upstream + "\"}");
        assertZero(scrape, "routewise_tokens_total{type=\"completion\",upstream=\"" + upstream + "\"}");
        for (String reason : List.of("unreachable", "429", "5xx", "auth", "invalid", "cooldown")) {
          assertZero(scrape, "routewise_failovers_total{from=\"" + upstream + "\",reason=\"" + reason + "\"}");
        }
      }
      assertZero(scrape, "routewise_request_bodies_refused_total{reason=\"memory\"}");
      assertZero(scrape, "routewise_request_bodies_refused_total{reason=\"slow\"}");
      for (String reason : new String[] {"invalid_api_key", "origin_not_allowed", "host_not_allowed"}) {
        assertZero(scrape, "routewise_access_refused_total{reason=\"" + reason + "\"}");
      }
    }
  }

  private static void assertZero(String scrape, String series) {
    assertTrue(scrape.lines().anyMatch(l -> l.equals(series + " 0.0")), series + " 0.0 not in:\n" + scrape);
  }
}
