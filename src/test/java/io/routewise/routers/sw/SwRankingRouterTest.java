package io.routewise.routers.sw;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class SwRankingRouterTest {

  @Test
  void equalsAHandComputedWeightedBradleyTerryOnTwoTiers() {
    // prompts e1 = [1, 0], e2 = [0, 1]; query [1, 0]: sims 1 and 0, max 1 -> weights 10*10^1 = 100, 10*10^0 = 10.
    // p1: tier 0 beat tier 1 3 times, lost once; p2: won once, lost 4 times.
    // weighted wins: 0 over 1 = 300 + 10 = 310, 1 over 0 = 100 + 40 = 140 -> BT MLE: 310 / 450.
    SwIndex index = new SwIndex(2, 2, 2, new float[] {1, 0, 0, 1},
        new float[] {0, 3, 1, 0, /* p2 */ 0, 1, 4, 0});
    SwRankingRouter r = new SwRankingRouter(null, index, 0, 1);
    assertEquals(310.0 / 450.0, r.winRate(new float[] {1, 0}), 1e-4);
    // query [0, 1]: weights 10 and 100 -> 30 + 100 = 130 vs 10 + 400 = 410
    assertEquals(130.0 / 540.0, r.winRate(new float[] {0, 1}), 1e-4);
  }

  @Test
  void nWayScoresComeFromOneFitOfTheTiersStandingForTheUpstreams() throws Exception {
    // one stored prompt: tier 0 beats 1 and 2 often, 1 beats 2 sometimes
    SwIndex index = new SwIndex(1, 2, 3, new float[] {1, 0}, new float[] {0, 8, 9, 2, 0, 6, 1, 4, 0});
    SwRankingRouter r = new SwRankingRouter(null, index, 0, 2, java.util.Map.of("strong", 0, "weak", 2, "mid", 1, "twin", 0));
    double[] theta = index.tierStrengths(new float[] {1, 0});
    io.routewise.routing.Ladder ladder = new io.routewise.routing.Ladder(java.util.List.of(
        io.routewise.routing.Ladder.Rung.unpriced("strong", "x"), io.routewise.routing.Ladder.Rung.unpriced("twin", "x"),
        io.routewise.routing.Ladder.Rung.unpriced("mid", "x"), io.routewise.routing.Ladder.Rung.unpriced("weak", "x")));
    io.routewise.embedding.Embedder query = new io.routewise.embedding.Embedder() {
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
    SwRankingRouter embedded = new SwRankingRouter(query, index, 0, 2,
        java.util.Map.of("strong", 0, "weak", 2, "mid", 1, "twin", 0));
    double[] rates = embedded.topWinRates(io.routewise.routing.Prompt.of("q"), ladder);
    assertEquals(0.5, rates[1], 1e-12, "the same tier as the top: a coin flip");
    assertEquals(1 / (1 + Math.exp(theta[1] - theta[0])), rates[2], 1e-9);
    assertEquals(r.winRate(new float[] {1, 0}), rates[3], 1e-12, "the cheapest rung is the two-way pair");
  }

  @Test
  void recoversStrengthsThatExplainTheWinsExactlyOnThreeTiers() {
    // strengths 4 : 2 : 1, 30 games per pair, wins exactly as expected -> MLE returns those strengths
    double[] wins = {
        0, 20, 24,
        10, 0, 20,
        6, 10, 0};
    double[] theta = BradleyTerry.fit(wins, 3);
    assertEquals(4.0 / 5.0, 1 / (1 + Math.exp(theta[2] - theta[0])), 1e-4);
    assertEquals(2.0 / 3.0, 1 / (1 + Math.exp(theta[1] - theta[0])), 1e-4);
    assertEquals(BradleyTerry.eloWinRate(BradleyTerry.elo(theta[0]), BradleyTerry.elo(theta[2])),
        1 / (1 + Math.exp(theta[2] - theta[0])), 1e-9);
  }

  @Test
  void aTierThatNeverLosesStaysFinite() {
    double[] theta = BradleyTerry.fit(new double[] {0, 5, 0, 0}, 2);
    assertEquals(true, Double.isFinite(theta[0]) && theta[0] > theta[1]);
  }
}
