package io.routewise.routers.bert;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * How a classifier's labels become the strong model's win rate: softmax over the logits, then
 * {@code sum_i weight[i] * p[i]}. Immutable.
 *
 * <p>RouteLLM's BERT router has three labels (0: the strong model wins, 1: tie, 2: the weak model
 * wins) and reads {@code 1 - (p[1] + p[2])}: labels 1 and 2 mean "the weak model is fine", so their
 * weight is 0 and label 0's is 1 ({@link #weakOk}). A reading that counts a tie as half a win is
 * {@code [1, 0.5, 0]} ({@link #HALF_TIE}).
 *
 * @param weights one weight in [0, 1] per label, in label order
 */
public record LabelReading(double[] weights) {
  /** Strong better, tie, weak better: the head trained by {@code routewise train bert} counts a tie as half. */
  public static final LabelReading HALF_TIE = new LabelReading(new double[] {1, 0.5, 0});
  /** RouteLLM's reading of its 3-label classifier: {@code 1 - P(tie) - P(weak better)}. */
  public static final LabelReading ROUTELLM = new LabelReading(new double[] {1, 0, 0});

  public LabelReading {
    weights = weights.clone();
    for (double w : weights) {
      if (!(w >= 0 && w <= 1)) {
        throw new IllegalArgumentException("label weights must be in [0, 1], got " + Arrays.toString(weights));
      }
    }
  }

  /**
   * Weight 0 for the labels in {@code weakOkLabels}, 1 for the others. At least one label, and not
   * every one, must be weak-ok: otherwise the rate is 1 (or 0) for every prompt, whatever the model says.
   */
  public static LabelReading weakOk(int labels, List<Integer> weakOkLabels) {
    double[] w = new double[labels];
    Arrays.fill(w, 1);
    int weakOk = 0;
    for (int l : weakOkLabels) {
      if (l < 0 || l >= labels) {
        throw new IllegalArgumentException("label " + l + " is out of range (the model has " + labels + " labels)");
      }
      weakOk += w[l] == 1 ? 1 : 0;
      w[l] = 0;
    }
    if (weakOk == 0) {
      throw new IllegalArgumentException("none of the " + labels + " labels means the weak model is fine, so every"
          + " prompt would score 1 (strong at any threshold)");
    }
    if (weakOk == labels) {
      throw new IllegalArgumentException("every label means the weak model is fine, so every prompt would score 0"
          + " (weak at any threshold above 0)");
    }
    return new LabelReading(w);
  }

  /** RouteLLM's default for {@code labels} labels: every label but the first means the weak model is fine. */
  public static LabelReading defaultFor(int labels) {
    List<Integer> rest = new ArrayList<>();
    for (int i = 1; i < labels; i++) {
      rest.add(i);
    }
    return weakOk(labels, rest);
  }

  /**
   * Resolves label references, each an index ({@code "2"}) or a name from {@code names} (e.g. a
   * config.json's {@code id2label} value such as {@code "LABEL_2"}), to indices.
   */
  public static List<Integer> resolve(List<String> refs, List<String> names) {
    List<Integer> out = new ArrayList<>();
    for (String ref : refs) {
      int byName = names.indexOf(ref);
      if (byName >= 0) {
        out.add(byName);
        continue;
      }
      try {
        out.add(Integer.parseInt(ref.trim()));
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("'" + ref + "' is neither a label index nor a label name " + names);
      }
    }
    return out;
  }

  public int labels() {
    return weights.length;
  }

  @Override
  public double[] weights() {
    return weights.clone();
  }

  /** The win rate for these logits (one per label). */
  public double strongWinRate(float[] logits) {
    return strongWinRateOfProbabilities(softmax(logits));
  }

  public double strongWinRateOfProbabilities(double[] p) {
    if (p.length != weights.length) {
      throw new IllegalArgumentException("got " + p.length + " label scores, the reading has " + weights.length + " labels");
    }
    double s = 0;
    for (int i = 0; i < p.length; i++) {
      s += weights[i] * p[i];
    }
    // rounding can leave the sum a hair outside [0, 1]
    return Math.min(1, Math.max(0, s));
  }

  public static double[] softmax(float[] logits) {
    double max = Double.NEGATIVE_INFINITY;
    for (float l : logits) {
      max = Math.max(max, l);
    }
    double[] p = new double[logits.length];
    double sum = 0;
    for (int i = 0; i < logits.length; i++) {
      p[i] = Math.exp(logits[i] - max);
      sum += p[i];
    }
    for (int i = 0; i < p.length; i++) {
      p[i] /= sum;
    }
    return p;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof LabelReading r && Arrays.equals(weights, r.weights);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(weights);
  }

  @Override
  public String toString() {
    return "LabelReading" + Arrays.toString(weights);
  }
}
