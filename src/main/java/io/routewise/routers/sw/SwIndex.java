package io.routewise.routers.sw;

import io.routewise.routers.LengthScale;

/**
 * The similarity-weighted index: one embedding per training prompt (prompts x d, unit vectors) and
 * every model's score on it (prompts x models, observed or completed, in [0, 1]). For a query, each
 * stored prompt weighs {@code exp((sim - max_sim) / temperature)}, so the nearest prompts count most
 * and a prompt 0.05 less similar than the nearest counts e^-1 as much at the default temperature;
 * a model's estimate is the weighted mean of its scores. Immutable.
 *
 * <p>Each stored prompt also carries its capability gap, {@code sum_m c_m score(p, m)} with
 * {@code c_m} the models' centred mean scores (sum |c| = 1), standardized over the stored prompts:
 * how much capable models beat weak ones there. Its weighted mean is the query's gap, the same
 * task-type prior {@code mf} uses ({@link io.routewise.routers.mf.MfModel}).
 */
public final class SwIndex {
  final int prompts;
  final int d;
  final int models;
  final float[] embeddings;
  final float[] scores;
  final float[] meanScore;
  final LengthScale length;
  final double temperature;
  private final float[] rowGap;

  public SwIndex(int prompts, int d, int models, float[] embeddings, float[] scores, float[] meanScore,
      LengthScale length, double temperature) {
    if (embeddings.length != prompts * d || scores.length != prompts * models || meanScore.length != models) {
      throw new IllegalArgumentException("inconsistent index shapes");
    }
    if (!(temperature > 0)) {
      throw new IllegalArgumentException("temperature must be positive: " + temperature);
    }
    this.prompts = prompts;
    this.d = d;
    this.models = models;
    this.embeddings = embeddings;
    this.scores = scores;
    this.meanScore = meanScore;
    this.length = length;
    this.temperature = temperature;
    this.rowGap = gaps(prompts, models, scores, meanScore);
  }

  private static float[] gaps(int prompts, int models, float[] scores, float[] meanScore) {
    double mean = 0;
    for (float s : meanScore) {
      mean += s / models;
    }
    double abs = 0;
    for (float s : meanScore) {
      abs += Math.abs(s - mean);
    }
    double[] c = new double[models];
    for (int m = 0; m < models && abs > 0; m++) {
      c[m] = (meanScore[m] - mean) / abs;
    }
    double[] raw = new double[prompts];
    double sum = 0;
    double sq = 0;
    for (int p = 0; p < prompts; p++) {
      double g = 0;
      for (int m = 0; m < models; m++) {
        g += c[m] * scores[p * models + m];
      }
      raw[p] = g;
      sum += g;
      sq += g * g;
    }
    double mu = sum / prompts;
    double sd = Math.sqrt(Math.max(sq / prompts - mu * mu, 1e-12));
    float[] out = new float[prompts];
    for (int p = 0; p < prompts; p++) {
      out[p] = (float) ((raw[p] - mu) / sd);
    }
    return out;
  }

  public int prompts() {
    return prompts;
  }

  public int models() {
    return models;
  }

  public LengthScale length() {
    return length;
  }

  public double meanScore(int m) {
    return meanScore[m];
  }

  /**
   * The similarity-weighted mean score of each of {@code rows} for the query embedding, and after
   * them (index {@code rows.length}) the weighted mean capability gap.
   */
  public double[] estimates(float[] query, int... rows) {
    int n = prompts;
    float[] sims = new float[n];
    float maxSim = -Float.MAX_VALUE;
    for (int p = 0; p < n; p++) {
      float s = io.routewise.routers.Dot.dot(embeddings, p * d, query, d);
      sims[p] = s;
      if (s > maxSim) {
        maxSim = s;
      }
    }
    double inv = 1 / temperature;
    double total = 0;
    double[] acc = new double[rows.length + 1];
    for (int p = 0; p < n; p++) {
      double x = (sims[p] - maxSim) * inv;
      if (x < -30) {
        continue; // e^-30: nothing a float sum would notice
      }
      double w = Math.exp(x);
      total += w;
      int off = p * models;
      for (int r = 0; r < rows.length; r++) {
        acc[r] += w * scores[off + rows[r]];
      }
      acc[rows.length] += w * rowGap[p];
    }
    for (int r = 0; r <= rows.length; r++) {
      acc[r] /= total;
    }
    return acc;
  }
}
