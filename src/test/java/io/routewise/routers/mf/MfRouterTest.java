package io.routewise.routers.mf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.routewise.embedding.Embedder;
import io.routewise.routing.Prompt;
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

  @Test
  void scoresEqualAHandComputedExample() {
    // P = [[3, 4], [1, 0]] -> normalized [[0.6, 0.8], [1, 0]]; W = [[1, 0], [0, 2]]; w = [1, 1]; e = [0.5, 0.5]
    // W e = [0.5, 1.0]; s(0) = 0.6*0.5 + 0.8*1.0 = 1.1; s(1) = 1*0.5 + 0 = 0.5
    MfModel m = new MfModel(2, 2, 2, new float[] {3, 4, 1, 0}, new float[] {1, 0, 0, 2}, new float[] {1, 1});
    float[] e = {0.5f, 0.5f};
    assertEquals(1.1, m.score(0, e), 1e-6);
    assertEquals(0.5, m.score(1, e), 1e-6);
    MfRouter r = new MfRouter(fixed(e), m, 0, 1, "a", "b");
    assertEquals(1 / (1 + Math.exp(-0.6)), r.strongWinRate(Prompt.of("anything")), 1e-6);
    MfRouter reversed = new MfRouter(fixed(e), m, 1, 0, "b", "a");
    assertEquals(1 / (1 + Math.exp(0.6)), reversed.strongWinRate(Prompt.of("anything")), 1e-6);
  }

  @Test
  void theFoldedPairVectorGivesTheSameDifferenceAsTheTwoScores() {
    java.util.Random rnd = new java.util.Random(1);
    int n = 5, k = 4, d = 6;
    float[] p = new float[n * k];
    float[] w = new float[k * d];
    float[] c = new float[k];
    for (int i = 0; i < p.length; i++) p[i] = (float) rnd.nextGaussian();
    for (int i = 0; i < w.length; i++) w[i] = (float) rnd.nextGaussian();
    for (int i = 0; i < c.length; i++) c[i] = (float) rnd.nextGaussian();
    MfModel m = new MfModel(n, k, d, p, w, c);
    float[] e = new float[d];
    for (int i = 0; i < d; i++) e[i] = (float) rnd.nextGaussian();
    float[] v = m.pairVector(3, 1);
    double dot = 0;
    for (int i = 0; i < d; i++) dot += v[i] * e[i];
    assertEquals(m.score(3, e) - m.score(1, e), dot, 1e-4);
  }

  private static MfModel randomModel(int n, int k, int d, long seed) {
    java.util.Random rnd = new java.util.Random(seed);
    float[] p = new float[n * k];
    float[] w = new float[k * d];
    float[] c = new float[k];
    for (int i = 0; i < p.length; i++) p[i] = (float) rnd.nextGaussian();
    for (int i = 0; i < w.length; i++) w[i] = (float) rnd.nextGaussian();
    for (int i = 0; i < c.length; i++) c[i] = (float) rnd.nextGaussian();
    return new MfModel(n, k, d, p, w, c);
  }

  @Test
  void aPairWinRateIsTheSigmoidOfTheTwoModelsScoreDifference() {
    MfModel m = randomModel(5, 4, 6, 2);
    float[] e = {0.3f, -1.2f, 0.5f, 0.9f, -0.1f, 2.0f};
    for (int a = 0; a < 5; a++) {
      for (int b = 0; b < 5; b++) {
        assertEquals(MfModel.sigmoid(m.score(a, e) - m.score(b, e)), m.pairWinRate(a, b, e), 1e-6);
      }
    }
    assertEquals(0.5, m.pairWinRate(3, 3, e), 0.0);
  }

  @Test
  void nWayScoresAreTheTopsPairWinRateOverTheModelPlacedForEachUpstream() throws Exception {
    MfModel m = randomModel(5, 4, 6, 3);
    float[] e = {0.3f, -1.2f, 0.5f, 0.9f, -0.1f, 2.0f};
    MfRouter r = new MfRouter(fixed(e), m, 4, 0, "e", "a", java.util.Map.of("strong", 4, "weak", 0, "mid", 2, "mini", 1));
    io.routewise.routing.Ladder ladder = new io.routewise.routing.Ladder(java.util.List.of(
        io.routewise.routing.Ladder.Rung.unpriced("strong", "x"), io.routewise.routing.Ladder.Rung.unpriced("mid", "x"),
        io.routewise.routing.Ladder.Rung.unpriced("mini", "x"), io.routewise.routing.Ladder.Rung.unpriced("weak", "x")));
    double[] rates = r.topWinRates(Prompt.of("q"), ladder);
    assertEquals(m.pairWinRate(4, 2, e), rates[1], 0.0);
    assertEquals(m.pairWinRate(4, 1, e), rates[2], 0.0);
    assertEquals(m.pairWinRate(4, 0, e), rates[3], 0.0);
    assertEquals(r.strongWinRate(Prompt.of("q")), rates[3], 1e-5, "the cheapest rung is the two-way pair");
    io.routewise.routing.Ladder unknown = new io.routewise.routing.Ladder(java.util.List.of(
        io.routewise.routing.Ladder.Rung.unpriced("strong", "x"), io.routewise.routing.Ladder.Rung.unpriced("other", "x")));
    io.routewise.routing.RouterException ex = org.junit.jupiter.api.Assertions.assertThrows(
        io.routewise.routing.RouterException.class, () -> r.topWinRates(Prompt.of("q"), unknown));
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
    MfModel m = new MfModel(2, 2, 2, new float[] {3, 4, 1, 0}, new float[] {1, 0, 0, 2}, new float[] {1, 1});
    MfRouter r = new MfRouter(new io.routewise.embedding.CachingEmbedder(counting, 16), m, 0, 1, "a", "b");
    assertTrue(Double.isNaN(r.cachedWinRate(Prompt.of("new prompt"))), "not cached yet: needs a scoring thread");
    assertEquals(0, embeds.get());
    double rate = r.strongWinRate(Prompt.of("new prompt"));
    assertEquals(rate, r.cachedWinRate(Prompt.of("new prompt")));
    assertEquals(1, embeds.get());
    assertTrue(Double.isNaN(new MfRouter(counting, m, 0, 1, "a", "b").cachedWinRate(Prompt.of("new prompt"))),
        "an embedder without a cache never answers from one");
  }
}
