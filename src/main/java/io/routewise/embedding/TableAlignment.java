package io.routewise.embedding;

import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.IntConsumer;

/**
 * Fits a static table's token vectors so that a text's mean of rows comes close to the sentence
 * model's own embedding of that text, over a corpus of prompts (Tokenlearn's idea, from the Model2Vec
 * authors). A token distilled alone ({@code [CLS] token [SEP]}) says what the token means by
 * itself; fitted on whole prompts, the rows also carry what the model reads from them in context.
 *
 * <ol>
 *   <li>a linear map {@code A}, least squares from the texts' mean rows to their embeddings (ridge
 *       1e-6 of the mean diagonal, for a corpus that leaves directions unused); every row becomes
 *       {@code row · A};
 *   <li>full-batch Adam on the rows of the tokens the corpus holds, minimizing the mean over texts of
 *       {@code |mean of rows - embedding|²} plus {@code l2 |row - row·A|²} per row (rows stay near
 *       the mapped ones); rows of tokens the corpus never shows keep {@code row · A}.
 * </ol>
 *
 * Deterministic: every sum runs in a fixed order (texts split into fixed blocks for the forward
 * pass, tokens for the gradient), whatever the thread count.
 */
public final class TableAlignment {
  private TableAlignment() {}

  /** Adam steps, learning rate, and the pull of each row toward its linearly mapped self. */
  public record Recipe(int steps, double learningRate, double l2) {
    public static final Recipe DEFAULT = new Recipe(100, 0.003, 1e-4);
  }

  /** Mean squared distance between texts' mean rows and their embeddings: before, after the map, after Adam. */
  public record Fit(float[] vectors, int dimension, double lossBefore, double lossMapped, double lossAfter) {}

  /**
   * Aligns {@code vectors} ({@code vocab x dim}, row-major) to {@code targets} (one embedding per
   * text, any dimension {@code out}); returns {@code vocab x out} vectors. {@code texts} are token
   * ids (repeats count); texts with no token are skipped.
   */
  public static Fit align(float[] vectors, int vocab, int dim, List<int[]> texts, List<float[]> targets, Recipe recipe,
      int threads, IntConsumer progress) {
    if (texts.size() != targets.size() || texts.isEmpty()) {
      throw new IllegalArgumentException("need one target per text, and some texts: " + texts.size() + " texts, "
          + targets.size() + " targets");
    }
    int out = targets.get(0).length;
    for (float[] t : targets) {
      if (t.length != out) {
        throw new IllegalArgumentException("targets of different sizes: " + out + " and " + t.length);
      }
    }
    Bags bags = Bags.of(texts, targets, vocab);
    int n = bags.size();
    if (n == 0) {
      throw new IllegalArgumentException("no text has a token: nothing to align on");
    }
    // 1. The linear map, from the normal equations.
    double[][] gram = new double[dim][dim];
    double[][] cross = new double[dim][out];
    double[] mean = new double[dim];
    for (int q = 0; q < n; q++) {
      java.util.Arrays.fill(mean, 0);
      for (int k = bags.start[q]; k < bags.start[q + 1]; k++) {
        int off = bags.token[k] * dim;
        double w = bags.weight[k];
        for (int d = 0; d < dim; d++) {
          mean[d] += w * vectors[off + d];
        }
      }
      float[] e = bags.target[q];
      for (int i = 0; i < dim; i++) {
        double mi = mean[i];
        double[] gi = gram[i];
        for (int j = i; j < dim; j++) {
          gi[j] += mi * mean[j];
        }
        double[] ci = cross[i];
        for (int j = 0; j < out; j++) {
          ci[j] += mi * e[j];
        }
      }
    }
    double trace = 0;
    for (int i = 0; i < dim; i++) {
      trace += gram[i][i];
      for (int j = 0; j < i; j++) {
        gram[i][j] = gram[j][i];
      }
    }
    for (int i = 0; i < dim; i++) {
      gram[i][i] += 1e-6 * trace / dim;
    }
    double[][] map = Cholesky.solve(gram, cross);
    float[] mapped = new float[vocab * out];
    for (int t = 0; t < vocab; t++) {
      int src = t * dim;
      int dst = t * out;
      for (int i = 0; i < dim; i++) {
        double v = vectors[src + i];
        if (v == 0) {
          continue;
        }
        double[] row = map[i];
        for (int j = 0; j < out; j++) {
          mapped[dst + j] += (float) (v * row[j]);
        }
      }
    }
    double before = dim == out ? loss(bags, vectors, out) : Double.NaN; // else another space
    // 2. Adam on the rows the corpus holds.
    float[] rows = mapped.clone();
    float[] m1 = new float[vocab * out];
    float[] m2 = new float[vocab * out];
    float[] residual = new float[n * out];
    double mappedLoss = Double.NaN;
    ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, threads));
    try {
      int blocks = 16;
      for (int step = 1; step <= recipe.steps(); step++) {
        List<Future<Double>> parts = new java.util.ArrayList<>();
        for (int b = 0; b < blocks; b++) {
          int from = (int) ((long) n * b / blocks);
          int to = (int) ((long) n * (b + 1) / blocks);
          parts.add(pool.submit(() -> residuals(bags, rows, out, from, to, residual)));
        }
        double sq = 0;
        for (Future<Double> p : parts) {
          sq += p.get();
        }
        if (step == 1) {
          mappedLoss = sq / n;
        }
        double b1 = 1 - Math.pow(0.9, step);
        double b2 = 1 - Math.pow(0.999, step);
        List<Future<?>> updates = new java.util.ArrayList<>();
        for (int b = 0; b < blocks; b++) {
          int from = (int) ((long) bags.tokens.length * b / blocks);
          int to = (int) ((long) bags.tokens.length * (b + 1) / blocks);
          updates.add(pool.submit(() -> adam(bags, rows, mapped, m1, m2, residual, out, from, to, n, recipe, b1, b2)));
        }
        for (Future<?> u : updates) {
          u.get();
        }
        progress.accept(step);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    } catch (ExecutionException e) {
      throw new IllegalStateException(e.getCause());
    } finally {
      pool.shutdownNow();
    }
    double after = loss(bags, rows, out);
    return new Fit(rows, out, before, recipe.steps() > 0 ? mappedLoss : after, after);
  }

  /** Residuals {@code mean of rows - target} of texts {@code [from, to)}; their squared sum. */
  private static double residuals(Bags bags, float[] rows, int out, int from, int to, float[] residual) {
    double sq = 0;
    for (int q = from; q < to; q++) {
      int r = q * out;
      float[] e = bags.target[q];
      for (int j = 0; j < out; j++) {
        residual[r + j] = -e[j];
      }
      for (int k = bags.start[q]; k < bags.start[q + 1]; k++) {
        int off = bags.token[k] * out;
        float w = bags.weight[k];
        for (int j = 0; j < out; j++) {
          residual[r + j] += w * rows[off + j];
        }
      }
      for (int j = 0; j < out; j++) {
        sq += (double) residual[r + j] * residual[r + j];
      }
    }
    return sq;
  }

  /** One Adam step on the rows of {@code bags.tokens[from, to)}. */
  private static void adam(Bags bags, float[] rows, float[] mapped, float[] m1, float[] m2, float[] residual, int out,
      int from, int to, int n, Recipe recipe, double b1, double b2) {
    float[] g = new float[out];
    float scale = 2f / n; // d/d row of the mean over texts of |residual|²
    float l2 = (float) (2 * recipe.l2());
    float lr = (float) recipe.learningRate();
    for (int i = from; i < to; i++) {
      int t = bags.tokens[i];
      java.util.Arrays.fill(g, 0);
      for (int k = bags.byTokenStart[i]; k < bags.byTokenStart[i + 1]; k++) {
        int r = bags.byTokenText[k] * out;
        float w = bags.byTokenWeight[k];
        for (int j = 0; j < out; j++) {
          g[j] += w * residual[r + j];
        }
      }
      int off = t * out;
      for (int j = 0; j < out; j++) {
        float gj = scale * g[j] + l2 * (rows[off + j] - mapped[off + j]);
        m1[off + j] = 0.9f * m1[off + j] + 0.1f * gj;
        m2[off + j] = 0.999f * m2[off + j] + 0.001f * gj * gj;
        rows[off + j] -= (float) (lr * (m1[off + j] / b1) / (Math.sqrt(m2[off + j] / b2) + 1e-8));
      }
    }
  }

  private static double loss(Bags bags, float[] rows, int out) {
    float[] residual = new float[bags.size() * out];
    return residuals(bags, rows, out, 0, bags.size(), residual) / bags.size();
  }

  /** The corpus as mean-of-tokens bags, by text and by token. */
  private static final class Bags {
    int[] start;
    int[] token;
    float[] weight;
    float[][] target;
    // The same entries grouped by token (ascending ids), for the gradient.
    int[] tokens;
    int[] byTokenStart;
    int[] byTokenText;
    float[] byTokenWeight;

    int size() {
      return target.length;
    }

    static Bags of(List<int[]> texts, List<float[]> targets, int vocab) {
      Bags b = new Bags();
      int[] count = new int[vocab];
      java.util.ArrayList<int[]> kept = new java.util.ArrayList<>();
      java.util.ArrayList<float[]> keptTargets = new java.util.ArrayList<>();
      int entries = 0;
      for (int i = 0; i < texts.size(); i++) {
        if (texts.get(i).length > 0) {
          kept.add(texts.get(i));
          keptTargets.add(targets.get(i));
        }
      }
      int n = kept.size();
      b.start = new int[n + 1];
      int[][] distinct = new int[n][];
      float[][] weights = new float[n][];
      for (int q = 0; q < n; q++) {
        int[] ids = kept.get(q);
        int[] sorted = ids.clone();
        java.util.Arrays.sort(sorted);
        int m = 0;
        int[] d = new int[sorted.length];
        float[] w = new float[sorted.length];
        for (int i = 0; i < sorted.length; i++) {
          if (i > 0 && sorted[i] == sorted[i - 1]) {
            w[m - 1] += 1f / ids.length;
          } else {
            d[m] = sorted[i];
            w[m++] = 1f / ids.length;
          }
        }
        distinct[q] = java.util.Arrays.copyOf(d, m);
        weights[q] = java.util.Arrays.copyOf(w, m);
        entries += m;
        b.start[q + 1] = entries;
      }
      b.token = new int[entries];
      b.weight = new float[entries];
      for (int q = 0; q < n; q++) {
        System.arraycopy(distinct[q], 0, b.token, b.start[q], distinct[q].length);
        System.arraycopy(weights[q], 0, b.weight, b.start[q], weights[q].length);
        for (int t : distinct[q]) {
          count[t]++;
        }
      }
      b.target = keptTargets.toArray(new float[0][]);
      int used = 0;
      for (int c : count) {
        used += c > 0 ? 1 : 0;
      }
      b.tokens = new int[used];
      b.byTokenStart = new int[used + 1];
      int[] slot = new int[vocab];
      for (int t = 0, i = 0; t < vocab; t++) {
        if (count[t] > 0) {
          b.tokens[i] = t;
          b.byTokenStart[i + 1] = b.byTokenStart[i] + count[t];
          slot[t] = b.byTokenStart[i];
          i++;
        }
      }
      b.byTokenText = new int[entries];
      b.byTokenWeight = new float[entries];
      for (int q = 0; q < n; q++) {
        for (int k = b.start[q]; k < b.start[q + 1]; k++) {
          int s = slot[b.token[k]]++;
          b.byTokenText[s] = q;
          b.byTokenWeight[s] = b.weight[k];
        }
      }
      return b;
    }
  }

  /** Solves {@code A X = B} for a symmetric positive-definite {@code A} (destroyed). */
  static final class Cholesky {
    static double[][] solve(double[][] a, double[][] rhs) {
      int n = a.length;
      for (int j = 0; j < n; j++) {
        double s = a[j][j];
        for (int k = 0; k < j; k++) {
          s -= a[j][k] * a[j][k];
        }
        if (!(s > 0)) {
          throw new IllegalArgumentException("the corpus's Gram matrix is not positive definite (column " + j + ")");
        }
        double l = Math.sqrt(s);
        a[j][j] = l;
        for (int i = j + 1; i < n; i++) {
          double t = a[i][j];
          for (int k = 0; k < j; k++) {
            t -= a[i][k] * a[j][k];
          }
          a[i][j] = t / l;
        }
      }
      int m = rhs[0].length;
      double[][] x = new double[n][];
      for (int i = 0; i < n; i++) {
        x[i] = rhs[i].clone();
      }
      for (int c = 0; c < m; c++) {
        for (int i = 0; i < n; i++) { // L y = b
          double t = x[i][c];
          for (int k = 0; k < i; k++) {
            t -= a[i][k] * x[k][c];
          }
          x[i][c] = t / a[i][i];
        }
        for (int i = n - 1; i >= 0; i--) { // L^T x = y
          double t = x[i][c];
          for (int k = i + 1; k < n; k++) {
            t -= a[k][i] * x[k][c];
          }
          x[i][c] = t / a[i][i];
        }
      }
      return x;
    }
  }
}
