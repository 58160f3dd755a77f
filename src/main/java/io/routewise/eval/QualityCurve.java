package io.routewise.eval;

import java.util.Arrays;
import java.util.Comparator;
import java.util.Random;

/**
 * RouteLLM's evaluation (evals/evaluate.py), reproduced as {@code ../shared/tools/apgr.py} does it:
 * thresholds at the 11 quantile edges of the router's scores (numpy's linear interpolation), a
 * prompt goes strong when {@code score >= edge} (strictly {@code >} at the top edge), quality = mean
 * of the routed model's score; points sorted by % strong calls. The edges are at exactly i / 10,
 * where numpy's linspace gives 0.30000000000000004 and the like: where such a position lands on a
 * whole index (11, 21, 101 prompts) and the next score is far (ties, discrete scores), apgr.py's edge
 * moves past it and its figures differ (11 tied prompts: APGR 0.5227 there, 0.5455 here).
 *
 * <p>APGR = area under quality vs share of strong calls (trapezoids), minus the weak model's area,
 * over the strong-minus-weak area. CPT(x) = % strong calls at which quality first reaches
 * {@code weak + x * (strong - weak)}, linear between points. apgr.py and RouteLLM take numpy.interp
 * on the curve, which gives the same where quality rises strictly and is undefined where it does not
 * (its binary search can land past a later dip: 88 % where the curve first gets there at 69 %).
 */
public final class QualityCurve {
  /** Percent of strong calls at each threshold (ascending). */
  public final double[] pct;
  /** Mean quality at each threshold. */
  public final double[] quality;
  public final double strongQuality;
  public final double weakQuality;

  private QualityCurve(double[] pct, double[] quality, double strongQuality, double weakQuality) {
    this.pct = pct;
    this.quality = quality;
    this.strongQuality = strongQuality;
    this.weakQuality = weakQuality;
  }

  public static QualityCurve of(double[] scores, double[] strong, double[] weak) {
    return of(scores, strong, weak, 10);
  }

  public static QualityCurve of(double[] scores, double[] strong, double[] weak, int bins) {
    int n = scores.length;
    if (n == 0 || strong.length != n || weak.length != n) {
      throw new IllegalArgumentException("need equally many scores and outcomes, at least one");
    }
    double[] sorted = scores.clone();
    Arrays.sort(sorted);
    double[][] pts = new double[bins + 1][];
    for (int i = 0; i <= bins; i++) {
      double t = quantile(sorted, (double) i / bins);
      boolean last = i == bins;
      int count = 0;
      double q = 0;
      for (int k = 0; k < n; k++) {
        boolean sel = last ? scores[k] > t : scores[k] >= t;
        if (sel) {
          count++;
        }
        q += sel ? strong[k] : weak[k];
      }
      pts[i] = new double[] {100.0 * count / n, q / n};
    }
    Arrays.sort(pts, Comparator.<double[]>comparingDouble(p -> p[0]).thenComparingDouble(p -> p[1]));
    double[] pct = new double[bins + 1];
    double[] qual = new double[bins + 1];
    for (int i = 0; i <= bins; i++) {
      pct[i] = pts[i][0];
      qual[i] = pts[i][1];
    }
    return new QualityCurve(pct, qual, mean(strong), mean(weak));
  }

  /** The random router: the point-wise mean of {@code runs} curves of uniform random scores. */
  public static QualityCurve random(double[] strong, double[] weak, int runs, long seed) {
    Random rnd = new Random(seed);
    double[] pct = null;
    double[] qual = null;
    for (int r = 0; r < runs; r++) {
      double[] s = new double[strong.length];
      for (int i = 0; i < s.length; i++) {
        s[i] = rnd.nextDouble();
      }
      QualityCurve c = of(s, strong, weak);
      if (pct == null) {
        pct = new double[c.pct.length];
        qual = new double[c.pct.length];
      }
      for (int i = 0; i < pct.length; i++) {
        pct[i] += c.pct[i] / runs;
        qual[i] += c.quality[i] / runs;
      }
    }
    return new QualityCurve(pct, qual, mean(strong), mean(weak));
  }

  /** numpy.quantile with the default 'linear' method, on sorted values. */
  static double quantile(double[] sorted, double q) {
    double pos = q * (sorted.length - 1);
    int lo = (int) Math.floor(pos);
    int hi = Math.min(lo + 1, sorted.length - 1);
    double frac = pos - lo;
    return sorted[lo] + (sorted[hi] - sorted[lo]) * frac;
  }

  /**
   * Whether strong and weak have the same mean quality on these prompts (to rounding): then there is no
   * gap to recover, and APGR and CPT are undefined (NaN), not the ±Infinity that 0 / 0 rounds to.
   */
  public boolean noGap() {
    return Math.abs(strongQuality - weakQuality) <= 1e-12 * Math.max(1, Math.max(Math.abs(strongQuality), Math.abs(weakQuality)));
  }

  public double apgr() {
    if (noGap()) {
      return Double.NaN;
    }
    double auc = 0;
    for (int i = 1; i < pct.length; i++) {
      auc += (pct[i] - pct[i - 1]) / 100 * (quality[i] + quality[i - 1]) / 2;
    }
    double span = (pct[pct.length - 1] - pct[0]) / 100;
    return (auc - weakQuality * span) / ((strongQuality - weakQuality) * span);
  }

  /** CPT(x) in % strong calls, x in (0, 1), e.g. 0.5 for CPT(50%). */
  public double cpt(double x) {
    if (noGap()) {
      return Double.NaN;
    }
    return firstReaching(x * (strongQuality - weakQuality) + weakQuality, quality, pct);
  }

  /**
   * The first {@code at} (linear between points) where {@code level} reaches {@code target}; the
   * first point when it starts there, the last when it never gets there (numpy.interp's clamps).
   */
  static double firstReaching(double target, double[] level, double[] at) {
    if (level[0] >= target) {
      return at[0];
    }
    for (int i = 1; i < level.length; i++) {
      if (level[i] >= target) {
        return at[i - 1] + (at[i] - at[i - 1]) * (target - level[i - 1]) / (level[i] - level[i - 1]);
      }
    }
    return at[at.length - 1];
  }

  private static double mean(double[] a) {
    double s = 0;
    for (double v : a) {
      s += v;
    }
    return s / a.length;
  }
}
