package io.routewise.routers.mf;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.routewise.data.Dataset;
import io.routewise.data.OutcomeTable;
import io.routewise.data.PromptRecord;
import io.routewise.data.TrainingSet;
import io.routewise.routers.AdamW;
import io.routewise.routers.Dot;
import io.routewise.routers.LengthScale;
import io.routewise.routers.ModelDir;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import me.tongfei.progressbar.ProgressBar;

/**
 * Trains an {@link MfModel} point-wise: every (prompt, model) score in [0, 1] is a soft label of
 * {@code p(m, q) = sigmoid(b_m + c(q) + u_m . W x(q))}, with {@code c(q) = v . x(q)} the prompt's
 * own ease and {@code W x(q)} its k-dimensional factor (the matrix factorization: model vectors u_m
 * against prompt factors).
 *
 * <p>Why point-wise and how it is weighted (the ablations are in BENCHMARKS.md):
 * <ul>
 *   <li>A prompt counts once, however many models answered it: its observations share a weight of 1
 *       (pairwise losses gave a 31-model MMLU-Pro prompt 465 comparisons and a two-model MMLU prompt
 *       one, so the two-model data that names the user's real pair drowned).
 *   <li>Each source counts as much as any other in total, so 300 judge-scored chat prompts are not
 *       outweighed 20:1 by one benchmark.
 *   <li>Scores keep what pairwise losses threw away: when both models are right, or both wrong.
 *       That is what tells a prompt the weak model can answer from one nobody can.
 * </ul>
 *
 * Full-batch Adam with L2 on W, u and (a tenth as much) v. The work is split into a fixed number of
 * row blocks whose gradients are summed in order, so the result is the same bytes for the same data
 * and seed whatever the thread count.
 */
public final class MfTrainer {

  /** Hyperparameters. */
  public record Options(int dim, int iterations, double lr, double l2, double lengthPrior, double gapPrior, long seed,
      int threads, boolean progress, String task) {
    public Options(int dim, int iterations, double lr, double l2, double lengthPrior, double gapPrior, long seed,
        int threads, boolean progress) {
      this(dim, iterations, lr, l2, lengthPrior, gapPrior, seed, threads, progress, "train mf");
    }

    /** The default priors' weights (what the shipped mf uses; sw_ranking has its own length prior). */
    public static final double LENGTH_PRIOR = 1.0;
    public static final double GAP_PRIOR = 0.5;

    public static Options defaults() {
      return new Options(32, 400, 0.01, 3e-4, LENGTH_PRIOR, GAP_PRIOR, 42,
          Math.min(4, Runtime.getRuntime().availableProcessors()), true);
    }

    public Options withProgress(boolean p) {
      return new Options(dim, iterations, lr, l2, lengthPrior, gapPrior, seed, threads, p, task);
    }

    /** The same options, the progress bar named {@code task} (sw_ranking trains its point-wise part here). */
    public Options labelled(String task) {
      return new Options(dim, iterations, lr, l2, lengthPrior, gapPrior, seed, threads, progress, task);
    }
  }

  /**
   * A trained model to adapt instead of starting from noise: its parameters are the starting point
   * and every step pays {@code anchor * |theta - theta_base|^2 / 2} for leaving them, so a few hundred
   * labeled prompts of new traffic move what they show (where each model stands on that traffic, its
   * kind of prompt) and leave the rest as the base's far larger data taught it. The base's length
   * scale, capability means and gap scale are kept; models the base does not know are added after
   * its own, and they and the base's untrained rows are learned from the new rows alone.
   *
   * @param ids the base's model ids, in its row order
   * @param untrained the base's rows no training touched (its manifest's {@code untrained_models})
   */
  public record Base(MfModel model, List<String> ids, java.util.Set<String> untrained, double anchor) {
    public Base {
      ids = List.copyOf(ids);
      untrained = java.util.Set.copyOf(untrained);
      if (ids.size() != model.models() || !(anchor >= 0) || !model.hasGap()) {
        throw new IllegalArgumentException("base mf: " + model.models() + " rows for " + ids.size()
            + " ids, anchor " + anchor + (model.hasGap() ? "" : ", no factors"));
      }
    }
  }

  private static final int BLOCKS = 8;

  private final TrainingSet set;
  private final Options o;
  private final Base base;
  private final OutcomeTable table;
  private final LengthScale length;
  /** The trained model's ids: the base's first when adapting, then the data's new ones. */
  private final List<String> ids;
  /** Dataset model index -> row in the trained model. */
  private final int[] row;
  /** Rows learned from the new data alone when adapting: new to the base, or untrained in it. */
  private final boolean[] free;
  private final int n;
  private final int m;
  private final int k;
  private final int d;
  private final int f;

  public MfTrainer(TrainingSet set, Options options) {
    this(set, options, null);
  }

  /** @param base a model to adapt (null: train from scratch) */
  public MfTrainer(TrainingSet set, Options options, Base base) {
    this.set = set;
    this.o = options;
    this.base = base;
    this.table = OutcomeTable.of(set.data());
    List<String> texts = new ArrayList<>();
    for (int q : set.train()) {
      texts.add(set.data().prompts().get(q).prompt());
    }
    this.length = base != null ? base.model().lengthScale() : LengthScale.of(texts);
    List<String> merged = new ArrayList<>(base != null ? base.ids() : List.of());
    List<String> dataModels = set.data().models();
    this.row = new int[dataModels.size()];
    for (int i = 0; i < row.length; i++) {
      int at = merged.indexOf(dataModels.get(i));
      if (at < 0) {
        at = merged.size();
        merged.add(dataModels.get(i));
      }
      row[i] = at;
    }
    this.ids = List.copyOf(merged);
    this.free = new boolean[ids.size()];
    for (int mm = 0; mm < free.length && base != null; mm++) {
      free[mm] = mm >= base.ids().size() || base.untrained().contains(ids.get(mm));
    }
    this.n = set.train().size();
    this.m = ids.size();
    this.k = base != null ? base.model().rank() - 1 : options.dim();
    this.d = set.embeddings()[0].length;
    this.f = MfModel.featureCount(d);
    if (base != null && base.model().dimension() != d) {
      throw new IllegalArgumentException("base mf was trained on " + base.model().dimension()
          + "-dimensional embeddings, the data's are " + d);
    }
  }

  /** The trained model's ids in row order: the data's models, or the base's and then the data's new ones. */
  public List<String> modelIds() {
    return ids;
  }

  public LengthScale lengthScale() {
    return length;
  }

  public OutcomeTable outcomes() {
    return table;
  }

  /** Features of dataset prompt q. */
  float[] features(int q) {
    return MfModel.features(set.embeddings()[q], length.z(set.data().prompts().get(q).prompt()));
  }

  /** Runs the optimization and returns the folded model. */
  public MfModel train() {
    List<Integer> rows = set.train();
    float[][] x = new float[n][];
    for (int i = 0; i < n; i++) {
      x[i] = features(rows.get(i));
    }
    float[] weight = observationWeights(rows);
    Random rnd = new Random(o.seed());
    float[] w = gaussian(rnd, k * f, 0.01);
    float[] u = gaussian(rnd, m * k, 0.1);
    float[] b = new float[m];
    float[] v = new float[f];
    if (base != null) {
      unfold(base.model(), w, u, b, v);
      initFreeModels(rows, x, w, u, b, v);
    }
    float[] w0 = w.clone();
    float[] u0 = u.clone();
    float[] b0 = b.clone();
    float[] v0 = v.clone();
    AdamW aw = new AdamW(w.length);
    AdamW au = new AdamW(u.length);
    AdamW ab = new AdamW(b.length);
    AdamW av = new AdamW(v.length);
    int threads = Math.max(1, Math.min(o.threads(), BLOCKS));
    ExecutorService pool = Executors.newFixedThreadPool(threads, r -> {
      Thread t = new Thread(r, "mf-train");
      t.setDaemon(true);
      return t;
    });
    try (ProgressBar pb = TrainingSet.progressBar(o.task(), o.iterations(), o.progress())) {
      for (int it = 0; it < o.iterations(); it++) {
        List<Future<double[][]>> parts = new ArrayList<>();
        for (int blk = 0; blk < BLOCKS; blk++) {
          int from = (int) ((long) n * blk / BLOCKS);
          int to = (int) ((long) n * (blk + 1) / BLOCKS);
          parts.add(pool.submit(() -> block(from, to, rows, x, weight, w, u, b, v)));
        }
        float[] gw = new float[w.length];
        float[] gu = new float[u.length];
        float[] gb = new float[b.length];
        float[] gv = new float[v.length];
        double loss = 0;
        for (Future<double[][]> part : parts) {
          double[][] g = part.get();
          add(gw, g[0]);
          add(gu, g[1]);
          add(gb, g[2]);
          add(gv, g[3]);
          loss += g[4][0];
        }
        if (base == null) {
          for (int i = 0; i < w.length; i++) {
            gw[i] += (float) (o.l2() * w[i]);
          }
          for (int i = 0; i < u.length; i++) {
            gu[i] += (float) (o.l2() * u[i]);
          }
          for (int i = 0; i < v.length; i++) {
            gv[i] += (float) (0.1 * o.l2() * v[i]);
          }
        } else {
          double a = base.anchor();
          anchor(gw, w, w0, 0, w.length, a);
          anchor(gv, v, v0, 0, v.length, a);
          for (int mm = 0; mm < m; mm++) {
            if (free[mm]) { // the usual L2 on the vector, the bias free
              for (int i = mm * k; i < (mm + 1) * k; i++) {
                gu[i] += (float) (o.l2() * u[i]);
              }
            } else {
              anchor(gu, u, u0, mm * k, (mm + 1) * k, a);
              anchor(gb, b, b0, mm, mm + 1, a);
            }
          }
        }
        aw.step(w, gw, o.lr(), 0);
        au.step(u, gu, o.lr(), 0);
        ab.step(b, gb, o.lr(), 0);
        av.step(v, gv, o.lr(), 0);
        pb.step();
        if (it % 20 == 19 || it == o.iterations() - 1) {
          pb.setExtraMessage(String.format(" loss %.4f", loss));
        }
        lastLoss = loss;
      }
    } catch (Exception e) {
      throw new IllegalStateException("mf training failed: " + e.getMessage(), e);
    } finally {
      pool.shutdownNow();
    }
    // The factors: projection [v; W] (rank k + 1) and per model [1, u_m]; MfModel folds them.
    int rank = k + 1;
    float[] projection = new float[rank * f];
    System.arraycopy(v, 0, projection, 0, f);
    System.arraycopy(w, 0, projection, f, k * f);
    float[] factors = new float[m * rank];
    for (int mm = 0; mm < m; mm++) {
      factors[mm * rank] = 1;
      System.arraycopy(u, mm * k, factors, mm * rank + 1, k);
    }
    MfModel raw = new MfModel(m, d, projection, factors, rank, b.clone(), new float[m], length, 0, 0, 1, 0);
    if (base != null) {
      return adapted(raw, x);
    }
    float[] meanP = new float[m];
    for (int i = 0; i < n; i++) {
      for (int mm = 0; mm < m; mm++) {
        meanP[mm] += (float) (raw.probability(mm, x[i]) / n);
      }
    }
    // The gap's scale over the training prompts, so gap_prior reads like length_prior (per std).
    MfModel withMeans = new MfModel(m, d, projection, factors, rank, b, meanP, length, 0, 0, 1, 0);
    double s = 0;
    double ss = 0;
    for (int i = 0; i < n; i++) {
      double g = withMeans.rawGap(x[i]);
      s += g;
      ss += g * g;
    }
    double mean = s / Math.max(1, n);
    double std = Math.sqrt(Math.max(ss / Math.max(1, n) - mean * mean, 1e-12));
    return new MfModel(m, d, projection, factors, rank, b, meanP, length, o.lengthPrior(), mean, std, o.gapPrior());
  }

  /**
   * The adapted model keeps the base's mean probabilities (the priors' pair gap D and the capability
   * weights c_m) and gap scale, so its priors read as the base's did. A model new to the base gets
   * its mean over the new prompts, moved by how far the base's models' means there sit from their
   * means over the base's data.
   */
  private MfModel adapted(MfModel raw, float[][] x) {
    MfModel b = base.model();
    float[] meanP = new float[m];
    double shift = 0;
    int kept = 0;
    for (int mm = 0; mm < m; mm++) {
      if (!free[mm]) {
        meanP[mm] = (float) b.meanProbability(mm);
        shift += meanP[mm] - meanHere(raw, mm, x);
        kept++;
      }
    }
    shift /= Math.max(1, kept);
    for (int mm = 0; mm < m; mm++) {
      if (free[mm]) {
        meanP[mm] = (float) Math.max(0, Math.min(1, meanHere(raw, mm, x) + shift));
      }
    }
    return new MfModel(m, d, raw.projection(), raw.factors(), raw.rank(), raw.bias(), meanP, length,
        b.lengthPrior(), b.gapMean(), b.gapStd(), b.gapPrior());
  }

  private static double meanHere(MfModel model, int mm, float[][] x) {
    double here = 0;
    for (float[] xi : x) {
      here += model.probability(mm, xi) / Math.max(1, x.length);
    }
    return here;
  }

  /** The base's [v; W] and [1, u_m] back into the trainer's v, w, u and b. */
  private void unfold(MfModel model, float[] w, float[] u, float[] b, float[] v) {
    int rank = k + 1;
    float[] projection = model.projection();
    float[] factors = model.factors();
    System.arraycopy(projection, 0, v, 0, f);
    System.arraycopy(projection, f, w, 0, k * f);
    for (int mm = 0; mm < model.models(); mm++) {
      if (factors[mm * rank] != 1f) {
        throw new IllegalArgumentException("base mf: its factors are not [1, u_m] (row " + mm + ")");
      }
      System.arraycopy(factors, mm * rank + 1, u, mm * k, k);
    }
    System.arraycopy(model.bias(), 0, b, 0, model.models());
  }

  /**
   * A model new to the base (or untrained in it) starts as the trained model whose predictions fit its scores on the new
   * rows best (least squared error), its bias moved so that its mean there is the observed one: a new
   * snapshot of a known family starts where that family stands, and training refines rather than
   * discovers it. With no rows it starts at no factor and even odds.
   */
  private void initFreeModels(List<Integer> rows, float[][] x, float[] w, float[] u, float[] b, float[] v) {
    for (int mm = 0; mm < m; mm++) {
      if (free[mm]) {
        java.util.Arrays.fill(u, mm * k, (mm + 1) * k, 0f);
        b[mm] = 0;
      }
    }
    double[][] h = new double[rows.size()][k];
    double[] c = new double[rows.size()];
    for (int i = 0; i < rows.size(); i++) {
      for (int r = 0; r < k; r++) {
        h[i][r] = Dot.dot(w, r * f, x[i], f);
      }
      c[i] = Dot.dot(v, 0, x[i], f);
    }
    for (int mm = 0; mm < m; mm++) {
      if (!free[mm]) {
        continue;
      }
      List<int[]> seen = new ArrayList<>(); // {row index, observation}
      double mean = 0;
      for (int i = 0; i < rows.size(); i++) {
        int q = rows.get(i);
        for (int ob = table.start(q); ob < table.end(q); ob++) {
          if (row[table.model(ob)] == mm) {
            seen.add(new int[] {i, ob});
            mean += table.score(ob);
          }
        }
      }
      if (seen.isEmpty()) {
        continue;
      }
      mean = Math.max(0.02, Math.min(0.98, mean / seen.size()));
      int best = -1;
      double bestError = Double.MAX_VALUE;
      double bestMeanLogit = 0;
      for (int j = 0; j < m; j++) {
        if (free[j]) {
          continue;
        }
        double error = 0;
        double meanP = 0;
        for (int[] s : seen) {
          double logit = b[j] + c[s[0]];
          for (int r = 0; r < k; r++) {
            logit += u[j * k + r] * h[s[0]][r];
          }
          double p = MfModel.sigmoid(logit);
          error += (p - table.score(s[1])) * (p - table.score(s[1]));
          meanP += p / seen.size();
        }
        if (error < bestError) {
          best = j;
          bestError = error;
          meanP = Math.max(0.02, Math.min(0.98, meanP));
          bestMeanLogit = Math.log(meanP / (1 - meanP));
        }
      }
      if (best < 0) {
        continue; // nothing trained to start from
      }
      System.arraycopy(u, best * k, u, mm * k, k);
      b[mm] = (float) (b[best] + Math.log(mean / (1 - mean)) - bestMeanLogit);
    }
  }

  private static void anchor(float[] grad, float[] p, float[] p0, int from, int to, double strength) {
    for (int i = from; i < to; i++) {
      grad[i] += (float) (strength * (p[i] - p0[i]));
    }
  }

  private double lastLoss = Double.NaN;

  /** The weighted cross-entropy of the last iteration. */
  public double lastLoss() {
    return lastLoss;
  }

  /** Gradients of one block of training rows: {gw, gu, gb, gv, {loss}}. */
  private double[][] block(int from, int to, List<Integer> rows, float[][] x, float[] weight, float[] w, float[] u,
      float[] b, float[] v) {
    double[] gw = new double[w.length];
    double[] gu = new double[u.length];
    double[] gb = new double[b.length];
    double[] gv = new double[v.length];
    double loss = 0;
    double[] h = new double[k];
    double[] gh = new double[k];
    for (int i = from; i < to; i++) {
      float[] xi = x[i];
      int q = rows.get(i);
      for (int r = 0; r < k; r++) {
        h[r] = Dot.dot(w, r * f, xi, f);
      }
      double c = Dot.dot(v, 0, xi, f);
      java.util.Arrays.fill(gh, 0);
      double gc = 0;
      int o0 = table.start(q);
      for (int ob = o0; ob < table.end(q); ob++) {
        int mm = row[table.model(ob)];
        double logit = b[mm] + c;
        for (int r = 0; r < k; r++) {
          logit += u[mm * k + r] * h[r];
        }
        double p = MfModel.sigmoid(logit);
        double t = table.score(ob);
        double wt = weight[ob];
        loss += wt * (Math.log1p(Math.exp(-Math.abs(logit))) + Math.max(logit, 0) - t * logit);
        double g = wt * (p - t);
        gb[mm] += g;
        gc += g;
        for (int r = 0; r < k; r++) {
          gu[mm * k + r] += g * h[r];
          gh[r] += g * u[mm * k + r];
        }
      }
      for (int r = 0; r < k; r++) {
        double g = gh[r];
        if (g != 0) {
          int off = r * f;
          for (int j = 0; j < f; j++) {
            gw[off + j] += g * xi[j];
          }
        }
      }
      if (gc != 0) {
        for (int j = 0; j < f; j++) {
          gv[j] += gc * xi[j];
        }
      }
    }
    return new double[][] {gw, gu, gb, gv, {loss}};
  }

  /**
   * Each observation's weight: a prompt's observations share its weight equally, and each source's
   * prompts together weigh the same as any other source's. Normalized to sum 1.
   */
  float[] observationWeights(List<Integer> rows) {
    Map<String, Integer> perSource = new HashMap<>();
    for (int q : rows) {
      if (table.end(q) > table.start(q)) { // a row with no result (every outcome null) carries no weight to share
        perSource.merge(set.data().prompts().get(q).source(), 1, Integer::sum);
      }
    }
    float[] weight = new float[Math.max(1, table.end(table.prompts() - 1))];
    double total = 0;
    for (int q : rows) {
      int obs = table.end(q) - table.start(q);
      if (obs == 0) {
        continue;
      }
      double sourceWeight = 1.0 / perSource.get(set.data().prompts().get(q).source());
      for (int ob = table.start(q); ob < table.end(q); ob++) {
        weight[ob] = (float) (sourceWeight / obs);
        total += weight[ob];
      }
    }
    for (int i = 0; i < weight.length; i++) {
      weight[i] = (float) (weight[i] / total);
    }
    return weight;
  }

  private static void add(float[] into, double[] g) {
    for (int i = 0; i < into.length; i++) {
      into[i] += (float) g[i];
    }
  }

  private static float[] gaussian(Random rnd, int size, double std) {
    float[] a = new float[size];
    for (int i = 0; i < size; i++) {
      a[i] = (float) (rnd.nextGaussian() * std);
    }
    return a;
  }

  /**
   * Every model's score on every training prompt: the observed one where there is one, else the
   * model's probability moved by how much the prompt's observed models beat their own predictions
   * (its residual ease), clamped to [0, 1]. What {@code sw_ranking} averages over neighbours.
   */
  public float[][] completedOutcomes(MfModel model) {
    List<Integer> rows = set.train();
    float[][] out = new float[rows.size()][m];
    for (int i = 0; i < rows.size(); i++) {
      int q = rows.get(i);
      float[] xi = features(q);
      double[] p = new double[m];
      for (int mm = 0; mm < m; mm++) {
        p[mm] = model.probability(mm, xi);
      }
      double resid = 0;
      int obs = 0;
      for (int ob = table.start(q); ob < table.end(q); ob++) {
        resid += table.score(ob) - p[row[table.model(ob)]];
        obs++;
      }
      resid = obs == 0 ? 0 : resid / obs;
      for (int mm = 0; mm < m; mm++) {
        out[i][mm] = (float) Math.max(0, Math.min(1, p[mm] + resid));
      }
      for (int ob = table.start(q); ob < table.end(q); ob++) {
        out[i][row[table.model(ob)]] = table.score(ob);
      }
    }
    return out;
  }

  /** Writes the model directory (weights + manifest). */
  public static void save(MfModel model, Path dir, ObjectNode manifest) throws IOException {
    java.nio.file.Files.createDirectories(dir);
    ModelDir.writeFloats(dir.resolve("prompt_projection.f32"), model.projection());
    ModelDir.writeFloats(dir.resolve("model_factors.f32"), model.factors());
    ModelDir.writeFloats(dir.resolve("model_bias.f32"), model.bias());
    ModelDir.writeFloats(dir.resolve("mean_probability.f32"), model.meanP());
    manifest.put("recipe", MfRouter.RECIPE);
    ObjectNode len = manifest.putObject("length");
    len.put("mean", model.lengthScale().mean()).put("std", model.lengthScale().std());
    manifest.put("length_prior", model.lengthPrior());
    ObjectNode gap = manifest.putObject("gap");
    gap.put("mean", model.gapMean()).put("std", model.gapStd());
    manifest.put("gap_prior", model.gapPrior());
    manifest.put("rank", model.rank());
    ObjectNode weights = manifest.putObject("weights");
    int f = MfModel.featureCount(model.dimension());
    weights.putObject("prompt_projection").put("file", "prompt_projection.f32").putArray("shape").add(model.rank()).add(f);
    weights.putObject("model_factors").put("file", "model_factors.f32").putArray("shape").add(model.models())
        .add(model.rank());
    weights.putObject("model_bias").put("file", "model_bias.f32").putArray("shape").add(model.models());
    weights.putObject("mean_probability").put("file", "mean_probability.f32").putArray("shape").add(model.models());
    ModelDir.writeManifest(dir, manifest);
  }

  /** Reads the prompt record of dataset row q (for callers outside the package). */
  PromptRecord prompt(int q) {
    return set.data().prompts().get(q);
  }

  Dataset data() {
    return set.data();
  }
}
