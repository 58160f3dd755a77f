package io.routewise.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class UpstreamCooldownsTest {
  private final AtomicLong now = new AtomicLong(-5_000_000_000L); // nanoTime may be negative
  private final List<String> logged = new ArrayList<>();
  private final UpstreamCooldowns cooldowns =
      new UpstreamCooldowns(List.of("strong", "weak"), Duration.ofSeconds(10), now::get, logged::add);

  private void advance(Duration d) {
    now.addAndGet(d.toNanos());
  }

  @Test
  void threeFailuresInARowCoolAnUpstreamAndOneTryAfterTheCooldownDecides() {
    cooldowns.failed("strong");
    cooldowns.failed("strong");
    assertFalse(cooldowns.skip("strong"), "two failures are not an outage");
    cooldowns.failed("strong");
    assertTrue(cooldowns.skip("strong"));
    assertTrue(cooldowns.cooling("strong"));
    assertFalse(cooldowns.cooling("weak"));
    assertEquals(1, cooldowns.coolingGauge("strong"));
    assertEquals(1, logged.size(), logged.toString());
    assertTrue(logged.get(0).startsWith("upstream strong failed 3 calls in a row: cooling down for 10000 ms"), logged.get(0));

    advance(Duration.ofSeconds(9));
    assertTrue(cooldowns.skip("strong"));
    advance(Duration.ofSeconds(2));
    assertFalse(cooldowns.cooling("strong"), "over: looking does not take the next try");
    assertFalse(cooldowns.skip("strong"), "the one try");
    assertTrue(cooldowns.skip("strong"), "the others wait for its answer");
    assertEquals(1, cooldowns.coolingGauge("strong"));

    cooldowns.failed("strong"); // the try failed: cooling again, no new log line
    assertTrue(cooldowns.skip("strong"));
    assertEquals(1, logged.size());
    advance(Duration.ofSeconds(11));
    assertFalse(cooldowns.skip("strong"));
    cooldowns.answered("strong");
    assertFalse(cooldowns.skip("strong"));
    assertEquals(0, cooldowns.coolingGauge("strong"));
    assertEquals("upstream strong answered again: cooling over", logged.get(1));

    cooldowns.failed("strong"); // the count started again
    cooldowns.failed("strong");
    assertFalse(cooldowns.skip("strong"));
  }

  @Test
  void anAnswerBetweenFailuresMeansNoOutage() {
    for (int i = 0; i < 10; i++) {
      cooldowns.failed("weak");
      cooldowns.failed("weak");
      cooldowns.answered("weak");
    }
    assertFalse(cooldowns.skip("weak"));
    assertTrue(logged.isEmpty(), logged.toString());
  }

  @Test
  void aTryThatNeverReportsLetsAnotherTryAfterTheNextCooldown() {
    for (int i = 0; i < 3; i++) {
      cooldowns.failed("strong");
    }
    advance(Duration.ofSeconds(10));
    assertFalse(cooldowns.skip("strong")); // its client leaves: neither failed nor answered
    advance(Duration.ofSeconds(9));
    assertTrue(cooldowns.skip("strong"));
    advance(Duration.ofSeconds(1));
    assertFalse(cooldowns.skip("strong"));
  }
}
