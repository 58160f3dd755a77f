package io.routewise.cli;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.containing;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static io.routewise.cli.LearnedRoutersEndToEndTest.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.client.WireMock;
import io.routewise.data.DatasetReader;
import io.routewise.data.PromptRecord;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code label} against real HTTP upstreams (WireMock over loopback): every chosen upstream answers,
 * the judge upstream rates each answer, the outcomes file is what {@code train} reads, failures are
 * counted and never written as scores, and a rerun skips what is done.
 */
class LabelCommandTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private WireMockServer wm;

  @TempDir
  Path tmp;

  @BeforeEach
  void start() {
    wm = new WireMockServer(options().dynamicPort());
    wm.start();
    for (String name : List.of("strong", "weak")) {
      wm.stubFor(post(urlEqualTo("/" + name + "/v1/chat/completions")).willReturn(answer("answer from " + name, 10, 20)));
    }
    // mini answers in DeepSeek's and xAI's shapes: its cache hits at the top level, reasoning beside the completion
    wm.stubFor(post(urlEqualTo("/mini/v1/chat/completions")).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", "application/json").withBody("""
            {"id":"c","object":"chat.completion","created":1,"model":"m",
             "choices":[{"index":0,"message":{"role":"assistant","content":"answer from mini"},"finish_reason":"stop"}],
             "usage":{"prompt_tokens":10,"completion_tokens":20,"total_tokens":40,"prompt_cache_hit_tokens":6,
               "prompt_cache_miss_tokens":4,"completion_tokens_details":{"reasoning_tokens":10}}}""")));
    // mini breaks on one prompt
    wm.stubFor(post(urlEqualTo("/mini/v1/chat/completions")).withRequestBody(containing("mini breaks"))
        .atPriority(1).willReturn(aResponse().withStatus(500).withBody("{\"error\":{\"message\":\"down\"}}")));
    // the judge: a rating per answer, none for answers to one prompt
    Map<String, String> verdicts = Map.of("answer from strong", "Correct and complete.\nRating: [[10]]",
        "answer from mini", "Mostly right. Rating: [[7]]", "answer from weak", "Wrong; I first thought [[6]].\nRating: [[3]]");
    verdicts.forEach((answer, verdict) -> wm.stubFor(post(urlEqualTo("/judge/v1/chat/completions"))
        .withRequestBody(containing(answer)).atPriority(5).willReturn(answer(verdict, 100, 30))));
    wm.stubFor(post(urlEqualTo("/judge/v1/chat/completions")).withRequestBody(containing("unjudgeable"))
        .atPriority(1).willReturn(answer("I would rather not say.", 100, 30)));
  }

  @AfterEach
  void stop() {
    wm.stop();
  }

  private static com.github.tomakehurst.wiremock.client.ResponseDefinitionBuilder answer(String text, int in, int out)
      throws RuntimeException {
    try {
      String content = JSON.writeValueAsString(text);
      return aResponse().withStatus(200).withHeader("Content-Type", "application/json").withBody("""
          {"id":"c","object":"chat.completion","created":1,"model":"m",
           "choices":[{"index":0,"message":{"role":"assistant","content":%s},"finish_reason":"stop"}],
           "usage":{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d,
             "prompt_tokens_details":{"cached_tokens":%d,"cache_write_tokens":%d}}}""".formatted(content, in, out, in + out,
              Math.min(4, in), Math.min(50, Math.max(0, in - 4))));
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new RuntimeException(e);
    }
  }

  private Path config() throws Exception {
    String base = "http://127.0.0.1:" + wm.port();
    Path config = tmp.resolve("config.yaml");
    Files.writeString(config, """
        upstreams:
          strong: {base_url: "%1$s/strong/v1", api_key: sk-s, model: gpt-4o, price: {input: 5, output: 15, cached_input: 2.5}}
          mini: {base_url: "%1$s/mini/v1", api_key: sk-m, model: gpt-4o-mini, price: {input: 0.15, output: 0.6, cached_input: 0.015}}
          weak: {base_url: "%1$s/weak/v1", api_key: none, model: my-llama, router_model: llama-3.1-8b-instruct}
          judge: {base_url: "%1$s/judge/v1", api_key: sk-j, model: judge-model, price: {input: 2.5, output: 10, cache_write: 12.5}}
        """.formatted(base));
    return config;
  }

  private LearnedRoutersEndToEndTest.Run label(Path config, Path input, Path output) {
    return run(List.of("label", "--config", config.toString(), "--input", input.toString(), "--output",
        output.toString(), "--judge", "judge", "--upstreams", "strong,mini,weak", "--retries", "0", "--quiet"));
  }

  @Test
  void eachUpstreamsAnswerIsJudgedAndTheRatingIsItsOutcomeUnderTheIdTrainKnows() throws Exception {
    Path input = tmp.resolve("prompts.jsonl");
    Files.writeString(input, """
        {"id": "q1", "prompt": "What is 2 + 2?", "reference": "4"}
        {"id": "q2", "prompt": "Why is the sky blue? mini breaks here"}
        {"prompt": "unjudgeable question", "source": "mine"}
        """);
    Path output = tmp.resolve("labels.jsonl");
    LearnedRoutersEndToEndTest.Run r = label(config(), input, output);
    assertEquals(3, r.code(), "not finished: a script must know; " + r.err() + r.out());
    assertTrue(r.out().contains("INCOMPLETE: some outcomes are missing"), r.out());

    Map<String, PromptRecord> written = DatasetReader.readPrompts(output).stream()
        .collect(Collectors.toMap(PromptRecord::id, p -> p));
    assertEquals(java.util.Set.of("q1", "q2"), written.keySet(), "the unjudgeable prompt got no outcome: not written");
    // strong's gpt-4o names no one trained model (two snapshots): its own id, never the manifest's default
    // (another model's row); mini on its one snapshot; weak by its router_model
    assertEquals(Map.of("gpt-4o-2024-05-13", 1.0, "gpt-4o-mini-2024-07-18", 6.0 / 9, "llama-3.1-8b-instruct", 2.0 / 9),
        written.get("q1").outcomes());
    assertEquals(Map.of("gpt-4o-2024-05-13", 1.0, "llama-3.1-8b-instruct", 2.0 / 9), written.get("q2").outcomes(),
        "mini's failed answer is no outcome, not a zero");
    assertEquals("What is 2 + 2?", written.get("q1").prompt());

    // each answer asked with the upstream's own model and key; the judge saw the reference and the answer
    wm.verify(3, postRequestedFor(urlEqualTo("/mini/v1/chat/completions"))
        .withHeader("Authorization", WireMock.equalTo("Bearer sk-m"))
        .withRequestBody(WireMock.matchingJsonPath("$.model", WireMock.equalTo("gpt-4o-mini"))));
    wm.verify(0, postRequestedFor(urlEqualTo("/judge/v1/chat/completions"))
        .withRequestBody(containing("Why is the sky blue")).withRequestBody(containing("answer from mini")));
    wm.verify(1, postRequestedFor(urlEqualTo("/judge/v1/chat/completions"))
        .withRequestBody(containing("[Reference answer]\\n4")).withRequestBody(containing("answer from weak")));
    wm.verify(3 + 2 + 3, postRequestedFor(urlEqualTo("/judge/v1/chat/completions"))
        .withRequestBody(WireMock.matchingJsonPath("$.model", WireMock.equalTo("judge-model"))));

    String out = r.out();
    assertTrue(out.contains("2 prompts labeled; 1 got no new outcome"), out);
    assertTrue(out.contains("WARNING: mini failed 1 of 3 answers (first: HTTP 500 from mini)"), out);
    assertTrue(out.contains("WARNING: the judge failed 3 of 8 ratings"), out);
    // spend from the answers' usage: strong 3 x (6 x 5 + 4 cached x 2.5 + 20 x 15) / 1e6 (as serve prices it),
    // mini 2 answered (strong's 6 tokens written to the cache at input: no cache_write), the judge
    // 8 calls (no cached rate: its cached tokens at the input's; 50 written to the cache at its cache_write)
    double strong = 3 * (6 * 5 + 4 * 2.5 + 20 * 15) / 1e6;
    double mini = 2 * (4 * 0.15 + 6 * 0.015 + (20 + 10) * 0.6) / 1e6; // as serve reads DeepSeek's and xAI's usage
    double judge = 8 * (50 * 2.5 + 50 * 12.5 + 30 * 10) / 1e6;
    assertTrue(out.contains(String.format(java.util.Locale.ROOT, "spent: %.4f USD", strong + mini + judge)), out);
    assertTrue(out.lines().anyMatch(l -> l.startsWith("weak ") && l.contains("no price")), out);
  }

  @Test
  void aRerunSkipsThePromptsAlreadyWrittenAndAppendsTheRest() throws Exception {
    Path input = tmp.resolve("prompts.jsonl");
    Path output = tmp.resolve("labels.jsonl");
    labelFirst(input, output, "{\"id\": \"a\", \"prompt\": \"first\"}\n", 0);
    Files.writeString(input, "{\"id\": \"a\", \"prompt\": \"first\"}\n{\"id\": \"b\", \"prompt\": \"second\"}\n"
        + "{\"id\": \"c\", \"prompt\": \"third\"}\n");
    // a whole line without its newline is kept; half a line left by an interrupted run is not
    String b = "{\"id\":\"b\",\"prompt\":\"second\",\"outcomes\":{\"gpt-4o\":1.0}}";
    Files.writeString(output, Files.readString(output) + b, java.nio.file.StandardOpenOption.TRUNCATE_EXISTING);
    assertEquals(0, label(config(), input, output).code());
    assertEquals(List.of("a", "b", "c"), DatasetReader.readPrompts(output).stream().map(PromptRecord::id).toList(),
        "b kept in its place, c labeled after it");
    assertEquals(Map.of("gpt-4o-2024-05-13", 1.0, "gpt-4o-mini-2024-07-18", 6.0 / 9, "llama-3.1-8b-instruct", 2.0 / 9),
        DatasetReader.readPrompts(output).get(1).outcomes(), "b had strong's outcome only: the others asked for theirs");
    Files.writeString(output, Files.readString(output).replaceFirst("\\{\"id\":\"c\".*\\n$", "{\"id\":\"c\",\"prompt\":\"th"),
        java.nio.file.StandardOpenOption.TRUNCATE_EXISTING);
    LearnedRoutersEndToEndTest.Run again = label(config(), input, output);
    assertEquals(0, again.code(), again.err());
    assertTrue(again.err().contains("labeling 1 prompts (2 already in"), again.err());
    assertTrue(again.err().contains("its last line was cut off"), again.err());
    assertEquals(java.util.Set.of("a", "b", "c"),
        DatasetReader.readPrompts(output).stream().map(PromptRecord::id).collect(Collectors.toSet()));
    wm.verify(3, postRequestedFor(urlEqualTo("/strong/v1/chat/completions"))); // a, c, c again: never b
  }

  @Test
  void aPromptMissingSomeOutcomesIsCompletedOnARerunAskingOnlyThoseUpstreams() throws Exception {
    Path input = tmp.resolve("prompts.jsonl");
    Path output = tmp.resolve("labels.jsonl");
    LearnedRoutersEndToEndTest.Run first = labelIncomplete(input, output,
        "{\"id\": \"q\", \"prompt\": \"Why is the sky blue? mini breaks here\"}\n{\"id\": \"r\", \"prompt\": \"What is 2 + 2?\"}\n");
    assertTrue(first.out().contains("WARNING: mini failed 1 of 2 answers"), first.out());
    assertEquals(Map.of("gpt-4o-2024-05-13", 1.0, "llama-3.1-8b-instruct", 2.0 / 9), byId(output).get("q").outcomes());

    // mini is back: the rerun asks mini alone, for q alone, and q's line is completed in place
    wm.listAllStubMappings().getMappings().stream()
        .filter(m -> m.getResponse().getStatus() == 500).toList().forEach(wm::removeStub);
    wm.resetRequests();
    LearnedRoutersEndToEndTest.Run r = run(List.of("label", "--config", config().toString(), "--input", input.toString(),
        "--output", output.toString(), "--judge", "judge", "--judge-model", "another-judge", "--upstreams",
        "strong,mini,weak", "--retries", "0", "--quiet"));
    assertEquals(0, r.code(), r.err() + r.out());
    assertTrue(r.err().contains("labeling 1 prompts (1 already in " + output
        + "; 1 more there lack some outcomes, asked only for those)"), r.err());
    assertTrue(r.err().contains("up to 2 calls"), r.err());
    wm.verify(1, postRequestedFor(urlEqualTo("/mini/v1/chat/completions")).withRequestBody(containing("sky blue")));
    wm.verify(0, postRequestedFor(urlEqualTo("/strong/v1/chat/completions")));
    wm.verify(0, postRequestedFor(urlEqualTo("/weak/v1/chat/completions")));
    // lines are written as prompts complete (in any order): compared by id, one line a prompt
    String firstOrder = String.join(",", DatasetReader.readPrompts(output).stream().map(PromptRecord::id).toList());
    assertTrue(firstOrder.equals("q,r") || firstOrder.equals("r,q"), firstOrder);
    assertEquals(Map.of("gpt-4o-2024-05-13", 1.0, "gpt-4o-mini-2024-07-18", 6.0 / 9, "llama-3.1-8b-instruct", 2.0 / 9),
        byId(output).get("q").outcomes());
    assertFalse(Files.exists(tmp.resolve("labels.jsonl.compacting")));
    // the judge was asked as another model than the one its price is for: its dollars are not guessed
    assertTrue(r.out().lines().anyMatch(l -> l.startsWith("judge ") && l.contains("no price")), r.out());
    assertTrue(r.out().contains("nor the judge: --judge-model is not the model its price is for"), r.out());

    // nothing left to do: nothing called, the file unchanged
    String before = Files.readString(output);
    wm.resetRequests();
    LearnedRoutersEndToEndTest.Run none = label(config(), input, output);
    assertEquals(0, none.code(), none.err());
    assertTrue(wm.getAllServeEvents().isEmpty());
    assertEquals(before, Files.readString(output));
  }

  /** A first run over {@code prompts} that leaves some outcomes missing (exit 3). */
  private LearnedRoutersEndToEndTest.Run labelIncomplete(Path input, Path output, String prompts) throws Exception {
    return labelFirst(input, output, prompts, 3);
  }

  /** A first run over {@code prompts}, ending with {@code code}. */
  private LearnedRoutersEndToEndTest.Run labelFirst(Path input, Path output, String prompts, int code) throws Exception {
    Files.writeString(input, prompts);
    LearnedRoutersEndToEndTest.Run first = label(config(), input, output);
    assertEquals(code, first.code(), first.err() + first.out());
    return first;
  }

  private static Map<String, PromptRecord> byId(Path output) throws Exception {
    return DatasetReader.readPrompts(output).stream().collect(Collectors.toMap(PromptRecord::id, p -> p));
  }

  /**
   * An earlier build kept strong's unrated answer under 'gpt-4o'; now strong's outcomes go under
   * gpt-4o-2024-05-13. The kept answer is rated, not bought again, and no longer kept (review).
   */
  @Test
  void anAnswerAnEarlierBuildKeptUnderTheOldIdIsRatedNotBoughtAgain() throws Exception {
    Path input = tmp.resolve("prompts.jsonl");
    Files.writeString(input, "{\"id\": \"w\", \"prompt\": \"fine\"}\n");
    Path output = tmp.resolve("labels.jsonl");
    Files.writeString(output, "{\"id\":\"w\",\"prompt\":\"fine\",\"outcomes\":{\"gpt-4o-mini-2024-07-18\":0.5,"
        + "\"llama-3.1-8b-instruct\":0.25}}\n");
    String sha = java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256")
        .digest("fine".getBytes(java.nio.charset.StandardCharsets.UTF_8)));
    Path kept = tmp.resolve("labels.jsonl.unrated");
    Files.writeString(kept, "{\"id\":\"w\",\"model\":\"gpt-4o\",\"upstream_model\":\"gpt-4o\",\"prompt_sha256\":\""
        + sha + "\",\"answer\":\"answer from strong\"}\n");
    LearnedRoutersEndToEndTest.Run r = label(config(), input, output);
    assertEquals(0, r.code(), r.err() + r.out());
    wm.verify(0, postRequestedFor(urlEqualTo("/strong/v1/chat/completions")));
    wm.verify(1, postRequestedFor(urlEqualTo("/judge/v1/chat/completions")));
    assertEquals(1.0, byId(output).get("w").outcomes().get("gpt-4o-2024-05-13"));
    assertFalse(Files.exists(kept), "nothing left unrated");
  }

  /**
   * Ctrl-C (SIGTERM to the process) while the judge reads mini's answer: strong's rated outcome is
   * written and mini's answer kept, so the rerun buys neither again (operator trial: prompts in flight
   * were dropped, answers and ratings paid for).
   */
  @Test
  void anInterruptedRunKeepsThePromptInFlightsOutcomesAndAnswers() throws Exception {
    wm.stubFor(post(urlEqualTo("/judge/v1/chat/completions")).withRequestBody(containing("answer from mini"))
        .atPriority(2).willReturn(answer("Mostly right. Rating: [[7]]", 100, 30).withFixedDelay(30_000)));
    Path input = Files.writeString(tmp.resolve("prompts.jsonl"), "{\"id\": \"q\", \"prompt\": \"first\"}\n");
    Path output = tmp.resolve("labels.jsonl");
    Process proc = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-cp", System.getProperty("surefire.test.class.path", System.getProperty("java.class.path")),
        "io.routewise.Main", "label", "--config", config().toString(), "--input", input.toString(), "--output",
        output.toString(), "--judge", "judge", "--upstreams", "strong,mini", "--retries", "0", "--quiet")
        .redirectErrorStream(true).redirectOutput(tmp.resolve("label.log").toFile()).start();
    try {
      for (int i = 0; i < 600 && wm.findAll(postRequestedFor(urlEqualTo("/judge/v1/chat/completions"))
          .withRequestBody(containing("answer from mini"))).isEmpty(); i++) {
        Thread.sleep(50);
      }
      proc.destroy(); // SIGTERM, as Ctrl-C: the shutdown hook runs
      assertTrue(proc.waitFor(20, java.util.concurrent.TimeUnit.SECONDS), Files.readString(tmp.resolve("label.log")));
    } finally {
      proc.destroyForcibly();
    }
    assertEquals(Map.of("gpt-4o-2024-05-13", 1.0), byId(output).get("q").outcomes(), Files.readString(tmp.resolve("label.log")));
    assertTrue(Files.readString(tmp.resolve("labels.jsonl.unrated")).contains("answer from mini"));
    wm.resetRequests();
    wm.removeStub(wm.getStubMappings().stream().filter(m -> m.getPriority() != null && m.getPriority() == 2)
        .findFirst().orElseThrow());
    LearnedRoutersEndToEndTest.Run again = run(List.of("label", "--config", config().toString(), "--input",
        input.toString(), "--output", output.toString(), "--judge", "judge", "--upstreams", "strong,mini", "--retries", "0",
        "--quiet"));
    assertEquals(0, again.code(), again.err() + again.out());
    wm.verify(0, postRequestedFor(urlEqualTo("/strong/v1/chat/completions")));
    wm.verify(0, postRequestedFor(urlEqualTo("/mini/v1/chat/completions")));
    assertEquals(Map.of("gpt-4o-2024-05-13", 1.0, "gpt-4o-mini-2024-07-18", 6.0 / 9), byId(output).get("q").outcomes());
  }

  /** An earlier build wrote strong's outcomes under its router_model, now second to routers.mf.strong_model: moved (review). */
  @Test
  void outcomesAnEarlierBuildWroteUnderRouterModelAreMovedToTheSetting() throws Exception {
    Path config = Files.writeString(tmp.resolve("set.yaml"), Files.readString(config()).replace("model: gpt-4o,",
        "model: gpt-4o, router_model: gpt-4o-2024-08-06,") + "routers: {mf: {strong_model: claude-3-opus-20240229}}\n");
    Path input = Files.writeString(tmp.resolve("prompts.jsonl"), "{\"id\": \"q\", \"prompt\": \"first\"}\n");
    Path output = Files.writeString(tmp.resolve("labels.jsonl"),
        "{\"id\":\"q\",\"prompt\":\"first\",\"outcomes\":{\"gpt-4o-2024-08-06\":1.0,\"llama-3.1-8b-instruct\":0.25}}\n");
    LearnedRoutersEndToEndTest.Run r = run(List.of("label", "--config", config.toString(), "--input", input.toString(),
        "--output", output.toString(), "--judge", "judge", "--upstreams", "strong,weak", "--retries", "0", "--quiet"));
    assertEquals(0, r.code(), r.err() + r.out());
    wm.verify(0, postRequestedFor(urlEqualTo("/strong/v1/chat/completions")));
    assertEquals(Map.of("claude-3-opus-20240229", 1.0, "llama-3.1-8b-instruct", 0.25), byId(output).get("q").outcomes());
  }

  /** Serve's order for strong and weak: routers.mf's strong_model/weak_model before router_model (review). */
  @Test
  void strongsOutcomeIdIsTheRowServeRoutesItWith() throws Exception {
    io.routewise.config.RoutewiseConfig cfg = io.routewise.config.ConfigLoader.fromSystemEnv().load(
        Files.writeString(tmp.resolve("set.yaml"), Files.readString(config()).replace("model: gpt-4o,",
            "model: gpt-4o, router_model: gpt-4o-2024-08-06,") + "routers: {mf: {strong_model: claude-3-opus-20240229}}\n"));
    List<io.routewise.config.UpstreamConfig> all = io.routewise.routers.RouterCatalog.inLadderOrder(cfg);
    assertEquals("claude-3-opus-20240229", LabelCommand.outcomeIds(cfg, Path.of("models"), all).get("strong"));
  }

  @Test
  void anOutputThatIsADirectoryIsRefusedNamingIt() throws Exception {
    Path input = tmp.resolve("prompts.jsonl");
    Files.writeString(input, "{\"id\": \"q\", \"prompt\": \"first\"}\n");
    LearnedRoutersEndToEndTest.Run r = label(config(), input, tmp);
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("--output " + tmp + " is a directory"), r.err());
    wm.verify(0, postRequestedFor(urlEqualTo("/strong/v1/chat/completions")));
  }

  @Test
  void twoLinesOfOnePromptLeftByAnInterruptedCompletionAreMergedOnTheNextRun() throws Exception {
    Path input = tmp.resolve("prompts.jsonl");
    Files.writeString(input, "{\"id\": \"q\", \"prompt\": \"first\"}\n");
    Path output = tmp.resolve("labels.jsonl");
    Files.writeString(output, """
        {"id":"q","prompt":"first","outcomes":{"gpt-4o":1.0}}
        {"id":"q","prompt":"first","outcomes":{"gpt-4o":1.0,"gpt-4o-mini-2024-07-18":0.5}}
        """);
    LearnedRoutersEndToEndTest.Run r = label(config(), input, output);
    assertEquals(0, r.code(), r.err() + r.out());
    wm.verify(0, postRequestedFor(urlEqualTo("/strong/v1/chat/completions")));
    wm.verify(0, postRequestedFor(urlEqualTo("/mini/v1/chat/completions")));
    wm.verify(1, postRequestedFor(urlEqualTo("/weak/v1/chat/completions")));
    List<PromptRecord> lines = DatasetReader.readPrompts(output);
    assertEquals(1, lines.size(), Files.readString(output));
    assertEquals(Map.of("gpt-4o-2024-05-13", 1.0, "gpt-4o-mini-2024-07-18", 0.5, "llama-3.1-8b-instruct", 2.0 / 9),
        lines.get(0).outcomes());
    // an earlier build wrote strong's gpt-4o under that name: moved to the row serve routes it as, not bought again
    assertTrue(r.err().contains("1 prompt(s) had upstreams.strong's outcomes under 'gpt-4o' (an earlier routewise's id);"
        + " moved to 'gpt-4o-2024-05-13'"), r.err());
  }

  /**
   * An outcomes file whose lines have no id (train and every command name such a line by its text's
   * hash), or "id": null (which the reader takes as none; pandas writes it for a missing one), used as
   * --output: its prompts are the input's, done, and none of its lines is lost.
   */
  @org.junit.jupiter.params.ParameterizedTest
  @org.junit.jupiter.params.provider.ValueSource(strings = {"", "\"id\":null,"})
  void outputLinesWithoutAnIdAreNamedByTheirTextAsEveryCommandNamesThem(String id) throws Exception {
    Path input = tmp.resolve("prompts.jsonl");
    Files.writeString(input, "{\"prompt\": \"first\"}\n{\"prompt\": \"second\"}\n");
    Path output = tmp.resolve("labels.jsonl");
    String all = "\"outcomes\":{\"gpt-4o-2024-05-13\":1.0,\"gpt-4o-mini-2024-07-18\":0.5,\"llama-3.1-8b-instruct\":0.0}";
    Files.writeString(output, "{" + id + "\"prompt\":\"first\"," + all + "}\n{" + id + "\"prompt\":\"second\"," + all + "}\n");
    LearnedRoutersEndToEndTest.Run r = label(config(), input, output);
    assertEquals(0, r.code(), r.err() + r.out());
    assertEquals(List.of("first", "second"), DatasetReader.readPrompts(output).stream().map(PromptRecord::prompt).toList(),
        Files.readString(output));
    wm.verify(0, postRequestedFor(urlEqualTo("/strong/v1/chat/completions")));
  }

  @Test
  void aReasoningModelThatRefusesMaxTokensOrTemperatureIsAskedAsItWants() throws Exception {
    // as OpenAI answers for o1/o3: max_tokens and a temperature other than 1 are refused with a 400
    wm.stubFor(post(urlEqualTo("/mini/v1/chat/completions")).withRequestBody(WireMock.matchingJsonPath("$.max_tokens"))
        .atPriority(1).willReturn(aResponse().withStatus(400).withBody("""
            {"error":{"message":"Unsupported parameter: 'max_tokens' is not supported with this model. Use \
            'max_completion_tokens' instead.","type":"invalid_request_error","param":"max_tokens","code":"unsupported_parameter"}}""")));
    wm.stubFor(post(urlEqualTo("/judge/v1/chat/completions")).withRequestBody(WireMock.matchingJsonPath("$.temperature"))
        .atPriority(1).willReturn(aResponse().withStatus(400).withBody("""
            {"error":{"message":"Unsupported value: 'temperature' does not support 0 with this model. Only the default (1) \
            value is supported.","type":"invalid_request_error","param":"temperature","code":"unsupported_value"}}""")));
    Path input = tmp.resolve("prompts.jsonl");
    Files.writeString(input, "{\"id\": \"a\", \"prompt\": \"first\"}\n{\"id\": \"b\", \"prompt\": \"second\"}\n");
    Path output = tmp.resolve("labels.jsonl");
    LearnedRoutersEndToEndTest.Run r = run(List.of("label", "--config", config().toString(), "--input", input.toString(),
        "--output", output.toString(), "--judge", "judge", "--upstreams", "mini", "--retries", "0", "--concurrency", "1",
        "--max-tokens", "321", "--quiet"));
    assertEquals(0, r.code(), r.err() + r.out());
    assertEquals(List.of(6.0 / 9, 6.0 / 9), DatasetReader.readPrompts(output).stream()
        .map(p -> p.outcomes().get("gpt-4o-mini-2024-07-18")).toList());
    assertFalse(r.out().contains("WARNING"), r.out());
    assertTrue(r.err().contains("mini refuses 'max_tokens': asking it with max_completion_tokens from now on"), r.err());
    assertTrue(r.err().contains("judge refuses 'temperature': asking it without it from now on"), r.err());
    // refused once, then asked as it wants: the same budget under the other name
    wm.verify(3, postRequestedFor(urlEqualTo("/mini/v1/chat/completions")));
    wm.verify(2, postRequestedFor(urlEqualTo("/mini/v1/chat/completions"))
        .withRequestBody(WireMock.matchingJsonPath("$.max_completion_tokens", WireMock.equalTo("321"))));
    wm.verify(3, postRequestedFor(urlEqualTo("/judge/v1/chat/completions")));
    // and a 400 about something else is the answer's failure, not asked again
    assertEquals(null, LabelCommand.refusedParameter("{\"error\":{\"message\":\"bad messages\",\"param\":\"messages\"}}".getBytes()));
    assertEquals("max_tokens", LabelCommand.refusedParameter(
        "{\"error\":{\"message\":\"Unsupported parameter: 'max_tokens' is not supported with this model.\"}}".getBytes()));
    // too large is not unsupported: renaming it would lift the cap where max_completion_tokens is ignored
    assertEquals(null, LabelCommand.refusedParameter(("{\"error\":{\"message\":\"max_tokens is too large: 100000. This "
        + "model supports at most 16384 completion tokens.\",\"param\":\"max_tokens\",\"code\":null}}").getBytes()));
  }

  @Test
  void everyCallInFlightWhenAModelRefusesAParameterIsAskedAgain() throws Exception {
    // four answers in flight get the 400 before the first is back: each is asked again, none is lost
    wm.stubFor(post(urlEqualTo("/mini/v1/chat/completions")).withRequestBody(WireMock.matchingJsonPath("$.max_tokens"))
        .atPriority(1).willReturn(aResponse().withStatus(400).withFixedDelay(300).withBody("""
            {"error":{"message":"Unsupported parameter: 'max_tokens' is not supported with this model. Use \
            'max_completion_tokens' instead.","type":"invalid_request_error","param":"max_tokens","code":"unsupported_parameter"}}""")));
    Path input = tmp.resolve("prompts.jsonl");
    StringBuilder prompts = new StringBuilder();
    for (int i = 0; i < 8; i++) {
      prompts.append("{\"id\": \"p").append(i).append("\", \"prompt\": \"question ").append(i).append("\"}\n");
    }
    Files.writeString(input, prompts);
    Path output = tmp.resolve("labels.jsonl");
    LearnedRoutersEndToEndTest.Run r = run(List.of("label", "--config", config().toString(), "--input", input.toString(),
        "--output", output.toString(), "--judge", "judge", "--upstreams", "mini", "--retries", "0", "--concurrency", "4",
        "--quiet"));
    assertEquals(0, r.code(), r.err() + r.out());
    assertEquals(8, DatasetReader.readPrompts(output).size(), Files.readString(output));
    assertFalse(r.out().contains("WARNING"), r.out());
    assertEquals(1, r.err().lines().filter(l -> l.contains("mini refuses 'max_tokens'")).count(), r.err());
    wm.verify(8, postRequestedFor(urlEqualTo("/mini/v1/chat/completions"))
        .withRequestBody(WireMock.matchingJsonPath("$.max_completion_tokens")));
  }

  @Test
  void byDefaultTheJudgeIsNotLabeledAsItselfAndTheOutputIsNeverTheInput() throws Exception {
    Path input = tmp.resolve("prompts.jsonl");
    Files.writeString(input, "{\"id\": \"a\", \"prompt\": \"first\"}\n");
    Path output = tmp.resolve("labels.jsonl");
    LearnedRoutersEndToEndTest.Run r = run(List.of("label", "--config", config().toString(), "--input",
        input.toString(), "--output", output.toString(), "--judge", "judge", "--retries", "0", "--quiet"));
    assertEquals(0, r.code(), r.err() + r.out());
    assertEquals(java.util.Set.of("gpt-4o-2024-05-13", "gpt-4o-mini-2024-07-18", "llama-3.1-8b-instruct"),
        DatasetReader.readPrompts(output).get(0).outcomes().keySet(), "strong, mini and weak; not the judge");
    wm.verify(3, postRequestedFor(urlEqualTo("/judge/v1/chat/completions"))); // three ratings, no answer of its own
    // asked as another model, the judge's upstream is labeled too
    wm.stubFor(post(urlEqualTo("/judge/v1/chat/completions")).atPriority(2)
        .withRequestBody(WireMock.matchingJsonPath("$.model", WireMock.equalTo("judge-model")))
        .willReturn(answer("answer from judge", 10, 20)));
    wm.stubFor(post(urlEqualTo("/judge/v1/chat/completions")).atPriority(2)
        .withRequestBody(containing("answer from judge")).willReturn(answer("Fine. Rating: [[8]]", 100, 30)));
    Path other = tmp.resolve("other.jsonl");
    r = run(List.of("label", "--config", config().toString(), "--input", input.toString(), "--output",
        other.toString(), "--judge", "judge", "--judge-model", "another-judge", "--retries", "0", "--quiet"));
    assertEquals(0, r.code(), r.err() + r.out());
    assertTrue(DatasetReader.readPrompts(other).get(0).outcomes().containsKey("judge-model"), Files.readString(other));
    // the prompts file is never written over
    r = run(List.of("label", "--config", config().toString(), "--input", input.toString(), "--output",
        input.toString(), "--judge", "judge", "--quiet"));
    assertEquals(2, r.code());
    assertTrue(r.err().contains("--output is --input"), r.err());
    assertEquals("{\"id\": \"a\", \"prompt\": \"first\"}\n", Files.readString(input));
  }

  @Test
  void anUnknownUpstreamOrBadInputStopsBeforeAnyCall() throws Exception {
    Path input = tmp.resolve("prompts.jsonl");
    Files.writeString(input, "{\"id\": \"a\", \"prompt\": \"first\"}\n");
    LearnedRoutersEndToEndTest.Run r = run(List.of("label", "--config", config().toString(), "--input",
        input.toString(), "--output", tmp.resolve("o.jsonl").toString(), "--judge", "gpt-judge"));
    assertEquals(2, r.code());
    assertTrue(r.err().contains("--judge: no upstream 'gpt-judge'"), r.err());
    Files.writeString(input, "{\"id\": \"a\", \"text\": \"first\"}\n");
    r = label(config(), input, tmp.resolve("o.jsonl"));
    assertEquals(2, r.code());
    assertTrue(r.err().contains("line 1: needs a non-empty \"prompt\" string"), r.err());
    // two objects on a line: the second was dropped without a word; a CR-only file was one line
    Files.writeString(input, "{\"id\": \"a\", \"prompt\": \"first\"}{\"id\": \"b\", \"prompt\": \"second\"}\n");
    r = label(config(), input, tmp.resolve("o.jsonl"));
    assertEquals(2, r.code());
    assertTrue(r.err().contains("line 1: not JSON"), r.err());
    Files.writeString(input, "{\"id\": \"a\", \"prompt\": \"first\"}\r{\"id\": \"b\", \"text\": \"second\"}\r");
    r = label(config(), input, tmp.resolve("o.jsonl"));
    assertEquals(2, r.code());
    assertTrue(r.err().contains("line 2: needs a non-empty \"prompt\" string"), r.err());
    Files.write(input, "{\"id\": \"a\", \"prompt\": \"first\"}\n{\"id\": \"b\", \"prompt\": \"caf\u00e9\"}\n"
        .getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
    r = label(config(), input, tmp.resolve("o.jsonl"));
    assertEquals(2, r.code());
    assertTrue(r.err().contains("line 2: not UTF-8"), r.err());
    assertTrue(wm.getAllServeEvents().isEmpty(), "nothing was called");
    assertFalse(Files.exists(tmp.resolve("o.jsonl")));
  }

  @Test
  void aReferenceThatIsNotTextIsRefusedAndABlankOneIsNone() throws Exception {
    // a list of accepted answers reached the judge as an empty "[Reference answer]", which it is told every answer
    // must agree with: every upstream was bought and rated wrong, exit 0
    Path input = tmp.resolve("prompts.jsonl");
    Files.writeString(input, "{\"id\": \"a\", \"prompt\": \"What is 2 + 2?\", \"reference\": [\"4\", \"four\"]}\n");
    LearnedRoutersEndToEndTest.Run r = label(config(), input, tmp.resolve("o.jsonl"));
    assertEquals(2, r.code(), r.err() + r.out());
    assertTrue(r.err().contains("line 1: \"reference\" must be a string"), r.err());
    assertTrue(wm.getAllServeEvents().isEmpty(), "nothing was called");
    assertFalse(Files.exists(tmp.resolve("o.jsonl")));
    // a blank one (a data set's missing answer) is no reference, not an empty one every answer disagrees with
    Files.writeString(input, "{\"id\": \"a\", \"prompt\": \"What is 2 + 2?\", \"reference\": \" \"}\n");
    r = label(config(), input, tmp.resolve("o.jsonl"));
    assertEquals(0, r.code(), r.err() + r.out());
    wm.verify(0, postRequestedFor(urlEqualTo("/judge/v1/chat/completions")).withRequestBody(containing("[Reference answer]")));
  }

  @Test
  void anUpstreamNamedTwiceIsLabeledOnceAndACompleteRunExitsZero() throws Exception {
    // --upstreams strong,mini,strong labeled every prompt, then printed "ERROR: no outcome at all for [strong]", exit 1
    Path input = tmp.resolve("prompts.jsonl");
    Files.writeString(input, "{\"id\": \"a\", \"prompt\": \"first\"}\n");
    Path output = tmp.resolve("labels.jsonl");
    LearnedRoutersEndToEndTest.Run r = run(List.of("label", "--config", config().toString(), "--input",
        input.toString(), "--output", output.toString(), "--judge", "judge", "--upstreams", "strong,mini, strong",
        "--retries", "0", "--quiet"));
    assertEquals(0, r.code(), r.err() + r.out());
    assertFalse(r.out().contains("ERROR"), r.out());
    assertEquals(java.util.Set.of("gpt-4o-2024-05-13", "gpt-4o-mini-2024-07-18"),
        DatasetReader.readPrompts(output).get(0).outcomes().keySet());
    wm.verify(1, postRequestedFor(urlEqualTo("/strong/v1/chat/completions")));
  }

  @Test
  void aBlankJudgeModelIsABadOptionNotAJudgeAskedForNoModel() throws Exception {
    // --judge-model "$JUDGE_MODEL" with the variable unset: the judge was asked for model "" and, being "another
    // model", labeled as itself too (answers bought, every rating refused)
    Path input = tmp.resolve("prompts.jsonl");
    Files.writeString(input, "{\"id\": \"a\", \"prompt\": \"first\"}\n");
    LearnedRoutersEndToEndTest.Run r = run(List.of("label", "--config", config().toString(), "--input",
        input.toString(), "--output", tmp.resolve("o.jsonl").toString(), "--judge", "judge", "--judge-model", "",
        "--retries", "0", "--quiet"));
    assertEquals(2, r.code(), r.err() + r.out());
    assertTrue(r.err().contains("--judge-model"), r.err());
    assertTrue(wm.getAllServeEvents().isEmpty(), "nothing was called");
    assertFalse(Files.exists(tmp.resolve("o.jsonl")));
  }

  @Test
  void aRateLimitedAnswerIsTriedAgainAfterItsRetryAfter() throws Exception {
    wm.stubFor(post(urlEqualTo("/mini/v1/chat/completions")).inScenario("limit").whenScenarioStateIs(
        com.github.tomakehurst.wiremock.stubbing.Scenario.STARTED).willSetStateTo("open").atPriority(1)
        .willReturn(aResponse().withStatus(429).withHeader("Retry-After", "0").withBody("{}")));
    Path input = tmp.resolve("prompts.jsonl");
    Files.writeString(input, "{\"id\": \"a\", \"prompt\": \"first\"}\n");
    Path output = tmp.resolve("labels.jsonl");
    LearnedRoutersEndToEndTest.Run r = run(List.of("label", "--config", config().toString(), "--input",
        input.toString(), "--output", output.toString(), "--judge", "judge", "--upstreams", "mini", "--quiet"));
    assertEquals(0, r.code(), r.err());
    assertEquals(Map.of("gpt-4o-mini-2024-07-18", 6.0 / 9), DatasetReader.readPrompts(output).get(0).outcomes());
    wm.verify(2, postRequestedFor(urlEqualTo("/mini/v1/chat/completions")));
    assertFalse(r.out().contains("WARNING"), r.out());
  }

  /**
   * A 429 that asks for its wait as OpenAI and Azure do, in {@code retry-after-ms}, or as an HTTP
   * date, was tried again after 1 s, not after the 2.5 s asked: inside the rate limit again, and with
   * --retries 1 the answer lost.
   */
  @org.junit.jupiter.params.ParameterizedTest
  @org.junit.jupiter.params.provider.ValueSource(strings = {"retry-after-ms", "Retry-After"})
  void aRateLimitsWaitInMillisecondsOrAsADateIsHonoured(String header) throws Exception {
    String wait = header.equals("retry-after-ms") ? "2500" : java.time.format.DateTimeFormatter.RFC_1123_DATE_TIME
        .format(java.time.ZonedDateTime.now(java.time.ZoneOffset.UTC).plusSeconds(4)); // 3 to 4 s, in whole seconds
    wm.stubFor(post(urlEqualTo("/mini/v1/chat/completions")).inScenario("limit").whenScenarioStateIs(
        com.github.tomakehurst.wiremock.stubbing.Scenario.STARTED).willSetStateTo("open").atPriority(1)
        .willReturn(aResponse().withStatus(429).withHeader(header, wait).withBody("{}")));
    Path input = tmp.resolve("prompts.jsonl");
    Files.writeString(input, "{\"id\": \"a\", \"prompt\": \"first\"}\n");
    Path output = tmp.resolve("labels.jsonl");
    LearnedRoutersEndToEndTest.Run r = run(List.of("label", "--config", config().toString(), "--input",
        input.toString(), "--output", output.toString(), "--judge", "judge", "--upstreams", "mini", "--retries", "1",
        "--quiet"));
    assertEquals(0, r.code(), r.err() + r.out());
    List<Long> at = wm.findAll(postRequestedFor(urlEqualTo("/mini/v1/chat/completions"))).stream()
        .map(e -> e.getLoggedDate().getTime()).sorted().toList();
    assertEquals(2, at.size());
    assertTrue(at.get(1) - at.get(0) >= 2400, "tried again " + (at.get(1) - at.get(0)) + " ms after a " + header + ": " + wait);
  }

  @Test
  void withoutAnMfToPlaceThemOutcomesGoUnderEachUpstreamsOwnId() throws Exception {
    io.routewise.config.RoutewiseConfig cfg = io.routewise.config.ConfigLoader.fromSystemEnv().load(config());
    List<io.routewise.config.UpstreamConfig> all = io.routewise.routers.RouterCatalog.inLadderOrder(cfg);
    // as serve places them (gpt-4o: the snapshot serve routes it as), so train --from adapts that row
    assertEquals(Map.of("strong", "gpt-4o-2024-05-13", "mini", "gpt-4o-mini-2024-07-18", "weak",
        "llama-3.1-8b-instruct", "judge", "judge-model"), LabelCommand.outcomeIds(cfg, Path.of("models"), all));
    io.routewise.routers.ModelDir mf = io.routewise.routers.ModelDir.open(Path.of("models/mf"), "mf");
    assertEquals(java.util.Optional.of("qwen2.5-7b-instruct"), mf.trainedId("qwen2.5:7b"),
        "an Ollama name: the row serve routes with, not a new model learned from the labels alone");
    assertEquals(java.util.Optional.empty(), mf.trainedId("phi3:mini"));
    assertEquals(Map.of("strong", "gpt-4o", "mini", "gpt-4o-mini", "weak", "llama-3.1-8b-instruct", "judge",
        "judge-model"), LabelCommand.outcomeIds(cfg, tmp, all), "no mf under " + tmp);
  }

  @Test
  void withoutTheMfThatPlacedTheFilesIdsARerunIsRefusedRatherThanBuyEverythingAgain() throws Exception {
    Path input = tmp.resolve("prompts.jsonl");
    Path output = tmp.resolve("labels.jsonl");
    Files.writeString(input, "{\"id\": \"a\", \"prompt\": \"first\"}\n{\"id\": \"b\", \"prompt\": \"second\"}\n");
    assertEquals(0, label(config(), input, output).code());
    Files.writeString(input, Files.readString(input) + "{\"id\": \"c\", \"prompt\": \"third\"}\n");
    LearnedRoutersEndToEndTest.Run lost = run(List.of("label", "--config", config().toString(), "--input",
        input.toString(), "--output", output.toString(), "--judge", "judge", "--upstreams", "strong,mini,weak",
        "--retries", "0", "--quiet", "--models-dir", tmp.toString()));
    assertEquals(2, lost.code(), lost.err());
    assertTrue(lost.err().contains("holds outcomes under 'gpt-4o-2024-05-13', the id 'gpt-4o' (upstreams.strong)"),
        lost.err());
    assertTrue(lost.err().contains("router_model: gpt-4o-2024-05-13"), lost.err());
    wm.verify(2, postRequestedFor(urlEqualTo("/strong/v1/chat/completions"))); // a and b, once
    // with the mf found again, only c is asked for
    assertEquals(0, label(config(), input, output).code());
    wm.verify(3, postRequestedFor(urlEqualTo("/strong/v1/chat/completions")));
  }

  /** Two cases the refusal above must let through: another upstream's key, and a key the config names. */
  @Test
  void anotherUpstreamsKeyOrAKeyTheConfigNamesIsNoSecondKey() throws Exception {
    Path config = tmp.resolve("two-gpt-4o.yaml");
    Files.writeString(config, """
        upstreams:
          strong: {base_url: "http://127.0.0.1:1/v1", api_key: none, model: gpt-4o-2024-08-06}
          fast: {base_url: "http://127.0.0.1:1/v1", api_key: none, model: gpt-4o}
          pinned: {base_url: "http://127.0.0.1:1/v1", api_key: none, model: gpt-4o, router_model: gpt-4o}
          weak: {base_url: "http://127.0.0.1:1/v1", api_key: none, model: llama-3.1-8b-instruct}
        """);
    io.routewise.config.RoutewiseConfig cfg = io.routewise.config.ConfigLoader.fromSystemEnv().load(config);
    List<io.routewise.config.UpstreamConfig> all = io.routewise.routers.RouterCatalog.inLadderOrder(cfg);
    Map<String, String> ids = LabelCommand.outcomeIds(cfg, tmp, all, false); // no mf: each its own model
    com.fasterxml.jackson.databind.node.ObjectNode line = (com.fasterxml.jackson.databind.node.ObjectNode) JSON.readTree(
        "{\"id\":\"a\",\"prompt\":\"p\",\"outcomes\":{\"gpt-4o-2024-08-06\":1.0,\"llama-3.1-8b-instruct\":0.0}}");
    List<io.routewise.config.UpstreamConfig> fast = all.stream().filter(u -> u.name().equals("fast")).toList();
    assertEquals(null, LabelCommand.secondKey(tmp.resolve("o.jsonl"), Map.of("a", line), fast, ids, cfg),
        "gpt-4o-2024-08-06 is strong's own key: setting router_model to it would mix fast into strong");
    List<io.routewise.config.UpstreamConfig> pinned = all.stream().filter(u -> u.name().equals("pinned")).toList();
    line.with("outcomes").remove("gpt-4o-2024-08-06");
    line.with("outcomes").put("gpt-4o-2024-05-13", 1.0);
    assertEquals(null, LabelCommand.secondKey(tmp.resolve("o.jsonl"), Map.of("a", line), pinned, ids, cfg),
        "router_model: gpt-4o names the key");
    assertTrue(LabelCommand.secondKey(tmp.resolve("o.jsonl"), Map.of("a", line), fast, ids, cfg)
        .contains("holds outcomes under 'gpt-4o-2024-05-13'"), "fast without a setting: its second key");
  }

  /** {@code n} prompts labeled by strong and weak, {@code concurrency} at once. */
  private LearnedRoutersEndToEndTest.Run labelStrongAndWeak(int n, String concurrency) throws Exception {
    Path input = tmp.resolve("prompts.jsonl");
    StringBuilder many = new StringBuilder();
    for (int i = 0; i < n; i++) {
      many.append("{\"id\": \"").append(i).append("\", \"prompt\": \"question ").append(i).append("\"}\n");
    }
    Files.writeString(input, many);
    return run(List.of("label", "--config", config().toString(), "--input", input.toString(), "--output",
        tmp.resolve("o.jsonl").toString(), "--judge", "judge", "--upstreams", "strong,weak", "--concurrency",
        concurrency, "--quiet"));
  }

  @Test
  void aWrongKeyStopsTheRunAndNothingIsAFiveHundredTriedOnce() throws Exception {
    wm.stubFor(post(urlEqualTo("/weak/v1/chat/completions")).atPriority(1)
        .willReturn(aResponse().withStatus(401).withBody("{\"error\":{\"message\":\"bad key\"}}")));
    LearnedRoutersEndToEndTest.Run r = labelStrongAndWeak(20, "1");
    assertEquals(1, r.code(), r.out());
    assertTrue(r.out().contains("STOPPED: HTTP 401 from weak"), r.out());
    assertTrue(wm.findAll(postRequestedFor(urlEqualTo("/weak/v1/chat/completions"))).size() <= 2,
        "a 401 is not retried and ends the run: no twenty prompts paid for");
  }

  /** {@code label} of strong and weak over {@code prompts} questions, the weak upstream at {@code weakBase}, one retry. */
  private LearnedRoutersEndToEndTest.Run labelWithWeakAt(String weakBase, int prompts, int concurrency) throws Exception {
    Path config = config();
    Files.writeString(config, Files.readString(config).replace("\"http://127.0.0.1:" + wm.port() + "/weak/v1\"",
        "\"" + weakBase + "\""));
    Path input = tmp.resolve("prompts.jsonl");
    StringBuilder many = new StringBuilder();
    for (int i = 0; i < prompts; i++) {
      many.append("{\"id\": \"").append(i).append("\", \"prompt\": \"question ").append(i).append("\"}\n");
    }
    Files.writeString(input, many);
    return run(List.of("label", "--config", config.toString(), "--input", input.toString(), "--output",
        tmp.resolve("o.jsonl").toString(), "--judge", "judge", "--upstreams", "strong,weak", "--concurrency",
        Integer.toString(concurrency), "--retries", "1", "--quiet"));
  }

  /**
   * An upstream at a wrong port (nothing listening) was tried for every prompt, each call waiting out
   * its retries (a CLI review: still going after 120 s on 40 prompts). One that never answered and
   * could not be reached through a call's tries stops the run.
   */
  @Test
  void anUpstreamThatCannotBeReachedStopsTheRun() throws Exception {
    int closed;
    try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      closed = s.getLocalPort();
    }
    long start = System.nanoTime();
    LearnedRoutersEndToEndTest.Run r = labelWithWeakAt("http://127.0.0.1:" + closed + "/v1", 30, 1);
    assertEquals(1, r.code(), r.out());
    assertTrue(r.out().contains("STOPPED: weak could not be reached in 2 tries and never answered"), r.out());
    assertTrue(wm.findAll(postRequestedFor(urlEqualTo("/strong/v1/chat/completions"))).size() <= 2,
        "stopped at the first prompt, not thirty prompts' answers bought");
    assertTrue(System.nanoTime() - start < 20_000_000_000L, "stopped in seconds");
  }

  /**
   * An upstream that answered and then went away (a local model server stopped mid-run) was tried for
   * every later prompt, each waiting out its retries (a trial: ~7 s a prompt, hours on a large file).
   * Calls in a row that cannot reach it stop the run; what was written is kept for the rerun.
   */
  @Test
  void anUpstreamThatGoesAwayMidRunStopsTheRun() throws Exception {
    com.sun.net.httpserver.HttpServer weak = com.sun.net.httpserver.HttpServer.create(
        new java.net.InetSocketAddress(java.net.InetAddress.getLoopbackAddress(), 0), 0);
    java.util.concurrent.atomic.AtomicInteger calls = new java.util.concurrent.atomic.AtomicInteger();
    weak.createContext("/v1/chat/completions", exchange -> {
      calls.incrementAndGet();
      exchange.getRequestBody().readAllBytes();
      byte[] body = ("{\"id\":\"c\",\"object\":\"chat.completion\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,"
          + "\"message\":{\"role\":\"assistant\",\"content\":\"answer from weak\"},\"finish_reason\":\"stop\"}]}").getBytes(java.nio.charset.StandardCharsets.UTF_8);
      exchange.getResponseHeaders().set("Content-Type", "application/json");
      exchange.sendResponseHeaders(200, body.length);
      exchange.getResponseBody().write(body);
      exchange.close();
      new Thread(() -> weak.stop(0)).start(); // answered once, then gone: its port refuses
    });
    weak.start();
    long start = System.nanoTime();
    LearnedRoutersEndToEndTest.Run r = labelWithWeakAt("http://127.0.0.1:" + weak.getAddress().getPort() + "/v1", 60, 2);
    weak.stop(0);
    assertTrue(calls.get() <= 2, calls + ": the weak upstream answered the calls it had before it stopped");
    assertEquals(1, r.code(), r.out());
    assertTrue(r.out().contains("STOPPED: weak could not be reached by the last " + LabelCommand.UNREACHABLE_IN_A_ROW
        + " calls, each through 2 tries"), r.out());
    int bought = wm.findAll(postRequestedFor(urlEqualTo("/strong/v1/chat/completions"))).size();
    assertTrue(bought < 20, bought + " of 60 strong answers bought beside a weak upstream that was gone");
    assertTrue(System.nanoTime() - start < 40_000_000_000L, "stopped in seconds");
  }

  /**
   * A judge that gives no rating (down, or answering something else) stopped nothing: every
   * upstream's answer to every prompt was bought and thrown away. Its first few failures with no
   * rating at all now end the run.
   */
  @Test
  void aJudgeThatNeverRatesStopsTheRunBeforeEveryAnswerIsBought() throws Exception {
    wm.stubFor(post(urlEqualTo("/judge/v1/chat/completions")).atPriority(1).willReturn(answer("I like it.", 100, 30)));
    LearnedRoutersEndToEndTest.Run r = labelStrongAndWeak(30, "2");
    assertEquals(1, r.code(), r.out());
    assertTrue(r.out().contains("STOPPED: the judge gave no rating in its first " + LabelCommand.JUDGE_TRIES + " tries"),
        r.out());
    int bought = wm.findAll(postRequestedFor(urlEqualTo("/strong/v1/chat/completions"))).size();
    assertTrue(bought <= LabelCommand.JUDGE_TRIES, bought + " of 30 answers bought for a judge that rates none");
  }

  /**
   * An answer the judge could not rate was thrown away, and the rerun bought it again. It is kept
   * beside the output, and the rerun only asks the judge; for another prompt text under the same id
   * it is bought afresh, and the file goes once nothing in it is unrated.
   */
  @Test
  void anAnswerTheJudgeDidNotRateIsRatedOnTheRerunWithoutBuyingItAgain() throws Exception {
    Path input = tmp.resolve("prompts.jsonl");
    Path output = tmp.resolve("labels.jsonl");
    // w first, one prompt at a time: a rating comes before the judge's fifth failure, which would stop the
    // run as a judge that never rates (with prompts at once, that raced on a loaded machine)
    Files.writeString(input, "{\"id\": \"w\", \"prompt\": \"fine\"}\n{\"id\": \"u\", \"prompt\": \"an unjudgeable question\"}\n"
        + "{\"id\": \"v\", \"prompt\": \"another unjudgeable question\"}\n");
    LearnedRoutersEndToEndTest.Run first = run(List.of("label", "--config", config().toString(), "--input",
        input.toString(), "--output", output.toString(), "--judge", "judge", "--upstreams", "strong,mini,weak",
        "--retries", "0", "--quiet", "--concurrency", "1"));
    assertEquals(3, first.code(), first.err() + first.out());
    Path kept = tmp.resolve("labels.jsonl.unrated");
    assertEquals(6, Files.readAllLines(kept).size(), "u and v: three answers each");
    assertTrue(first.out().contains("the 6 answers the judge did not rate are kept in " + kept), first.out());

    // the judge rates again; v's prompt was edited, so its old answers are not its answers
    wm.listAllStubMappings().getMappings().stream()
        .filter(m -> m.getRequest().getBodyPatterns() != null
            && m.getRequest().getBodyPatterns().toString().contains("unjudgeable"))
        .toList().forEach(wm::removeStub);
    wm.resetRequests();
    Files.writeString(input, "{\"id\": \"u\", \"prompt\": \"an unjudgeable question\"}\n"
        + "{\"id\": \"v\", \"prompt\": \"another unjudgeable question, edited\"}\n{\"id\": \"w\", \"prompt\": \"fine\"}\n");
    LearnedRoutersEndToEndTest.Run again = label(config(), input, output);
    assertEquals(0, again.code(), again.err() + again.out());
    assertTrue(again.err().contains("6 answers an earlier run bought and the judge did not rate (labels.jsonl.unrated)"
        + " go to the judge again"), again.err());
    for (String name : List.of("strong", "mini", "weak")) {
      wm.verify(0, postRequestedFor(urlEqualTo("/" + name + "/v1/chat/completions")).withRequestBody(containing("an unjudgeable")));
      wm.verify(1, postRequestedFor(urlEqualTo("/" + name + "/v1/chat/completions")).withRequestBody(containing("edited")));
    }
    wm.verify(6, postRequestedFor(urlEqualTo("/judge/v1/chat/completions")));
    assertEquals(Map.of("gpt-4o-2024-05-13", 1.0, "gpt-4o-mini-2024-07-18", 6.0 / 9, "llama-3.1-8b-instruct", 2.0 / 9),
        byId(output).get("u").outcomes(), "the kept answers, rated");
    assertEquals(3, byId(output).get("v").outcomes().size());
    assertFalse(Files.exists(kept), "nothing left unrated");
  }

  /**
   * A kept answer whose outcome is written already (a run interrupted after rating it) is dropped,
   * not announced on every later run; a line cut inside a character by a crash is skipped, and the
   * next answer kept starts a line of its own.
   */
  @Test
  void aKeptAnswerWhoseOutcomeIsWrittenIsDroppedAndACutLineSkipped() throws Exception {
    Path input = tmp.resolve("prompts.jsonl");
    Path output = tmp.resolve("labels.jsonl");
    labelFirst(input, output, "{\"id\": \"w\", \"prompt\": \"fine\"}\n", 0);
    String sha = java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256")
        .digest("fine".getBytes(java.nio.charset.StandardCharsets.UTF_8)));
    Path kept = tmp.resolve("labels.jsonl.unrated");
    byte[] cut = "{\"id\":\"x\",\"answer\":\"caf\u00e9".getBytes(java.nio.charset.StandardCharsets.UTF_8);
    Files.write(kept, concat(("{\"id\":\"w\",\"model\":\"gpt-4o-2024-05-13\",\"upstream_model\":\"gpt-4o\",\"prompt_sha256\":\""
        + sha + "\",\"answer\":\"x\"}\n").getBytes(java.nio.charset.StandardCharsets.UTF_8),
        java.util.Arrays.copyOf(cut, cut.length - 1)));
    LearnedRoutersEndToEndTest.Run again = label(config(), input, output);
    assertEquals(0, again.code(), again.err());
    assertFalse(again.err().contains("answers an earlier run bought"), again.err());
    assertFalse(Files.exists(kept));

    Files.write(kept, java.util.Arrays.copyOf(cut, cut.length - 1));
    try (UnratedAnswers a = UnratedAnswers.open(output, Map.of())) {
      a.keep("y", "gpt-4o", "gpt-4o", "why?", "because");
    }
    try (UnratedAnswers a = UnratedAnswers.open(output, Map.of())) {
      assertEquals("because", a.answer("y", "gpt-4o", "gpt-4o", "why?"), () -> new String(readBytes(kept)));
      assertEquals(null, a.answer("y", "gpt-4o", "gpt-4o-2024-08-06", "why?"), "another upstream model's answer is not this one's");
    }
  }

  private static byte[] readBytes(Path file) {
    try {
      return Files.readAllBytes(file);
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  private static byte[] concat(byte[] a, byte[] b) {
    byte[] out = java.util.Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }

  /** A prompt of megabytes (a pasted log) was sent to every upstream and the judge: dollars for one label. */
  @Test
  void aPromptLongerThanTheLimitIsLeftOutAndSaid() throws Exception {
    Path input = tmp.resolve("prompts.jsonl");
    Files.writeString(input, "{\"id\": \"short\", \"prompt\": \"What is 2 + 2?\"}\n"
        + "{\"id\": \"huge\", \"prompt\": \"" + "x".repeat(300) + "\"}\n");
    LearnedRoutersEndToEndTest.Run r = run(List.of("label", "--config", config().toString(), "--input",
        input.toString(), "--output", tmp.resolve("o.jsonl").toString(), "--judge", "judge", "--upstreams",
        "strong,weak", "--max-prompt-chars", "200", "--quiet"));
    assertEquals(0, r.code(), r.err() + r.out());
    assertTrue(r.err().contains("left out: 1 prompt(s) longer than --max-prompt-chars 200 (huge)"), r.err());
    assertTrue(r.err().contains("labeling 1 prompts (0 already in"), "the left-out one is not in the file: " + r.err());
    assertEquals(0, wm.findAll(postRequestedFor(urlEqualTo("/strong/v1/chat/completions"))
        .withRequestBody(containing("xxxxxxxxxx"))).size(), "the long prompt was not sent");
    assertTrue(Files.readString(tmp.resolve("o.jsonl")).contains("\"short\""));
  }

  @Test
  void aServerErrorIsTriedAgainAndTwoUpstreamsUnderOneIdAreRefused() throws Exception {
    wm.stubFor(post(urlEqualTo("/mini/v1/chat/completions")).inScenario("down").whenScenarioStateIs(
        com.github.tomakehurst.wiremock.stubbing.Scenario.STARTED).willSetStateTo("up").atPriority(1)
        .willReturn(aResponse().withStatus(503).withBody("{}")));
    Path input = tmp.resolve("prompts.jsonl");
    Files.writeString(input, "{\"prompt\": \"first\"}\n");
    Path output = tmp.resolve("labels.jsonl");
    long t0 = System.nanoTime();
    LearnedRoutersEndToEndTest.Run r = run(List.of("label", "--config", config().toString(), "--input",
        input.toString(), "--output", output.toString(), "--judge", "judge", "--upstreams", "mini", "--retries", "1",
        "--quiet"));
    assertEquals(0, r.code(), r.err() + r.out());
    assertTrue(System.nanoTime() - t0 >= 900_000_000L, "waited the 1 s backoff before trying again");
    PromptRecord line = DatasetReader.readPrompts(output).get(0);
    assertEquals(io.routewise.data.PromptRecord.textId("first"), line.id(), "no id given: named by its text");
    assertTrue(line.id().matches("p-[0-9a-f]{12}"), line.id());
    assertEquals(Map.of("gpt-4o-mini-2024-07-18", 6.0 / 9), line.outcomes());

    Path twin = tmp.resolve("twin.yaml");
    Files.writeString(twin, Files.readString(config()).replace("judge: {", "mini2: {base_url: \"http://127.0.0.1:9/v1\", "
        + "api_key: none, model: openai/gpt-4o-mini}\n  judge: {"));
    LearnedRoutersEndToEndTest.Run clash = run(List.of("label", "--config", twin.toString(), "--input",
        input.toString(), "--output", tmp.resolve("o2.jsonl").toString(), "--judge", "judge", "--upstreams",
        "mini,mini2"));
    assertEquals(2, clash.code());
    assertTrue(clash.err().contains("would all write outcomes under 'gpt-4o-mini-2024-07-18'"), clash.err());
  }

  @Test
  void theRatingIsTheLastOneInRange() {
    assertEquals(Optional.of(3.0), LabelCommand.rating("at first [[6]], but no: Rating: [[3]]"));
    assertEquals(Optional.of(7.5), LabelCommand.rating("Rating: [[ 7.5 ]]"));
    assertEquals(Optional.empty(), LabelCommand.rating("Rating: [[11]]"));
    assertEquals(Optional.empty(), LabelCommand.rating("Rating: 8"));
  }
}
