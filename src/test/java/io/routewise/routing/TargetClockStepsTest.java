package io.routewise.routing;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.routewise.config.TargetConfig;
import java.time.Duration;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** A target through a wall clock set back (NTP, a VM resumed): held, not frozen or misread. */
class TargetClockStepsTest {
  private static final long T0 = 1_700_000_000_000L;

  private static TargetConfig share(double share) {
    return new TargetConfig(TargetConfig.Kind.STRONG_SHARE, share, 0, 1, Duration.ofSeconds(60), 0.5);
  }

  /** {@code seconds} of 20 requests a second through the controller, ticking each second; the share sent strong in the last {@code judged} seconds. */
  private static double run(TargetController c, ManualClock clock, Random rnd, int seconds, int judged,
      java.util.function.DoubleUnaryOperator rate) {
    int strong = 0;
    int n = 0;
    for (int s = 0; s < seconds; s++) {
      for (int i = 0; i < 20; i++) {
        double r = rate.applyAsDouble(rnd.nextDouble());
        Route route = ThresholdRule.route(r, c.alpha());
        c.decided(r, route);
        if (s >= seconds - judged) {
          n++;
          strong += route == Route.STRONG ? 1 : 0;
        }
      }
      clock.advance(1000);
      c.tick(c.snapshot(), null);
    }
    return (double) strong / n;
  }

  @Test
  void aWallClockSteppedBackMoreThanAWindowLeavesTheTargetHeldNotFrozen() {
    // The server's clock is System::currentTimeMillis: an NTP step or a VM's resume can set it back.
    ManualClock clock = new ManualClock(T0);
    TargetController c = new TargetController("r", share(0.3), clock);
    Random rnd = new Random(1);
    run(c, clock, rnd, 120, 60, u -> u); // settled on uniform rates: α about 0.7
    clock.advance(-3_600_000); // the clock is set back an hour
    // The traffic then turns hard (rates uniform in [0.4, 1]): 30 % strong needs α = 0.82.
    double share = run(c, clock, rnd, 240, 120, u -> 0.4 + 0.6 * u);
    assertEquals(0.3, c.observedShare(), 0.04, "the window sees the traffic after the step");
    assertEquals(0.82, c.alpha(), 0.02, "α follows the traffic after the step");
    assertEquals(0.3, share, 0.04, "the target holds after the step (two windows later)");
  }

  @Test
  void aBudgetHeldAfterTheClockWasSetBackBeforeTheReplicaStarted() {
    // strong 0.002 USD an answer, weak 0.0002; 20 requests a second; 36 USD/h = 0.0005 a request: 1/6 strong.
    ManualClock clock = new ManualClock(T0);
    TargetConfig budget = new TargetConfig(TargetConfig.Kind.USD_PER_HOUR, 36, 0, 1, Duration.ofSeconds(60), 0.5);
    TargetController c = new TargetController("r", budget, clock, 0.1);
    Random rnd = new Random(2);
    clock.advance(10_000); // started 10 s ago
    clock.advance(-600_000); // then the clock is set back ten minutes
    double spend = 0;
    for (int s = 0; s < 300; s++) {
      for (int i = 0; i < 20; i++) {
        double r = rnd.nextDouble();
        Route route = ThresholdRule.route(r, c.alpha());
        c.decided(r, route);
        double usd = route == Route.STRONG ? 0.002 : 0.0002;
        c.answered(route, usd);
        if (s >= 120) {
          spend += usd;
        }
      }
      clock.advance(1000);
      c.tick(c.snapshot(), null);
    }
    assertEquals(36, spend / 180 * 3600, 3, "USD per hour spent in the last three minutes");
    assertEquals(1 / 6.0, c.wantedShare(), 0.02);
  }
}
