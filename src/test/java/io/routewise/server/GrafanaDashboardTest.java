package io.routewise.server;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.client.WireMock;
import com.github.tomakehurst.wiremock.core.WireMockConfiguration;
import io.routewise.Routewise;
import io.routewise.TestConfigs;
import io.routewise.routers.RouterCatalog;
import io.routewise.routing.RouterException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * docs/grafana/routewise.json loads and shows data: it is a Grafana dashboard whose every query
 * names only metrics that a routewise with priced upstreams really exposes on /metrics.
 */
class GrafanaDashboardTest {
  static final Path DASHBOARD = Path.of("docs/grafana/routewise.json");

  /** PromQL words that are not metric names. */
  private static final Set<String> PROMQL = Set.of("sum", "rate", "increase", "irate", "histogram_quantile", "by",
      "without", "avg", "max", "min", "count", "topk", "bottomk", "on", "ignoring", "group_left", "group_right", "and",
      "or", "unless", "offset", "vector", "scalar", "clamp_min", "clamp_max", "delta", "deriv", "abs", "label_values",
      "le", "bool");

  /** Metric names in one PromQL expression: identifiers outside label matchers, groupings and strings. */
  static Set<String> metricNames(String expr) {
    String bare = expr.replaceAll("\"(?:[^\"\\\\]|\\\\.)*\"", "\"\"") // string literals
        .replaceAll("\\{[^}]*}", "") // label matchers
        .replaceAll("\\[[^]]*]", "") // range selectors
        .replaceAll("\\b(by|without|on|ignoring)\\s*\\([^)]*\\)", ""); // grouping labels
    Set<String> out = new TreeSet<>();
    Matcher m = Pattern.compile("[A-Za-z_:][A-Za-z0-9_:]*").matcher(bare);
    while (m.find()) {
      if (!PROMQL.contains(m.group()) && !m.group().matches("\\d.*")) {
        out.add(m.group());
      }
    }
    return out;
  }

  /** Every PromQL expression in the dashboard: panel targets and variable queries. */
  static List<String> expressions(JsonNode dashboard) {
    List<String> out = new ArrayList<>();
    for (JsonNode panel : dashboard.path("panels")) {
      for (JsonNode target : panel.path("targets")) {
        out.add(target.path("expr").asText());
      }
    }
    for (JsonNode variable : dashboard.path("templating").path("list")) {
      String q = variable.path("query").isObject() ? variable.path("query").path("query").asText()
          : variable.path("query").asText();
      // label_values(metric, label): only the first argument is a metric
      out.add(q.replaceAll("label_values\\(\\s*([^,)]+)\\s*,[^)]*\\)", "$1"));
    }
    return out;
  }

  @Test
  void theExtractorFindsMetricNamesAndNothingElse() {
    assertEquals(Set.of("routewise_routing_decision_seconds_bucket"), metricNames(
        "histogram_quantile(0.99, sum by (le, router) (rate(routewise_routing_decision_seconds_bucket{router=~\"$router\"}[5m])))"));
    assertEquals(Set.of("a_total", "b_total"), metricNames("(sum(rate(a_total[5m])) - sum(rate(b_total{x!~\"2..\"}[5m]))) * 3600"));
  }

  @Test
  void everyMetricTheDashboardQueriesIsExposedByMetrics() throws Exception {
    JsonNode dashboard = new ObjectMapper().readTree(DASHBOARD.toFile());
    assertEquals("routewise", dashboard.path("title").asText());
    assertTrue(dashboard.path("schemaVersion").asInt() >= 30);
    assertTrue(dashboard.path("__inputs").get(0).path("pluginId").asText().equals("prometheus"),
        "importable: asks for its Prometheus data source");
    Set<String> referenced = new TreeSet<>();
    for (String expr : expressions(dashboard)) {
      assertFalse(expr.isBlank());
      referenced.addAll(metricNames(expr));
      // a fixed window under-samples a zoomed-out graph (its step longer than the window): rates average each step
      Matcher rate = Pattern.compile("\\brate\\([^\\[]*\\[([^\\]]*)]").matcher(expr);
      while (rate.find()) {
        assertEquals("$__rate_interval", rate.group(1), expr);
      }
    }
    Set<String> exposed = exposedSeriesNames();
    Set<String> missing = new TreeSet<>(referenced);
    missing.removeAll(exposed);
    assertTrue(missing.isEmpty(), "the dashboard queries metrics /metrics does not expose: " + missing);
    // what the dashboard is for
    for (String needed : List.of("routewise_upstream_duration_seconds_count", "routewise_routed_total",
        "routewise_cost_usd_total", "routewise_cost_saved_usd_total", "routewise_answers_unmetered_total",
        "routewise_routing_decision_seconds_bucket",
        "routewise_upstream_duration_seconds_bucket", "routewise_requests_total", "routewise_failovers_total",
        "routewise_buffered_bytes", "routewise_upstream_cooling", "routewise_http_refused_total", "routewise_access_refused_total",
        "routewise_target_strong_share", "routewise_target_observed_strong_share", "routewise_target_alpha",
        "routewise_client_cost_usd_total", "routewise_client_requests_total", "routewise_client_budget_spent_usd",
        "routewise_client_rate_limited_total")) {
      assertTrue(referenced.contains(needed), "no panel shows " + needed + ": " + referenced);
    }
  }

  /**
   * Every query parses as PromQL: Prometheus's own parser, through {@code promtool check rules} on a
   * rule file of them, Grafana's variables given values (a name check cannot see a misplaced
   * parenthesis or a comparison without its right side).
   */
  @Test
  void everyQueryIsPromqlThatPrometheusParses() throws Exception {
    JsonNode dashboard = new ObjectMapper().readTree(DASHBOARD.toFile());
    StringBuilder rules = new StringBuilder("groups:\n- name: dashboard\n  rules:\n");
    int n = 0;
    for (String expr : expressions(dashboard)) {
      if (expr.startsWith("label_values(") || !expr.contains("routewise_")) {
        continue;
      }
      String concrete = expr.replace("$__rate_interval", "1m").replace("$__range", "1h").replace("$router", ".*");
      rules.append("  - record: dashboard_query_").append(n++).append("\n    expr: ")
          .append(new ObjectMapper().writeValueAsString(concrete)).append('\n');
    }
    assertTrue(n >= 15, "queries found: " + n);
    Path file = java.nio.file.Files.createTempFile("dashboard-rules", ".yml");
    try {
      java.nio.file.Files.writeString(file, rules);
      Process p = new ProcessBuilder(PromtoolLintTest.promtool(), "check", "rules", file.toString())
          .redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
      assertTrue(p.waitFor(30, java.util.concurrent.TimeUnit.SECONDS));
      assertEquals(0, p.exitValue(), "promtool check rules:\n" + out + "\n" + rules);
    } finally {
      java.nio.file.Files.deleteIfExists(file);
    }
  }

  /** Series names of a routewise with three priced upstreams and a named client key after traffic of every kind. */
  private static Set<String> exposedSeriesNames() throws Exception {
    List<WireMockServer> servers = new ArrayList<>();
    StringBuilder yaml = new StringBuilder("server: {host: 127.0.0.1, port: 0, api_keys: {team: {key: sk-team, budget: {usd: 100}, rate_limit: {requests: 100000}}}}\nupstreams:\n");
    String[][] upstreams = {{"strong", "2.5", "10"}, {"mini", "0.15", "0.6"}, {"weak", "0.1", "0.1"}};
    for (String[] u : upstreams) {
      WireMockServer w = new WireMockServer(WireMockConfiguration.options().dynamicPort().bindAddress("127.0.0.1"));
      w.start();
      servers.add(w);
      int status = u[0].equals("weak") ? 503 : 200; // weak fails over to mini
      w.stubFor(WireMock.post(urlEqualTo("/v1/chat/completions")).willReturn(aResponse().withStatus(status)
          .withHeader("Content-Type", "application/json").withBody(ProxyFixture.COMPLETION.formatted(u[0], u[0]))));
      yaml.append("  ").append(u[0]).append(": {base_url: \"").append(w.baseUrl()).append("/v1\", model: ").append(u[0])
          .append(", price: {input: ").append(u[1]).append(", output: ").append(u[2]).append("}")
          .append(u[0].equals("weak") ? ", accepts: [text]" : "").append("}\n"); // media moves are counted from weak
    }
    yaml.append("routing: {router: random, threshold: 0.5, failover: true}\n"
        + "routers: {broken: {}, random: {target: {strong_share: 0.3}}}\n");
    HttpClient http = HttpClient.newHttpClient();
    try (Routewise r = Routewise.start(TestConfigs.config(yaml.toString()), RouterCatalog.standard().with("broken",
        ctx -> prompt -> {
          throw new RouterException("boom", "router exploded");
        }), id -> null, () -> {})) {
      for (String model : List.of("router-random-0", "router-random-0.5", "router-random-1", "router-broken-0.5",
          "router-random-auto")) {
        http.send(HttpRequest.newBuilder(TestConfigs.chat(r.port(), model), (name, value) -> true)
            .header("Authorization", "Bearer sk-team").build(), HttpResponse.BodyHandlers.ofString());
      }
      String scrape = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + r.port() + "/metrics")).build(),
          HttpResponse.BodyHandlers.ofString()).body();
      Set<String> names = new TreeSet<>();
      scrape.lines().filter(l -> !l.startsWith("#") && !l.isBlank())
          .forEach(l -> names.add(l.split("[{ ]", 2)[0]));
      return names;
    } finally {
      servers.forEach(WireMockServer::stop);
    }
  }
}
