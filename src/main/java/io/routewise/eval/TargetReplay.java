package io.routewise.eval;

import io.routewise.config.TargetConfig;
import io.routewise.routing.Route;
import io.routewise.routing.TargetController;
import io.routewise.routing.ThresholdRule;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicLong;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * Replays a recorded stream of win rates through the target controller, in simulated time, beside
 * a fixed threshold: the same {@link TargetController} and {@link ThresholdRule} that serve requests,
 * stepped every sync period as the sync thread steps it, with no upstreams and no clock but the
 * simulated one. Then it measures, over every window (the target's window long, starting every
 * slice), the share each policy sent strong.
 */
public final class TargetReplay {
  private static final long T0 = 1_700_000_000_000L; // any wall-clock start will do; this one is slice-aligned

  /**
   * A replayed stream.
   *
   * @param phaseStarts the index of each phase's first request (the first is 0)
   * @param fixedAlpha the fixed threshold beside the controller
   * @param perSecond requests per simulated second
   */
  public record Result(TargetConfig target, double fixedAlpha, double perSecond, int[] phaseStarts,
      boolean[] fixedStrong, boolean[] autoStrong, double[] autoAlpha) {
    public int size() {
      return autoStrong.length;
    }

    public double seconds(int request) {
      return request / perSecond;
    }
  }

  /** The shares of one window. */
  public record Window(double startSeconds, int phase, double fixedShare, double autoShare, double autoAlphaAtEnd) {}

  /**
   * How the controller did in one phase.
   *
   * @param settleSeconds from the phase's start, when the first window lies that from then on every
   *     window is within {@code tolerance} of the target; NaN if none
   * @param maxDeviation the largest |share - target| of the controller's windows after settling
   * @param fixedMin the fixed threshold's lowest window share in the phase
   * @param fixedMax its highest
   */
  public record Phase(int phase, int windows, double settleSeconds, double maxDeviation, int windowsAfterSettling,
      double fixedMin, double fixedMax) {}

  private TargetReplay() {}

  /** Feeds {@code rates} through both policies, {@code perSecond} requests a simulated second. */
  public static Result run(double[] rates, int[] phaseStarts, TargetConfig target, double fixedAlpha,
      double perSecond, long syncMillis) {
    AtomicLong now = new AtomicLong(T0);
    TargetController controller = new TargetController("replay", target, now::get);
    boolean[] fixed = new boolean[rates.length];
    boolean[] auto = new boolean[rates.length];
    double[] alpha = new double[rates.length];
    controller.tick(controller.snapshot(), null); // serve's sync runs once at start, before any request
    long nextSync = T0 + syncMillis;
    for (int i = 0; i < rates.length; i++) {
      long at = T0 + Math.round(i * 1000 / perSecond);
      while (nextSync <= at) {
        now.set(nextSync);
        controller.tick(controller.snapshot(), null);
        nextSync += syncMillis;
      }
      now.set(at);
      fixed[i] = ThresholdRule.route(rates[i], fixedAlpha) == Route.STRONG;
      alpha[i] = controller.alpha();
      Route route = ThresholdRule.route(rates[i], alpha[i]);
      controller.decided(rates[i], route);
      auto[i] = route == Route.STRONG;
    }
    return new Result(target, fixedAlpha, perSecond, phaseStarts.clone(), fixed, auto, alpha);
  }

  /**
   * Every window as long as the target's window, starting every {@code stepSeconds} from the stream's
   * start, across phases (its phase is the one it ends in): what the plot draws, the shift included.
   */
  public static List<Window> trailing(Result r, double stepSeconds) {
    int length = (int) Math.round(r.target().window().toMillis() / 1000.0 * r.perSecond());
    int step = Math.max(1, (int) Math.round(stepSeconds * r.perSecond()));
    List<Window> out = new ArrayList<>();
    for (int s = 0; s + length <= r.size(); s += step) {
      int fixed = 0;
      int auto = 0;
      for (int i = s; i < s + length; i++) {
        fixed += r.fixedStrong()[i] ? 1 : 0;
        auto += r.autoStrong()[i] ? 1 : 0;
      }
      int phase = 0;
      while (phase + 1 < r.phaseStarts().length && r.phaseStarts()[phase + 1] < s + length) {
        phase++;
      }
      out.add(new Window(r.seconds(s), phase, (double) fixed / length, (double) auto / length,
          r.autoAlpha()[s + length - 1]));
    }
    return out;
  }

  /**
   * Every window as long as the target's window, starting every {@code stepSeconds} from its phase's
   * start, that lies within one phase: what the bar is judged on.
   */
  public static List<Window> windows(Result r, double stepSeconds) {
    int length = (int) Math.round(r.target().window().toMillis() / 1000.0 * r.perSecond());
    int step = Math.max(1, (int) Math.round(stepSeconds * r.perSecond()));
    List<Window> out = new ArrayList<>();
    for (int p = 0; p < r.phaseStarts().length; p++) {
      int from = r.phaseStarts()[p];
      int to = p + 1 < r.phaseStarts().length ? r.phaseStarts()[p + 1] : r.size();
      for (int s = from; s + length <= to; s += step) {
        int fixed = 0;
        int auto = 0;
        for (int i = s; i < s + length; i++) {
          fixed += r.fixedStrong()[i] ? 1 : 0;
          auto += r.autoStrong()[i] ? 1 : 0;
        }
        out.add(new Window(r.seconds(s), p, (double) fixed / length, (double) auto / length,
            r.autoAlpha()[s + length - 1]));
      }
    }
    return out;
  }

  /** Per phase: when the controller's windows settled within {@code tolerance}, and how far off they were. */
  public static List<Phase> phases(Result r, List<Window> windows, double tolerance) {
    double target = r.target().value();
    List<Phase> out = new ArrayList<>();
    for (int p = 0; p < r.phaseStarts().length; p++) {
      int phase = p;
      List<Window> ws = windows.stream().filter(w -> w.phase() == phase).toList();
      int settled = ws.size();
      while (settled > 0 && Math.abs(ws.get(settled - 1).autoShare() - target) <= tolerance) {
        settled--;
      }
      double start = r.seconds(r.phaseStarts()[p]);
      double settle = settled < ws.size() ? ws.get(settled).startSeconds() - start : Double.NaN;
      double max = ws.subList(settled, ws.size()).stream().mapToDouble(w -> Math.abs(w.autoShare() - target)).max().orElse(Double.NaN);
      out.add(new Phase(p, ws.size(), settle, max, ws.size() - settled,
          ws.stream().mapToDouble(Window::fixedShare).min().orElse(Double.NaN),
          ws.stream().mapToDouble(Window::fixedShare).max().orElse(Double.NaN)));
    }
    return out;
  }

  /** The strong share of both policies over time (each point: the {@link #trailing} window ending there), with α. */
  public static Path plot(Result r, List<Window> windows, String title, Path png) throws IOException {
    XYChart chart = new XYChartBuilder().width(1000).height(600).title(title)
        .xAxisTitle("simulated seconds (" + fmt(r.perSecond()) + " requests/s)").yAxisTitle("strong share over the last "
            + r.target().window().toSeconds() + " s").build();
    chart.getStyler().setLegendPosition(org.knowm.xchart.style.Styler.LegendPosition.InsideNW);
    chart.getStyler().setYAxisGroupPosition(1, org.knowm.xchart.style.Styler.YAxisPosition.Right);
    double window = r.target().window().toMillis() / 1000.0;
    double[] x = windows.stream().mapToDouble(w -> w.startSeconds() + window).toArray();
    double target = r.target().value();
    XYSeries fixed = chart.addSeries("fixed α = " + fmt(r.fixedAlpha()) + " (calibrated on phase 1)", x,
        windows.stream().mapToDouble(Window::fixedShare).toArray());
    fixed.setMarker(SeriesMarkers.NONE);
    XYSeries auto = chart.addSeries("target controller (router-<name>-auto)", x,
        windows.stream().mapToDouble(Window::autoShare).toArray());
    auto.setMarker(SeriesMarkers.NONE);
    double end = r.seconds(r.size());
    for (double band : new double[] {target - 0.03, target, target + 0.03}) {
      XYSeries s = chart.addSeries(band == target ? "target " + fmt(target) : "target " + (band > target ? "+" : "-") + " 3 points",
          new double[] {0, end}, new double[] {band, band});
      s.setMarker(SeriesMarkers.NONE);
      s.setLineStyle(band == target ? org.knowm.xchart.style.lines.SeriesLines.DASH_DASH : org.knowm.xchart.style.lines.SeriesLines.DOT_DOT);
      s.setLineColor(java.awt.Color.GRAY);
    }
    for (int p = 1; p < r.phaseStarts().length; p++) {
      double at = r.seconds(r.phaseStarts()[p]);
      XYSeries s = chart.addSeries("shift to phase " + (p + 1), new double[] {at, at}, new double[] {0, 1});
      s.setMarker(SeriesMarkers.NONE);
      s.setLineColor(java.awt.Color.BLACK);
    }
    XYSeries alpha = chart.addSeries("controller's α (right axis)", x,
        windows.stream().mapToDouble(Window::autoAlphaAtEnd).toArray());
    alpha.setMarker(SeriesMarkers.NONE);
    alpha.setYAxisGroup(1);
    alpha.setLineStyle(org.knowm.xchart.style.lines.SeriesLines.DOT_DOT);
    chart.setYAxisGroupTitle(1, "α");
    if (png.getParent() != null) {
      Files.createDirectories(png.getParent());
    }
    return Plots.savePng(chart, png);
  }

  static String fmt(double d) {
    return String.format(Locale.ROOT, "%.3f", d).replaceAll("0+$", "").replaceAll("\\.$", "");
  }
}
