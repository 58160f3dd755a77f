package io.routewise.data;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * What each model scored on each prompt, on one scale: a sparse prompts x models table (CSR, grouped
 * by prompt) of scores in [0, 1], the input of the point-wise trainers.
 *
 * <ul>
 *   <li>Outcomes-format rows give their scores. A source whose scores leave [0, 1] (a judge's 1..10)
 *       is mapped linearly from its own observed minimum and maximum onto [0, 1].
 *   <li>A prompt known only from Chatbot-Arena battles gives each model its share of the battles it
 *       won there, a tie counting half.
 * </ul>
 */
public final class OutcomeTable {
  private final int prompts;
  private final int models;
  private final int[] start;
  private final int[] model;
  private final float[] score;

  private OutcomeTable(int prompts, int models, int[] start, int[] model, float[] score) {
    this.prompts = prompts;
    this.models = models;
    this.start = start;
    this.model = model;
    this.score = score;
  }

  /**
   * One line per source whose scores leave [0, 1], which training rescales by the source's range (a
   * 1–10 judge's): said, since one typo (a 10 among 0/1 scores) squeezes every other score of its
   * source into a tenth of the scale.
   */
  public static List<String> rescaleNotes(Dataset data) {
    Map<String, double[]> range = new java.util.TreeMap<>();
    Map<String, long[]> counts = new HashMap<>();
    for (PromptRecord p : data.prompts()) {
      for (double v : p.outcomes().values()) {
        double[] r = range.computeIfAbsent(p.source(), k -> new double[] {Double.MAX_VALUE, -Double.MAX_VALUE});
        r[0] = Math.min(r[0], v);
        r[1] = Math.max(r[1], v);
        long[] c = counts.computeIfAbsent(p.source(), k -> new long[2]);
        c[0]++;
        c[1] += v < 0 || v > 1 ? 1 : 0;
      }
    }
    List<String> notes = new java.util.ArrayList<>();
    range.forEach((source, r) -> {
      long[] c = counts.get(source);
      if (c[1] > 0) {
        notes.add(String.format(java.util.Locale.ROOT, "source %s: scores in [%s, %s], %d of %d outside [0, 1]: "
                + "rescaled to [0, 1] by that range%s", source, num(r[0]), num(r[1]), c[1], c[0],
            c[1] * 100 < c[0] ? " (so few: typos? they squeeze every other score of the source)" : ""));
      }
    });
    return notes;
  }

  private static String num(double v) {
    return v == Math.rint(v) && Math.abs(v) < 1e15 ? Long.toString((long) v) : Double.toString(v);
  }

  public static OutcomeTable of(Dataset data) {
    List<PromptRecord> ps = data.prompts();
    Map<String, double[]> range = new HashMap<>();
    for (PromptRecord p : ps) {
      for (double v : p.outcomes().values()) {
        double[] r = range.computeIfAbsent(p.source(), k -> new double[] {Double.MAX_VALUE, -Double.MAX_VALUE});
        r[0] = Math.min(r[0], v);
        r[1] = Math.max(r[1], v);
      }
    }
    int n = ps.size();
    int[] start = new int[n + 1];
    int[] model = new int[16];
    float[] score = new float[16];
    int k = 0;
    double[] wins = new double[data.models().size()];
    double[] games = new double[data.models().size()];
    for (int i = 0; i < n; i++) {
      start[i] = k;
      PromptRecord p = ps.get(i);
      if (!p.outcomes().isEmpty()) {
        double[] r = range.get(p.source());
        boolean rescale = r[0] < 0 || r[1] > 1;
        double span = r[1] - r[0];
        for (var e : p.outcomes().entrySet()) {
          double v = rescale ? (span > 0 ? (e.getValue() - r[0]) / span : 0.5) : e.getValue();
          if (k == model.length) {
            model = java.util.Arrays.copyOf(model, k * 2);
            score = java.util.Arrays.copyOf(score, k * 2);
          }
          model[k] = data.modelIndex(e.getKey());
          score[k++] = (float) v;
        }
      } else {
        java.util.Arrays.fill(wins, 0);
        java.util.Arrays.fill(games, 0);
        for (int b = data.battleStart(i); b < data.battleEnd(i); b++) {
          int w = data.winner(b);
          int l = data.loser(b);
          games[w]++;
          games[l]++;
          wins[w] += data.tie(b) ? 0.5 : 1;
          wins[l] += data.tie(b) ? 0.5 : 0;
        }
        for (int m = 0; m < games.length; m++) {
          if (games[m] > 0) {
            if (k == model.length) {
              model = java.util.Arrays.copyOf(model, k * 2);
              score = java.util.Arrays.copyOf(score, k * 2);
            }
            model[k] = m;
            score[k++] = (float) (wins[m] / games[m]);
          }
        }
      }
    }
    start[n] = k;
    return new OutcomeTable(n, data.models().size(), start, java.util.Arrays.copyOf(model, k),
        java.util.Arrays.copyOf(score, k));
  }

  public int prompts() {
    return prompts;
  }

  public int models() {
    return models;
  }

  /** The observations of prompt p are {@code [start(p), end(p))}. */
  public int start(int p) {
    return start[p];
  }

  public int end(int p) {
    return start[p + 1];
  }

  public int model(int obs) {
    return model[obs];
  }

  public float score(int obs) {
    return score[obs];
  }

  /** Model m's score on prompt p, or NaN when it has none. */
  public double score(int p, int m) {
    for (int o = start[p]; o < start[p + 1]; o++) {
      if (model[o] == m) {
        return score[o];
      }
    }
    return Double.NaN;
  }
}
