package io.routewise.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.routewise.config.TargetConfig;
import io.routewise.routing.StateListener;
import io.routewise.routing.StateSync;
import io.routewise.routing.TargetController;
import io.routewise.routing.ThresholdRule;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class TargetReplayTest {

  @Test
  void theControllerHoldsTheShareThroughAShiftThatMovesAFixedThresholdByMoreThanTenPoints() {
    Random rnd = new Random(5);
    int half = 8_000;
    double[] rates = new double[2 * half];
    for (int i = 0; i < rates.length; i++) {
      rates[i] = i < half ? 0.6 * rnd.nextDouble() : 0.4 + 0.6 * rnd.nextDouble(); // easy, then hard
    }
    TargetConfig target = new TargetConfig(TargetConfig.Kind.STRONG_SHARE, 0.3, 0, 1, Duration.ofSeconds(60), 0.42);
    TargetReplay.Result r = TargetReplay.run(rates, new int[] {0, half}, target, 0.42, 20, 1000);
    List<TargetReplay.Window> windows = TargetReplay.windows(r, 5);
    List<TargetReplay.Phase> phases = TargetReplay.phases(r, windows, 0.03);

    TargetReplay.Phase after = phases.get(1);
    assertTrue(after.settleSeconds() <= 60, "settled " + after.settleSeconds() + " s after the shift");
    assertTrue(after.maxDeviation() <= 0.03, "max deviation " + after.maxDeviation());
    assertTrue(after.windowsAfterSettling() >= after.windows() - 12, after.toString());
    // The fixed α calibrated on the easy prompts sends 0.6 / 0.6 * (1 - 0.42/...): far more than 30%.
    assertTrue(after.fixedMin() - 0.3 > 0.10, "the fixed threshold drifted only to " + after.fixedMin());
    assertEquals(0.3, phases.get(0).fixedMax(), 0.04, "the fixed threshold was right before the shift");
    // The plot's windows run across the shift, so its transient shows.
    assertTrue(TargetReplay.trailing(r, 5).stream().anyMatch(w -> w.autoShare() > 0.33), "the transient is visible");
  }

  /**
   * The α each request saw is the one serve's would: a controller stepped by serve's {@link StateSync}
   * (its start runs one sync before any request, then one every period). The replay's first step came
   * a period late: its first sync had no earlier one to measure the time from, so with the window full
   * enough at 1 s it moved α by nothing, where serve's moves it a fifth of the way (window / 15 = 4 s).
   */
  @Test
  void alphaFollowsTheTrajectoryServesSyncThreadGives() {
    Random rnd = new Random(7);
    double[] rates = new double[600];
    for (int i = 0; i < rates.length; i++) {
      rates[i] = 0.5 + 0.5 * rnd.nextDouble();
    }
    TargetConfig target = new TargetConfig(TargetConfig.Kind.STRONG_SHARE, 0.3, 0, 1, Duration.ofSeconds(60), 0.2);
    TargetReplay.Result r = TargetReplay.run(rates, new int[] {0}, target, 0.2, 20, 1000);

    long start = 1_000_000_000_000L; // slice-aligned, as the replay's start: the same slices
    AtomicLong now = new AtomicLong(start);
    TargetController served = new TargetController("served", target, now::get);
    StateSync sync = new StateSync(List.of(served), null, Duration.ofMillis(1000), StateListener.NONE);
    sync.runOnce(); // what StateSync.start() runs before the server listens
    long nextSync = start + 1000;
    for (int i = 0; i < rates.length; i++) {
      long at = start + Math.round(i * 1000 / 20.0);
      while (nextSync <= at) {
        now.set(nextSync);
        sync.runOnce();
        nextSync += 1000;
      }
      now.set(at);
      double alpha = served.alpha();
      assertEquals(alpha, r.autoAlpha()[i], 1e-12, "request " + i + " (" + (at - start) + " ms)");
      served.decided(rates[i], ThresholdRule.route(rates[i], alpha));
    }
    sync.close();
    assertTrue(r.autoAlpha()[20] > 0.25, "the first sync with 20 decisions moves α: " + r.autoAlpha()[20]);
  }
}
