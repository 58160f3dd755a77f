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
}
