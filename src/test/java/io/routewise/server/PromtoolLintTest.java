package io.routewise.server;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.client.WireMock;
import com.github.tomakehurst.wiremock.core.WireMockConfiguration;
import io.routewise.Routewise;
import io.routewise.TestConfigs;
import io.routewise.routers.RouterCatalog;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Prometheus's own linter, {@code promtool check metrics}, on a real {@code /metrics} scrape after
 * every kind of traffic the metrics describe: a priced three-model ladder, a target, a failover, a
 * stream, a bad request. What an operator's CI runs on a scrape must pass.
 */
class PromtoolLintTest {
  /** Micrometer's standard name, which JVM dashboards read; promtool dislikes its suffix on a gauge. */
  private static final String KNOWN = "system_cpu_count non-histogram and non-summary metrics should not have \"_count\" suffix";

  @Test
  void aScrapeAfterEveryKindOfTrafficPassesPromtoolsLint() throws Exception {
    List<WireMockServer> servers = new ArrayList<>();
    StringBuilder yaml = new StringBuilder("server: {host: 127.0.0.1, port: 0, api_keys: {team: {key: sk-team, budget: {usd: 100}}}}\nupstreams:\n");
    String[][] ladder = {{"strong", "2.5", "10"}, {"mini", "0.15", "0.6"}, {"weak", "0.1", "0.1"}};
    for (String[] u : ladder) {
      WireMockServer w = new WireMockServer(WireMockConfiguration.options().dynamicPort().bindAddress("127.0.0.1"));
      w.start();
      servers.add(w);
      w.stubFor(WireMock.post(urlEqualTo("/v1/chat/completions")).willReturn(aResponse().withStatus(200)
          .withHeader("Content-Type", "application/json").withBody(ProxyFixture.COMPLETION.formatted(u[0], u[0]))));
      yaml.append("  ").append(u[0]).append(": {base_url: \"").append(w.baseUrl()).append("/v1\", api_key: none, ")
          .append("model: ").append(u[0]).append("-model, timeout_ms: 1500, price: {input: ").append(u[1])
          .append(", output: ").append(u[2]).append("}}\n");
    }
    servers.get(2).stubFor(WireMock.post(urlEqualTo("/v1/chat/completions")).withRequestBody(WireMock.containing("fail"))
        .willReturn(aResponse().withStatus(503)));
    yaml.append("routing: {router: random, threshold: 0.5, failover: true}\n")
        .append("routers: {random: {}, length: {target: {strong_share: 0.3, window_s: 5}}}\n");
    try (Routewise routewise = Routewise.start(TestConfigs.config(yaml.toString()), RouterCatalog.standard(),
        id -> null, () -> {})) {
      HttpClient http = HttpClient.newHttpClient();
      URI base = URI.create("http://127.0.0.1:" + routewise.port());
      for (String body : List.of(
          "{\"model\":\"router-random-0\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
          "{\"model\":\"router-length-auto\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
          "{\"model\":\"router-random-1\",\"messages\":[{\"role\":\"user\",\"content\":\"fail\"}]}",
          "{\"model\":\"router-random-1\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
          "{\"model\":\"router-nope-0.5\",\"messages\":[]}")) {
        http.send(HttpRequest.newBuilder(base.resolve("/v1/chat/completions")).header("Content-Type", "application/json")
            .header("Authorization", "Bearer sk-team").POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
      }
      String scrape = http.send(HttpRequest.newBuilder(base.resolve("/metrics")).build(),
          HttpResponse.BodyHandlers.ofString()).body();
      assertTrue(scrape.contains("routewise_cost_usd_total{upstream=\"mini\"}")
          && scrape.contains("routewise_failovers_total") && scrape.contains("routewise_target_alpha")
          && scrape.contains("routewise_client_cost_usd_total{client=\"team\"}"), scrape);

      Path file = Files.createTempFile("routewise-metrics", ".txt");
      try {
        Files.writeString(file, scrape, StandardCharsets.UTF_8);
        Process p = new ProcessBuilder(promtool(), "check", "metrics").redirectInput(file.toFile())
            .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        List<String> problems = out.lines().filter(l -> !l.isBlank() && !l.equals(KNOWN)).toList();
        assertEquals(List.of(), problems, "promtool (exit " + p.exitValue() + "):\n" + out);
      } finally {
        Files.deleteIfExists(file);
      }
    } finally {
      servers.forEach(WireMockServer::stop);
    }
  }

  /** {@code PROMTOOL}, else the PATH, else /usr/bin (Debian's prometheus package; .ci/run installs it). */
  static String promtool() throws IOException {
    String env = System.getenv("PROMTOOL");
    if (env != null && !env.isBlank()) {
      return env;
    }
    for (String dir : System.getenv().getOrDefault("PATH", "").split(java.io.File.pathSeparator)) {
      if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, "promtool"))) {
        return Path.of(dir, "promtool").toString();
      }
    }
    if (Files.isExecutable(Path.of("/usr/bin/promtool"))) {
      return "/usr/bin/promtool";
    }
    throw new IOException("promtool not found (PROMTOOL, PATH, /usr/bin): the lint test runs Prometheus's own; "
        + "install Debian's prometheus package (.ci/run does)");
  }
}
