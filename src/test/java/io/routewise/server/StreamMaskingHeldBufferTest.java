package io.routewise.server;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** Review of 6b4fa39: what a Responses stream's masking keeps allocated. */
class StreamMaskingHeldBufferTest {
  private static int heldCapacity(StreamMasking m) throws Exception {
    java.lang.reflect.Field f = StreamMasking.class.getDeclaredField("held");
    f.setAccessible(true);
    return ((byte[]) f.get(m)).length;
  }

  private static void relayInReads(StreamMasking m, byte[] bytes, StreamMasking.Sink sink) throws Exception {
    for (int off = 0; off < bytes.length; off += 8192) {
      int n = Math.min(8192, bytes.length - off);
      byte[] read = java.util.Arrays.copyOfRange(bytes, off, off + n);
      m.relay(read, n, sink);
    }
  }

  private static final StreamMasking.Sink NOWHERE = (b, len) -> { };

  /** A line just past the bound: held up to the bound plus a read, not doubled to 2 MiB. */
  @Test
  void aLineJustPastTheBoundDoesNotDoubleTheBuffer() throws Exception {
    StreamMasking m = new StreamMasking(SecretValues.NONE, StreamMasking.MAX_HELD_RESPONSES);
    byte[] line = ("data: {\"x\":\"" + "x".repeat(StreamMasking.MAX_HELD_RESPONSES) + "\"}\n").getBytes(StandardCharsets.US_ASCII);
    relayInReads(m, line, NOWHERE);
    assertTrue(heldCapacity(m) <= StreamMasking.MAX_HELD_RESPONSES + 8192, "held " + heldCapacity(m) + " bytes");
  }

  /**
   * A long line (response.created repeating 300 KB of instructions and tools) is let go once it went
   * on: the stream (minutes of deltas) does not keep its buffer.
   */
  @Test
  void aLongLinesBufferIsNotKeptForTheRestOfTheStream() throws Exception {
    StreamMasking m = new StreamMasking(SecretValues.NONE, StreamMasking.MAX_HELD_RESPONSES);
    byte[] created = ("event: response.created\ndata: {\"instructions\":\"" + "i".repeat(300_000) + "\"}\n\n")
        .getBytes(StandardCharsets.US_ASCII);
    relayInReads(m, created, NOWHERE);
    byte[] delta = "event: response.output_text.delta\ndata: {\"delta\":\"Hel".getBytes(StandardCharsets.US_ASCII);
    m.relay(delta, delta.length, NOWHERE);
    assertTrue(heldCapacity(m) <= StreamMasking.MAX_HELD * 2, "still holds " + heldCapacity(m) + " bytes");
  }
}
