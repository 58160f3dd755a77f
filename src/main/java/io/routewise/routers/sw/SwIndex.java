package io.routewise.routers.sw;

/**
 * The similarity-weighted ranking index: one embedding per training prompt (a flat row-major
 * float matrix, prompts x d) and, per prompt, the win counts between model tiers on it (prompts x
 * tiers x tiers; {@code [p][i][j]} = wins of tier i over tier j, ties a half each way). Immutable.
 */
public final class SwIndex {
  final int prompts;
  final int d;
  final int tiers;
  final float[] embeddings;
  final float[] tierWins;

  public SwIndex(int prompts, int d, int tiers, float[] embeddings, float[] tierWins) {
    if (embeddings.length != prompts * d || tierWins.length != prompts * tiers * tiers) {
      throw new IllegalArgumentException("inconsistent index shapes");
    }
    this.prompts = prompts;
    this.d = d;
    this.tiers = tiers;
    this.embeddings = embeddings;
    this.tierWins = tierWins;
  }

  public int prompts() {
    return prompts;
  }

  public int tiers() {
    return tiers;
  }

  /**
   * RouteLLM's per-query ranking: weights {@code 10 * 10^(sim / max_sim)} over the stored prompts
   * (sim = cosine, the embeddings being unit vectors), weighted tier-pair win counts, a weighted
   * Bradley-Terry fit; returns the tiers' log-strengths.
   */
  public double[] tierStrengths(float[] query) {
    int n = prompts;
    float[] sims = new float[n];
    float maxSim = -Float.MAX_VALUE;
    for (int p = 0; p < n; p++) {
      int off = p * d;
      float s0 = 0;
      float s1 = 0;
      float s2 = 0;
      float s3 = 0;
      int j = 0;
      for (; j + 3 < d; j += 4) {
        s0 += embeddings[off + j] * query[j];
        s1 += embeddings[off + j + 1] * query[j + 1];
        s2 += embeddings[off + j + 2] * query[j + 2];
        s3 += embeddings[off + j + 3] * query[j + 3];
      }
      for (; j < d; j++) {
        s0 += embeddings[off + j] * query[j];
      }
      float s = (s0 + s1) + (s2 + s3);
      sims[p] = s;
      if (s > maxSim) {
        maxSim = s;
      }
    }
    double scale = Math.log(10) / Math.max(maxSim, 1e-6f);
    int tt = tiers * tiers;
    double[] wins = new double[tt];
    for (int p = 0; p < n; p++) {
      double w = 10 * Math.exp(sims[p] * scale);
      int off = p * tt;
      for (int k = 0; k < tt; k++) {
        wins[k] += w * tierWins[off + k];
      }
    }
    return BradleyTerry.fit(wins, tiers);
  }
}
