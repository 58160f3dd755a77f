package io.routewise.server;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** Where routewise's error event goes after what was relayed: joined to an event without data yet, else after a blank line. */
class SseOutputTest {
  private static String errorAfter(String relayed) throws Exception {
    SseOutput out = new SseOutput(new ByteArrayOutputStream());
    byte[] b = relayed.getBytes(StandardCharsets.UTF_8);
    for (int i = 0; i < b.length; i += 3) { // in pieces: lines and CRLFs split between writes
      out.write(b, i, Math.min(3, b.length - i));
    }
    return new String(out.errorEvent("{\"error\":{}}".getBytes(StandardCharsets.UTF_8)), StandardCharsets.UTF_8);
  }

  @Test
  void anEventWhoseDataDidNotComeIsJoined() throws Exception {
    String joined = "data: {\"error\":{}}\n\n";
    String apart = "\n\ndata: {\"error\":{}}\n\n";
    assertEquals(joined, errorAfter("event: response.output_text.delta\n"));
    assertEquals(joined, errorAfter("data: {}\n\nevent: response.created\r\n"));
    assertEquals(joined, errorAfter("event: x\rid: 7\r"));
    assertEquals(joined, errorAfter("event: x\n: keep-alive\n"));
    assertEquals(apart, errorAfter(""));
    assertEquals(apart, errorAfter("event: x\ndata: {}\n"), "its data came: the event ends whole first");
    assertEquals(apart, errorAfter("event: x\ndata\n"));
    assertEquals(apart, errorAfter("event: x\ndata: {}\n\n"));
    assertEquals(apart, errorAfter("event: x\r\ndata: {}\r\n\r\n"));
    assertEquals(apart, errorAfter(": ping\n"));
    assertEquals(apart, errorAfter("event: x\ndata: {\"part"), "a line cut short: it can only be ended");
    assertEquals(apart, errorAfter("data: {}\n"));
    assertEquals(joined, errorAfter("event: x\ndatum: 1\n"), "not a data field");
  }

  @Test
  void anOpenEventIsEndedWithWhatItLacks() throws Exception {
    for (String[] c : new String[][] {{"", ""}, {"data: {}\n\n", ""}, {"data: {}\n", "\n"}, {"data: {}", "\n\n"},
        {"event: x\r\n", "\n"}, {": ping\n", ""}}) {
      SseOutput out = new SseOutput(new ByteArrayOutputStream());
      out.write(c[0].getBytes(StandardCharsets.UTF_8));
      assertEquals(c[1], new String(out.eventEnd(), StandardCharsets.UTF_8), c[0]);
    }
  }
}
