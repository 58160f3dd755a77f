package io.routewise.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class CooldownsTest {
  private final AtomicLong now = new AtomicLong(-5_000_000_000L); // nanoTime may be negative
  private final List<String> logged = new ArrayList<>();
  // strong's calls may take 30 s (connect and answer timeouts), weak's 5 s: less than the cooldown
  private final Cooldowns cooldowns = new Cooldowns(
      Map.of("strong", Duration.ofSeconds(30), "weak", Duration.ofSeconds(5)), Duration.ofSeconds(10), now::get,
      logged::add, "upstream", "(routing.failover_cooldown_ms); requests chosen for it go to its failover upstream until a try answers");

  private void advance(Duration d) {
    now.addAndGet(d.toNanos());
  }

  /** A call sent now fails at once. */
  private void fail(String upstream) {
    cooldowns.failed(upstream, now.get());
  }

  private void failThrice(String upstream) {
    for (int i = 0; i < 3; i++) {
      fail(upstream);
    }
  }

  @Test
  void threeFailuresInARowWithNoAnswerForASecondCoolAnUpstreamAndOneTryAfterTheCooldownDecides() {
    advance(Duration.ofSeconds(5));
    fail("strong");
    fail("strong");
    assertFalse(cooldowns.skip("strong"), "two failures are not an outage");
    fail("strong");
    assertTrue(cooldowns.skip("strong"));
    assertTrue(cooldowns.cooling("strong"));
    assertFalse(cooldowns.cooling("weak"));
    assertEquals(1, cooldowns.coolingGauge("strong"));
    assertEquals(1, logged.size(), logged.toString());
    assertTrue(logged.get(0).startsWith("upstream strong failed 3 calls in a row and answered none for 5000 ms: "
        + "cooling down for 10000 ms"), logged.get(0));

    advance(Duration.ofSeconds(9));
    assertTrue(cooldowns.skip("strong"));
    advance(Duration.ofSeconds(2));
    assertFalse(cooldowns.cooling("strong"), "over: looking does not take the next try");
    assertFalse(cooldowns.skip("strong"), "the one try");
    assertTrue(cooldowns.skip("strong"), "the others wait for its answer");
    assertTrue(cooldowns.cooling("strong"), "so nobody fails over into it meanwhile");
    advance(Duration.ofSeconds(20));
    assertTrue(cooldowns.skip("strong"), "a try may take strong's 30 s: no second one before");
    assertEquals(1, cooldowns.coolingGauge("strong"));

    fail("strong"); // the try failed: cooling again, no new log line
    assertTrue(cooldowns.skip("strong"));
    assertEquals(1, logged.size());
    advance(Duration.ofSeconds(11));
    assertFalse(cooldowns.skip("strong"));
    cooldowns.answered("strong");
    assertFalse(cooldowns.skip("strong"));
    assertEquals(0, cooldowns.coolingGauge("strong"));
    assertEquals("upstream strong answered again: cooling over", logged.get(1));

    advance(Duration.ofSeconds(5));
    failThrice("strong"); // the count started again
    assertTrue(cooldowns.skip("strong"));
  }

  /**
   * A try that fails at once starts a fresh cooldown. It kept the try's hold (its time limit, twice
   * the timeouts: over four minutes by default), so one failed try skipped a recovering upstream for
   * that long instead of the cooldown.
   */
  @Test
  void aTryThatFailsStartsAFreshCooldownNotItsWholeHold() {
    advance(Duration.ofSeconds(5));
    failThrice("strong");
    advance(Duration.ofSeconds(10));
    assertFalse(cooldowns.skip("strong"), "the try");
    long tried = now.get();
    advance(Duration.ofSeconds(1));
    cooldowns.failed("strong", tried); // the try: 503 in a second
    advance(Duration.ofSeconds(9));
    assertTrue(cooldowns.skip("strong"));
    advance(Duration.ofSeconds(1));
    assertFalse(cooldowns.skip("strong"), "the next try, a cooldown after the failed one, not its 30 s hold");
  }

  /** On a busy upstream a few errors in a row among many answers are not an outage. */
  @Test
  void failuresInARowRightAfterAnAnswerDoNotCool() {
    advance(Duration.ofSeconds(5));
    for (int i = 0; i < 10; i++) {
      cooldowns.answered("weak");
      failThrice("weak");
      advance(Duration.ofMillis(500));
    }
    assertFalse(cooldowns.skip("weak"));
    advance(Duration.ofMillis(600)); // a second with no answer: then the next failure cools it
    fail("weak");
    assertTrue(cooldowns.skip("weak"));
  }

  @Test
  void anUpstreamDownFromTheStartCoolsOnceASecondHasPassed() {
    failThrice("strong");
    assertFalse(cooldowns.skip("strong"), "not yet a second since the start");
    advance(Duration.ofSeconds(1));
    fail("strong");
    assertTrue(cooldowns.skip("strong"));
  }

  /** A late failure of another request (one in flight before, or naming the upstream) does not cut a try's hold short. */
  @Test
  void aFailureDuringATryKeepsItsHold() {
    advance(Duration.ofSeconds(5));
    failThrice("strong");
    advance(Duration.ofSeconds(10));
    assertFalse(cooldowns.skip("strong")); // the try: holds the way for strong's 30 s
    long before = now.get() - Duration.ofSeconds(12).toNanos();
    advance(Duration.ofSeconds(1));
    cooldowns.failed("strong", before);
    advance(Duration.ofSeconds(11));
    assertTrue(cooldowns.skip("strong"), "still the first try's time: no second try yet");
  }

  @Test
  void aTryThatNeverReportsLetsAnotherTryAfterItsUpstreamsTimeLimit() {
    advance(Duration.ofSeconds(5));
    failThrice("weak");
    advance(Duration.ofSeconds(10));
    assertFalse(cooldowns.skip("weak")); // its client leaves: neither failed nor answered
    advance(Duration.ofSeconds(9)); // the longer of the cooldown and weak's 5 s
    assertTrue(cooldowns.skip("weak"));
    advance(Duration.ofSeconds(1));
    assertFalse(cooldowns.skip("weak"));
  }
}
