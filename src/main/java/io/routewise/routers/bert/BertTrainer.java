package io.routewise.routers.bert;

import io.routewise.routers.AdamW;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.routewise.data.Dataset;
import io.routewise.data.TrainingSet;
import io.routewise.routers.ModelDir;
import io.routewise.eval.HeldOutMetrics;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import me.tongfei.progressbar.ProgressBar;

/**
 * Trains the {@code bert} router's head ({@link BertHead}) on sentence embeddings, with three labels
 * per prompt: the strong model scored better, tie, the weak model scored better ({@link #LABELS}).
 *
 * <p>Which comparisons give the labels ({@link Pairs}): only the manifest's strong/weak pair, or
 * every pair of models with outcomes on the prompt, oriented by the models' overall strength (their
 * share of won battles over the training prompts, a tie counting half), a pair kept when the
 * strengths differ by more than {@code minGap}. A prompt's label is the distribution of its pairs'
 * results (one-hot with one pair), and every prompt counts the same in the soft-label cross-entropy.
 *
 * <p>AdamW over shuffled mini-batches, single-threaded and seeded: the same data and seed give the
 * same bytes.
 */
public final class BertTrainer {
  /** The head's labels, in order. */
  public static final List<String> LABELS = List.of("strong_better", "tie", "weak_better");

  /** Which model pairs label a prompt. */
  public enum Pairs {
    /** Only the strong/weak pair the router is for. */
    DEFAULT,
    /** Every pair on the prompt, stronger model first (RouteLLM's "tier 1 vs tier 2" idea). */
    ORDERED;

    public static Pairs parse(String s) {
      try {
        return valueOf(s.trim().toUpperCase(java.util.Locale.ROOT));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("--pairs must be one of " + java.util.Arrays.stream(values())
            .map(p -> p.name().toLowerCase(java.util.Locale.ROOT)).toList() + ", got '" + s + "'");
      }
    }
  }

  /** Hyperparameters. {@code hidden = 0} is multinomial logistic regression. */
  public record Options(int hidden, int epochs, int batch, double lr, double weightDecay, Pairs pairs, double minGap,
      long seed, boolean progress) {
    public static Options defaults() {
      return new Options(64, 30, 64, 3e-3, 1e-4, Pairs.ORDERED, 0.05, 42, false);
    }
  }

  private final Options o;
  private final int d;
  private final int h;
  private final int in;
  private final float[] w1;
  private final float[] b1;
  private final float[] w2;
  private final float[] b2;

  public BertTrainer(int dimension, Options options) {
    this.o = options;
    this.d = dimension;
    this.h = options.hidden();
    this.in = h == 0 ? d : h;
    Random rnd = new Random(options.seed());
    w1 = gaussian(rnd, h * d, Math.sqrt(2.0 / d));
    b1 = new float[h];
    w2 = gaussian(rnd, 3 * in, h == 0 ? 0 : Math.sqrt(1.0 / in));
    b2 = new float[3];
  }

  private static float[] gaussian(Random rnd, int size, double std) {
    float[] a = new float[size];
    for (int i = 0; i < size; i++) {
      a[i] = (float) (rnd.nextGaussian() * std);
    }
    return a;
  }

  public BertHead head() {
    return new BertHead(d, h, 3, w1.clone(), b1.clone(), w2.clone(), b2.clone());
  }

  /** Each model's share of won battles (a tie is half) over {@code prompts}; NaN for a model with none. */
  public static double[] strengths(Dataset data, List<Integer> prompts) {
    int n = data.models().size();
    double[] won = new double[n];
    double[] games = new double[n];
    for (int q : prompts) {
      for (int b = data.battleStart(q); b < data.battleEnd(q); b++) {
        int w = data.winner(b);
        int l = data.loser(b);
        games[w]++;
        games[l]++;
        if (data.tie(b)) {
          won[w] += 0.5;
          won[l] += 0.5;
        } else {
          won[w]++;
        }
      }
    }
    double[] s = new double[n];
    for (int m = 0; m < n; m++) {
      s[m] = games[m] == 0 ? Double.NaN : won[m] / games[m];
    }
    return s;
  }

  /**
   * The label distribution of each prompt in {@code prompts} (null where no pair applies).
   *
   * @param strength from {@link #strengths} (used by {@link Pairs#ORDERED})
   */
  public static double[][] targets(Dataset data, List<Integer> prompts, String strong, String weak, Pairs pairs,
      double[] strength, double minGap) {
    int si = data.modelIndex(strong);
    int wi = data.modelIndex(weak);
    double[][] out = new double[data.size()][];
    for (int q : prompts) {
      double[] c = new double[3];
      double total = 0;
      for (int b = data.battleStart(q); b < data.battleEnd(q); b++) {
        int a = data.winner(b);
        int z = data.loser(b);
        int hi;
        if (pairs == Pairs.DEFAULT) {
          if (!((a == si && z == wi) || (a == wi && z == si))) {
            continue;
          }
          hi = si;
        } else {
          double gap = strength[a] - strength[z];
          if (!(Math.abs(gap) > minGap)) {
            continue;
          }
          hi = gap > 0 ? a : z;
        }
        c[data.tie(b) ? 1 : a == hi ? 0 : 2]++;
        total++;
      }
      if (total > 0) {
        for (int i = 0; i < 3; i++) {
          c[i] /= total;
        }
        out[q] = c;
      }
    }
    return out;
  }

  /** Runs all epochs on the prompts that have a target; returns the last epoch's mean loss. */
  public double train(float[][] embeddings, double[][] targets) {
    List<Integer> order = new ArrayList<>();
    for (int q = 0; q < targets.length; q++) {
      if (targets[q] != null) {
        order.add(q);
      }
    }
    if (order.isEmpty()) {
      throw new IllegalArgumentException("no training prompt has a label (no outcomes for the model pair?)");
    }
    Random rnd = new Random(o.seed() + 1);
    AdamW a1 = new AdamW(w1.length);
    AdamW ab1 = new AdamW(b1.length);
    AdamW a2 = new AdamW(w2.length);
    AdamW ab2 = new AdamW(b2.length);
    float[] g1 = new float[w1.length];
    float[] gb1 = new float[b1.length];
    float[] g2 = new float[w2.length];
    float[] gb2 = new float[b2.length];
    float[] hid = new float[h];
    double[] dh = new double[h];
    double last = Double.NaN;
    int steps = (order.size() + o.batch() - 1) / o.batch();
    try (ProgressBar pb = TrainingSet.progressBar("train bert", (long) steps * o.epochs(), o.progress())) {
      for (int epoch = 0; epoch < o.epochs(); epoch++) {
        Collections.shuffle(order, rnd);
        double loss = 0;
        for (int start = 0; start < order.size(); start += o.batch()) {
          int end = Math.min(order.size(), start + o.batch());
          java.util.Arrays.fill(g1, 0);
          java.util.Arrays.fill(gb1, 0);
          java.util.Arrays.fill(g2, 0);
          java.util.Arrays.fill(gb2, 0);
          double scale = 1.0 / (end - start);
          for (int bi = start; bi < end; bi++) {
            int q = order.get(bi);
            float[] e = embeddings[q];
            float[] x = e;
            if (h > 0) {
              for (int i = 0; i < h; i++) {
                double s = b1[i];
                int row = i * d;
                for (int j = 0; j < d; j++) {
                  s += w1[row + j] * e[j];
                }
                hid[i] = (float) Math.max(0, s);
              }
              x = hid;
            }
            float[] logits = new float[3];
            for (int l = 0; l < 3; l++) {
              double s = b2[l];
              for (int j = 0; j < in; j++) {
                s += w2[l * in + j] * x[j];
              }
              logits[l] = (float) s;
            }
            double[] p = LabelReading.softmax(logits);
            double[] t = targets[q];
            java.util.Arrays.fill(dh, 0);
            for (int l = 0; l < 3; l++) {
              if (t[l] > 0) {
                loss -= t[l] * Math.log(Math.max(p[l], 1e-12));
              }
              double g = (p[l] - t[l]) * scale;
              gb2[l] += (float) g;
              for (int j = 0; j < in; j++) {
                g2[l * in + j] += (float) (g * x[j]);
                if (h > 0) {
                  dh[j] += g * w2[l * in + j];
                }
              }
            }
            for (int i = 0; i < h; i++) {
              if (hid[i] <= 0 || dh[i] == 0) {
                continue;
              }
              float gi = (float) dh[i];
              gb1[i] += gi;
              int row = i * d;
              for (int j = 0; j < d; j++) {
                g1[row + j] += gi * e[j];
              }
            }
          }
          if (h > 0) {
            a1.step(w1, g1, o.lr(), o.weightDecay());
            ab1.step(b1, gb1, o.lr(), 0);
          }
          a2.step(w2, g2, o.lr(), o.weightDecay());
          ab2.step(b2, gb2, o.lr(), 0);
          pb.step();
        }
        last = loss / order.size();
        pb.setExtraMessage(String.format(" epoch %d loss %.4f", epoch + 1, last));
      }
    }
    return last;
  }

  /**
   * Held-out APGR/CPT(50%) of the pair under both readings ({@code half_tie}, {@code routellm}), and
   * the held-out label accuracy for the pair's own comparisons.
   */
  public static ObjectNode heldOutMetrics(BertHead head, TrainingSet set, String strong, String weak) {
    ObjectNode out = ModelDir.json().createObjectNode();
    out.put("prompts", set.heldOut().size());
    HeldOutMetrics.apgrOn(out.putObject("half_tie"), set, strong, weak,
        q -> LabelReading.HALF_TIE.strongWinRate(head.logits(set.embeddings()[q])));
    HeldOutMetrics.apgrOn(out.putObject("routellm"), set, strong, weak,
        q -> LabelReading.ROUTELLM.strongWinRate(head.logits(set.embeddings()[q])));
    return out;
  }
}
