package io.routewise.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.routewise.Main;
import io.routewise.Routewise;
import io.routewise.TestConfigs;
import io.routewise.config.ConfigException;
import io.routewise.embedding.Embedders;
import io.routewise.embedding.EmbeddingModel;
import io.routewise.embedding.EmbeddingSettings;
import io.routewise.routers.RouterCatalog;
import io.routewise.server.ProxyFixture;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

/**
 * The learned routers as a user meets them: {@code train} on a small synthetic set whose difficulty
 * is learnable (hard research-style prompts only the strong model solves, easy ones everyone does),
 * then {@code serve}, {@code score}, {@code calibrate} and {@code eval} with the trained directories,
 * all with the real ONNX embedder.
 */
class LearnedRoutersEndToEndTest {
  static final ObjectMapper JSON = new ObjectMapper();
  static final Path OUTCOMES = Path.of("src/test/resources/fixtures/synthetic-outcomes.jsonl");
  static final Path BATTLES = Path.of("src/test/resources/fixtures/synthetic-battles.jsonl");
  static final Path PROMPTS = Path.of("src/test/resources/fixtures/prompts.jsonl");
  static final String HARD = "Prove that every compact group has a Haar measure.";
  static final String EASY = "What is the capital of Peru?";

  @TempDir
  static Path tmp;
  static Path mf;
  static Path sw;
  static Embedders embedders;

  /** These routers run on MiniLM (the default embedding is the static table: StaticEmbeddingRoutersTest). */
  static final String MINILM = EmbeddingModel.MINILM_L6_Q.id();

  @BeforeAll
  static void train() {
    mf = tmp.resolve("mf");
    sw = tmp.resolve("sw");
    // synthetic-b is held out whole: the routers are judged on prompts they never saw.
    List<String> common = List.of("--data", OUTCOMES.toString(), "--holdout", "source:synthetic-b",
        "--strong-model", "strong-model", "--weak-model", "weak-model",
        "--embedding-cache", tmp.resolve("emb").toString(), "--quiet");
    assertEquals(0, run(concat(List.of("train", "mf", "--embedding-model", MINILM, "--out", mf.toString(), "--dim", "16",
        "--heldout-out", tmp.resolve("heldout.jsonl").toString()), common)).code);
    assertEquals(0, run(concat(List.of("train", "sw", "--embedding-model", MINILM, "--out", sw.toString(), "--dim", "16"), common)).code);
    embedders = new Embedders(EmbeddingSettings.defaults().withModel(EmbeddingModel.MINILM_L6_Q.id()));
  }

  @AfterAll
  static void close() {
    embedders.close();
  }

  @Test
  void trainingOnALearnableSetReachesAHeldOutApgrWellAboveRandom() throws Exception {
    for (Path dir : List.of(mf, sw)) {
      JsonNode m = JSON.readTree(dir.resolve("manifest.json").toFile());
      assertEquals("source:synthetic-b", m.path("training").path("holdout").asText());
      assertEquals(40, m.path("heldout").path("pair_prompts").asInt(), dir + " evaluated on the held-out source");
      // Half of synthetic-b is hard (only the strong model solves it), so a perfect router reaches
      // about 0.75 and random 0.5.
      double apgr = m.path("heldout").path("apgr").asDouble();
      assertTrue(apgr > 0.62, dir + " held-out APGR " + apgr);
      assertTrue(m.path("training").path("data").get(0).path("sha256").asText().matches("[0-9a-f]{64}"));
    }
    List<String> heldOut = Files.readAllLines(tmp.resolve("heldout.jsonl"));
    assertEquals(40, heldOut.size());
    assertTrue(heldOut.stream().allMatch(l -> l.contains("\"source\":\"synthetic-b\"") && l.contains("\"outcomes\":{")));
  }

  /** Two id-less lines of one prompt are two held-out rows; written out and read back they stayed one. */
  @Test
  void heldOutLinesWithoutIdsAndOneTextStayTwoRows() throws Exception {
    Path data = tmp.resolve("idless.jsonl");
    StringBuilder rows = new StringBuilder();
    for (int i = 0; i < 4; i++) {
      rows.append("{\"id\": \"s/").append(i).append("\", \"source\": \"seen\", \"prompt\": \"prompt ").append(i)
          .append("?".repeat(i)).append("\", \"outcomes\": {\"strong-model\": 1.0, \"weak-model\": 0.0}}\n");
    }
    rows.append("{\"source\": \"held\", \"prompt\": \"same\", \"outcomes\": {\"strong-model\": 1.0, \"weak-model\": 0.0}}\n");
    rows.append("{\"source\": \"held\", \"prompt\": \"same\", \"outcomes\": {\"strong-model\": 0.0, \"weak-model\": 1.0}}\n");
    Files.writeString(data, rows);
    Path held = tmp.resolve("idless-heldout.jsonl");
    Run r = run(List.of("train", "mf", "--embedding-model", MINILM, "--data", data.toString(),
        "--out", tmp.resolve("mf-idless").toString(), "--dim", "2", "--iterations", "5", "--holdout", "source:held",
        "--strong-model", "strong-model", "--weak-model", "weak-model", "--heldout-out", held.toString(),
        "--embedding-cache", tmp.resolve("emb").toString(), "--quiet"));
    assertEquals(0, r.code, r.err);
    List<io.routewise.data.PromptRecord> back = io.routewise.data.DatasetReader.readPrompts(held);
    assertEquals(2, back.size(), back.toString());
    assertEquals(java.util.Set.of(0.0, 1.0),
        java.util.Set.of(back.get(0).outcomes().get("weak-model"), back.get(1).outcomes().get("weak-model")));
  }

  @Test
  void aModelScoredOnlyInHeldOutRowsIsRecordedUntrainedAndCannotStandForAnUpstream() throws Exception {
    Path data = tmp.resolve("untrained.jsonl");
    StringBuilder rows = new StringBuilder();
    for (int i = 0; i < 6; i++) {
      String src = i < 4 ? "seen" : "held";
      String extra = i < 4 ? "" : ", \"held-only-model\": 1.0";
      rows.append("{\"id\": \"u/").append(i).append("\", \"source\": \"").append(src).append("\", \"prompt\": \"prompt ")
          .append(i).append("?".repeat(i)).append("\", \"outcomes\": {\"strong-model\": 1.0, \"weak-model\": 0.0").append(extra).append("}}\n");
    }
    Files.writeString(data, rows);
    Path out = tmp.resolve("mf-untrained");
    Run r = run(List.of("train", "mf", "--embedding-model", MINILM, "--data", data.toString(), "--out", out.toString(), "--dim", "2",
        "--iterations", "5", "--holdout", "source:held", "--strong-model", "strong-model", "--weak-model", "weak-model",
        "--embedding-cache", tmp.resolve("emb").toString(), "--quiet"));
    assertEquals(0, r.code, r.err);
    JsonNode m = JSON.readTree(out.resolve("manifest.json").toFile());
    assertEquals("[\"held-only-model\"]", m.path("untrained_models").toString());
    assertStartFails("mf: {model_dir: \"" + out + "\", strong_model: held-only-model}", "held-only-model");
  }

  /** One model's outcomes trained a router whose strong and weak were that model, refused only when it was served. */
  @Test
  void outcomesOfOneModelAreRefusedBeforeTraining() throws Exception {
    Path data = tmp.resolve("one-model.jsonl");
    Files.writeString(data, "{\"id\": \"a\", \"prompt\": \"x\", \"outcomes\": {\"gpt-4o\": 1.0}}\n"
        + "{\"id\": \"b\", \"prompt\": \"y\", \"outcomes\": {\"gpt-4o\": 0.0}}\n");
    Path out = tmp.resolve("mf-one-model");
    Run r = run(List.of("train", "mf", "--data", data.toString(), "--out", out.toString(), "--dim", "2",
        "--iterations", "5", "--holdout", "none", "--quiet"));
    assertEquals(2, r.code, r.err);
    assertTrue(r.err.contains("outcomes of one model only (gpt-4o)") && !r.err.contains("\tat "), r.err);
    assertFalse(Files.exists(out.resolve("manifest.json")), "nothing written");
  }

  @Test
  void aCorruptStaticTableStopsTrainingWithOneLineNamingTheFile() throws Exception {
    Path models = tmp.resolve("models-corrupt");
    Path table = Files.createDirectories(models.resolve("minilm-l6-static"));
    for (Path f : Files.list(Path.of("models/minilm-l6-static")).toList()) {
      Files.copy(f, table.resolve(f.getFileName()));
    }
    Files.write(table.resolve("vectors.i8"), new byte[100]); // truncated
    Run r = run(List.of("train", "mf", "--models-dir", models.toString(), "--data", BATTLES.toString(), "--out",
        tmp.resolve("mf-corrupt-table").toString(), "--dim", "2", "--iterations", "5", "--quiet"));
    assertEquals(2, r.code, r.err);
    assertTrue(r.err.startsWith("routewise train mf: ") && r.err.contains("vectors.i8") && !r.err.contains("\tat "), r.err);
  }

  @Test
  void arenaBattleRowsTrainAsWell() throws Exception {
    Path out = tmp.resolve("mf-battles");
    Run r = run(List.of("train", "mf", "--embedding-model", MINILM, "--data", BATTLES.toString(), "--out", out.toString(), "--dim", "8",
        "--holdout", "none", "--strong-model", "strong-model", "--weak-model", "weak-model",
        "--embedding-cache", tmp.resolve("emb").toString(), "--quiet"));
    assertEquals(0, r.code, r.err);
    JsonNode m = JSON.readTree(out.resolve("manifest.json").toFile());
    assertTrue(m.path("training").path("battles").asInt() >= 80);
  }

  @Test
  void serveRoutesHardPromptsStrongAndEasyOnesWeakWithBothLearnedRouters() throws Exception {
    String routers = "routers: {mf: {model_dir: \"%s\"}, sw_ranking: {model_dir: \"%s\"}}\n".formatted(mf, sw);
    try (ProxyFixture p = new ProxyFixture(routers, embedders)) {
      for (String router : List.of("mf", "sw_ranking")) {
        double hard = winRate(p, router, HARD);
        double easy = winRate(p, router, EASY);
        assertTrue(hard > easy, router + ": hard " + hard + " should beat easy " + easy);
        String alpha = String.valueOf((hard + easy) / 2);
        HttpResponse<String> h = p.chat("router-" + router + "-" + alpha, HARD);
        assertEquals(200, h.statusCode(), h.body());
        assertEquals(router, h.headers().firstValue("x-routewise-router").orElseThrow());
        assertTrue(h.headers().firstValue("x-routewise-model").orElseThrow().startsWith("strong"));
        assertTrue(h.body().contains("hello from strong"));
        HttpResponse<String> e = p.chat("router-" + router + "-" + alpha, EASY);
        assertTrue(e.headers().firstValue("x-routewise-model").orElseThrow().startsWith("weak"));
        assertTrue(e.body().contains("hello from weak"));
      }
      assertTrue(p.get("/v1/models").body().contains("router-sw_ranking-"));
      // each prompt was embedded once and then answered from the shared cache, for both routers
      String metrics = p.get("/metrics").body();
      double hits = metricValue(metrics, "routewise_embedding_cache_hits_total{model=\"all-minilm-l6-v2-q\"}");
      assertTrue(hits >= 6, metrics);
      assertTrue(metrics.contains("routewise_embedding_cache_entries{model=\"all-minilm-l6-v2-q\"}"), metrics);
    }
  }

  @Test
  void withThreeUpstreamsTheLearnedRoutersScoreEachAndSendHardPromptsToTheTop() throws Exception {
    String yaml = """
        server: {host: 127.0.0.1, port: 0}
        upstreams:
          strong: {base_url: "http://127.0.0.1:9/v1", model: strong-model, price: {input: 5, output: 15}}
          mid: {base_url: "http://127.0.0.1:9/v1", model: served-as-mid, router_model: mid-model, price: {input: 1, output: 1}}
          weak: {base_url: "http://127.0.0.1:9/v1", model: weak-model, price: {input: 0.1, output: 0.1}}
        routers: {mf: {model_dir: "%s"}, sw_ranking: {model_dir: "%s"}, length: {}}
        """.formatted(mf, sw);
    try (Routewise r = Routewise.start(TestConfigs.config(yaml), RouterCatalog.standard(), embedders, () -> {})) {
      java.net.http.HttpClient http = java.net.http.HttpClient.newHttpClient();
      // routing.ladder_rule's default, auto: price-weighted for the routers that score each upstream
      assertEquals("threshold", route(http, r.port(), "length", "0.5", HARD).path("ladder_rule").asText());
      for (String router : List.of("mf", "sw_ranking")) {
        assertEquals("price_weighted", route(http, r.port(), router, "0.5", HARD).path("ladder_rule").asText());
        JsonNode hard = route(http, r.port(), router, "0.5", HARD);
        JsonNode easy = route(http, r.port(), router, "0.5", EASY);
        double h = hard.path("strong_win_rate").asDouble();
        double e = easy.path("strong_win_rate").asDouble();
        assertTrue(h > e, router + ": the top beats weak more often on the hard prompt: " + h + " vs " + e);
        String alpha = String.valueOf((h + e) / 2);
        JsonNode easyAtMid = route(http, r.port(), router, alpha, EASY);
        assertTrue(List.of("mid", "weak").contains(easyAtMid.path("upstream").asText()), easyAtMid.toString());
        assertEquals(easyAtMid.path("upstream").asText().equals("mid") ? "served-as-mid" : "weak-model",
            easyAtMid.path("model").asText(), "the model sent is the upstream's own, not its router_model");
        assertEquals("strong", route(http, r.port(), router, "0", HARD).path("upstream").asText());
        assertEquals("strong-model", route(http, r.port(), router, "0", HARD).path("model").asText());
        assertEquals("weak", route(http, r.port(), router, "1", EASY).path("upstream").asText());
      }
    }
  }

  @Test
  void anUpstreamNoLearnedRouterCanPlaceStopsTheStartNamingIt() {
    String yaml = """
        server: {host: 127.0.0.1, port: 0}
        upstreams:
          strong: {base_url: "http://127.0.0.1:9/v1", model: strong-model}
          mid: {base_url: "http://127.0.0.1:9/v1", model: gpt-4o-mini}
          weak: {base_url: "http://127.0.0.1:9/v1", model: weak-model}
        routers: {mf: {model_dir: "%s"}, length: {}}
        """.formatted(mf);
    ConfigException e = org.junit.jupiter.api.Assertions.assertThrows(ConfigException.class,
        () -> Routewise.start(TestConfigs.config(yaml), RouterCatalog.standard(), embedders, () -> {}).close());
    assertTrue(e.getMessage().contains("routers.mf: cannot load router: cannot place upstreams.mid (model 'gpt-4o-mini')"),
        e.getMessage());
    String known = e.getMessage().substring(e.getMessage().indexOf("set router_model on it to one of: "));
    for (String id : List.of("strong-model", "mid-model", "weak-model")) {
      assertTrue(known.contains(id), "lists the ids it knows: " + e.getMessage());
    }
  }

  private static JsonNode route(java.net.http.HttpClient http, int port, String router, String alpha, String prompt)
      throws Exception {
    HttpResponse<String> r = http.send(java.net.http.HttpRequest.newBuilder(
            java.net.URI.create("http://127.0.0.1:" + port + "/v1/route"))
        .POST(java.net.http.HttpRequest.BodyPublishers.ofString("{\"model\":\"router-" + router + "-" + alpha
            + "\",\"messages\":[{\"role\":\"user\",\"content\":\"" + prompt + "\"}]}")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(200, r.statusCode(), r.body());
    return JSON.readTree(r.body());
  }

  private static double metricValue(String scrape, String series) {
    return scrape.lines().filter(l -> l.startsWith(series + " ")).mapToDouble(l -> Double.parseDouble(l.substring(
        l.lastIndexOf(' ') + 1))).findFirst().orElseThrow(() -> new AssertionError(series + " missing in\n" + scrape));
  }

  private static double winRate(ProxyFixture p, String router, String prompt) throws Exception {
    HttpResponse<String> r = p.post("/v1/route", "{\"model\":\"router-" + router
        + "-0.5\",\"messages\":[{\"role\":\"user\",\"content\":\"" + prompt + "\"}]}");
    assertEquals(200, r.statusCode(), r.body());
    JsonNode n = JSON.readTree(r.body());
    assertEquals(router, n.path("router").asText());
    return n.path("strong_win_rate").asDouble();
  }

  @Test
  void scoreWritesOneWinRatePerPromptAndCalibrateSplitsThemAtTheAskedShare() throws Exception {
    Path scores = tmp.resolve("scores.jsonl");
    Run s = run(List.of("score", "--embedding-model", MINILM, "--router", "mf=" + mf, "--input", PROMPTS.toString(), "--output", scores.toString(),
        "--strong-model", "strong-model", "--weak-model", "weak-model", "--quiet"));
    assertEquals(0, s.code, s.err);
    List<String> lines = Files.readAllLines(scores);
    assertEquals(4, lines.size());
    double[] values = new double[4];
    for (int i = 0; i < 4; i++) {
      JsonNode n = JSON.readTree(lines.get(i));
      assertEquals("p" + i, n.path("id").asText());
      values[i] = n.path("score").asDouble();
      assertTrue(values[i] >= 0 && values[i] <= 1);
    }
    assertTrue(values[1] > values[0], "the proof prompt scores above the capital question");

    Run c = run(List.of("calibrate", "--embedding-model", MINILM, "--router", "mf=" + mf, "--input", PROMPTS.toString(), "--strong-percent", "50",
        "--strong-model", "strong-model", "--weak-model", "weak-model", "--quiet"));
    assertEquals(0, c.code, c.err);
    var m = java.util.regex.Pattern.compile("threshold = ([0-9.]+)").matcher(c.out);
    assertTrue(m.find(), c.out);
    double alpha = Double.parseDouble(m.group(1));
    long strong = java.util.Arrays.stream(values).filter(v -> v >= alpha - 1e-5).count();
    assertEquals(2, strong, "half of 4 prompts at α " + alpha + " over " + java.util.Arrays.toString(values));
    assertTrue(c.out.contains("router-mf-"), c.out);
  }

  @Test
  void scoreRefusesAModelIdTheRouterWasNotTrainedOn() {
    Run s = run(List.of("score", "--embedding-model", MINILM, "--router", "mf=" + mf, "--input", PROMPTS.toString(), "--output",
        tmp.resolve("typo.jsonl").toString(), "--strong-model", "strong-modle", "--quiet"));
    assertTrue(s.code != 0, "a typo must not silently score the default pair");
    assertTrue((s.out + s.err).contains("strong_model 'strong-modle' is not a model"), s.err);
  }

  @Test
  void scoreAndCalibrateWithAConfigRefuseTheEmbeddingAndRouterProblemsServeRefuses() throws Exception {
    // serve stops on these two; score and calibrate had dropped them and scored under the default
    // 128-token budget: a threshold calibrated for an embedding serve never runs
    Path config = tmp.resolve("embedding-typos.yaml");
    Files.writeString(config, TestConfigs.yaml("http://127.0.0.1:9/v1", "http://127.0.0.1:9/v1",
        "embedding: {model: " + MINILM + ", max_token: 256, truncation: tail}\n"
            + "routers: {mf: {model_dir: \"" + mf + "\"}}"));
    Run serve = run(List.of("serve", "--config", config.toString()));
    assertTrue(serve.code != 0 && serve.err.contains("embedding.max_token") && serve.err.contains("embedding.truncation"),
        serve.err);
    Run score = run(List.of("score", "--config", config.toString(), "--router", "mf", "--input", PROMPTS.toString(),
        "--output", tmp.resolve("typos.jsonl").toString(), "--quiet"));
    assertTrue(score.code != 0, "score ran on an embedding: section serve refuses: " + score.out + score.err);
    assertTrue(score.err.contains("embedding.max_token") && score.err.contains("embedding.truncation"), score.err);
    Run calibrate = run(List.of("calibrate", "--config", config.toString(), "--router", "mf", "--input",
        PROMPTS.toString(), "--strong-percent", "50", "--quiet"));
    assertTrue(calibrate.code != 0 && calibrate.err.contains("embedding.max_token"), calibrate.out + calibrate.err);

    // the router's entry written as its directory: serve refuses it, score had scored the default models/mf
    Files.writeString(config, TestConfigs.yaml("http://127.0.0.1:9/v1", "http://127.0.0.1:9/v1",
        "routers: {mf: \"" + mf + "\"}"));
    serve = run(List.of("serve", "--config", config.toString()));
    assertTrue(serve.code != 0 && serve.err.contains("routers.mf: must be a mapping"), serve.err);
    score = run(List.of("score", "--config", config.toString(), "--router", "mf", "--input", PROMPTS.toString(),
        "--output", tmp.resolve("unmapped.jsonl").toString(), "--quiet"));
    assertTrue(score.code != 0 && score.err.contains("routers.mf: must be a mapping"), score.out + score.err);

    // --embedding-model replaces the section's model, which is then not looked for under --models-dir
    Files.writeString(config, TestConfigs.yaml("http://127.0.0.1:9/v1", "http://127.0.0.1:9/v1",
        "embedding: {model: minilm-l6-static, max_tokens: 128}"));
    Run replaced = run(List.of("score", "--config", config.toString(), "--models-dir", tmp.toString(),
        "--embedding-model", MINILM, "--router", "mf=" + mf, "--input", PROMPTS.toString(),
        "--output", tmp.resolve("replaced.jsonl").toString(), "--quiet"));
    assertEquals(0, replaced.code, replaced.err);
  }

  @Test
  void evalPrintsApgrBesideTheRandomBaselineAndDrawsThePlot() throws Exception {
    Path plot = tmp.resolve("curve.png");
    Run e = run(List.of("eval", "--embedding-model", MINILM, "--router", "mf=" + mf, "--router", "length", "--bench", OUTCOMES.toString(),
        "--strong", "strong-model", "--weak", "weak-model", "--plot", plot.toString(), "--quiet"));
    assertEquals(0, e.code, e.err);
    assertTrue(e.out.contains("random (mean of 10)"), e.out);
    var row = java.util.regex.Pattern.compile("\\| mf=\\S+\\s*\\|\\s*([0-9.]+)").matcher(e.out);
    assertTrue(row.find(), e.out);
    assertTrue(Double.parseDouble(row.group(1)) > 0.62, e.out);
    byte[] png = Files.readAllBytes(plot);
    assertTrue(png.length > 1000 && png[1] == 'P' && png[2] == 'N' && png[3] == 'G');
  }

  @Test
  void evalWithPricesDrawsEachRoutersCostQualityCurveBesideTheHullOfSingleModels() throws Exception {
    Path plot = tmp.resolve("cost.png");
    Run e = run(List.of("eval", "--embedding-model", MINILM, "--router", "mf=" + mf, "--router", "sw_ranking=" + sw, "--bench", OUTCOMES.toString(),
        "--prices", "src/test/resources/fixtures/synthetic-prices.json", "--strong", "strong-model", "--weak", "weak-model",
        "--models", "mid-model", "--ids", "synthetic/1[2-5][0-9]", "--plot", plot.toString(), "--quiet"));
    assertEquals(0, e.code, e.err);
    assertTrue(e.out.contains("3 models (n=40)"), "only the held-out source: " + e.out);
    assertTrue(e.out.contains("300 output tokens (assumed, every model)"), e.out);
    double hull = meanQuality(e.out, "convex hull of single models");
    double random = meanQuality(e.out, "random (mean of 10)");
    double learned = meanQuality(e.out, "mf=" + mf);
    assertTrue(random < hull, "random mixes models no better than the hull: " + e.out);
    assertTrue(learned > hull, "on a learnable set mf routes above the hull: " + e.out);
    meanQuality(e.out, "sw_ranking=" + sw);
    meanQuality(e.out, "length");
    byte[] png = Files.readAllBytes(plot);
    assertTrue(png.length > 1000 && png[1] == 'P' && png[2] == 'N' && png[3] == 'G');

    assertTrue(e.out.contains("ladder rule auto (price_weighted for routers that score each model and the oracle, "
        + "threshold for the others)"), e.out);

    Run weighted = run(List.of("eval", "--embedding-model", MINILM, "--router", "mf=" + mf, "--bench", OUTCOMES.toString(),
        "--prices", "src/test/resources/fixtures/synthetic-prices.json", "--strong", "strong-model", "--weak", "weak-model",
        "--models", "mid-model", "--ids", "synthetic/1[2-5][0-9]", "--rule", "price_weighted", "--quiet",
        "--scores-dir", tmp.resolve("ladder-scores").toString()));
    assertEquals(0, weighted.code, weighted.err);
    assertTrue(weighted.out.contains("ladder rule price_weighted"), weighted.out);
    Run thresholded = run(List.of("eval", "--embedding-model", MINILM, "--router", "mf=" + mf, "--bench", OUTCOMES.toString(),
        "--prices", "src/test/resources/fixtures/synthetic-prices.json", "--strong", "strong-model", "--weak", "weak-model",
        "--models", "mid-model", "--ids", "synthetic/1[2-5][0-9]", "--rule", "threshold", "--quiet"));
    assertEquals(0, thresholded.code, thresholded.err);
    assertTrue(thresholded.out.lines().anyMatch(l -> l.endsWith("; ladder rule threshold")), thresholded.out);
    // auto: mf, which scores each model, under the price-weighted rule; length, one score, under threshold
    assertEquals(meanQuality(weighted.out, "mf=" + mf), learned, "auto gives mf the price-weighted rule");
    assertEquals(meanQuality(thresholded.out, "length"), meanQuality(e.out, "length"), "and length the threshold rule");
    assertEquals(meanQuality(weighted.out, "oracle (outcomes as win rates)"),
        meanQuality(e.out, "oracle (outcomes as win rates)"));
    // --scores-dir on a ladder: each prompt's raw P(top beats rung), cost and outcome per rung, ladder order
    Map<String, JsonNode> bench = new java.util.HashMap<>();
    for (String line : Files.readAllLines(OUTCOMES)) {
      JsonNode r = JSON.readTree(line);
      bench.put(r.get("id").asText(), r.get("outcomes"));
    }
    List<String> dumped = Files.readAllLines(tmp.resolve("ladder-scores").resolve(
        ("mf=" + mf).replaceAll("[^A-Za-z0-9._-]", "_") + ".jsonl"));
    assertEquals(40, dumped.size());
    boolean spread = false;
    for (String line : dumped) {
      JsonNode r = JSON.readTree(line);
      assertEquals("[\"strong-model\",\"mid-model\",\"weak-model\"]", r.get("models").toString());
      JsonNode rates = r.get("top_win_rates");
      JsonNode cost = r.get("cost_usd");
      assertEquals(0, rates.get(0).asDouble());
      for (int i = 0; i < 3; i++) {
        assertTrue(rates.get(i).asDouble() >= 0 && rates.get(i).asDouble() <= 1, line);
        assertEquals(bench.get(r.get("id").asText()).get(r.get("models").get(i).asText()).asDouble(),
            r.get("outcomes").get(i).asDouble(), line);
      }
      assertTrue(cost.get(0).asDouble() > cost.get(1).asDouble() && cost.get(1).asDouble() > cost.get(2).asDouble()
          && cost.get(2).asDouble() > 0, line);
      spread |= rates.get(1).asDouble() != rates.get(2).asDouble();
    }
    assertTrue(spread, "mf scores each rung on its own");
    assertEquals(hull, meanQuality(weighted.out, "convex hull of single models"), "the same models and costs");
    assertTrue(meanQuality(weighted.out, "length") != meanQuality(e.out, "length"),
        "the other rule routes the same rates differently: " + weighted.out);
    Run noPrices = run(List.of("eval", "--embedding-model", MINILM, "--router", "length", "--bench", OUTCOMES.toString(),
        "--strong", "strong-model", "--weak", "weak-model", "--rule", "price_weighted", "--quiet"));
    assertEquals(2, noPrices.code);
    assertTrue(noPrices.err.contains("it needs --prices"), noPrices.err);
    Run typo = run(List.of("eval", "--embedding-model", MINILM, "--router", "length", "--bench", OUTCOMES.toString(),
        "--strong", "strong-model", "--weak", "weak-model", "--rule", "cheapest", "--quiet"));
    assertEquals(2, typo.code);
    assertTrue(typo.err.contains("--rule must be one of [auto, threshold, price_weighted], got 'cheapest'"), typo.err);

    Run unknown = run(List.of("eval", "--embedding-model", MINILM, "--router", "mf=" + mf, "--bench", OUTCOMES.toString(),
        "--prices", "src/test/resources/fixtures/synthetic-prices.json", "--strong", "strong-model", "--weak", "weak-model",
        "--models", "mid-model,other-model", "--quiet"));
    assertEquals(2, unknown.code);
    assertTrue(unknown.err.contains("no price for other-model"), unknown.err);
  }

  private static double meanQuality(String table, String curve) {
    var m = java.util.regex.Pattern.compile("\\| " + java.util.regex.Pattern.quote(curve) + "\\s*\\|\\s*([0-9.]+) \\|")
        .matcher(table);
    assertTrue(m.find(), "no row for " + curve + " in\n" + table);
    return Double.parseDouble(m.group(1));
  }

  @Test
  void aCorruptOrMismatchedModelDirectoryStopsTheStartWithAClearMessage() throws Exception {
    Path broken = tmp.resolve("mf-truncated");
    Files.createDirectories(broken);
    for (Path f : Files.list(mf).toList()) {
      Files.copy(f, broken.resolve(f.getFileName()));
    }
    Files.write(broken.resolve("prompt_projection.f32"), new byte[12]);
    assertStartFails("mf: {model_dir: \"" + broken + "\"}", "prompt_projection");

    assertStartFails("mf: {model_dir: \"" + sw + "\"}", "kind is 'sw_ranking', expected 'mf'");
    assertStartFails("mf: {model_dir: \"" + tmp.resolve("nowhere") + "\"}", "model directory not found");
    assertStartFails("mf: {model_dir: \"" + mf + "\", strong_model: gpt-7}", "strong_model 'gpt-7' is not a model");
    assertStartFails("mf: {model_dir: \"" + mf + "\", strong_model: weak-model}", "both resolve to weak-model");

    Path badJson = tmp.resolve("sw-badjson");
    Files.createDirectories(badJson);
    Files.writeString(badJson.resolve("manifest.json"), "{not json");
    assertStartFails("sw_ranking: {model_dir: \"" + badJson + "\"}", "not valid JSON");
  }

  @Test
  void aModelTrainedUnderAnotherTokenBudgetIsNamedAtStart() throws Exception {
    io.routewise.routers.ModelDir md = io.routewise.routers.ModelDir.open(mf, "mf");
    assertTrue(md.inputRuleMismatch(embedders.get("all-minilm-l6-v2-q")).isEmpty(), "trained with the defaults");
    try (Embedders longer = new Embedders(EmbeddingSettings.defaults().withModel(EmbeddingModel.MINILM_L6_Q.id()).withMaxTokens(256))) {
      String warning = md.inputRuleMismatch(longer.get("all-minilm-l6-v2-q")).orElseThrow();
      assertTrue(warning.contains("128 tokens, head_tail") && warning.contains("256 tokens, head_tail"), warning);
    }
  }

  private static void assertStartFails(String routersYaml, String expected) {
    Executable start = () -> Routewise.start(TestConfigs.config(TestConfigs.yaml("http://127.0.0.1:9/v1",
        "http://127.0.0.1:9/v1", "routers: {" + routersYaml + "}")), RouterCatalog.standard(), embedders, () -> {})
        .close();
    ConfigException e = org.junit.jupiter.api.Assertions.assertThrows(ConfigException.class, start);
    assertTrue(e.getMessage().contains(expected), e.getMessage());
    assertTrue(e.getMessage().contains("routers."), "names the config path: " + e.getMessage());
  }

  record Run(int code, String out, String err) {}

  /** Runs the real CLI in-process, capturing what it prints. */
  static synchronized Run run(List<String> args) {
    PrintStream oldOut = System.out;
    PrintStream oldErr = System.err;
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    try {
      System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
      System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
      int code = Main.commandLine().execute(args.toArray(String[]::new));
      return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    } finally {
      System.setOut(oldOut);
      System.setErr(oldErr);
    }
  }

  private static List<String> concat(List<String> a, List<String> b) {
    return java.util.stream.Stream.concat(a.stream(), b.stream()).toList();
  }
}
