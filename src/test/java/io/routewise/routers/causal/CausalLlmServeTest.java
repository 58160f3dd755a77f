package io.routewise.routers.causal;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.containing;
import static com.github.tomakehurst.wiremock.client.WireMock.okJson;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.wireMockConfig;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.tomakehurst.wiremock.junit5.WireMockExtension;
import io.routewise.Main;
import io.routewise.routers.causal.JudgeResponses.Tok;
import io.routewise.server.ProxyFixture;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * causal_llm as a user selects it: {@code router-causal_llm-α} through the proxy (a WireMock judge
 * that rates easy prompts 5 and hard ones 1), a judge failure that still answers from the strong
 * upstream, and {@code score}/{@code eval} with the judge named in a config file.
 */
class CausalLlmServeTest {
  static final ObjectMapper JSON = new ObjectMapper();

  @RegisterExtension
  static WireMockExtension judge = WireMockExtension.newInstance()
      .options(wireMockConfig().dynamicPort().bindAddress("127.0.0.1")).build();

  @TempDir
  Path tmp;

  private static void judgeRates(String promptPart, String rating) {
    judge.stubFor(post(urlEqualTo("/v1/chat/completions")).withRequestBody(containing(promptPart))
        .willReturn(okJson(JudgeResponses.withLogprobs(List.of(Tok.of("[[" + rating + "]]",
            "[[" + rating + "]]", 0.9, "[[3]]", 0.1))))));
  }

  /** The judge rates "capital" and "Sort" prompts 5 (strong win rate 0.1) and fails on "Riemann" with a 500. */
  private static void judgeFailsOnTheHardPrompt() {
    judgeRates("capital", "5");
    judgeRates("Sort", "5");
    judge.stubFor(post(urlEqualTo("/v1/chat/completions")).withRequestBody(containing("Riemann"))
        .willReturn(aResponse().withStatus(500).withBody("down")));
  }

  /** strong and weak (never called) and the judge, plus {@code extra} config. */
  private Path twoUpstreams(String extra) throws java.io.IOException {
    return Files.writeString(tmp.resolve("config.yaml"), twoUpstreamsYaml() + extra + routersYaml());
  }

  private static String twoUpstreamsYaml() {
    return """
        upstreams:
          strong: {base_url: "http://127.0.0.1:9/v1", api_key: none, model: strong-model}
          weak: {base_url: "http://127.0.0.1:9/v1", api_key: none, model: weak-model}
        """;
  }

  /** An easy, a hard and a code prompt, with both models' outcomes. */
  private Path threeLabeledPrompts() throws java.io.IOException {
    return Files.writeString(tmp.resolve("prompts.jsonl"), """
        {"id": "a", "prompt": "What is the capital of Peru?", "outcomes": {"strong-model": 1, "weak-model": 1}}
        {"id": "b", "prompt": "Prove the Riemann hypothesis", "outcomes": {"strong-model": 1, "weak-model": 0}}
        {"id": "c", "prompt": "Sort a list", "outcomes": {"strong-model": 1, "weak-model": 1}}
        """);
  }

  private String routersYaml() {
    return "routers: {causal_llm: {base_url: \"" + judge.baseUrl() + "/v1\", model: routellm-causal, timeout_ms: 1000}}\n";
  }

  @Test
  void routerCausalLlmAlphaRoutesByTheJudgesRating() throws Exception {
    judgeRates("capital", "5"); // P(rating >= 4) = 0.9 -> strong win rate 0.1
    judgeRates("Riemann", "1"); // P(rating >= 4) = 0 -> strong win rate 1.0
    try (ProxyFixture p = new ProxyFixture(routersYaml())) {
      HttpResponse<String> easy = p.chat("router-causal_llm-0.5", "What is the capital of Peru?");
      assertEquals(200, easy.statusCode(), easy.body());
      assertEquals("causal_llm", easy.headers().firstValue("x-routewise-router").orElseThrow());
      assertEquals(0.1, Double.parseDouble(easy.headers().firstValue("x-routewise-win-rate").orElseThrow()), 1e-6);
      assertTrue(easy.body().contains("hello from weak"));

      HttpResponse<String> hard = p.chat("router-causal_llm-0.5", "Prove the Riemann hypothesis");
      assertTrue(hard.body().contains("hello from strong"));
      assertTrue(hard.headers().firstValue("x-routewise-model").orElseThrow().startsWith("strong"));

      // the judge's request carried RouteLLM's sampling settings
      judge.verify(postRequestedFor(urlEqualTo("/v1/chat/completions"))
          .withRequestBody(containing("\"logprobs\":true"))
          .withRequestBody(containing("\"max_tokens\":6")));
    }
  }

  @Test
  void aFailingJudgeSendsTheRequestStrongAndCountsTheFailure() throws Exception {
    judge.stubFor(post(urlEqualTo("/v1/chat/completions")).willReturn(aResponse().withStatus(500).withBody("down")));
    try (ProxyFixture p = new ProxyFixture(routersYaml())) {
      HttpResponse<String> r = p.chat("router-causal_llm-0.9", "What is the capital of Peru?");
      assertEquals(200, r.statusCode(), r.body());
      assertTrue(r.body().contains("hello from strong"));
      assertTrue(r.headers().firstValue("x-routewise-router-error").isPresent(), r.headers().map().toString());
      String metrics = p.get("/metrics").body();
      assertTrue(metrics.lines().anyMatch(l -> l.startsWith("routewise_router_failures_total")
          && l.contains("router=\"causal_llm\"") && l.endsWith(" 1.0")), metrics);
    }
  }

  /** Before, each request of a judge's outage waited out timeout_ms before going strong. */
  @Test
  void aJudgeThatIsDownCoolsAndRequestsGoStrongWithoutAskingIt() throws Exception {
    judge.stubFor(post(urlEqualTo("/v1/chat/completions")).willReturn(aResponse().withStatus(503).withBody("down")));
    try (ProxyFixture p = new ProxyFixture(routersYaml())) {
      Thread.sleep(1_100); // no answer for a second since start
      for (int i = 0; i < 3; i++) {
        HttpResponse<String> r = p.chat("router-causal_llm-0.9", "What is the capital of Peru?");
        assertTrue(r.headers().firstValue("x-routewise-router-error").orElseThrow().contains("http_5xx"),
            r.headers().map().toString());
      }
      HttpResponse<String> cooled = p.chat("router-causal_llm-0.9", "What is the capital of Peru?");
      assertEquals(200, cooled.statusCode(), cooled.body());
      assertTrue(cooled.body().contains("hello from strong"));
      assertTrue(cooled.headers().firstValue("x-routewise-router-error").orElseThrow().contains("cooling"),
          cooled.headers().map().toString());
      judge.verify(3, postRequestedFor(urlEqualTo("/v1/chat/completions")));
      String metrics = p.get("/metrics").body();
      assertTrue(metrics.lines().anyMatch(l -> l.startsWith("routewise_router_failures_total")
          && l.contains("kind=\"cooling\"") && l.endsWith(" 1.0")), metrics);
    }
  }

  /** A file's prompts are each asked, even when the judge failed many in a row: its figures are the judge's. */
  @Test
  void scoreAsksTheJudgeAboutEveryPromptWhateverItDidBefore() throws Exception {
    judge.stubFor(post(urlEqualTo("/v1/chat/completions"))
        .willReturn(aResponse().withStatus(500).withBody("down").withFixedDelay(250)));
    Path config = Files.writeString(tmp.resolve("config.yaml"), twoUpstreamsYaml() + "routers: {causal_llm: {base_url: \""
        + judge.baseUrl() + "/v1\", model: routellm-causal, max_concurrency: 1, cooldown_ms: 60000}}\n");
    StringBuilder lines = new StringBuilder();
    for (int i = 0; i < 7; i++) {
      lines.append("{\"id\": \"p").append(i).append("\", \"prompt\": \"question ").append(i).append("\"}\n");
    }
    Path prompts = Files.writeString(tmp.resolve("seven.jsonl"), lines);
    Run score = capture("score", "--router", "causal_llm", "--config", config.toString(), "--input", prompts.toString(),
        "--output", tmp.resolve("scores.jsonl").toString(), "--quiet");
    assertEquals(2, score.code, score.err);
    assertFalse(score.err.contains("cooling"), score.err);
    judge.verify(7, postRequestedFor(urlEqualTo("/v1/chat/completions")));
  }

  @Test
  void scoreAndEvalUseTheJudgeNamedInTheConfig() throws Exception {
    judgeRates("capital", "5");
    judgeRates("Riemann", "1");
    judge.stubFor(post(urlEqualTo("/v1/chat/completions")).atPriority(10)
        .willReturn(okJson(JudgeResponses.withLogprobs(List.of(Tok.of("[[3]]", "[[3]]", 1.0))))));
    Path config = twoUpstreams("routing: {router: causal_llm, threshold: 0.5}\n");
    Path prompts = threeLabeledPrompts();
    Path scores = tmp.resolve("scores.jsonl");
    assertEquals(0, cli("score", "--router", "causal_llm", "--config", config.toString(), "--input", prompts.toString(),
        "--output", scores.toString(), "--quiet"));
    List<String> lines = Files.readAllLines(scores);
    assertEquals(0.1, JSON.readTree(lines.get(0)).path("score").asDouble(), 1e-6);
    assertEquals(1.0, JSON.readTree(lines.get(1)).path("score").asDouble(), 1e-6);
    assertEquals(1.0, JSON.readTree(lines.get(2)).path("score").asDouble(), 1e-6); // rating 3 < 4

    ByteArrayOutputStream out = new ByteArrayOutputStream();
    PrintStream old = System.out;
    try {
      System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
      assertEquals(0, cli("eval", "--router", "causal_llm", "--config", config.toString(), "--bench",
          prompts.toString(), "--strong", "strong-model", "--weak", "weak-model", "--quiet"));
    } finally {
      System.setOut(old);
    }
    String table = out.toString(StandardCharsets.UTF_8);
    assertTrue(table.lines().anyMatch(l -> l.startsWith("| causal_llm")), table);
  }

  /**
   * calibrate does what serve does when the judge fails on a prompt: counts it for the top upstream,
   * says how many failed, and goes on; two upstreams and a ladder alike. Every prompt failing is an error.
   */
  @Test
  void calibrateCountsAPromptTheJudgeFailsOnAsServeRoutesIt() throws Exception {
    judgeFailsOnTheHardPrompt();
    Path prompts = tmp.resolve("prompts.jsonl");
    Files.writeString(prompts, """
        {"id": "a", "prompt": "What is the capital of Peru?"}
        {"id": "b", "prompt": "Prove the Riemann hypothesis"}
        {"id": "c", "prompt": "Sort a list"}
        """);
    String up = "{base_url: \"http://127.0.0.1:9/v1\", api_key: none, ";
    Path two = tmp.resolve("two.yaml");
    Files.writeString(two, "upstreams:\n  strong: " + up + "model: strong-model}\n  weak: " + up + "model: weak-model}\n"
        + routersYaml());
    Run r = capture("calibrate", "--router", "causal_llm", "--config", two.toString(), "--input", prompts.toString(),
        "--strong-percent", "34", "--quiet");
    assertEquals(0, r.code, r.err);
    assertTrue(r.err.startsWith("WARNING: ") && r.err.contains("prompts.jsonl: causal_llm failed on 1 of 3 prompts (first, prompt 2: "), r.err);
    assertTrue(r.err.contains("to strong"), r.err);
    // the failed prompt scores as strong (1.0), above the two the judge rated (0.1): it is the third sent strong
    assertTrue(r.out.contains("(1 of 3 prompts score >= it"), r.out);
    assertTrue(Double.parseDouble(r.out.replaceAll("(?s).*threshold = ([0-9.]+).*", "$1")) > 0.1, r.out);
    assertFalse(r.out.contains("at least"), r.out);
    // a share below what the failed prompts take: the output says why it misses
    Run few = capture("calibrate", "--router", "causal_llm", "--config", two.toString(), "--input", prompts.toString(),
        "--strong-percent", "10", "--quiet");
    assertEquals(0, few.code, few.err);
    assertTrue(few.out.contains("(1 of 3 prompts score >= it"), few.out);
    assertTrue(few.out.contains("(at least 33.3% go strong at any α: 1 of 3 score 1, including 1 the router failed on)"),
        few.out);

    Path three = tmp.resolve("three.yaml");
    Files.writeString(three, "upstreams:\n  strong: " + up + "model: strong-model, price: {input: 10, output: 30}}\n"
        + "  mid: " + up + "model: mid-model, price: {input: 1, output: 3}}\n"
        + "  weak: " + up + "model: weak-model, price: {input: 0.1, output: 0.3}}\n" + routersYaml());
    Run ladder = capture("calibrate", "--router", "causal_llm", "--config", three.toString(), "--input",
        prompts.toString(), "--quiet");
    assertEquals(0, ladder.code, ladder.err);
    assertTrue(ladder.err.contains("causal_llm failed on 1 of 3 prompts"), ladder.err);
    // at α = 1 the two rated prompts go to the cheapest; the failed one stays on the top
    String last = ladder.out.lines().filter(l -> l.trim().startsWith("1 ")).findFirst()
        .orElseThrow(() -> new AssertionError(ladder.out));
    assertTrue(last.matches("\\s*1\\s+33\\.3%\\s+0\\.0%\\s+66\\.7%.*"), ladder.out);
    Run fewTop = capture("calibrate", "--router", "causal_llm", "--config", three.toString(), "--input",
        prompts.toString(), "--strong-percent", "10", "--quiet");
    assertEquals(0, fewTop.code, fewTop.err);
    assertTrue(fewTop.out.contains("(at least 33.3% go to strong at any α: 1 of 3, including 1 the router failed on)"),
        fewTop.out);

    judge.resetAll();
    judge.stubFor(post(urlEqualTo("/v1/chat/completions")).willReturn(aResponse().withStatus(500).withBody("down")));
    Run none = capture("calibrate", "--router", "causal_llm", "--config", three.toString(), "--input",
        prompts.toString(), "--quiet");
    assertEquals(2, none.code, none.out);
    assertTrue(none.err.contains("failed on 3 of 3 prompts") && none.err.contains("nothing to work on"), none.err);
  }

  /** score, eval and replay did not: a judge failing on one prompt stopped them with a stack trace and no output. */
  @Test
  void scoreEvalAndReplayGoOnPastAPromptTheJudgeFailsOn() throws Exception {
    judgeFailsOnTheHardPrompt();
    Path config = twoUpstreams("");
    Path prompts = threeLabeledPrompts();
    Path scores = tmp.resolve("scores.jsonl");
    Run score = capture("score", "--router", "causal_llm", "--config", config.toString(), "--input", prompts.toString(),
        "--output", scores.toString(), "--quiet");
    assertEquals(0, score.code, score.err);
    assertTrue(score.err.contains("causal_llm failed on 1 of 3 prompts (first, prompt 2: "), score.err);
    List<String> lines = Files.readAllLines(scores);
    assertEquals(0.1, JSON.readTree(lines.get(0)).path("score").asDouble(), 1e-6);
    assertTrue(JSON.readTree(lines.get(1)).path("score").isNull(), lines.get(1));
    assertTrue(JSON.readTree(lines.get(1)).path("error").asText().startsWith("http_5xx"), lines.get(1));

    Run eval = capture("eval", "--router", "causal_llm", "--config", config.toString(), "--bench", prompts.toString(),
        "--strong", "strong-model", "--weak", "weak-model", "--quiet");
    assertEquals(0, eval.code, eval.err);
    assertTrue(eval.err.contains("failed on 1 of 3 prompts") && eval.err.contains("to strong-model"), eval.err);
    assertTrue(eval.out.lines().anyMatch(l -> l.startsWith("| causal_llm")), eval.out);

    Run replay = capture("replay", "--router", "causal_llm", "--config", config.toString(), "--phase", prompts.toString(),
        "--strong-share", "0.3", "--rate", "1", "--window-s", "3", "--quiet");
    assertTrue(replay.err.contains("failed on 1 of 3 prompts"), replay.err);
    assertFalse(replay.err.contains("RouterException"), replay.err);

    Path three = tmp.resolve("three.yaml");
    Files.writeString(three, Files.readString(config).replace("upstreams:\n",
        "upstreams:\n  mid: {base_url: \"http://127.0.0.1:9/v1\", api_key: none, model: mid-model}\n"));
    Run ladder = capture("replay", "--router", "causal_llm", "--config", three.toString(), "--phase", prompts.toString(),
        "--strong-share", "0.3", "--rate", "1", "--window-s", "3", "--quiet");
    assertEquals(2, ladder.code, ladder.err);
    assertTrue(ladder.err.startsWith("replay simulates two upstreams, strong and weak;"), ladder.err);

    judge.resetAll();
    judge.stubFor(post(urlEqualTo("/v1/chat/completions")).willReturn(aResponse().withStatus(500).withBody("down")));
    Run none = capture("score", "--router", "causal_llm", "--config", config.toString(), "--input", prompts.toString(),
        "--output", scores.toString(), "--quiet");
    assertEquals(2, none.code, none.err);
    assertTrue(none.err.contains("nothing to work on"), none.err);
    // it said the failed prompts were "written with score null", then wrote nothing (a CLI trial)
    assertFalse(none.err.contains("written with"), none.err);
    assertTrue(none.err.contains("nothing written to " + scores), none.err);
    Run latency = capture("latency", "--router", "causal_llm", "--config", config.toString(), "--input",
        prompts.toString(), "--warmup", "0");
    assertEquals(2, latency.code, latency.err);
    assertTrue(latency.err.contains("causal_llm: failed on a prompt (http_5xx"), latency.err);
    Run zero = capture("latency", "--router", "length", "--input", prompts.toString(), "--per-bucket", "0");
    assertEquals(2, zero.code, zero.err);
    assertTrue(zero.err.startsWith("--per-bucket and --rounds must be at least 1"), zero.err);
  }

  /** A prompt with no text goes strong in serve unscored; calibrate scored it (mf: 0.002, so weak at any α) (fuzz trial). */
  @Test
  void calibrateCountsAPromptWithoutTextAsServeRoutesIt() throws Exception {
    Path prompts = tmp.resolve("empties.jsonl");
    Files.writeString(prompts, """
        {"id": "a", "prompt": ""}
        {"id": "b", "prompt": "\\u00a0 \\u200b"}
        {"id": "c", "prompt": "What is the capital of Peru?"}
        {"id": "d", "prompt": "Sort a list of ten numbers in Python, please"}
        """);
    Run r = capture("calibrate", "--router", "length", "--input", prompts.toString(), "--strong-percent", "50", "--quiet");
    assertEquals(0, r.code, r.err);
    assertTrue(r.err.contains("empties.jsonl: 2 of 4 prompts have no text to score"), r.err);
    assertTrue(!r.err.contains("WARNING") && !r.err.contains("failed on"), "no endpoint to fix: " + r.err);
    assertTrue(r.out.contains("(2 of 4 prompts score >= it"), r.out);
    Run few = capture("calibrate", "--router", "length", "--input", prompts.toString(), "--strong-percent", "10",
        "--quiet");
    assertTrue(few.out.contains("(at least 50.0% go strong at any α: 2 of 4 score 1, including 2 without text)"),
        few.out);
    Path scores = tmp.resolve("scores.jsonl");
    Run score = capture("score", "--router", "length", "--input", prompts.toString(), "--output", scores.toString(),
        "--quiet");
    assertEquals(0, score.code, score.err);
    assertTrue(JSON.readTree(Files.readAllLines(scores).get(1)).path("score").isNull());
  }

  /** An id read from half a surrogate pair's escape failed score's UTF-8 write halfway through a line (fuzz trial). */
  @Test
  void scoreWritesAnIdWithHalfASurrogatePairAsItCame() throws Exception {
    Path prompts = tmp.resolve("odd.jsonl");
    Files.writeString(prompts, "{\"id\": \"a\\ud800\", \"prompt\": \"x \\udc00 y\"}\n{\"id\": \"b\", \"prompt\": \"z\"}\n");
    Path scores = tmp.resolve("odd-scores.jsonl");
    Run r = capture("score", "--router", "length", "--input", prompts.toString(), "--output", scores.toString(), "--quiet");
    assertEquals(0, r.code, r.err);
    List<String> lines = Files.readAllLines(scores);
    assertEquals(2, lines.size(), lines.toString());
    assertTrue(lines.get(0).startsWith("{\"id\":\"a\\ud800\",\"score\":"), lines.get(0));
    assertEquals("a\ud800", JSON.readTree(lines.get(0)).path("id").asText());
  }

  record Run(int code, String out, String err) {}

  private static Run capture(String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    PrintStream oldOut = System.out;
    PrintStream oldErr = System.err;
    try {
      System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
      System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
      int code = cli(args);
      return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    } finally {
      System.setOut(oldOut);
      System.setErr(oldErr);
    }
  }

  private static int cli(String... args) {
    return new CommandLine(new Main()).execute(args);
  }
}
