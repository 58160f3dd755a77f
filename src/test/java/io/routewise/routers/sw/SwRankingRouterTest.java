package io.routewise.routers.sw;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.routewise.config.ConfigNode;
import io.routewise.config.ConfigProblems;

import io.routewise.embedding.Embedder;
import io.routewise.routers.LengthScale;
import io.routewise.routers.ModelDir;
import io.routewise.routers.RouterContext;
import io.routewise.routing.Ladder;
import io.routewise.routing.Prompt;
import io.routewise.routing.Router;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SwRankingRouterTest {
  /** A 2-d embedder that puts every text at (1, 0). */
  private static final Embedder FIXED = new Embedder() {
    @Override
    public float[] embed(String text) {
      return new float[] {1, 0};
    }

    @Override
    public int dimension() {
      return 2;
    }

    @Override
    public String modelId() {
      return "fixed";
    }
  };

  static final LengthScale SCALE = new LengthScale(Math.log(11), 1);

  /** Two stored prompts e1 = [1, 0] and e2 = [0, 1]; three models' scores on each. */
  static SwIndex twoPrompts(double temperature) {
    return new SwIndex(2, 2, 3, new float[] {1, 0, 0, 1},
        new float[] {1.0f, 0.2f, 0.5f, /* p2 */ 0.4f, 0.4f, 0.1f},
        new float[] {0.7f, 0.3f, 0.3f}, SCALE, temperature);
  }

  @Test
  void equalsAHandComputedSimilarityWeightedAverage() {
    // query [1, 0]: sims 1 and 0 -> weights e^0 = 1 and e^(-1/0.5) = e^-2
    SwRankingRouter r = new SwRankingRouter(null, twoPrompts(0.5), 0, 1, 0, 0);
    double w2 = Math.exp(-2);
    double s0 = (1.0 + w2 * 0.4) / (1 + w2);
    double s1 = (0.2 + w2 * 0.4) / (1 + w2);
    assertEquals(0.5 + 0.5 * (s0 - s1), r.winRate(new float[] {1, 0}, "0123456789"), 1e-6);
    // query [0, 1]: the second prompt, where the two models tie, dominates
    double t0 = (w2 * 1.0 + 0.4) / (1 + w2);
    double t1 = (w2 * 0.2 + 0.4) / (1 + w2);
    assertEquals(0.5 + 0.5 * (t0 - t1), r.winRate(new float[] {0, 1}, "0123456789"), 1e-6);
  }

  @Test
  void aColdTemperatureListensOnlyToTheNearestPrompt() {
    SwRankingRouter r = new SwRankingRouter(null, twoPrompts(0.001), 0, 1, 0, 0);
    assertEquals(0.5 + 0.5 * (1.0 - 0.2), r.winRate(new float[] {1, 0}, "0123456789"), 1e-6);
  }

  @Test
  void theLengthPriorAddsThePairsMeanGapPerUnitOfZ() {
    SwRankingRouter none = new SwRankingRouter(null, twoPrompts(0.5), 0, 1, 0, 0);
    SwRankingRouter prior = new SwRankingRouter(null, twoPrompts(0.5), 0, 1, 0.5, 0);
    String longer = "x".repeat((int) Math.round(11 * Math.E) - 1); // z = 1
    double base = none.winRate(new float[] {0, 1}, longer);
    assertEquals(base + 0.5 * 0.5 * (0.7 - 0.3) * 1.0, prior.winRate(new float[] {0, 1}, longer), 1e-3);
    double z = Math.log(2) - Math.log(11);
    assertEquals(none.winRate(new float[] {0, 1}, "x") + 0.5 * 0.5 * (0.7 - 0.3) * z,
        prior.winRate(new float[] {0, 1}, "x"), 1e-6, "a short prompt is pulled the other way");
  }

  @Test
  void nWayScoresComeFromOneSweepOverTheModelsStandingForTheUpstreams() throws Exception {
    SwRankingRouter r = new SwRankingRouter(FIXED, twoPrompts(0.5), 0, 2, 1.0, 0,
        Map.of("strong", 0, "weak", 2, "mid", 1, "twin", 0));
    Ladder ladder = new Ladder(List.of(Ladder.Rung.unpriced("strong", "x"), Ladder.Rung.unpriced("twin", "x"),
        Ladder.Rung.unpriced("mid", "x"), Ladder.Rung.unpriced("weak", "x")));
    double[] rates = r.topWinRates(Prompt.of("0123456789"), ladder);
    assertEquals(0.5, rates[1], 1e-12, "the same model as the top: a coin flip");
    SwRankingRouter mid = new SwRankingRouter(null, twoPrompts(0.5), 0, 1, 1.0, 0);
    assertEquals(mid.winRate(new float[] {1, 0}, "0123456789"), rates[2], 1e-12);
    assertEquals(r.strongWinRate(Prompt.of("0123456789")), rates[3], 1e-12, "the cheapest rung is the two-way pair");
  }

  @Test
  void theGapPriorMovesTheWinRateTowardTheMoreCapableModelWhereCapableModelsWin() {
    // mean scores 0.7 / 0.3 / 0.3: c = (0.5, -0.25, -0.25); raw gaps 0.325 on prompt 1 (capable
    // models win there) and 0.075 on prompt 2, standardized +1 and -1. Pair 0 vs 2 (no clamping).
    SwRankingRouter none = new SwRankingRouter(null, twoPrompts(0.001), 0, 2, 0, 0);
    SwRankingRouter gap = new SwRankingRouter(null, twoPrompts(0.001), 0, 2, 0, 1.0);
    double lift1 = gap.winRate(new float[] {1, 0}, "0123456789") - none.winRate(new float[] {1, 0}, "0123456789");
    double lift2 = gap.winRate(new float[] {0, 1}, "0123456789") - none.winRate(new float[] {0, 1}, "0123456789");
    // two prompts standardized: gaps +1 and -1; the pair's mean gap 0.4 -> lift +-0.5 * 0.4 * 1
    assertEquals(0.2, lift1, 1e-4);
    assertEquals(-0.2, lift2, 1e-4);
    SwRankingRouter reversed = new SwRankingRouter(null, twoPrompts(0.001), 2, 0, 0, 1.0);
    assertEquals(1.0, gap.winRate(new float[] {1, 0}, "x") + reversed.winRate(new float[] {1, 0}, "x"), 1e-9,
        "the prior is antisymmetric: a pair read either way still sums to one");
  }

  /** Loads the sw_ranking directory {@code dir} as serve does, on a fixed 2-d embedder. */
  private static Router load(Path dir) throws IOException {
    Map<String, Object> settings = Map.of("model_dir", dir.toString(), "embedding_model", "fixed");
    return SwRankingRouter.create(new RouterContext(SwRankingRouter.NAME,
        new ConfigNode("routers.sw_ranking", settings, new ConfigProblems()), dir, id -> FIXED, null, null));
  }

  /** Read back as an infinite double. */
  private static final java.math.BigDecimal HUGE = new java.math.BigDecimal("1e999");

  /** A saved index's manifest, with each edit in turn: its load must stop naming the file and the key. */
  private static void assertEachEditStopsTheLoad(Path tmp, List<Consumer<ObjectNode>> edits, List<String> keys)
      throws Exception {
    ObjectNode m = ModelDir.newManifest(SwRankingRouter.KIND);
    m.putObject("embedding").put("model", "fixed").put("dimension", 2);
    m.putArray("models").add("a").add("b").add("c");
    m.put("default_strong", "a").put("default_weak", "c");
    Path dir = tmp.resolve("sw");
    SwTrainer.save(new SwTrainer.Result(twoPrompts(0.5), List.of("a", "b", "c"), 1.0, 0.5), dir, m);
    load(dir).close(); // as saved, it loads
    for (int i = 0; i < edits.size(); i++) {
      ObjectNode edited = m.deepCopy();
      edits.get(i).accept(edited);
      ModelDir.writeManifest(dir, edited);
      IOException e = assertThrows(IOException.class, () -> load(dir).close(), edited.toString());
      assertTrue(e.getMessage().contains(dir.resolve("manifest.json").toString()) && e.getMessage().contains(keys.get(i)),
          e.getMessage());
    }
  }

  /**
   * The manifest's priors are held to the [0, 10] of the settings they default: a hand-edited
   * gap_prior of -1 favoured the weaker model, silently.
   */
  @Test
  void aManifestPriorOutsideItsSettingsRangeStopsTheLoadNamingTheFileAndTheKey(@TempDir Path tmp) throws Exception {
    assertEachEditStopsTheLoad(tmp, List.of(
        e -> e.put("gap_prior", -1),
        e -> e.put("length_prior", 11),
        e -> e.put("length_prior", "1.0"),
        e -> e.put("gap_prior", HUGE)),
        List.of("\"gap_prior\"", "\"length_prior\"", "\"length_prior\"", "\"gap_prior\""));
  }

  /**
   * An infinite length mean was an IllegalArgumentException naming no file; an infinite length std
   * or temperature loaded, reading every prompt as of the mean length, or every stored prompt as near as the nearest.
   */
  @Test
  void aNonFiniteLengthScaleOrTemperatureStopsTheLoadNamingTheFile(@TempDir Path tmp) throws Exception {
    assertEachEditStopsTheLoad(tmp, List.of(
        e -> ((ObjectNode) e.get("length")).put("mean", HUGE),
        e -> ((ObjectNode) e.get("length")).put("std", HUGE),
        e -> e.put("temperature", HUGE)),
        List.of("\"length\"", "\"length\"", "\"temperature\""));
  }

  /**
   * "prompts" and "temperature" were read with asInt/asDouble: a quoted "0.5" loaded as that number,
   * true as a temperature of 1 (every stored prompt weighing nearly as much as the nearest) and a
   * "prompts" of 2.5 as 2, each without a word.
   */
  @Test
  void aPromptsOrTemperatureOfAnotherJsonTypeStopsTheLoadNamingTheFileAndTheKey(@TempDir Path tmp) throws Exception {
    assertEachEditStopsTheLoad(tmp, List.of(
        e -> e.put("temperature", "0.5"),
        e -> e.put("temperature", true),
        e -> e.put("prompts", "2"),
        e -> e.put("prompts", true),
        e -> e.put("prompts", 2.5)),
        List.of("\"temperature\"", "\"temperature\"", "\"prompts\"", "\"prompts\"", "\"prompts\""));
  }

  /**
   * Scores are in [0, 1] (training writes them so); a scores.f32 or mean_score.f32 holding other
   * values (a file of other weights, a hand-made index) loaded and routed every prompt to one side.
   */
  @Test
  void aScoreOutsideZeroToOneStopsTheLoadNamingItsFile(@TempDir Path tmp) throws Exception {
    ObjectNode m = ModelDir.newManifest(SwRankingRouter.KIND);
    m.putObject("embedding").put("model", "fixed").put("dimension", 2);
    m.putArray("models").add("a").add("b").add("c");
    m.put("default_strong", "a").put("default_weak", "c");
    SwIndex scores = new SwIndex(2, 2, 3, new float[] {1, 0, 0, 1}, new float[] {1.0f, 0.2f, 0.5f, 0.4f, 40f, 0.1f},
        new float[] {0.7f, 0.3f, 0.3f}, SCALE, 0.5);
    SwIndex means = new SwIndex(2, 2, 3, new float[] {1, 0, 0, 1}, new float[] {1.0f, 0.2f, 0.5f, 0.4f, 0.4f, 0.1f},
        new float[] {0.7f, -0.3f, 0.3f}, SCALE, 0.5);
    for (var c : List.of(Map.entry("scores.f32", scores), Map.entry("mean_score.f32", means))) {
      Path dir = tmp.resolve(c.getKey());
      SwTrainer.save(new SwTrainer.Result(c.getValue(), List.of("a", "b", "c"), 1.0, 0.5), dir, m.deepCopy());
      IOException e = assertThrows(IOException.class, () -> load(dir).close(), c.getKey());
      assertTrue(e.getMessage().contains(dir.resolve(c.getKey()).toString()) && e.getMessage().contains("[0, 1]"),
          e.getMessage());
    }
  }
}
