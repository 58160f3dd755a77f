package io.routewise.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.http.HttpResponse;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code router-<name>-auto} through the real server: a router ({@code scored}: the prompt is its
 * win rate) with a target, upstreams on loopback, state local.
 */
class TargetRoutingTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final double GOLDEN = (Math.sqrt(5) - 1) / 2;
  private static ProxyFixture f;

  @BeforeAll
  static void start() {
    f = new ProxyFixture("""
        routers: {scored: {target: {strong_share: 0.25, window_s: 5, initial_alpha: 0.5}}}
        state: {sync_ms: 100}
        """);
  }

  @AfterAll
  static void stop() {
    f.close();
  }

  /** Win rates spread evenly over [0, 1], as text prompts for {@code scored}. */
  static String rate(int i) {
    double x = i * GOLDEN;
    return String.format(Locale.ROOT, "%.6f", x - Math.floor(x));
  }

  static double metric(String scrape, String name) {
    Matcher m = Pattern.compile("(?m)^" + Pattern.quote(name) + " (\\S+)$").matcher(scrape);
    return m.find() ? Double.parseDouble(m.group(1)) : Double.NaN;
  }

  @Test
  void autoHoldsTheTargetShareAndEveryAnswerShowsTheAlphaItWasRoutedWith() throws Exception {
    int strong = 0;
    int counted = 0;
    long end = System.nanoTime() + 3_000_000_000L;
    for (int i = 0; System.nanoTime() < end || counted < 300; i++) {
      String prompt = rate(i);
      HttpResponse<String> r = f.chat("router-scored-auto", prompt);
      assertEquals(200, r.statusCode(), r.body());
      double threshold = Double.parseDouble(r.headers().firstValue("x-routewise-threshold").orElseThrow());
      boolean wentStrong = r.headers().firstValue("x-routewise-model").orElseThrow().startsWith("strong");
      // The header is the α this request met: the threshold rule, applied by hand, agrees.
      assertEquals(Double.parseDouble(prompt) >= threshold, wentStrong, prompt + " vs " + threshold);
      if (System.nanoTime() > end - 1_500_000_000L) { // the last 1.5 s and after: settled
        counted++;
        strong += wentStrong ? 1 : 0;
      }
    }
    assertEquals(0.25, (double) strong / counted, 0.05, strong + " of " + counted);
    String scrape = f.get("/metrics").body();
    assertEquals(0.75, metric(scrape, "routewise_target_alpha{router=\"scored\"}"), 0.05, scrape);
    assertEquals(0.25, metric(scrape, "routewise_target_strong_share{router=\"scored\"}"));
    assertEquals(0.25, metric(scrape, "routewise_target_observed_strong_share{router=\"scored\"}"), 0.05);
    assertEquals(1.0, metric(scrape, "routewise_target_replicas{router=\"scored\"}"));
    assertEquals(0.0, metric(scrape, "routewise_target_out_of_reach{router=\"scored\"}"), "0.75 is within [0, 1]");
    assertFalse(scrape.contains("routewise_state_redis_up"), "no Redis configured, no Redis gauge");
  }

  @Test
  void aFixedThresholdForTheSameRouterKeepsItsMeaning() throws Exception {
    HttpResponse<String> r = f.chat("router-scored-0.9", "0.8");
    assertEquals("weak weak-model", r.headers().firstValue("x-routewise-model").orElseThrow());
    assertEquals("0.9", r.headers().firstValue("x-routewise-threshold").orElseThrow());
  }

  @Test
  void autoIsRefusedForARouterWithoutATarget() throws Exception {
    HttpResponse<String> r = f.chat("router-random-auto", "hi");
    assertEquals(400, r.statusCode());
    JsonNode e = JSON.readTree(r.body()).get("error");
    assertEquals("model_not_found", e.get("code").asText());
    assertEquals("model", e.get("param").asText());
    assertTrue(e.get("message").asText().contains("routers.random.target"), r.body());
    assertTrue(e.get("message").asText().contains("Routers with a target: scored"), r.body());
  }

  @Test
  void theModelListOffersAutoForEachRouterWithATarget() throws Exception {
    String models = f.get("/v1/models").body();
    assertTrue(models.contains("\"router-scored-auto\""), models);
    assertFalse(models.contains("router-random-auto"), models);
    assertEquals(200, f.get("/v1/models/router-scored-auto").statusCode());
    assertEquals(404, f.get("/v1/models/router-random-auto").statusCode());
  }

  @Test
  void aDryRunShowsTheCurrentAlphaWithoutCountingAsTraffic() throws Exception {
    String before = f.get("/metrics").body();
    double alpha = metric(before, "routewise_target_alpha{router=\"scored\"}");
    JsonNode d = JSON.readTree(f.post("/v1/route",
        "{\"model\":\"router-scored-auto\",\"messages\":[{\"role\":\"user\",\"content\":\"0.99\"}]}").body());
    assertEquals("strong", d.get("route").asText());
    assertNotEquals(0, d.get("threshold").asDouble());
    assertTrue(Math.abs(d.get("threshold").asDouble() - alpha) < 0.05, d + " vs " + alpha);
    assertEquals(metric(before, "routewise_routed_total{route=\"strong\",router=\"scored\"}"),
        metric(f.get("/metrics").body(), "routewise_routed_total{route=\"strong\",router=\"scored\"}"));
  }

  @Test
  void theWindowSpendIsEveryAnswersUsageTimesItsUpstreamsPrice() throws Exception {
    // The fixture's upstreams answer with usage 11 prompt and 7 completion tokens.
    try (ProxyFixture priced = ProxyFixture.edited("""
        routers: {scored: {target: {usd_per_hour: 1000, window_s: 600}}}
        """, yaml -> yaml
        .replace("model: strong-model, timeout_ms: 1500}", "model: strong-model, timeout_ms: 1500, price: {input: 10, output: 30}}")
        .replace("model: weak-model, timeout_ms: 1500}", "model: weak-model, timeout_ms: 1500, price: {input: 1, output: 2}}"))) {
      int strong = 0;
      int weak = 0;
      for (int i = 0; i < 40; i++) {
        HttpResponse<String> r = priced.chat("router-scored-auto", rate(i));
        if (r.headers().firstValue("x-routewise-model").orElseThrow().startsWith("strong")) {
          strong++;
        } else {
          weak++;
        }
      }
      priced.chat("router-scored-0.5", "0.9"); // not target traffic: not in the window
      assertTrue(strong > 0 && weak > 0, strong + "/" + weak);
      double expected = strong * (11 * 10 + 7 * 30) / 1e6 + weak * (11 * 1 + 7 * 2) / 1e6;
      // The window is read by the sync thread every second; a scrape reads the observed rate before the
      // spend (by name), so one taken during a step can show the new spend beside the old rate.
      String scrape = "";
      for (int tries = 0; tries < 50; tries++) {
        scrape = priced.get("/metrics").body();
        if (Math.abs(metric(scrape, "routewise_target_window_spend_usd{router=\"scored\"}") - expected) < 1e-12
            && metric(scrape, "routewise_target_observed_usd_per_hour{router=\"scored\"}") > 0) {
          break;
        }
        Thread.sleep(100);
      }
      assertEquals(expected, metric(scrape, "routewise_target_window_spend_usd{router=\"scored\"}"), 1e-12, scrape);
      assertEquals(1000, metric(scrape, "routewise_target_usd_per_hour{router=\"scored\"}"));
      assertTrue(metric(scrape, "routewise_target_observed_usd_per_hour{router=\"scored\"}") > 0, scrape);
    }
  }
}
