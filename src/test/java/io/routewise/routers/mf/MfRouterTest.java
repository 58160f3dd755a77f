package io.routewise.routers.mf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.routewise.embedding.Embedder;
import io.routewise.routers.LengthScale;
import io.routewise.routing.Ladder;
import io.routewise.routing.Prompt;
import io.routewise.routing.RouterException;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

class MfRouterTest {

  /** A fixed embedding: the router's dependency, not what is under test. */
  static Embedder fixed(float... v) {
    return new Embedder() {
      @Override
      public float[] embed(String text) {
        return v;
      }

      @Override
      public int dimension() {
        return v.length;
      }

      @Override
      public String modelId() {
        return "fixed";
      }
    };
  }

  /** ln(1 + chars) has mean ln(11) and std 1: a 10-character prompt has z = 0. */
  static final LengthScale SCALE = new LengthScale(Math.log(11), 1);

  private static MfModel randomModel(int n, int d, long seed, double prior) {
    Random rnd = new Random(seed);
    int f = MfModel.featureCount(d);
    float[] v = new float[n * f];
    float[] b = new float[n];
    float[] mean = new float[n];
    for (int i = 0; i < v.length; i++) v[i] = (float) rnd.nextGaussian();
    for (int i = 0; i < n; i++) {
      b[i] = (float) rnd.nextGaussian();
      mean[i] = (float) rnd.nextDouble();
    }
    return new MfModel(n, d, v, b, mean, SCALE, prior);
  }

  @Test
  void featuresAreTheEmbeddingTheLengthItsSquareTheirProductAndAConstant() {
    float[] x = MfModel.features(new float[] {0.5f, -1f}, 2.0);
    assertEquals(List.of(0.5f, -1f, 2f, 4f, 1f, -2f, 1f), toList(x));
  }

  @Test
  void aWinRateEqualsAHandComputedExample() {
    // two models, d = 1: x = [e, z, z^2, z e, 1]; model 0 = [2, 0, 0, 0, 0], model 1 = [0, 0, 0, 0, 0]
    // e = 0.5 and a 10-character prompt (z = 0): p0 = sigmoid(1 + 2*0.5) = sigmoid(2), p1 = sigmoid(0) = 0.5
    MfModel m = new MfModel(2, 1, new float[] {2, 0, 0, 0, 0, 0, 0, 0, 0, 0}, new float[] {1, 0},
        new float[] {0.8f, 0.3f}, SCALE, 0);
    MfRouter r = new MfRouter(fixed(0.5f), m, 0, 1, "a", "b");
    double p0 = MfModel.sigmoid(2);
    assertEquals(0.5 + 0.5 * (p0 - 0.5), r.strongWinRate(Prompt.of("0123456789")), 1e-6);
    MfRouter reversed = new MfRouter(fixed(0.5f), m, 1, 0, "b", "a");
    assertEquals(0.5 - 0.5 * (p0 - 0.5), reversed.strongWinRate(Prompt.of("0123456789")), 1e-6);
  }

  @Test
  void theLengthPriorFavoursTheStrongerModelOnLongerPromptsInProportionToItsMeanGap() {
    // the two models score every prompt alike: only the prior moves the win rate
    MfModel flat = new MfModel(2, 1, new float[10], new float[2], new float[] {0.8f, 0.3f}, SCALE, 1.0);
    String tenChars = "0123456789";
    String longer = "x".repeat((int) Math.round(11 * Math.E) - 1); // z = 1
    MfRouter r = new MfRouter(fixed(0f), flat, 0, 1, "a", "b");
    assertEquals(0.5, r.strongWinRate(Prompt.of(tenChars)), 1e-6);
    assertEquals(0.5 + 0.5 * 0.5 * 1.0, r.strongWinRate(Prompt.of(longer)), 1e-3, "prior * (0.8 - 0.3) * z / 2");
    MfRouter off = new MfRouter(fixed(0f), flat.withLengthPrior(0), 0, 1, "a", "b");
    assertEquals(0.5, off.strongWinRate(Prompt.of(longer)), 1e-6);
    MfRouter steep = new MfRouter(fixed(0f), flat.withLengthPrior(10), 0, 1, "a", "b");
    double far = steep.strongWinRate(Prompt.of("y".repeat(5000)));
    double further = steep.strongWinRate(Prompt.of("y".repeat(50000)));
    assertTrue(far > 0.99 && far < 1 && further > far && further < 1,
        "past 1 before the priors' bound, kept below it and still ordered: " + far + ", " + further);
    assertEquals(io.routewise.routing.Route.WEAK, io.routewise.routing.ThresholdRule.route(further, 1.0),
        "so α = 1 sends even these to the weak model (a clamp to 1 kept them strong)");
  }

  @Test
  void aRatePastTheBoundsBendsInsideThemContinuouslyAndInOrder() {
    assertEquals(0.5, io.routewise.routers.WinRates.bounded(0.5), 0.0);
    assertEquals(0.99, io.routewise.routers.WinRates.bounded(0.99), 0.0, "unchanged up to the bend");
    assertEquals(0.01, io.routewise.routers.WinRates.bounded(0.01), 0.0);
    double prev = -1;
    for (double r = -3; r <= 4; r += 0.0005) {
      double b = io.routewise.routers.WinRates.bounded(r);
      assertTrue(b > 0 && b < 1 && b > prev, r + " -> " + b);
      assertTrue(prev < 0 || b - prev <= 0.0005 + 1e-12, "continuous, never steeper than 1, at " + r);
      assertEquals(1.0, b + io.routewise.routers.WinRates.bounded(1 - r), 1e-12, "a pair's two rates still sum to 1");
      prev = b;
    }
    assertTrue(Double.isNaN(io.routewise.routers.WinRates.bounded(Double.NaN)));
  }

  @Test
  void aPairWinRateIsHalfPlusHalfTheProbabilityGapAndAModelTiesItself() {
    MfModel m = randomModel(5, 6, 2, 0);
    float[] x = MfModel.features(new float[] {0.3f, -1.2f, 0.5f, 0.9f, -0.1f, 2.0f}, 0.7);
    for (int a = 0; a < 5; a++) {
      for (int b = 0; b < 5; b++) {
        assertEquals(io.routewise.routers.WinRates.bounded(0.5 + 0.5 * (m.probability(a, x) - m.probability(b, x))),
            m.pairWinRate(a, b, x), 1e-9);
        assertEquals(1.0, m.pairWinRate(a, b, x) + m.pairWinRate(b, a, x), 1e-9);
      }
    }
    assertEquals(0.5, m.pairWinRate(3, 3, x), 0.0);
  }

  @Test
  void aProbabilityIsTheSigmoidOfTheBiasPlusTheVectorDotTheFeaturesWithoutBuildingThem() {
    int d = 6;
    MfModel m = randomModel(5, d, 4, 1.0); // the length prior on, so the e, z path carries it too
    float[] e = {0.3f, -1.2f, 0.5f, 0.9f, -0.1f, 2.0f};
    double z = -1.3;
    float[] x = MfModel.features(e, z);
    int f = MfModel.featureCount(d);
    for (int a = 0; a < 5; a++) {
      double logit = m.bias()[a];
      for (int j = 0; j < f; j++) {
        logit += (double) m.vectors()[a * f + j] * x[j]; // x = [e, z, z^2, z e, 1], written out
      }
      assertEquals(MfModel.sigmoid(logit), m.probability(a, x), 1e-6);
      for (int b = 0; b < 5; b++) {
        assertEquals(m.pairWinRate(a, b, x, 0.4), m.pairWinRate(a, b, e, z, 0.4), 0.0, "e and z give x's figure");
        double prior = (m.meanProbability(a) - m.meanProbability(b)) * (float) z; // length prior 1, no gap prior
        double expected = 0.5 + 0.5 * (m.probability(a, x) - m.probability(b, x) + prior);
        assertEquals(io.routewise.routers.WinRates.bounded(expected), m.pairWinRate(a, b, e, z, 0.4), 1e-9);
      }
    }
  }

  @Test
  void nWayScoresAreTheTopsPairWinRateOverTheModelPlacedForEachUpstream() throws Exception {
    MfModel m = randomModel(5, 6, 3, 1.0);
    float[] e = {0.3f, -1.2f, 0.5f, 0.9f, -0.1f, 2.0f};
    MfRouter r = new MfRouter(fixed(e), m, 4, 0, "e", "a", Map.of("strong", 4, "weak", 0, "mid", 2, "mini", 1));
    Ladder ladder = new Ladder(List.of(Ladder.Rung.unpriced("strong", "x"), Ladder.Rung.unpriced("mid", "x"),
        Ladder.Rung.unpriced("mini", "x"), Ladder.Rung.unpriced("weak", "x")));
    double[] rates = r.topWinRates(Prompt.of("q"), ladder);
    float[] x = m.features(e, "q");
    assertEquals(m.pairWinRate(4, 2, x), rates[1], 0.0);
    assertEquals(m.pairWinRate(4, 1, x), rates[2], 0.0);
    assertEquals(m.pairWinRate(4, 0, x), rates[3], 0.0);
    assertEquals(r.strongWinRate(Prompt.of("q")), rates[3], 1e-9, "the cheapest rung is the two-way pair");
    Ladder unknown = new Ladder(List.of(Ladder.Rung.unpriced("strong", "x"), Ladder.Rung.unpriced("other", "x")));
    RouterException ex = org.junit.jupiter.api.Assertions.assertThrows(RouterException.class,
        () -> r.topWinRates(Prompt.of("q"), unknown));
    assertEquals("unplaced_upstream", ex.kind());
  }

  @Test
  void aCachedEmbeddingIsScoredWithoutTheEmbedderAndAnUncachedOneIsNot() {
    java.util.concurrent.atomic.AtomicInteger embeds = new java.util.concurrent.atomic.AtomicInteger();
    Embedder counting = new Embedder() {
      @Override
      public float[] embed(String text) {
        embeds.incrementAndGet();
        return new float[] {0.5f, 0.5f};
      }

      @Override
      public int dimension() {
        return 2;
      }

      @Override
      public String modelId() {
        return "counting";
      }
    };
    MfModel m = randomModel(2, 2, 4, 1.0);
    MfRouter r = new MfRouter(new io.routewise.embedding.CachingEmbedder(counting, 16), m, 0, 1, "a", "b");
    assertTrue(Double.isNaN(r.cachedWinRate(Prompt.of("new prompt"))), "not cached yet: needs a scoring thread");
    assertEquals(0, embeds.get());
    double rate = r.strongWinRate(Prompt.of("new prompt"));
    assertEquals(rate, r.cachedWinRate(Prompt.of("new prompt")));
    assertEquals(1, embeds.get());
    assertTrue(Double.isNaN(new MfRouter(counting, m, 0, 1, "a", "b").cachedWinRate(Prompt.of("new prompt"))),
        "an embedder without a cache never answers from one");
  }

  private static List<Float> toList(float[] a) {
    List<Float> out = new java.util.ArrayList<>();
    for (float f : a) out.add(f);
    return out;
  }
}
