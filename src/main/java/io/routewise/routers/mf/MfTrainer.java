package io.routewise.routers.mf;

import io.routewise.routers.AdamW;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.routewise.data.Dataset;
import io.routewise.data.TrainingSet;
import io.routewise.eval.QualityCurve;
import io.routewise.routers.ModelDir;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import me.tongfei.progressbar.ProgressBar;

/**
 * Trains an {@link MfModel} on pairwise battles: for a battle won by a over b, the loss is
 * {@code -log sigmoid(s(a) - s(b))}; a tie is a half win each way (label 0.5) with weight
 * {@code tieWeight}. Each prompt's battles are averaged, so a prompt with 51 models (1275 pairs)
 * counts as much as one with 2. AdamW over mini-batches of prompts; single-threaded and seeded, so
 * the same data and seed give the same bytes.
 */
public final class MfTrainer {

  /** Hyperparameters. */
  public record Options(int dim, int epochs, int batchPrompts, double lr, double weightDecay, double tieWeight,
      long seed, boolean progress) {
    public static Options defaults() {
      return new Options(128, 30, 32, 3e-3, 1e-4, 0.5, 42, true);
    }

    public Options withEpochs(int e) {
      return new Options(dim, e, batchPrompts, lr, weightDecay, tieWeight, seed, progress);
    }
  }

  private final TrainingSet set;
  private final Options o;
  private final int n;
  private final int k;
  private final int d;
  final float[] p;
  final float[] w;
  final float[] c;

  public MfTrainer(TrainingSet set, Options options) {
    this.set = set;
    this.o = options;
    this.n = set.data().models().size();
    this.k = options.dim();
    this.d = set.embeddings()[0].length;
    Random rnd = new Random(options.seed());
    p = gaussian(rnd, n * k, 1.0);
    w = gaussian(rnd, k * d, 1.0 / Math.sqrt(d));
    c = gaussian(rnd, k, 1.0 / Math.sqrt(k));
  }

  private static float[] gaussian(Random rnd, int size, double std) {
    float[] a = new float[size];
    for (int i = 0; i < size; i++) {
      a[i] = (float) (rnd.nextGaussian() * std);
    }
    return a;
  }

  public MfModel model() {
    return new MfModel(n, k, d, p, w, c);
  }

  /** Runs all epochs; returns the final training loss. */
  public double train() {
    Dataset data = set.data();
    List<Integer> order = new ArrayList<>(set.train());
    Random rnd = new Random(o.seed() + 1);
    AdamW adamP = new AdamW(p.length);
    AdamW adamW = new AdamW(w.length);
    AdamW adamC = new AdamW(c.length);
    float[] gp = new float[p.length];
    float[] gw = new float[w.length];
    float[] gc = new float[c.length];
    float[] ph = new float[p.length];
    double[] norms = new double[n];
    double[] h = new double[k];
    double[] dh = new double[k];
    double[] s = new double[n];
    double[] gs = new double[n];
    boolean[] seen = new boolean[n];
    double lastLoss = Double.NaN;
    int steps = (order.size() + o.batchPrompts() - 1) / o.batchPrompts();
    try (ProgressBar pb = TrainingSet.progressBar("train mf", (long) steps * o.epochs(), o.progress())) {
      for (int epoch = 0; epoch < o.epochs(); epoch++) {
        Collections.shuffle(order, rnd);
        double epochLoss = 0;
        int epochPrompts = 0;
        for (int start = 0; start < order.size(); start += o.batchPrompts()) {
          int end = Math.min(order.size(), start + o.batchPrompts());
          // normalized model vectors for this step
          for (int m = 0; m < n; m++) {
            double ss = 0;
            for (int i = 0; i < k; i++) {
              ss += (double) p[m * k + i] * p[m * k + i];
            }
            norms[m] = Math.sqrt(ss) + 1e-12;
            for (int i = 0; i < k; i++) {
              ph[m * k + i] = (float) (p[m * k + i] / norms[m]);
            }
          }
          java.util.Arrays.fill(gp, 0);
          java.util.Arrays.fill(gw, 0);
          java.util.Arrays.fill(gc, 0);
          int batch = end - start;
          for (int bi = start; bi < end; bi++) {
            int q = order.get(bi);
            int b0 = data.battleStart(q);
            int b1 = data.battleEnd(q);
            if (b1 == b0) {
              continue;
            }
            float[] e = set.embeddings()[q];
            for (int i = 0; i < k; i++) {
              double acc = 0;
              int row = i * d;
              for (int j = 0; j < d; j++) {
                acc += w[row + j] * e[j];
              }
              h[i] = acc;
            }
            java.util.Arrays.fill(seen, false);
            for (int b = b0; b < b1; b++) {
              seen[data.winner(b)] = true;
              seen[data.loser(b)] = true;
            }
            for (int m = 0; m < n; m++) {
              gs[m] = 0;
              if (seen[m]) {
                double acc = 0;
                for (int i = 0; i < k; i++) {
                  acc += c[i] * ph[m * k + i] * h[i];
                }
                s[m] = acc;
              }
            }
            double weightSum = 0;
            for (int b = b0; b < b1; b++) {
              weightSum += data.tie(b) ? o.tieWeight() : 1.0;
            }
            if (weightSum == 0) {
              continue;
            }
            double loss = 0;
            for (int b = b0; b < b1; b++) {
              boolean tie = data.tie(b);
              double wt = (tie ? o.tieWeight() : 1.0) / weightSum;
              if (wt == 0) {
                continue;
              }
              double delta = s[data.winner(b)] - s[data.loser(b)];
              double sig = MfModel.sigmoid(delta);
              double y = tie ? 0.5 : 1.0;
              loss += wt * (Math.log1p(Math.exp(-Math.abs(delta))) + Math.max(-delta, 0) + (1 - y) * delta);
              double g = wt * (sig - y) / batch;
              gs[data.winner(b)] += g;
              gs[data.loser(b)] -= g;
            }
            epochLoss += loss;
            epochPrompts++;
            java.util.Arrays.fill(dh, 0);
            for (int m = 0; m < n; m++) {
              double g = gs[m];
              if (g == 0) {
                continue;
              }
              int off = m * k;
              double dot = 0;
              for (int i = 0; i < k; i++) {
                double u = ph[off + i] * h[i];
                gc[i] += (float) (g * u);
                dh[i] += g * c[i] * ph[off + i];
                dot += ph[off + i] * (g * c[i] * h[i]);
              }
              // d/dP of normalize(P): (I - p^ p^T) / |P|
              for (int i = 0; i < k; i++) {
                double dph = g * c[i] * h[i];
                gp[off + i] += (float) ((dph - ph[off + i] * dot) / norms[m]);
              }
            }
            for (int i = 0; i < k; i++) {
              float dhi = (float) dh[i];
              if (dhi == 0) {
                continue;
              }
              int row = i * d;
              for (int j = 0; j < d; j++) {
                gw[row + j] += dhi * e[j];
              }
            }
          }
          adamP.step(p, gp, o.lr(), o.weightDecay());
          adamW.step(w, gw, o.lr(), o.weightDecay());
          adamC.step(c, gc, o.lr(), o.weightDecay());
          pb.step();
        }
        lastLoss = epochLoss / Math.max(1, epochPrompts);
        pb.setExtraMessage(String.format(" epoch %d loss %.4f", epoch + 1, lastLoss));
      }
    }
    return lastLoss;
  }

  /** Held-out pairwise accuracy (non-tie battles) and, for a pair, APGR on prompts that have both. */
  public static ObjectNode heldOutMetrics(MfModel model, TrainingSet set, String strong, String weak) {
    ObjectNode out = ModelDir.json().createObjectNode();
    Dataset data = set.data();
    long right = 0;
    long total = 0;
    for (int q : set.heldOut()) {
      float[] e = set.embeddings()[q];
      for (int b = data.battleStart(q); b < data.battleEnd(q); b++) {
        if (data.tie(b)) {
          continue;
        }
        total++;
        if (model.score(data.winner(b), e) > model.score(data.loser(b), e)) {
          right++;
        }
      }
    }
    out.put("prompts", set.heldOut().size());
    out.put("battles_decided", total);
    out.put("pairwise_accuracy", total == 0 ? Double.NaN : round((double) right / total));
    int si = data.modelIndex(strong);
    int wi = data.modelIndex(weak);
    if (si >= 0 && wi >= 0) {
      float[] v = model.pairVector(si, wi);
      apgrOn(out, set, strong, weak, e -> {
        double s = 0;
        for (int i = 0; i < e.length; i++) {
          s += v[i] * e[i];
        }
        return MfModel.sigmoid(s);
      });
    }
    return out;
  }

  /** Adds {@code pair, apgr, cpt50, n} for the pair on held-out prompts where both have outcomes. */
  public static void apgrOn(ObjectNode out, TrainingSet set, String strong, String weak,
      java.util.function.ToDoubleFunction<float[]> scorer) {
    List<double[]> rows = new ArrayList<>();
    for (int q : set.heldOut()) {
      var oc = set.data().prompts().get(q).outcomes();
      if (oc.containsKey(strong) && oc.containsKey(weak)) {
        rows.add(new double[] {scorer.applyAsDouble(set.embeddings()[q]), oc.get(strong), oc.get(weak)});
      }
    }
    out.put("pair", strong + " vs " + weak);
    out.put("pair_prompts", rows.size());
    if (rows.size() >= 10) {
      double[] sc = rows.stream().mapToDouble(r -> r[0]).toArray();
      double[] sq = rows.stream().mapToDouble(r -> r[1]).toArray();
      double[] wq = rows.stream().mapToDouble(r -> r[2]).toArray();
      QualityCurve curve = QualityCurve.of(sc, sq, wq);
      out.put("apgr", round(curve.apgr()));
      out.put("cpt50", round(curve.cpt(0.5)));
    }
  }

  static double round(double x) {
    return Math.round(x * 10000) / 10000.0;
  }

  /** Writes the model directory (weights + manifest). */
  public void save(Path dir, ObjectNode manifest) throws IOException {
    java.nio.file.Files.createDirectories(dir);
    float[] pn = MfModel.normalizedRows(p, n, k);
    ModelDir.writeFloats(dir.resolve("model_vectors.f32"), pn);
    ModelDir.writeFloats(dir.resolve("projection.f32"), w);
    ModelDir.writeFloats(dir.resolve("classifier.f32"), c);
    manifest.put("dim", k);
    ObjectNode weights = manifest.putObject("weights");
    weights.putObject("model_vectors").put("file", "model_vectors.f32").putArray("shape").add(n).add(k);
    weights.putObject("projection").put("file", "projection.f32").putArray("shape").add(k).add(d);
    weights.putObject("classifier").put("file", "classifier.f32").putArray("shape").add(k);
    ModelDir.writeManifest(dir, manifest);
  }
}
