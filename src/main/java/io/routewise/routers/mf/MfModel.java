package io.routewise.routers.mf;

/**
 * RouteLLM's matrix-factorization scorer generalized to N models: with a prompt embedding e (size
 * d), a projection W (k x d), model vectors P_m (size k) and a classifier w (size k),
 *
 * <pre>  s(m, q) = w . (normalize(P_m) * (W e))  </pre>
 *
 * and the strong model's win rate is {@code sigmoid(s(strong, q) - s(weak, q))}. Since s is linear in
 * e, the difference for a fixed pair folds into one vector {@code v = W^T (w * (P^_s - P^_w))}, so
 * a routing decision costs one dot product of size d after the embedding ({@link #pairVector}).
 *
 * <p>Arrays are row-major float32, as stored in the model directory. The weights are immutable after
 * construction; {@link #pairWinRate} keeps the folded vectors of the pairs it was asked for.
 */
public final class MfModel {
  private final int models;
  private final int k;
  private final int d;
  private final float[] p;
  private final float[] w;
  private final float[] classifier;
  private final java.util.concurrent.ConcurrentHashMap<Integer, float[]> pairs = new java.util.concurrent.ConcurrentHashMap<>();

  /**
   * @param p model vectors, models x k (normalized here, as the score does)
   * @param w projection, k x d
   * @param classifier k values
   */
  public MfModel(int models, int k, int d, float[] p, float[] w, float[] classifier) {
    if (p.length != models * k || w.length != k * d || classifier.length != k) {
      throw new IllegalArgumentException("inconsistent MF shapes");
    }
    this.models = models;
    this.k = k;
    this.d = d;
    this.p = normalizedRows(p, models, k);
    this.w = w;
    this.classifier = classifier;
  }

  static float[] normalizedRows(float[] m, int rows, int cols) {
    float[] out = m.clone();
    for (int r = 0; r < rows; r++) {
      double s = 0;
      for (int c = 0; c < cols; c++) {
        s += (double) out[r * cols + c] * out[r * cols + c];
      }
      double inv = s > 0 ? 1 / Math.sqrt(s) : 0;
      for (int c = 0; c < cols; c++) {
        out[r * cols + c] *= (float) inv;
      }
    }
    return out;
  }

  public int models() {
    return models;
  }

  public int dimension() {
    return d;
  }

  /** s(m, q) for embedding e, computed the long way (for training checks and tests). */
  public double score(int m, float[] e) {
    double s = 0;
    for (int i = 0; i < k; i++) {
      double h = 0;
      for (int j = 0; j < d; j++) {
        h += (double) w[i * d + j] * e[j];
      }
      s += classifier[i] * p[m * k + i] * h;
    }
    return s;
  }

  /** v such that {@code v . e = s(strong, q) - s(weak, q)}. */
  public float[] pairVector(int strong, int weak) {
    double[] c = new double[k];
    for (int i = 0; i < k; i++) {
      c[i] = classifier[i] * ((double) p[strong * k + i] - p[weak * k + i]);
    }
    float[] v = new float[d];
    for (int j = 0; j < d; j++) {
      double s = 0;
      for (int i = 0; i < k; i++) {
        s += c[i] * w[i * d + j];
      }
      v[j] = (float) s;
    }
    return v;
  }

  /**
   * The probability that trained model {@code a} answers better than model {@code b} on the prompt
   * embedded as {@code e}: {@code sigmoid(s(a, q) - s(b, q))}. The one way N-way routing reads this
   * model, so the model behind it can change. Thread-safe; each pair's difference is folded once
   * ({@link #pairVector}) and kept, so a call is one dot product of size d (a ladder has few pairs).
   */
  public double pairWinRate(int a, int b, float[] e) {
    float[] v = pairs.computeIfAbsent(a * models + b, key -> pairVector(a, b));
    double s = 0;
    for (int j = 0; j < d; j++) {
      s += v[j] * e[j];
    }
    return sigmoid(s);
  }

  public static double sigmoid(double x) {
    return 1 / (1 + Math.exp(-x));
  }
}
