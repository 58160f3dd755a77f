package io.routewise.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.routewise.Routewise;
import io.routewise.TestConfigs;
import io.routewise.config.ConfigException;
import io.routewise.config.ConfigNode;
import io.routewise.config.ConfigProblems;
import io.routewise.config.RoutewiseConfig;
import io.routewise.embedding.Embedders;
import io.routewise.embedding.EmbeddingSettings;
import io.routewise.embedding.StaticTable;
import io.routewise.routers.RouterCatalog;
import io.routewise.routing.Prompt;
import io.routewise.routing.Router;
import io.routewise.server.ProxyFixture;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Routers on the distilled static embedding ({@code models/minilm-l6-static}): trained with
 * {@code train --embedding-model}, served with {@code embedding.model}, decided on the request thread,
 * and refused at start when the embedding they were trained on is not the one configured.
 */
class StaticEmbeddingRoutersTest {
  static final String STATIC = "minilm-l6-static";
  static final ObjectMapper JSON = new ObjectMapper();
  static final Path OUTCOMES = Path.of("src/test/resources/fixtures/synthetic-outcomes.jsonl");
  // Prompts of the held-out source synthetic-b (never trained on). A bag of tokens trained on 120
  // prompts of made-up words does not extrapolate to other wordings (LearnedRoutersEndToEndTest's
  // "Haar measure" prompt scores below "capital of Peru" here): the fixture's own hold-out it ranks.
  static final String HARD = "Derive a closed form for the sum of the Italy ring over all operator partitions of n, and prove it.";
  static final String EASY = "What is the capital of module?";

  @TempDir
  static Path tmp;
  static Path mf;
  static Path sw;
  static Path swMiniLm;

  @BeforeAll
  static void train() {
    mf = tmp.resolve("mf");
    sw = tmp.resolve("sw");
    List<String> common = List.of("--data", OUTCOMES.toString(), "--holdout", "source:synthetic-b",
        "--strong-model", "strong-model", "--weak-model", "weak-model", "--embedding-model", STATIC, "--quiet");
    var r = LearnedRoutersEndToEndTest.run(concat(List.of("train", "mf", "--out", mf.toString(), "--dim", "16"), common));
    assertEquals(0, r.code(), r.err());
    r = LearnedRoutersEndToEndTest.run(concat(List.of("train", "sw", "--out", sw.toString(), "--dim", "16"), common));
    assertEquals(0, r.code(), r.err());
    // The same router on MiniLM, to serve beside the table's.
    swMiniLm = tmp.resolve("sw-minilm");
    List<String> miniLm = new java.util.ArrayList<>(common);
    miniLm.set(common.indexOf("--embedding-model") + 1, LearnedRoutersEndToEndTest.MINILM);
    r = LearnedRoutersEndToEndTest.run(concat(List.of("train", "sw", "--out", swMiniLm.toString(), "--dim", "16"), miniLm));
    assertEquals(0, r.code(), r.err());
  }

  static Embedders embedders(String model) {
    return new Embedders(EmbeddingSettings.defaults().withModel(model).withCacheEntries(0));
  }

  @Test
  void aRouterTrainedOnTheTableRecordsItsIdAndDigestAndLearnsTheHeldOutSource() throws Exception {
    JsonNode table = StaticTable.manifestOf(Path.of("models", STATIC));
    String digest = table.path("digest").asText();
    for (Path dir : List.of(mf, sw)) {
      JsonNode m = JSON.readTree(dir.resolve("manifest.json").toFile());
      JsonNode e = m.path("embedding");
      assertEquals(STATIC, e.path("model").asText());
      assertEquals(table.path("dimension").asInt(), e.path("dimension").asInt());
      assertEquals(digest, e.path("fingerprint").asText());
      assertTrue(e.path("max_tokens").isMissingNode(), "a static table has no token budget: " + e);
      double apgr = m.path("heldout").path("apgr").asDouble();
      assertTrue(apgr > 0.62, dir + " held-out APGR " + apgr);
    }
  }

  @Test
  void withTheTableAsEmbeddingModelServeRoutesHardPromptsStrongAndEasyOnesWeak() throws Exception {
    String routers = "routers: {mf: {model_dir: \"%s\"}, sw_ranking: {model_dir: \"%s\"}}\n".formatted(mf, sw);
    try (Embedders e = embedders(STATIC); ProxyFixture p = new ProxyFixture(routers, e)) {
      for (String router : List.of("mf", "sw_ranking")) {
        double hard = winRate(p, router, HARD);
        double easy = winRate(p, router, EASY);
        assertTrue(hard > easy, router + ": hard " + hard + " should beat easy " + easy);
        String alpha = String.valueOf((hard + easy) / 2);
        assertTrue(p.chat("router-" + router + "-" + alpha, HARD).headers().firstValue("x-routewise-model")
            .orElseThrow().startsWith("strong"));
        assertTrue(p.chat("router-" + router + "-" + alpha, EASY).headers().firstValue("x-routewise-model")
            .orElseThrow().startsWith("weak"));
      }
    }
  }

  @Test
  void aStaticMfDecidesOnTheRequestThreadWhileEveryScoringThreadIsBusy() throws Exception {
    CountDownLatch entered = new CountDownLatch(1);
    java.util.concurrent.atomic.AtomicBoolean release = new java.util.concurrent.atomic.AtomicBoolean();
    Router spinner = new Router() {
      @Override
      public double strongWinRate(Prompt prompt) {
        entered.countDown();
        while (!release.get()) {
          Thread.onSpinWait();
        }
        return 0;
      }

      @Override
      public boolean cpuBound() {
        return true;
      }
    };
    String yaml = TestConfigs.withRouting(TestConfigs.yaml("http://127.0.0.1:9/v1", "http://127.0.0.1:9/v1",
        "routers: {spin: {}, mf: {model_dir: \"%s\"}}".formatted(mf)), "scoring_threads: 1, scoring_queue: 1");
    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    try (Embedders e = embedders(STATIC); Routewise r = Routewise.start(TestConfigs.config(yaml),
        RouterCatalog.standard().with("spin", ctx -> spinner), e, () -> {})) {
      CompletableFuture<HttpResponse<String>> busy = http.sendAsync(route(r.port(), "spin", HARD),
          HttpResponse.BodyHandlers.ofString());
      assertTrue(entered.await(10, TimeUnit.SECONDS), "the only scoring thread is spinning");
      CompletableFuture<HttpResponse<String>> queued = http.sendAsync(route(r.port(), "spin", EASY),
          HttpResponse.BodyHandlers.ofString());
      HttpResponse<String> decided = http.send(route(r.port(), "mf", HARD), HttpResponse.BodyHandlers.ofString());
      assertEquals(200, decided.statusCode(), decided.body());
      JsonNode d = JSON.readTree(decided.body());
      assertFalse(d.has("router_error"), "mf neither waited for nor was refused by the busy scoring thread: " + d);
      assertFalse(busy.isDone() || queued.isDone(), "the spinning decision is still running");
      release.set(true);
      assertEquals(200, busy.get(10, TimeUnit.SECONDS).statusCode());
      assertEquals(200, queued.get(10, TimeUnit.SECONDS).statusCode());
    } finally {
      release.set(true);
    }
  }

  @Test
  void onlyStaticMfLoadedMeansNoScoringThreadsAndNoEmbeddingCache() throws Exception {
    String yaml = TestConfigs.yaml("http://127.0.0.1:9/v1", "http://127.0.0.1:9/v1",
        "routers: {mf: {model_dir: \"%s\"}}".formatted(mf));
    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    try (Embedders e = new Embedders(EmbeddingSettings.defaults().withModel(STATIC).withCacheEntries(1000));
        Routewise r = Routewise.start(TestConfigs.config(yaml), RouterCatalog.standard(), e, () -> {})) {
      assertEquals(200, http.send(route(r.port(), "mf", HARD), HttpResponse.BodyHandlers.ofString()).statusCode());
      String metrics = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + r.port() + "/metrics")).build(),
          HttpResponse.BodyHandlers.ofString()).body();
      assertFalse(metrics.contains("routewise_scoring_"), "no scoring pool: mf on a table is not CPU-bound");
      assertFalse(metrics.contains("routewise_embedding_cache_"), "no cache in front of a table");
      assertFalse(e.get(STATIC) instanceof io.routewise.embedding.CachingEmbedder);
    }
  }

  @Test
  void theShippedMfServesOnTheTableAndRanksAProofAboveSmallTalk() throws Exception {
    try (Embedders e = embedders(STATIC); ProxyFixture p = new ProxyFixture("routers: {mf: {model_dir: models/mf}}\n", e)) {
      double proof = winRate(p, "mf", "Let f be a continuous function on [0,1] with f(0)=f(1). Prove that for every n"
          + " there is x with f(x)=f(x+1/n).");
      double smallTalk = winRate(p, "mf", "hi, how are you?");
      assertTrue(proof > smallTalk + 0.1, "proof " + proof + " vs small talk " + smallTalk);
    }
    assertTrue(startProblem("all-minilm-l6-v2-q", "mf: {model_dir: models/mf}").contains("minilm-l6-static"));
  }

  @Test
  void theGapPriorFoldedIntoTheTableScoresAsTheFullProduct() throws Exception {
    io.routewise.routers.ModelDir md = io.routewise.routers.ModelDir.open(Path.of("models/mf"), "mf");
    io.routewise.routers.mf.MfModel model = io.routewise.routers.mf.MfRouter.load(md);
    assertTrue(model.gapPrior() > 0, "the shipped mf has the gap prior on");
    try (Embedders e = embedders(STATIC)) {
      io.routewise.embedding.StaticEmbedder table = (io.routewise.embedding.StaticEmbedder) e.get(STATIC);
      int strong = md.models().indexOf("gpt-4-1106-preview");
      int weak = md.models().indexOf("mixtral-8x7b-instruct-v0.1");
      var router = new io.routewise.routers.mf.MfRouter(table, model, strong, weak, "gpt-4-1106-preview",
          "mixtral-8x7b-instruct-v0.1");
      List<String> prompts = List.of("hi", "Prove that there are infinitely many primes.",
          "Write a haiku about the sea, then translate it into French and explain each choice you made.",
          "Summarize the quarterly report and list every figure that changed. ".repeat(120)); // > 512 tokens
      for (String p : prompts) {
        float[] x = model.features(table.embed(p), p);
        double full = model.pairWinRate(strong, weak, x, model.gap(x));
        // int8 folded rows move a win rate by at most 0.0025 (mean 0.0002 over arena-bench and
        // mmlu-gold); a wrong fold moves it by the gap prior's whole weight (~0.05)
        assertEquals(full, router.strongWinRate(new Prompt(p)), 5e-3, p);
        // N-way reads the same features: with two rungs, the top's rate over the other is the same
        double[] rates = router.topWinRates(new Prompt(p), io.routewise.routing.Ladder.twoWay("gpt-4-1106-preview",
            "mixtral-8x7b-instruct-v0.1"));
        assertEquals(router.strongWinRate(new Prompt(p)), rates[1], 1e-12, p);
      }
    }
  }

  @Test
  void theShippedMiniLmMfServesOnMiniLmAndRanksAProofAboveSmallTalk() throws Exception {
    String miniLm = LearnedRoutersEndToEndTest.MINILM;
    try (Embedders e = embedders(miniLm); ProxyFixture p = new ProxyFixture("routers: {mf: {model_dir: models/mf-minilm}}\n", e)) {
      double proof = winRate(p, "mf", "Let f be a continuous function on [0,1] with f(0)=f(1). Prove that for every n"
          + " there is x with f(x)=f(x+1/n).");
      double smallTalk = winRate(p, "mf", "hi, how are you?");
      assertTrue(proof > smallTalk + 0.1, "proof " + proof + " vs small talk " + smallTalk);
    }
    assertTrue(startProblem(STATIC, "mf: {model_dir: models/mf-minilm}").contains(miniLm));
  }

  @Test
  void aMiniLmRouterFailsToStartWhenTheConfigNamesTheTable() {
    String problem = startProblem(STATIC, "sw_ranking: {model_dir: \"" + swMiniLm + "\"}");
    assertTrue(problem.contains("routers.sw_ranking") && problem.contains("trained on the embedding 'all-minilm-l6-v2-q'")
        && problem.contains("'" + STATIC + "' (embedding.model)"), problem);
  }

  @Test
  void aRouterTrainedOnTheTableFailsToStartUnderTheDefaultEmbeddingNamingTheFix() {
    String problem = startProblem("all-minilm-l6-v2-q", "sw_ranking: {model_dir: \"" + sw + "\"}");
    assertTrue(problem.contains("trained on the embedding '" + STATIC + "'")
        && problem.contains("routers.sw_ranking.embedding_model: " + STATIC)
        && problem.contains("'routewise train sw --embedding-model all-minilm-l6-v2-q'")
        && problem.contains("--embedding-model " + STATIC + " on the command line"), problem);
  }

  @Test
  void aRoutersOwnEmbeddingModelLetsMiniLmAndStaticRoutersServeSideBySide() throws Exception {
    String routers = "routers: {mf: {model_dir: \"%s\", embedding_model: %s}, sw_ranking: {model_dir: \"%s\"}}\n"
        .formatted(mf, STATIC, swMiniLm);
    try (Embedders e = embedders("all-minilm-l6-v2-q"); ProxyFixture p = new ProxyFixture(routers, e)) {
      assertTrue(winRate(p, "mf", HARD) > winRate(p, "mf", EASY));
      assertTrue(winRate(p, "sw_ranking", HARD) > winRate(p, "sw_ranking", EASY));
      assertEquals(java.util.Set.of("all-minilm-l6-v2-q", STATIC), e.loaded().keySet());
    }
  }

  @Test
  void aTableDistilledAgainUnderTheSameNameFailsTheRoutersTrainedOnTheOldOne() throws Exception {
    Path models = tmp.resolve("models-redistilled");
    StaticTable old = StaticTable.read(Path.of("models", STATIC));
    float[] weights = old.tokenWeights().clone();
    weights[2000] *= 2;
    StaticTable changed = StaticTable.ofFloats(old.vocabSize(), old.dimension(), floats(old), weights, old.tokenizerModel());
    changed.write(models.resolve(STATIC), JSON.createObjectNode().put("note", "made again"));
    String yaml = TestConfigs.yaml("http://127.0.0.1:9/v1", "http://127.0.0.1:9/v1",
        "routers: {mf: {model_dir: \"" + mf + "\"}}");
    try (Embedders e = new Embedders(EmbeddingSettings.defaults().withModel(STATIC).withModelsDir(models))) {
      ConfigException ex = assertThrows(ConfigException.class,
          () -> Routewise.start(TestConfigs.config(yaml), RouterCatalog.standard(), e, () -> {}).close());
      assertTrue(ex.getMessage().contains("digest") && ex.getMessage().contains("retrain"), ex.getMessage());
    }
  }

  @Test
  void anEmbeddingModelThatNamesNothingIsAConfigProblemNamingTheKey() {
    ConfigProblems problems = new ConfigProblems();
    EmbeddingSettings.from(new ConfigNode("embedding", Map.of("model", "minilm-static"), problems), Path.of("models"));
    assertEquals(1, problems.list().size(), problems.list().toString());
    String p = problems.list().get(0);
    assertTrue(p.startsWith("embedding.model") && p.contains("routewise distill"), p);
    ConfigProblems none = new ConfigProblems();
    assertEquals(STATIC, EmbeddingSettings.from(new ConfigNode("embedding", Map.of("model", STATIC), none),
        Path.of("models")).model());
    assertTrue(none.list().isEmpty(), none.list().toString());
  }

  private static float[] floats(StaticTable t) {
    float[] out = new float[t.vocabSize() * t.dimension()];
    for (int i = 0; i < t.vocabSize(); i++) {
      System.arraycopy(t.vector(i), 0, out, i * t.dimension(), t.dimension());
    }
    return out;
  }

  private static String startProblem(String embeddingModel, String routersYaml) {
    RoutewiseConfig cfg = TestConfigs.config(TestConfigs.yaml("http://127.0.0.1:9/v1", "http://127.0.0.1:9/v1",
        "routers: {" + routersYaml + "}"));
    try (Embedders e = embedders(embeddingModel)) {
      ConfigException ex = assertThrows(ConfigException.class,
          () -> Routewise.start(cfg, RouterCatalog.standard(), e, () -> {}).close());
      return ex.getMessage();
    }
  }

  private static HttpRequest route(int port, String router, String prompt) {
    return HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/v1/route"))
        .timeout(Duration.ofSeconds(10))
        .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"router-" + router
            + "-0.5\",\"messages\":[{\"role\":\"user\",\"content\":\"" + prompt + "\"}]}")).build();
  }

  private static double winRate(ProxyFixture p, String router, String prompt) throws Exception {
    HttpResponse<String> r = p.post("/v1/route", "{\"model\":\"router-" + router
        + "-0.5\",\"messages\":[{\"role\":\"user\",\"content\":\"" + prompt + "\"}]}");
    assertEquals(200, r.statusCode(), r.body());
    return JSON.readTree(r.body()).path("strong_win_rate").asDouble();
  }

  private static List<String> concat(List<String> a, List<String> b) {
    return java.util.stream.Stream.concat(a.stream(), b.stream()).toList();
  }

  @Test
  void trainMfFromAnExistingModelAdaptsItWithoutItsDataAndAddsTheModelsItDidNotKnow() throws Exception {
    // The held-out source's rows, with a model the base never saw: an operator's own labels.
    StringBuilder rows = new StringBuilder();
    for (String line : Files.readAllLines(OUTCOMES)) {
      JsonNode row = JSON.readTree(line);
      if (row.path("source").asText().equals("synthetic-b")) {
        var copy = (com.fasterxml.jackson.databind.node.ObjectNode) row.deepCopy();
        var outcomes = (com.fasterxml.jackson.databind.node.ObjectNode) copy.get("outcomes");
        outcomes.set("fresh-model", outcomes.get("strong-model"));
        rows.append(JSON.writeValueAsString(copy)).append('\n');
      }
    }
    Path labels = Files.writeString(tmp.resolve("labels.jsonl"), rows);
    Path adapted = tmp.resolve("mf-adapted");
    var r = LearnedRoutersEndToEndTest.run(List.of("train", "mf", "--from", mf.toString(), "--data", labels.toString(),
        "--holdout", "none", "--out", adapted.toString(), "--quiet"));
    assertEquals(0, r.code(), r.err());
    // a model id the base did not know is said (a typo of a known one would be learned as new, silently)
    assertTrue(r.out().contains("new to " + mf + ": fresh-model (learned from these labels alone)"), r.out());

    JsonNode base = JSON.readTree(mf.resolve("manifest.json").toFile());
    JsonNode m = JSON.readTree(adapted.resolve("manifest.json").toFile());
    assertEquals(base.path("embedding"), m.path("embedding"), "the base's table, digest and all");
    List<String> models = new java.util.ArrayList<>();
    m.path("models").forEach(n -> models.add(n.asText()));
    List<String> baseModels = new java.util.ArrayList<>();
    base.path("models").forEach(n -> baseModels.add(n.asText()));
    assertEquals(baseModels, models.subList(0, baseModels.size()));
    assertEquals(List.of("fresh-model"), models.subList(baseModels.size(), models.size()));
    assertEquals(0, m.path("untrained_models").size(), m.toString());
    assertEquals(mf.toString(), m.path("training").path("adapted_from").path("dir").asText());
    assertEquals(base.path("training").path("data"), m.path("training").path("adapted_from").path("training").path("data"));
    assertEquals(base.path("length"), m.path("length"), "the base's length scale");

    // It serves, and an upstream can be placed on the new model.
    var dir = io.routewise.routers.ModelDir.open(adapted, io.routewise.routers.mf.MfRouter.KIND);
    assertTrue(dir.placeableModels().contains("fresh-model"));
    var model = io.routewise.routers.mf.MfRouter.load(dir);
    try (Embedders e = embedders(STATIC)) {
      var embedder = e.get(STATIC);
      dir.checkEmbedder(embedder);
      int strong = models.indexOf("strong-model");
      int weak = models.indexOf("weak-model");
      double hard = model.pairWinRate(strong, weak, model.features(embedder.embed(HARD), HARD));
      double easy = model.pairWinRate(strong, weak, model.features(embedder.embed(EASY), EASY));
      assertTrue(hard > easy, "hard " + hard + " vs easy " + easy);
    }

    // The adapted model keeps its base's embedding: another one is refused, naming both.
    var wrong = LearnedRoutersEndToEndTest.run(List.of("train", "mf", "--from", mf.toString(), "--data", labels.toString(),
        "--embedding-model", LearnedRoutersEndToEndTest.MINILM, "--out", tmp.resolve("mf-wrong").toString(), "--quiet"));
    assertEquals(2, wrong.code(), wrong.err());
    assertTrue(wrong.err().contains(STATIC) && wrong.err().contains("keeps its base's embedding"), wrong.err());
    assertFalse(Files.exists(tmp.resolve("mf-wrong")));
    // a setting the base fixes is not silently ignored, and the base is never written over
    var dim = LearnedRoutersEndToEndTest.run(List.of("train", "mf", "--from", mf.toString(), "--data", labels.toString(),
        "--dim", "8", "--out", tmp.resolve("mf-wrong").toString(), "--quiet"));
    assertEquals(2, dim.code(), dim.err());
    assertTrue(dim.err().contains("--dim with --from: an adapted model keeps its base's"), dim.err());
    var over = LearnedRoutersEndToEndTest.run(List.of("train", "mf", "--from", mf.toString(), "--data", labels.toString(),
        "--out", mf.resolve(".").toString(), "--quiet"));
    assertEquals(2, over.code(), over.err());
    assertTrue(over.err().contains("--out is the --from model"), over.err());
    // nor is another model written over without --force (an operator overwrote the shipped mf-minilm),
    // a directory of models strewn with one's files, or a model nested in another
    java.util.function.Function<Path, LearnedRoutersEndToEndTest.Run> adaptTo = out -> LearnedRoutersEndToEndTest.run(
        List.of("train", "mf", "--from", mf.toString(), "--data", labels.toString(), "--holdout", "none",
            "--out", out.toString(), "--quiet"));
    var again = adaptTo.apply(adapted);
    assertEquals(2, again.code(), again.err());
    assertTrue(again.err().contains("holds a model already: add --force"), again.err());
    var modelsDir = adaptTo.apply(tmp);
    assertEquals(2, modelsDir.code(), modelsDir.err());
    assertTrue(modelsDir.err().contains("holds models ("), modelsDir.err());
    var nested = adaptTo.apply(adapted.resolve("inner"));
    assertEquals(2, nested.code(), nested.err());
    assertTrue(nested.err().contains("lies inside the model at"), nested.err());
    assertFalse(Files.exists(adapted.resolve("inner")));
    var forced = LearnedRoutersEndToEndTest.run(List.of("train", "mf", "--from", mf.toString(), "--data",
        labels.toString(), "--holdout", "fraction:0.05", "--weak-model", "fresh-model", "--out", adapted.toString(),
        "--force", "--quiet"));
    assertEquals(0, forced.code(), forced.err());
    assertEquals("fresh-model", JSON.readTree(adapted.resolve("manifest.json").toFile()).path("default_weak").asText(),
        "--weak-model names the adapted model's default (it was ignored with --from)");
    assertTrue(forced.out().contains("held-out: too few prompts with two models' outcomes to measure"), forced.out());
    var typo = LearnedRoutersEndToEndTest.run(List.of("train", "mf", "--from", mf.toString(), "--data",
        labels.toString(), "--weak-model", "fresh-modle", "--out", tmp.resolve("mf-wrong").toString(), "--quiet"));
    assertEquals(2, typo.code(), typo.err());
    assertTrue(typo.err().contains("--weak-model fresh-modle is not a model of") && typo.err().contains("did you mean fresh-model?"),
        typo.err());
    // nothing to learn from: said, not a stack trace
    Path empty = Files.writeString(tmp.resolve("empty.jsonl"), "");
    var nothing = LearnedRoutersEndToEndTest.run(List.of("train", "mf", "--from", mf.toString(), "--data", empty.toString(),
        "--out", tmp.resolve("mf-wrong").toString(), "--quiet"));
    assertEquals(2, nothing.code(), nothing.err());
    assertTrue(nothing.err().contains("no outcome to train on"), nothing.err());
    // a static table's directory (format 2) is the wrong kind of directory, not an old mf
    Path table = Files.createDirectories(tmp.resolve("a-table"));
    Files.writeString(table.resolve("manifest.json"), "{\"format_version\": 2, \"kind\": \"static_embedding\"}");
    var notMf = LearnedRoutersEndToEndTest.run(List.of("train", "mf", "--from", table.toString(), "--data",
        labels.toString(), "--out", tmp.resolve("mf-wrong").toString(), "--quiet"));
    assertEquals(2, notMf.code(), notMf.err());
    assertTrue(notMf.err().contains("kind is 'static_embedding', expected 'mf' (not a mf model directory)"), notMf.err());
    assertFalse(Files.exists(tmp.resolve("mf-wrong")));
  }
}
