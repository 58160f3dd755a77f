package io.routewise.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** An outage must show in the log at once, and then once per interval with a count, not once per request. */
class UpstreamFailureLogTest {
  private final AtomicLong now = new AtomicLong(1_000);
  private final List<String> lines = new ArrayList<>();
  private final UpstreamFailureLog log = new UpstreamFailureLog(Duration.ofSeconds(10), now::get, lines::add);

  @Test
  void theFirstFailureIsLoggedAtOnceAndTheRestOncePerIntervalWithACount() {
    log.failed("weak", "502 upstream_unreachable", "Could not reach the weak upstream (ollama): ConnectException");
    assertEquals(1, lines.size());
    assertEquals("upstream weak failed (502 upstream_unreachable): Could not reach the weak upstream (ollama): "
        + "ConnectException", lines.get(0));

    for (int i = 0; i < 4; i++) {
      now.addAndGet(Duration.ofSeconds(2).toNanos());
      log.failed("weak", "502 upstream_unreachable", "again");
    }
    assertEquals(1, lines.size(), "within the interval nothing more is written: " + lines);

    now.addAndGet(Duration.ofSeconds(3).toNanos()); // 11 s after the first line
    log.failed("weak", "504 upstream_timeout", "The weak upstream did not respond within 1500 ms.");
    assertEquals(2, lines.size());
    assertTrue(lines.get(1).startsWith("upstream weak failed (504 upstream_timeout): The weak upstream did not"),
        lines.get(1));
    assertTrue(lines.get(1).endsWith("[and 4 more failure(s) of this upstream since the last message]"), lines.get(1));
  }

  /** A refused key that comes just after an outage's first 5xx is not left out behind it. */
  @Test
  void aConfigMistakeHasAnIntervalOfItsOwn() {
    log.failed("strong", "answered 500", "down");
    now.addAndGet(Duration.ofMillis(800).toNanos());
    log.misconfigured("strong", "answered 401", "its api_key in upstreams.strong is refused");
    log.misconfigured("strong", "answered 401", "again");
    log.failed("strong", "answered 503", "down");
    assertEquals(List.of("upstream strong failed (answered 500): down",
        "upstream strong failed (answered 401): its api_key in upstreams.strong is refused"), lines);
  }

  @Test
  void eachUpstreamHasItsOwnInterval() {
    log.failed("weak", "502 upstream_unreachable", "down");
    log.failed("strong", "failover 429", "The strong upstream answered 429.");
    log.failed("weak", "502 upstream_unreachable", "down");
    assertEquals(2, lines.size(), lines.toString());
    assertTrue(lines.get(1).startsWith("upstream strong failed (failover 429)"), lines.get(1));
  }

  @Test
  void everyRungOfALadderHasItsOwnIntervalAndCount() {
    // a flapping rung must not hide another's outage, nor have its failures counted under another's name
    log.failed("mini", "failover 500", "mini down");
    log.failed("mini", "failover 500", "mini down");
    log.failed("sonnet", "failover 500", "sonnet down");
    log.failed("l70", "502 upstream_unreachable", "l70 down");
    assertEquals(3, lines.size(), lines.toString());
    assertTrue(lines.get(1).startsWith("upstream sonnet failed"), lines.get(1));
    assertTrue(lines.get(2).startsWith("upstream l70 failed"), lines.get(2));
    now.addAndGet(Duration.ofSeconds(11).toNanos());
    log.failed("weak", "failover 500", "weak down");
    assertTrue(lines.get(3).startsWith("upstream weak failed") && !lines.get(3).contains("more failure"), lines.get(3));
    log.failed("mini", "failover 500", "mini down");
    assertTrue(lines.get(4).endsWith("[and 1 more failure(s) of this upstream since the last message]"), lines.get(4));
  }

  @Test
  void whatTheUpstreamSaysIsLoggedOnOneBoundedLine() {
    log.failed("strong", "502 upstream_unreachable", "Unexpected status line: HTTP/1.1 200\r\u001b[31mOK" + "x".repeat(2_000));
    String line = lines.get(0);
    assertTrue(line.contains("Unexpected status line: HTTP/1.1 200??[31mOK"), line);
    assertTrue(line.length() < 700, "length " + line.length());
  }
}
