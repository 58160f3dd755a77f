package io.routewise.eval;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.function.IntBinaryOperator;

/**
 * A cost–quality curve: mean cost and mean quality per prompt over a benchmark, one point per
 * setting (a router's α, or a mix of single models), as a piecewise-linear function of cost.
 * Between two points, sending each prompt to one of the two settings at random reaches every point
 * of the segment (RouterBench's argument), so linear interpolation is an achievable curve.
 */
public final class CostCurve {
  /** Mean cost per prompt (ascending) and mean quality at that cost. */
  public final double[] cost;
  public final double[] quality;

  public CostCurve(double[] cost, double[] quality) {
    if (cost.length != quality.length || cost.length == 0) {
      throw new IllegalArgumentException("a curve needs as many qualities as costs, at least one");
    }
    double[][] pts = new double[cost.length][];
    for (int i = 0; i < cost.length; i++) {
      pts[i] = new double[] {cost[i], quality[i]};
    }
    Arrays.sort(pts, Comparator.<double[]>comparingDouble(p -> p[0]).thenComparingDouble(p -> p[1]));
    this.cost = new double[pts.length];
    this.quality = new double[pts.length];
    for (int i = 0; i < pts.length; i++) {
      this.cost[i] = pts[i][0];
      this.quality[i] = pts[i][1];
    }
  }

  /**
   * A router's curve as α sweeps [0, 1], exactly. Under the ladder rule (the cheapest rung whose
   * rate is below α) a prompt's choice changes only where α passes one of its rates, and only
   * towards cheaper rungs, so one pass over all rates, sorted, gives every distinct point.
   *
   * @param rates per prompt, per rung (most capable first), the value above which α makes the rung
   *     acceptable ({@code LadderRule.acceptance}: for the threshold rule, P(top beats that rung));
   *     column 0 ignored. The curve starts with every prompt at the top, the top's point alone.
   * @param cost per prompt, per rung, what that rung's answer costs
   * @param quality per prompt, per rung, that rung's score on the prompt
   */
  public static CostCurve sweep(double[][] rates, double[][] cost, double[][] quality) {
    int n = rates.length;
    List<double[]> events = new ArrayList<>(); // value, prompt, rung
    for (int p = 0; p < n; p++) {
      for (int r = 1; r < rates[p].length; r++) {
        if (rates[p][r] < 1.0) { // a rung beaten for certain is never acceptable for α <= 1
          events.add(new double[] {rates[p][r], p, r});
        }
      }
    }
    events.sort(Comparator.comparingDouble(e -> e[0]));
    int[] chosen = new int[n];
    double c = 0;
    double q = 0;
    for (int p = 0; p < n; p++) {
      c += cost[p][0];
      q += quality[p][0];
    }
    List<Double> cs = new ArrayList<>(List.of(c / n));
    List<Double> qs = new ArrayList<>(List.of(q / n));
    for (int i = 0; i < events.size(); ) {
      double value = events.get(i)[0];
      // rungs become acceptable for α > value; the choice is the cheapest acceptable one
      for (; i < events.size() && events.get(i)[0] == value; i++) {
        int p = (int) events.get(i)[1];
        int r = (int) events.get(i)[2];
        if (r > chosen[p]) {
          c += cost[p][r] - cost[p][chosen[p]];
          q += quality[p][r] - quality[p][chosen[p]];
          chosen[p] = r;
        }
      }
      cs.add(c / n);
      qs.add(q / n);
    }
    return new CostCurve(cs.stream().mapToDouble(Double::doubleValue).toArray(),
        qs.stream().mapToDouble(Double::doubleValue).toArray());
  }

  /**
   * The curve at given α values, each prompt routed by {@code rule} (prompt index, α index → rung).
   * For routers whose scores are random draws, averaged over runs by {@link #mean}.
   */
  public static double[][] atAlphas(int prompts, int alphas, IntBinaryOperator rule, double[][] cost,
      double[][] quality) {
    double[][] out = new double[2][alphas];
    for (int a = 0; a < alphas; a++) {
      double c = 0;
      double q = 0;
      for (int p = 0; p < prompts; p++) {
        int r = rule.applyAsInt(p, a);
        c += cost[p][r];
        q += quality[p][r];
      }
      out[0][a] = c / prompts;
      out[1][a] = q / prompts;
    }
    return out;
  }

  /** The point-wise mean of several runs' {@link #atAlphas} results. */
  public static CostCurve mean(List<double[][]> runs) {
    int a = runs.get(0)[0].length;
    double[] c = new double[a];
    double[] q = new double[a];
    for (double[][] run : runs) {
      for (int i = 0; i < a; i++) {
        c[i] += run[0][i] / runs.size();
        q[i] += run[1][i] / runs.size();
      }
    }
    return new CostCurve(c, q);
  }

  /**
   * RouterBench's baseline: the best quality a random mix of the single models reaches at each
   * cost, i.e. the upper convex hull of their (cost, quality) points, made non-decreasing (a budget
   * never forces a worse mix), flat after the best model.
   */
  public static CostCurve hull(double[] singleCost, double[] singleQuality) {
    int n = singleCost.length;
    Integer[] order = new Integer[n];
    for (int i = 0; i < n; i++) {
      order[i] = i;
    }
    Arrays.sort(order, Comparator.<Integer>comparingDouble(i -> singleCost[i]).thenComparingDouble(i -> -singleQuality[i]));
    List<double[]> hull = new ArrayList<>();
    for (int i : order) {
      double[] pt = {singleCost[i], singleQuality[i]};
      if (!hull.isEmpty() && pt[1] <= hull.get(hull.size() - 1)[1]) {
        continue; // as dear or dearer and no better: dominated
      }
      while (hull.size() >= 2 && !above(hull.get(hull.size() - 2), hull.get(hull.size() - 1), pt)) {
        hull.remove(hull.size() - 1);
      }
      hull.add(pt);
    }
    return new CostCurve(hull.stream().mapToDouble(p -> p[0]).toArray(), hull.stream().mapToDouble(p -> p[1]).toArray());
  }

  /** Whether b lies strictly above the segment a–c (so it stays on the upper hull). */
  private static boolean above(double[] a, double[] b, double[] c) {
    return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]) < 0;
  }

  /**
   * Area under the curve over [lo, hi] divided by its width: the mean quality over that cost range
   * (flat beyond the curve's own ends), so curves over the same range compare directly.
   */
  public double meanQuality(double lo, double hi) {
    if (!(hi > lo)) { // a range one cost wide (the top and the cheapest alike): the quality there, not 0 / 0
      return qualityAt(lo);
    }
    int n = cost.length;
    double area = 0;
    if (cost[0] > lo) {
      area += (Math.min(cost[0], hi) - lo) * quality[0];
    }
    if (cost[n - 1] < hi) {
      area += (hi - Math.max(cost[n - 1], lo)) * quality[n - 1];
    }
    for (int i = 1; i < n; i++) {
      double a = Math.max(lo, cost[i - 1]);
      double b = Math.min(hi, cost[i]);
      if (b > a) {
        area += (b - a) * (interpolate(i, a) + interpolate(i, b)) / 2;
      }
    }
    return area / (hi - lo);
  }

  /**
   * The best quality the curve reaches at cost {@code c}: the highest of its points at c (to rounding:
   * a sweep's running sums drift in the last bits), else interpolated, flat beyond its ends.
   */
  double qualityAt(double c) {
    int n = cost.length;
    double tolerance = 1e-9 * Math.max(Math.abs(c), Double.MIN_NORMAL);
    double best = Double.NEGATIVE_INFINITY;
    for (int i = 0; i < n; i++) {
      if (Math.abs(cost[i] - c) <= tolerance) {
        best = Math.max(best, quality[i]);
      }
    }
    if (best > Double.NEGATIVE_INFINITY) {
      return best;
    }
    if (c < cost[0]) {
      return quality[0];
    }
    int i = n - 1;
    while (cost[i] > c) {
      i--;
    }
    return i == n - 1 ? quality[i] : interpolate(i + 1, c);
  }

  /** Quality on the segment ending at point i, at cost c within it. */
  private double interpolate(int i, double c) {
    return quality[i - 1] + (quality[i] - quality[i - 1]) * (c - cost[i - 1]) / (cost[i] - cost[i - 1]);
  }

  /** The lowest cost at which the curve reaches {@code target} quality, or NaN if it never does. */
  public double costToReach(double target) {
    if (quality[0] >= target) {
      return cost[0];
    }
    for (int i = 1; i < cost.length; i++) {
      if (quality[i] >= target) {
        double q0 = quality[i - 1];
        double q1 = quality[i];
        return q1 == q0 ? cost[i] : cost[i - 1] + (cost[i] - cost[i - 1]) * (target - q0) / (q1 - q0);
      }
    }
    return Double.NaN;
  }

  /** This curve with the two single-model ends added (reachable by sending everything to one). */
  public CostCurve withEnds(double lowCost, double lowQuality, double highCost, double highQuality) {
    double[] c = Arrays.copyOf(cost, cost.length + 2);
    double[] q = Arrays.copyOf(quality, quality.length + 2);
    c[cost.length] = lowCost;
    q[cost.length] = lowQuality;
    c[cost.length + 1] = highCost;
    q[cost.length + 1] = highQuality;
    return new CostCurve(c, q);
  }

  public double maxQuality() {
    return Arrays.stream(quality).max().orElseThrow();
  }
}
