package io.routewise.embedding;

import java.util.Arrays;
import java.util.List;
import java.util.function.IntConsumer;
import java.util.regex.Pattern;

/**
 * Makes a {@link StaticTable} from a sentence-transformer (the Model2Vec recipe):
 *
 * <ol>
 *   <li>every token of the vocabulary goes through the model once, alone, as {@code [CLS] token
 *       [SEP]}, and its vector is the model's own pooling of that input (MiniLM: the mean of the three
 *       output states), not normalized;
 *   <li>PCA: the vectors are centred and rotated onto their principal axes, keeping the first
 *       {@code dimension} (fitted on the tokens a text can produce: not {@code [PAD]} or
 *       {@code [unusedN]});
 *   <li>a weight per token, so frequent tokens count less in a text's mean: SIF,
 *       {@code a / (a + p(token))}, with {@code p} from token counts over a corpus or, without one,
 *       from Zipf's law over the vocabulary's order;
 *   <li>optionally int8, one scale per dimension.
 * </ol>
 *
 * Deterministic: the forward passes run one token at a time on one thread (the int8 model
 * quantizes activations per input, so batching would change the vectors), and everything after is
 * plain double arithmetic in a fixed order.
 */
public final class StaticDistiller {
  private StaticDistiller() {}

  /** How a token's weight is chosen. */
  public enum Weighting {
    /** Every token counts the same. */
    NONE,
    /** SIF with Zipf's law over the vocabulary's order standing for frequencies (Model2Vec's default). */
    ZIPF,
    /** SIF with token frequencies counted over a corpus (add-one smoothed). */
    CORPUS;

    public String configName() {
      return name().toLowerCase();
    }
  }

  /** Tokens no text can produce through the tokenizer: left out of the PCA fit and the Zipf ranks. */
  private static final Pattern UNUSED = Pattern.compile("\\[unused\\d+]|\\[PAD]");

  public static boolean producible(WordPieceTokenizer tokenizer, int token) {
    String t = tokenizer.token(token);
    return t != null && !UNUSED.matcher(t).matches();
  }

  /** What to make: PCA dimension (0: none), weighting, SIF's {@code a}, int8 or float32. */
  public record Recipe(int dimension, Weighting weighting, double sifA, boolean int8) {}

  /**
   * The whole recipe over the model's token vectors ({@link #tokenVectors}): PCA, weights, int8, and
   * the table reading {@code budget} of a prompt. {@code corpus} gives the token counts of
   * {@link Weighting#CORPUS}, of the tokens the table will read. What was done, with the PCA's
   * explained variance, is added to {@code record} (the table manifest's {@code recipe}).
   */
  public static StaticTable distill(float[] tokenVectors, EmbeddingModel model, WordPieceTokenizer tokenizer,
      Recipe recipe, List<String> corpus, StaticTable.TokenBudget budget,
      com.fasterxml.jackson.databind.node.ObjectNode record) {
    int vocab = tokenizer.vocabSize();
    int d = model.dimension();
    com.fasterxml.jackson.databind.node.ObjectNode source = record.putObject("source");
    source.put("model", model.id());
    source.put("onnx", model.onnxResource());
    source.put("input", "[CLS] token [SEP], one token at a time, one thread");
    source.put("pooling", model.pooling().name().toLowerCase(java.util.Locale.ROOT) + " of the output states, not normalized");
    float[] vectors = tokenVectors;
    if (recipe.dimension() > 0) {
      boolean[] fit = fitRows(tokenizer);
      for (int t = 0; t < vocab; t++) {
        fit[t] &= !zero(tokenVectors, t, d);
      }
      Pca pca = pca(tokenVectors, vocab, d, fit);
      vectors = pca.project(tokenVectors, vocab, recipe.dimension());
      record.putObject("pca").put("dimension", recipe.dimension())
          .put("explained_variance", Math.round(pca.explained(recipe.dimension()) * 1e4) / 1e4)
          .put("fitted_on", "every token a text can produce (not [PAD] or [unusedN]), centred");
      d = recipe.dimension();
    } else {
      record.putObject("pca").put("dimension", 0);
    }
    com.fasterxml.jackson.databind.node.ObjectNode w = record.putObject("weighting");
    w.put("kind", recipe.weighting().configName());
    float[] weights = switch (recipe.weighting()) {
      case NONE -> unitWeights(tokenizer);
      case ZIPF -> sifWeights(tokenizer, null, recipe.sifA());
      case CORPUS -> {
        long[] counts = counts(tokenizer, corpus, budget); // p(token) among the tokens the table reads
        w.put("prompts", corpus.size()).put("tokens_counted", Arrays.stream(counts).sum())
            .put("counted", budget.describe() + " of each prompt");
        yield sifWeights(tokenizer, counts, recipe.sifA());
      }
    };
    if (recipe.weighting() != Weighting.NONE) {
      w.put("formula", "a / (a + p(token))").put("a", recipe.sifA());
    }
    StaticTable table = StaticTable.ofFloats(vocab, d, vectors, weights, model.id());
    record.put("quantization", recipe.int8() ? "int8, symmetric, one scale per dimension" : "none (float32)");
    return (recipe.int8() ? table.quantized() : table).withTokenBudget(budget);
  }

  private static boolean zero(float[] v, int row, int dim) {
    for (int i = row * dim; i < (row + 1) * dim; i++) {
      if (v[i] != 0) {
        return false;
      }
    }
    return true;
  }

  /**
   * The model's vector of each of {@code tokens} alone (vocab x model dimension, row-major; other
   * rows stay zero), pooled as the model pools a sentence, not normalized.
   *
   * @param tokens token ids to run, in order; null for the whole vocabulary
   * @param progress called after each token with the count done
   */
  public static float[] tokenVectors(OnnxEmbedder model, WordPieceTokenizer tokenizer, int[] tokens,
      IntConsumer progress) {
    int vocab = tokenizer.vocabSize();
    int dim = model.dimension();
    float[] out = new float[vocab * dim];
    int n = tokens == null ? vocab : tokens.length;
    for (int i = 0; i < n; i++) {
      int t = tokens == null ? i : tokens[i];
      float[][] states = model.states(new long[] {tokenizer.clsId(), t, tokenizer.sepId()});
      if (model.model().pooling() == EmbeddingModel.Pooling.CLS) {
        System.arraycopy(states[0], 0, out, t * dim, dim);
      } else {
        for (int d = 0; d < dim; d++) {
          double s = 0;
          for (float[] state : states) {
            s += state[d];
          }
          out[t * dim + d] = (float) (s / states.length);
        }
      }
      progress.accept(i + 1);
    }
    return out;
  }

  /** A fitted PCA: the mean and the principal axes (rows, largest variance first) with their variances. */
  public record Pca(double[] mean, double[][] axes, double[] variances, double totalVariance) {
    /** Share of the total variance the first {@code k} axes keep. */
    public double explained(int k) {
      double s = 0;
      for (int i = 0; i < k; i++) {
        s += variances[i];
      }
      return s / totalVariance;
    }

    /** {@code rows x dim} vectors centred and projected on the first {@code k} axes. */
    public float[] project(float[] vectors, int rows, int k) {
      int dim = mean.length;
      float[] out = new float[rows * k];
      double[] c = new double[dim];
      for (int r = 0; r < rows; r++) {
        for (int d = 0; d < dim; d++) {
          c[d] = vectors[r * dim + d] - mean[d];
        }
        for (int a = 0; a < k; a++) {
          double s = 0;
          double[] axis = axes[a];
          for (int d = 0; d < dim; d++) {
            s += axis[d] * c[d];
          }
          out[r * k + a] = (float) s;
        }
      }
      return out;
    }
  }

  /** PCA of the rows of {@code vectors} (rows x dim) for which {@code fit} is true. */
  public static Pca pca(float[] vectors, int rows, int dim, boolean[] fit) {
    double[] mean = new double[dim];
    int n = 0;
    for (int r = 0; r < rows; r++) {
      if (fit[r]) {
        n++;
        for (int d = 0; d < dim; d++) {
          mean[d] += vectors[r * dim + d];
        }
      }
    }
    for (int d = 0; d < dim; d++) {
      mean[d] /= n;
    }
    double[][] cov = new double[dim][dim];
    double[] c = new double[dim];
    for (int r = 0; r < rows; r++) {
      if (!fit[r]) {
        continue;
      }
      for (int d = 0; d < dim; d++) {
        c[d] = vectors[r * dim + d] - mean[d];
      }
      for (int i = 0; i < dim; i++) {
        double ci = c[i];
        double[] row = cov[i];
        for (int j = i; j < dim; j++) {
          row[j] += ci * c[j];
        }
      }
    }
    double total = 0;
    for (int i = 0; i < dim; i++) {
      for (int j = i; j < dim; j++) {
        cov[i][j] /= n - 1;
        cov[j][i] = cov[i][j];
      }
      total += cov[i][i];
    }
    double[][] vecs = new double[dim][dim];
    double[] vals = jacobi(cov, vecs);
    Integer[] order = new Integer[dim];
    for (int i = 0; i < dim; i++) {
      order[i] = i;
    }
    Arrays.sort(order, (a, b) -> Double.compare(vals[b], vals[a]));
    double[][] axes = new double[dim][dim];
    double[] variances = new double[dim];
    for (int k = 0; k < dim; k++) {
      int col = order[k];
      variances[k] = vals[col];
      int biggest = 0;
      for (int d = 0; d < dim; d++) {
        axes[k][d] = vecs[d][col];
        if (Math.abs(axes[k][d]) > Math.abs(axes[k][biggest])) {
          biggest = d;
        }
      }
      // An axis's sign is arbitrary: fix it (largest component positive) so the table is reproducible.
      if (axes[k][biggest] < 0) {
        for (int d = 0; d < dim; d++) {
          axes[k][d] = -axes[k][d];
        }
      }
    }
    return new Pca(mean, axes, variances, total);
  }

  /**
   * Eigenvalues of the symmetric matrix {@code a} (destroyed) by cyclic Jacobi rotations; the
   * eigenvectors go into the columns of {@code v}.
   */
  static double[] jacobi(double[][] a, double[][] v) {
    int n = a.length;
    for (int i = 0; i < n; i++) {
      Arrays.fill(v[i], 0);
      v[i][i] = 1;
    }
    for (int sweep = 0; sweep < 100; sweep++) {
      double off = 0;
      double diag = 0;
      for (int i = 0; i < n; i++) {
        diag += a[i][i] * a[i][i];
        for (int j = i + 1; j < n; j++) {
          off += a[i][j] * a[i][j];
        }
      }
      if (off <= 1e-30 * diag) {
        break;
      }
      for (int p = 0; p < n - 1; p++) {
        for (int q = p + 1; q < n; q++) {
          double apq = a[p][q];
          if (Math.abs(apq) < 1e-300) {
            continue;
          }
          double theta = (a[q][q] - a[p][p]) / (2 * apq);
          double t = Math.signum(theta) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
          if (theta == 0) {
            t = 1;
          }
          double cs = 1 / Math.sqrt(t * t + 1);
          double sn = t * cs;
          for (int k = 0; k < n; k++) {
            double akp = a[k][p];
            double akq = a[k][q];
            a[k][p] = cs * akp - sn * akq;
            a[k][q] = sn * akp + cs * akq;
          }
          for (int k = 0; k < n; k++) {
            double apk = a[p][k];
            double aqk = a[q][k];
            a[p][k] = cs * apk - sn * aqk;
            a[q][k] = sn * apk + cs * aqk;
          }
          for (int k = 0; k < n; k++) {
            double vkp = v[k][p];
            double vkq = v[k][q];
            v[k][p] = cs * vkp - sn * vkq;
            v[k][q] = sn * vkp + cs * vkq;
          }
        }
      }
    }
    double[] out = new double[n];
    for (int i = 0; i < n; i++) {
      out[i] = a[i][i];
    }
    return out;
  }

  /**
   * SIF weights {@code a / (a + p(token))}. {@code counts} null: Zipf's law over the vocabulary's
   * order among producible tokens, {@code p} proportional to {@code 1 / (rank + 2)} (Model2Vec's
   * estimate; a BERT vocabulary lists single characters, then words, roughly by frequency).
   * Otherwise {@code p = (count + 1) / (total + vocab)}. Tokens no text produces get weight 0.
   */
  public static float[] sifWeights(WordPieceTokenizer tokenizer, long[] counts, double a) {
    int vocab = tokenizer.vocabSize();
    double[] p = new double[vocab];
    double sum = 0;
    int rank = 0;
    for (int t = 0; t < vocab; t++) {
      if (!producible(tokenizer, t)) {
        continue;
      }
      p[t] = counts == null ? 1.0 / (rank + 2) : counts[t] + 1.0;
      rank++;
      sum += p[t];
    }
    float[] w = new float[vocab];
    for (int t = 0; t < vocab; t++) {
      w[t] = producible(tokenizer, t) ? (float) (a / (a + p[t] / sum)) : 0f;
    }
    return w;
  }

  /** Every token counts 1 (0 for tokens no text produces). */
  public static float[] unitWeights(WordPieceTokenizer tokenizer) {
    float[] w = new float[tokenizer.vocabSize()];
    for (int t = 0; t < w.length; t++) {
      w[t] = producible(tokenizer, t) ? 1f : 0f;
    }
    return w;
  }

  /** How often each token occurs in the texts (no [CLS] or [SEP]). */
  public static long[] counts(WordPieceTokenizer tokenizer, List<String> texts, StaticTable.TokenBudget budget) {
    long[] counts = new long[tokenizer.vocabSize()];
    for (String text : texts) {
      if (budget.all()) {
        tokenizer.tokenize(text, t -> counts[t]++);
      } else {
        int[] ids = tokenizer.ids(text); // [CLS] ... [SEP]
        for (int t : budget.cut(Arrays.copyOfRange(ids, 1, ids.length - 1))) {
          counts[t]++;
        }
      }
    }
    return counts;
  }

  /** Which rows the PCA is fitted on: the tokens a text can produce. */
  public static boolean[] fitRows(WordPieceTokenizer tokenizer) {
    boolean[] fit = new boolean[tokenizer.vocabSize()];
    for (int t = 0; t < fit.length; t++) {
      fit[t] = producible(tokenizer, t);
    }
    return fit;
  }
}
