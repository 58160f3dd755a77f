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
import org.knowm.xchart.style.markers.SeriesMarkers;

/** The curves of several routers on one benchmark, as a text table and a PNG plot. */
public final class EvalReport {
  private final String title;
  private final Map<String, QualityCurve> curves = new LinkedHashMap<>();

  public EvalReport(String title) {
    this.title = title;
  }

  public void add(String router, QualityCurve curve) {
    curves.put(router, curve);
  }

  public Map<String, QualityCurve> curves() {
    return curves;
  }

  public String table() {
    StringBuilder sb = new StringBuilder();
    QualityCurve any = curves.values().iterator().next();
    sb.append(title).append('\n');
    sb.append(String.format(Locale.ROOT, "strong quality %.4f, weak quality %.4f%n", any.strongQuality, any.weakQuality));
    if (any.noGap()) {
      sb.append("strong and weak have the same quality here: no gap to recover, APGR and CPT are undefined (n/a)\n");
    }
    sb.append(String.format(Locale.ROOT, "| %-40s | %7s | %8s | %8s | %8s |%n", "router", "APGR", "CPT(20%)", "CPT(50%)", "CPT(80%)"));
    sb.append("|").append("-".repeat(42)).append("|---------|----------|----------|----------|\n");
    for (var e : curves.entrySet()) {
      QualityCurve c = e.getValue();
      if (c.noGap()) {
        sb.append(String.format(Locale.ROOT, "| %-40s | %7s | %8s | %8s | %8s |%n", e.getKey(), "n/a", "n/a", "n/a", "n/a"));
        continue;
      }
      sb.append(String.format(Locale.ROOT, "| %-40s | %7.4f | %7.2f%% | %7.2f%% | %7.2f%% |%n", e.getKey(), c.apgr(),
          c.cpt(0.2), c.cpt(0.5), c.cpt(0.8)));
    }
    sb.append("\n% strong calls -> quality, per threshold:\n");
    for (var e : curves.entrySet()) {
      List<String> pts = new ArrayList<>();
      QualityCurve c = e.getValue();
      for (int i = 0; i < c.pct.length; i++) {
        pts.add(String.format(Locale.ROOT, "%.1f:%.4f", c.pct[i], c.quality[i]));
      }
      sb.append(String.format(Locale.ROOT, "  %-40s %s%n", e.getKey(), String.join(" ", pts)));
    }
    return sb.toString();
  }

  public Path plot(Path png) throws IOException {
    XYChart chart = new XYChartBuilder().width(900).height(600).title(title)
        .xAxisTitle("% calls to the strong model").yAxisTitle("quality").build();
    chart.getStyler().setLegendPosition(org.knowm.xchart.style.Styler.LegendPosition.InsideSE);
    QualityCurve any = curves.values().iterator().next();
    for (var e : curves.entrySet()) {
      XYSeries s = chart.addSeries(e.getKey() + String.format(Locale.ROOT, " (APGR %.3f)", e.getValue().apgr()),
          e.getValue().pct, e.getValue().quality);
      s.setMarker(SeriesMarkers.CIRCLE);
    }
    chart.addSeries("strong only", new double[] {0, 100}, new double[] {any.strongQuality, any.strongQuality})
        .setMarker(SeriesMarkers.NONE);
    chart.addSeries("weak only", new double[] {0, 100}, new double[] {any.weakQuality, any.weakQuality})
        .setMarker(SeriesMarkers.NONE);
    if (png.getParent() != null) {
      Files.createDirectories(png.getParent());
    }
    return Plots.savePng(chart, png);
  }
}
