package io.routewise.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class RetryAfterTest {
  @Test
  void secondsAreReadCappedAndAnythingElseIsTheCallersOwnWait() {
    assertEquals(2000, RetryAfter.millis("2", 1000));
    assertEquals(0, RetryAfter.millis(" 0 ", 1000));
    assertEquals(60_000, RetryAfter.millis("3600", 1000), "a long Retry-After is capped");
    // before, seconds times 1000 overflowed to a negative wait, read as none at all
    assertEquals(60_000, RetryAfter.millis("9223372036854775807", 1000));
    assertEquals(60_000, RetryAfter.millis("99999999999999999999999", 1000));
    assertEquals(1000, RetryAfter.millis("Wed, 21 Oct 2026 07:28:00 GMT", 1000));
    assertEquals(1000, RetryAfter.millis("-5", 1000));
    assertEquals(1000, RetryAfter.millis("1.5", 1000));
    assertEquals(1000, RetryAfter.millis("", 1000));
    assertEquals(1000, RetryAfter.millis(null, 1000));
  }

  @Test
  void aDateIsTheWaitUntilItAndMillisecondsComeFirst() {
    long now = java.time.Instant.parse("2026-10-21T07:28:00Z").toEpochMilli();
    assertEquals(3000, RetryAfter.millis("Wed, 21 Oct 2026 07:28:03 GMT", 1000, now));
    assertEquals(60_000, RetryAfter.millis("Wed, 21 Oct 2026 08:28:00 GMT", 1000, now), "capped");
    assertEquals(1000, RetryAfter.millis("Wed, 21 Oct 2026 07:27:00 GMT", 1000, now), "past: the caller's own wait");
    assertEquals(1000, RetryAfter.millis("Wed, 21 Oct 2026", 1000, now));
    assertEquals(2500, RetryAfter.millis("2500", "1", 1000));
    assertEquals(1500, RetryAfter.millis(" 1499.2 ", null, 1000));
    assertEquals(60_000, RetryAfter.millis("1e12", null, 1000));
    assertEquals(2000, RetryAfter.millis("soon", "2", 1000));
    assertEquals(2000, RetryAfter.millis("-5", "2", 1000));
    assertEquals(1000, RetryAfter.millis(null, null, 1000));
  }
}
