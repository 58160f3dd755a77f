package io.routewise.routers.mf;

import io.routewise.routers.Dot;
import io.routewise.routers.LengthScale;

/**
 * The {@code mf} scorer: for every trained model m, the probability that it answers a prompt well,
 *
 * <pre>  p(m, q) = sigmoid(b_m + a_m . x(q)),   x(q) = [e, z, z^2, z * e, 1]  </pre>
 *
 * where e is the prompt's sentence embedding (size d) and z its standardized log length
 * ({@link LengthScale}). The vectors a_m come from a low-rank factorization learned over all models
 * at once ({@code a_m = v + W^T u_m}, see {@link MfTrainer}): models with few training prompts share
 * the structure the others taught. Length enters the model itself, and the {@code z * e} block lets
 * its effect depend on the topic.
 *
 * <p>The strong model's win rate over the weak one reads the two probabilities as independent
 * answers, a tie counting half: {@code P(strong better) + P(tie)/2 = 0.5 + 0.5 (p_s - p_w)}, plus two
 * priors scaled by the pair's mean gap {@code D = mean p_s - mean p_w}, so they only ever favour the
 * more capable model and vanish for equals:
 * <ul>
 *   <li>length: {@code lengthPrior * D * z}. Within one kind of task the longer prompt is usually
 *       the harder one, which the embedding cannot see.
 *   <li>capability gap: {@code gapPrior * D * g(q)}, g the standardized population gap
 *       {@code sum_m c_m p(m, q)} with {@code c_m} each model's centred mean probability: how much
 *       capable models beat weak ones on this kind of prompt, over every model the data has. It
 *       carries the task-type signal (math, code, reasoning need the strong model) to a named pair
 *       whose own outcomes never covered that kind of prompt.
 * </ul>
 * Bent into (0, 1) ({@code WinRates.bounded}), never clamped, so that α's two ends hold for every
 * prompt. The figures behind both priors are in BENCHMARKS.md.
 *
 * <p>Immutable; safe for concurrent use. Arrays are row-major float32, as stored.
 */
public final class MfModel {
  private final int models;
  private final int d;
  private final int f;
  private final float[] vectors;
  private final float[] bias;
  private final float[] meanP;
  private final LengthScale length;
  private final double lengthPrior;
  /** [v; W]: rank x f, or null when the model came folded (then the gap prior is off). */
  private final float[] projection;
  /** [1, u_m]: models x rank. */
  private final float[] factors;
  private final int rank;
  private final float[] capability;
  /** factors transposed (rank x models): every model's logit is an independent sum. */
  private final float[] factorsT;
  /**
   * The columns of [v; W] that multiply z, z^2 and 1, three a rank: read from the projection they
   * are two cache lines a rank, 66 scattered lines a decision, mostly cold inside the proxy.
   */
  private final float[] lengthColumns;
  private final double gapMean;
  private final double gapStd;
  private final double gapPrior;

  /**
   * A model given folded ({@code a_m} per model), without the capability-gap prior.
   *
   * @param vectors models x {@link #featureCount(int) featureCount(d)}
   * @param bias one per model
   * @param meanP each model's mean probability over the training prompts
   * @param lengthPrior the length prior's weight (0 = off)
   */
  public MfModel(int models, int d, float[] vectors, float[] bias, float[] meanP, LengthScale length,
      double lengthPrior) {
    this(models, d, vectors, bias, meanP, length, lengthPrior, null, null, 0, 0, 1, 0);
  }

  /**
   * A model given as its factors ({@code a_m = factors_m . projection}), with the capability-gap prior.
   *
   * @param projection rank x featureCount(d): the rows [v; W]
   * @param factors models x rank: the rows [1, u_m]
   * @param gapMean the raw gap's mean over the training prompts
   * @param gapStd its standard deviation there (> 0)
   */
  public MfModel(int models, int d, float[] projection, float[] factors, int rank, float[] bias, float[] meanP,
      LengthScale length, double lengthPrior, double gapMean, double gapStd, double gapPrior) {
    this(models, d, fold(models, featureCount(d), rank, projection, factors), bias, meanP, length, lengthPrior,
        projection, factors, rank, gapMean, gapStd, gapPrior);
  }

  private MfModel(int models, int d, float[] vectors, float[] bias, float[] meanP, LengthScale length,
      double lengthPrior, float[] projection, float[] factors, int rank, double gapMean, double gapStd,
      double gapPrior) {
    this.f = featureCount(d);
    if (vectors.length != models * f || bias.length != models || meanP.length != models) {
      throw new IllegalArgumentException("inconsistent mf shapes");
    }
    if (projection != null && (projection.length != rank * f || factors.length != models * rank || !(gapStd > 0))) {
      throw new IllegalArgumentException("inconsistent mf factor shapes or gap scale");
    }
    this.models = models;
    this.d = d;
    this.vectors = vectors;
    this.bias = bias;
    this.meanP = meanP;
    this.length = length;
    this.lengthPrior = lengthPrior;
    this.projection = projection;
    this.factors = factors;
    this.rank = rank;
    this.gapMean = gapMean;
    this.gapStd = gapStd;
    this.gapPrior = projection == null ? 0 : gapPrior;
    this.capability = capability(meanP);
    this.factorsT = factors == null ? null : transpose(factors, models, rank);
    this.lengthColumns = projection == null ? null : lengthColumns(projection, rank, d, f);
  }

  private static float[] lengthColumns(float[] projection, int rank, int d, int f) {
    float[] c = new float[3 * rank];
    for (int r = 0; r < rank; r++) {
      c[3 * r] = projection[r * f + d];
      c[3 * r + 1] = projection[r * f + d + 1];
      c[3 * r + 2] = projection[r * f + 2 * d + 2];
    }
    return c;
  }

  private static float[] transpose(float[] a, int rows, int cols) {
    float[] t = new float[a.length];
    for (int i = 0; i < rows; i++) {
      for (int j = 0; j < cols; j++) {
        t[j * rows + i] = a[i * cols + j];
      }
    }
    return t;
  }

  private static float[] fold(int models, int f, int rank, float[] projection, float[] factors) {
    float[] out = new float[models * f];
    for (int m = 0; m < models; m++) {
      for (int r = 0; r < rank; r++) {
        float u = factors[m * rank + r];
        int po = r * f;
        int oo = m * f;
        for (int j = 0; j < f; j++) {
          out[oo + j] += u * projection[po + j];
        }
      }
    }
    return out;
  }

  /** c_m: mean probabilities centred and scaled to sum |c| = 1 (all zero if the models are equal). */
  private static float[] capability(float[] meanP) {
    double mean = 0;
    for (float p : meanP) {
      mean += p / meanP.length;
    }
    double abs = 0;
    for (float p : meanP) {
      abs += Math.abs(p - mean);
    }
    float[] c = new float[meanP.length];
    for (int m = 0; m < c.length && abs > 0; m++) {
      c[m] = (float) ((meanP[m] - mean) / abs);
    }
    return c;
  }
  /** Features per prompt for an embedding of size d: e, z, z^2, z * e and a constant. */
  public static int featureCount(int d) {
    return 2 * d + 3;
  }

  /** x(q) for a prompt with embedding {@code e} and standardized log length {@code z}. */
  public static float[] features(float[] e, double z) {
    int d = e.length;
    float[] x = new float[featureCount(d)];
    System.arraycopy(e, 0, x, 0, d);
    x[d] = (float) z;
    x[d + 1] = (float) (z * z);
    for (int j = 0; j < d; j++) {
      x[d + 2 + j] = (float) (e[j] * z);
    }
    x[2 * d + 2] = 1f;
    return x;
  }

  /** x(q) for {@code text} embedded as {@code e}. */
  public float[] features(float[] e, String text) {
    return features(e, length.z(text));
  }

  public int models() {
    return models;
  }

  public int dimension() {
    return d;
  }

  public LengthScale lengthScale() {
    return length;
  }

  public double lengthPrior() {
    return lengthPrior;
  }

  /** This model with another length prior weight (the {@code length_prior} setting). */
  public MfModel withLengthPrior(double prior) {
    return new MfModel(models, d, vectors, bias, meanP, length, prior, projection, factors, rank, gapMean, gapStd,
        gapPrior);
  }

  public double gapPrior() {
    return gapPrior;
  }

  /** Whether this model has its factors, so the capability-gap prior can be used. */
  public boolean hasGap() {
    return projection != null;
  }

  /** This model with another capability-gap prior weight (the {@code gap_prior} setting). */
  public MfModel withGapPrior(double prior) {
    return new MfModel(models, d, vectors, bias, meanP, length, lengthPrior, projection, factors, rank, gapMean,
        gapStd, prior);
  }

  /** The raw population gap {@code sum_m c_m p(m, q)}, from the factors: h = [v; W] x, then every model's logit from h. */
  public double rawGap(float[] x) {
    // h = [v; W] x, four rows at a time with two sums each: eight independent chains per pass
    // instead of one latency-bound accumulator per row.
    float[] h = new float[rank];
    int r = 0;
    for (; r + 3 < rank; r += 4) {
      int o0 = r * f;
      int o1 = o0 + f;
      int o2 = o1 + f;
      int o3 = o2 + f;
      float a0 = 0, a1 = 0, a2 = 0, a3 = 0, b0 = 0, b1 = 0, b2 = 0, b3 = 0;
      int j = 0;
      for (; j + 1 < f; j += 2) {
        float x0 = x[j];
        float x1 = x[j + 1];
        a0 += projection[o0 + j] * x0;
        b0 += projection[o0 + j + 1] * x1;
        a1 += projection[o1 + j] * x0;
        b1 += projection[o1 + j + 1] * x1;
        a2 += projection[o2 + j] * x0;
        b2 += projection[o2 + j + 1] * x1;
        a3 += projection[o3 + j] * x0;
        b3 += projection[o3 + j + 1] * x1;
      }
      for (; j < f; j++) {
        a0 += projection[o0 + j] * x[j];
        a1 += projection[o1 + j] * x[j];
        a2 += projection[o2 + j] * x[j];
        a3 += projection[o3 + j] * x[j];
      }
      h[r] = a0 + b0;
      h[r + 1] = a1 + b1;
      h[r + 2] = a2 + b2;
      h[r + 3] = a3 + b3;
    }
    for (; r < rank; r++) {
      h[r] = Dot.dot(projection, r * f, x, f);
    }
    return gapOf(h);
  }

  /**
   * The columns of [v; W] that multiply e and z e, stacked ({@code 2 rank x d}, row-major): folded
   * into a static table ({@code StaticEmbedder.fold}) they give {@link #rawGap(float[], double)} its
   * input for a few floats a token.
   */
  public float[] embeddingProjection() {
    float[] m = new float[2 * rank * d];
    for (int r = 0; r < rank; r++) {
      System.arraycopy(projection, r * f, m, r * d, d);
      System.arraycopy(projection, r * f + d + 2, m, (rank + r) * d, d);
    }
    return m;
  }

  /**
   * {@link #rawGap(float[])} from {@code A e} and {@code B e} ({@code ae}: the first {@code rank}
   * entries, {@code be}: the next, as {@link #embeddingProjection} stacks them) and z: the same h,
   * without the 2 rank x d product.
   */
  public double rawGap(float[] projected, double z) {
    float[] h = new float[rank];
    float zf = (float) z;
    float z2 = (float) (z * z);
    for (int r = 0; r < rank; r++) {
      int o = 3 * r;
      h[r] = projected[r] + zf * projected[rank + r] + lengthColumns[o] * zf + lengthColumns[o + 1] * z2
          + lengthColumns[o + 2];
    }
    return gapOf(h);
  }

  /** The standardized gap from {@link #rawGap(float[], double)}'s inputs (0 when the prior is off). */
  public double gap(float[] projected, double z) {
    return gapPrior == 0 ? 0 : (rawGap(projected, z) - gapMean) / gapStd;
  }

  /** sum_m c_m p(m, q) from h = [v; W] x. */
  private double gapOf(float[] h) {
    // Four ranks a pass: the logits are loaded and stored once for four (0.5x the time of one a pass).
    float[] logit = bias.clone();
    int r = 0;
    for (; r + 3 < rank; r += 4) {
      float h0 = h[r];
      float h1 = h[r + 1];
      float h2 = h[r + 2];
      float h3 = h[r + 3];
      int o0 = r * models;
      int o1 = o0 + models;
      int o2 = o1 + models;
      int o3 = o2 + models;
      for (int m = 0; m < models; m++) {
        logit[m] += factorsT[o0 + m] * h0 + factorsT[o1 + m] * h1 + factorsT[o2 + m] * h2 + factorsT[o3 + m] * h3;
      }
    }
    for (; r < rank; r++) {
      float hr = h[r];
      int off = r * models;
      for (int m = 0; m < models; m++) {
        logit[m] += factorsT[off + m] * hr;
      }
    }
    double s = 0;
    for (int m = 0; m < models; m++) {
      if (capability[m] != 0) {
        s += capability[m] * sigmoid(logit[m]);
      }
    }
    return s;
  }

  /** g(q): the standardized capability gap of the prompt with features x (0 when the prior is off). */
  public double gap(float[] x) {
    return gapPrior == 0 ? 0 : (rawGap(x) - gapMean) / gapStd;
  }

  /** p(m, q): the probability that model m answers the prompt with features x well. */
  public double probability(int m, float[] x) {
    return sigmoid(logit(m, x, x[d], x[d + 1]));
  }

  /**
   * {@code b_m + a_m . x} from e and z without building x ({@code x = [e, z, z^2, z e, 1]}): the
   * z e block is z times a dot with e. Building x cost more than both dot products (a 2 KB array a
   * prompt at d = 256). {@code e} may be x itself, whose first d entries are e.
   */
  private double logit(int m, float[] e, float z, float z2) {
    int o = m * f;
    return bias[m] + Dot.dot(vectors, o, e, d) + z * Dot.dot(vectors, o + d + 2, e, d)
        + vectors[o + d] * z + vectors[o + d + 1] * z2 + vectors[o + 2 * d + 2];
  }

  /**
   * The probability that trained model {@code a} answers better than model {@code b} on the prompt
   * with features {@code x}: {@code 0.5 + 0.5 (p_a - p_b)} plus the priors, kept inside (0, 1) ({@link
   * io.routewise.routers.WinRates#bounded}). The
   * one way routing reads this model (two-way and N-way alike).
   */
  public double pairWinRate(int a, int b, float[] x) {
    return pairWinRate(a, b, x, gap(x));
  }

  /** As {@link #pairWinRate(int, int, float[])} with the prompt's {@link #gap} already computed (N-way: once). */
  public double pairWinRate(int a, int b, float[] x, double gap) {
    return pairWinRate(a, b, x, x[d], x[d + 1], gap);
  }

  /**
   * As {@link #pairWinRate(int, int, float[], double)} from the embedding {@code e} and the
   * standardized log length {@code z} themselves: the same figure, without building x.
   */
  public double pairWinRate(int a, int b, float[] e, double z, double gap) {
    return pairWinRate(a, b, e, (float) z, (float) (z * z), gap); // as features() rounds them
  }

  private double pairWinRate(int a, int b, float[] e, float z, float z2, double gap) {
    double r = 0.5 + 0.5 * (sigmoid(logit(a, e, z, z2)) - sigmoid(logit(b, e, z, z2))
        + ((double) meanP[a] - meanP[b]) * (lengthPrior * z + gapPrior * gap));
    return io.routewise.routers.WinRates.bounded(r);
  }

  public double meanProbability(int m) {
    return meanP[m];
  }

  public static double sigmoid(double x) {
    return 1 / (1 + Math.exp(-x));
  }

  float[] vectors() {
    return vectors;
  }

  float[] projection() {
    return projection;
  }

  float[] factors() {
    return factors;
  }

  public int rank() {
    return rank;
  }

  double gapMean() {
    return gapMean;
  }

  double gapStd() {
    return gapStd;
  }

  float[] bias() {
    return bias;
  }

  float[] meanP() {
    return meanP;
  }
}
