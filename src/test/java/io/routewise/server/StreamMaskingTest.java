package io.routewise.server;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A stream's error event carries the operator's account ids (a rate limit hit mid-stream names the
 * organization); they are masked however the event is split between reads. Masking each read on its
 * own let the part of an event after a split through in clear.
 */
class StreamMaskingTest {
  private static final String TOKENS = "data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n";
  private static final String ERROR = "data: {\"error\":{\"message\":\"Rate limit reached in organization "
      + "org-AbCdEfGh12345678IjKlMnOp (project proj_AbCdEfGh12345678IjKlMnOp)\",\"type\":\"requests\"}}\n\n";
  private static final String MASKED = ERROR.replace("org-AbCdEfGh12345678IjKlMnOp", "org-***")
      .replace("proj_AbCdEfGh12345678IjKlMnOp", "proj_***");

  /** The stream relayed in reads that end at {@code splits}, as the client gets it. */
  private static String relay(String stream, int... splits) throws Exception {
    byte[] b = stream.getBytes(StandardCharsets.UTF_8);
    StreamMasking masking = new StreamMasking(SecretValues.NONE);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    StreamMasking.Sink sink = (bytes, len) -> out.write(bytes, 0, len);
    int from = 0;
    for (int to : splits) {
      masking.relay(java.util.Arrays.copyOfRange(b, from, to), to - from, sink);
      from = to;
    }
    masking.relay(java.util.Arrays.copyOfRange(b, from, b.length), b.length - from, sink);
    masking.finish(sink);
    return out.toString(StandardCharsets.UTF_8);
  }

  @Test
  void anErrorEventSplitAtAnyByteIsMaskedWhole() throws Exception {
    String stream = TOKENS + ERROR;
    for (int at = 1; at < stream.length(); at++) {
      assertEquals(TOKENS + MASKED, relay(stream, at), "split at " + at);
    }
    for (int at = TOKENS.length() + 1; at < stream.length() - 1; at += 7) {
      assertEquals(TOKENS + MASKED, relay(stream, at, at + 1), "split at " + at + " and " + (at + 1));
    }
  }

  @Test
  void theCompleteLinesOfAReadPassWithoutACopy() throws Exception {
    StreamMasking masking = new StreamMasking(SecretValues.NONE);
    List<byte[]> written = new ArrayList<>();
    byte[] read = TOKENS.getBytes(StandardCharsets.UTF_8);
    masking.relay(read, read.length, (bytes, len) -> written.add(bytes));
    assertEquals(1, written.size());
    assertSame(read, written.get(0), "no copy on the usual read");
    byte[] cut = (TOKENS + "data: {\"cho").getBytes(StandardCharsets.UTF_8); // a backlog read ends anywhere
    masking.relay(cut, cut.length, (bytes, len) -> written.add(bytes));
    assertSame(cut, written.get(1), "only the part after the last line end is held");
  }

  /** A stream that broke off mid-line: the part is dropped, so routewise's error event starts a line of its own. */
  @Test
  void partOfALineIsDroppedWhenTheStreamBreaksOff() throws Exception {
    StreamMasking masking = new StreamMasking(SecretValues.NONE);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    byte[] read = (TOKENS + "data: {\"cho").getBytes(StandardCharsets.UTF_8);
    masking.relay(read, read.length, (bytes, len) -> out.write(bytes, 0, len));
    masking.discard();
    masking.finish((bytes, len) -> out.write(bytes, 0, len));
    assertEquals(TOKENS, out.toString(StandardCharsets.UTF_8));
  }

  @Test
  void partOfALineIsHeldUntilItsEndOrTheStreamsEnd() throws Exception {
    StreamMasking masking = new StreamMasking(SecretValues.NONE);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    StreamMasking.Sink sink = (bytes, len) -> out.write(bytes, 0, len);
    byte[] part = "data: {\"choi".getBytes(StandardCharsets.UTF_8);
    masking.relay(part, part.length, sink);
    assertEquals(0, out.size());
    byte[] rest = "ces\":[]}\r".getBytes(StandardCharsets.UTF_8); // CR alone ends a line too
    masking.relay(rest, rest.length, sink);
    assertEquals("data: {\"choices\":[]}\r", out.toString(StandardCharsets.UTF_8));
    byte[] last = "data: [DONE]".getBytes(StandardCharsets.UTF_8); // no end: written when the stream ends
    masking.relay(last, last.length, sink);
    masking.finish(sink);
    assertEquals("data: {\"choices\":[]}\rdata: [DONE]", out.toString(StandardCharsets.UTF_8));
  }

  @Test
  void aLineLongerThanTheLimitGoesOnAsItComes() throws Exception {
    StreamMasking masking = new StreamMasking(SecretValues.NONE);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    byte[] big = new byte[StreamMasking.MAX_HELD + 1];
    java.util.Arrays.fill(big, (byte) 'x');
    masking.relay(big, big.length, (bytes, len) -> out.write(bytes, 0, len));
    assertArrayEquals(big, out.toByteArray());
  }
}
