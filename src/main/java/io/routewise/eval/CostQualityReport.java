package io.routewise.eval;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.lines.SeriesLines;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * N-way evaluation on one benchmark: each single model of the ladder (mean cost and quality per
 * prompt), the convex hull of those points (RouterBench's baseline: what mixing models at random
 * reaches), and each router's curve as α sweeps [0, 1]. Every curve is summarized over the same
 * cost range, from the cheapest upstream alone to the top alone: its mean quality there (area over
 * width), and the cost at which it first reaches the best single model's quality.
 */
public final class CostQualityReport {
  private final String title;
  private final String assumptions;
  private final List<String> models;
  private final double[] singleCost;
  private final double[] singleQuality;
  private final CostCurve hull;
  private final double lo;
  private final double hi;
  private final Map<String, CostCurve> curves = new LinkedHashMap<>();
  private final Map<String, double[][]> sweeps = new LinkedHashMap<>();
  private final double[] alphas;

  /**
   * @param models the ladder's models, most capable first; the last is the cheapest
   * @param singleCost mean cost per prompt of each model alone, USD
   * @param alphas the α values at which {@link #table()} lists each router's point
   */
  public CostQualityReport(String title, String assumptions, List<String> models, double[] singleCost,
      double[] singleQuality, double[] alphas) {
    this.title = title;
    this.assumptions = assumptions;
    this.models = List.copyOf(models);
    this.singleCost = singleCost.clone();
    this.singleQuality = singleQuality.clone();
    this.hull = CostCurve.hull(singleCost, singleQuality);
    double top = singleCost[0];
    double bottom = singleCost[singleCost.length - 1];
    this.lo = Math.min(top, bottom);
    this.hi = Math.max(top, bottom);
    this.alphas = alphas.clone();
  }

  /**
   * A router's curve, its ends completed with the cheapest and the top model alone (where α = 1
   * and α = 0 lead, unless a rung is beaten for certain).
   *
   * @param atAlphas its (cost, quality) at {@link #alphas}, for the table
   */
  public void add(String router, CostCurve curve, double[][] atAlphas) {
    int last = models.size() - 1;
    curves.put(router, curve.withEnds(singleCost[last], singleQuality[last], singleCost[0], singleQuality[0]));
    sweeps.put(router, atAlphas);
  }

  public Map<String, CostCurve> curves() {
    return curves;
  }

  public CostCurve hull() {
    return hull;
  }

  /** The cost range every curve is summarized over: the cheapest upstream alone to the top alone. */
  public double[] range() {
    return new double[] {lo, hi};
  }

  /** The best quality of a single model of the ladder. */
  public double bestSingle() {
    double best = Double.NEGATIVE_INFINITY;
    for (double q : singleQuality) {
      best = Math.max(best, q);
    }
    return best;
  }

  private static String usd(double perPrompt) {
    return String.format(Locale.ROOT, "%.4f", perPrompt * 1000);
  }

  public String table() {
    StringBuilder sb = new StringBuilder();
    sb.append(title).append('\n').append(assumptions).append('\n');
    sb.append("\nsingle models (ladder order, most capable first); cost in USD per 1,000 prompts\n");
    sb.append(String.format(Locale.ROOT, "| %-40s | %10s | %7s |%n", "model", "cost", "quality"));
    sb.append("|").append("-".repeat(42)).append("|------------|---------|\n");
    for (int i = 0; i < models.size(); i++) {
      sb.append(String.format(Locale.ROOT, "| %-40s | %10s | %7.4f |%n", models.get(i), usd(singleCost[i]), singleQuality[i]));
    }
    double best = bestSingle();
    sb.append(String.format(Locale.ROOT, "%ncurves over the same cost range, %s to %s per 1,000 prompts (the cheapest alone"
        + " to the top alone); best single model quality %.4f%n", usd(lo), usd(hi), best));
    sb.append(String.format(Locale.ROOT, "| %-40s | %12s | %9s | %22s |%n", "curve", "mean quality", "vs hull",
        "cost to match the best"));
    sb.append("|").append("-".repeat(42)).append("|--------------|-----------|------------------------|\n");
    double hullArea = hull.meanQuality(lo, hi);
    sb.append(row("convex hull of single models", hull, hullArea, best));
    for (var e : curves.entrySet()) {
      sb.append(row(e.getKey(), e.getValue(), hullArea, best));
    }
    sb.append("\nα -> cost per 1,000 prompts / quality:\n");
    for (var e : sweeps.entrySet()) {
      List<String> pts = new ArrayList<>();
      for (int i = 0; i < alphas.length; i++) {
        pts.add(String.format(Locale.ROOT, "%.2f:%s/%.3f", alphas[i], usd(e.getValue()[0][i]), e.getValue()[1][i]));
      }
      sb.append(String.format(Locale.ROOT, "  %-32s %s%n", e.getKey(), String.join(" ", pts)));
    }
    return sb.toString();
  }

  private String row(String name, CostCurve c, double hullArea, double best) {
    double area = c.meanQuality(lo, hi);
    double match = c.costToReach(best - 1e-12);
    // a share of the best model's cost; none when that model is free (a local one priced 0): n/a, not NaN%
    String matchText = Double.isNaN(match) ? String.format(Locale.ROOT, "never (max %.4f)", c.maxQuality())
        : costOfBest() > 0 ? String.format(Locale.ROOT, "%s (%.0f%%)", usd(match), 100 * match / costOfBest())
        : usd(match) + " (n/a)";
    return String.format(Locale.ROOT, "| %-40s | %12.4f | %+9.4f | %22s |%n", name, area, area - hullArea, matchText);
  }

  private double costOfBest() {
    double best = bestSingle();
    double cost = Double.POSITIVE_INFINITY;
    for (int i = 0; i < models.size(); i++) {
      if (singleQuality[i] == best) {
        cost = Math.min(cost, singleCost[i]);
      }
    }
    return cost;
  }

  /**
   * Quality against cost per 1,000 prompts: routers, single models, their hull. The cost axis is
   * logarithmic, the ladders' prices spanning orders of magnitude, unless a model is free (a local
   * one priced 0), which a log axis cannot place.
   */
  public Path plot(Path png) throws IOException {
    boolean log = java.util.Arrays.stream(singleCost).allMatch(c -> c > 0);
    XYChart chart = new XYChartBuilder().width(1000).height(650).title(title)
        .xAxisTitle("USD per 1,000 prompts" + (log ? " (log scale)" : "")).yAxisTitle("quality").build();
    chart.getStyler().setLegendPosition(org.knowm.xchart.style.Styler.LegendPosition.OutsideE);
    chart.getStyler().setXAxisLogarithmic(log);
    chart.getStyler().setXAxisDecimalPattern("0.###");
    for (var e : curves.entrySet()) {
      XYSeries s = chart.addSeries(e.getKey() + String.format(Locale.ROOT, " (%.3f)", e.getValue().meanQuality(lo, hi)),
          thousand(e.getValue().cost), e.getValue().quality);
      s.setMarker(SeriesMarkers.NONE);
    }
    // The hull's straight segments, sampled so they stay straight-line mixes on a log axis too.
    List<Double> hx = new ArrayList<>();
    List<Double> hy = new ArrayList<>();
    for (int i = 0; i < hull.cost.length; i++) {
      if (i > 0) {
        for (int k = 1; k < 20; k++) {
          double c = hull.cost[i - 1] + (hull.cost[i] - hull.cost[i - 1]) * k / 20;
          hx.add(c * 1000);
          hy.add(hull.quality[i - 1] + (hull.quality[i] - hull.quality[i - 1]) * k / 20);
        }
      }
      hx.add(hull.cost[i] * 1000);
      hy.add(hull.quality[i]);
    }
    XYSeries h = chart.addSeries(String.format(Locale.ROOT, "hull of single models (%.3f)", hull.meanQuality(lo, hi)),
        hx.stream().mapToDouble(Double::doubleValue).toArray(), hy.stream().mapToDouble(Double::doubleValue).toArray());
    h.setMarker(SeriesMarkers.NONE);
    h.setLineStyle(SeriesLines.DASH_DASH);
    h.setLineColor(java.awt.Color.GRAY);
    for (int i = 0; i < models.size(); i++) {
      XYSeries s = chart.addSeries(models.get(i), new double[] {singleCost[i] * 1000}, new double[] {singleQuality[i]});
      s.setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Scatter);
      s.setMarker(SeriesMarkers.DIAMOND);
    }
    if (png.getParent() != null) {
      Files.createDirectories(png.getParent());
    }
    return Plots.savePng(chart, png);
  }

  private static double[] thousand(double[] perPrompt) {
    double[] out = new double[perPrompt.length];
    for (int i = 0; i < out.length; i++) {
      out[i] = perPrompt[i] * 1000;
    }
    return out;
  }
}
