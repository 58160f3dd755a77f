package io.routewise.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The usage chunk routewise asked for on a client's behalf is kept from it; every other byte goes through. */
class UsageChunkFilterTest {
  private static final String CHUNK = "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
      + "\"delta\":{\"content\":\"hi \\\"usage\\\": {\"}}],\"usage\":null}\n\n";
  private static final String USAGE = "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[],"
      + "\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2,\"total_tokens\":11}}\n\n";
  private static final String DONE = "data: [DONE]\n\n";

  /** The stream relayed in pieces of {@code step} bytes. */
  private static String relay(String stream, int step) throws Exception {
    byte[] in = stream.getBytes(StandardCharsets.UTF_8);
    UsageChunkFilter f = new UsageChunkFilter();
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (int i = 0; i < in.length; i += step) {
      byte[] piece = java.util.Arrays.copyOfRange(in, i, Math.min(in.length, i + step));
      f.relay(piece, piece.length, out);
    }
    out.write(f.finish());
    return out.toString(StandardCharsets.UTF_8);
  }

  @Test
  void dropsTheUsageChunkAndItsBlankLineWhateverTheReadsAre() throws Exception {
    String stream = CHUNK + CHUNK + USAGE + DONE;
    for (int step : new int[] {1, 2, 7, 64, 100_000}) {
      assertEquals(CHUNK + CHUNK + DONE, relay(stream, step), "reads of " + step);
    }
    String crlf = stream.replace("\n", "\r\n");
    assertEquals((CHUNK + CHUNK + DONE).replace("\n", "\r\n"), relay(crlf, 5));
  }

  @Test
  void keepsEverythingElse() throws Exception {
    // a chunk with choices and usage (some servers put usage on the last content chunk): the client's
    String withChoices = "data: {\"choices\":[{\"index\":0,\"delta\":{}}],\"usage\":{\"prompt_tokens\":1}}\n\n";
    String error = "data: {\"error\":{\"message\":\"boom\"}}\n\n";
    String comment = ": keep-alive\n\n";
    String stream = comment + CHUNK + withChoices + error + "data: not json {\"usage\": {\n\n" + DONE + "data: tail";
    assertEquals(stream, relay(stream, 3));
  }

  @Test
  void theUsageEventGoesWholeWithItsOtherFieldsAndAnEventOfSeveralDataLinesStays() throws Exception {
    String named = "event: usage\nid: 7\n" + USAGE;
    assertEquals(CHUNK + DONE, relay(CHUNK + named + DONE, 3));
    // two data lines make one datum, not a usage chunk: the client's, as it came
    String joined = "data: {\"a\":1}\n" + USAGE;
    assertEquals(CHUNK + joined + DONE, relay(CHUNK + joined + DONE, 4));
  }

  @Test
  void aStreamWithLoneCarriageReturnsIsRelayedAsItComes() throws Exception {
    String cr = (CHUNK + USAGE + DONE).replace("\n", "\r");
    UsageChunkFilter f = new UsageChunkFilter();
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    byte[] first = CHUNK.replace("\n", "\r").getBytes(StandardCharsets.UTF_8);
    f.relay(first, first.length, out);
    assertEquals(first.length, out.size(), "not held waiting for a newline that never comes");
    assertEquals(cr, relay(cr, 9), "nor filtered: its lines are not what the filter reads");
  }

  @Test
  void aLongLineIsNotHeldToItsEnd() throws Exception {
    UsageChunkFilter f = new UsageChunkFilter();
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    byte[] big = ("data: {\"choices\":[{\"delta\":{\"content\":\"" + "x".repeat(40_000)).getBytes(StandardCharsets.UTF_8);
    f.relay(big, big.length, out);
    assertEquals(big.length, out.size(), "relayed before its newline");
    byte[] rest = "\"}}]}\n\n".getBytes(StandardCharsets.UTF_8);
    f.relay(rest, rest.length, out);
    assertEquals(big.length + rest.length, out.size());
  }

  @Test
  void recognisesOnlyAUsageObjectWithoutChoices() {
    assertTrue(chunk(USAGE.strip()));
    assertTrue(chunk("data:{\"usage\" : {\"prompt_tokens\":1}}"));
    assertFalse(chunk(CHUNK.strip()));
    assertFalse(chunk("data: {\"choices\":[{}],\"usage\":{\"prompt_tokens\":1}}"));
    assertFalse(chunk("event: usage"));
  }

  private static boolean chunk(String line) {
    byte[] b = line.getBytes(StandardCharsets.UTF_8);
    return UsageChunkFilter.isUsageChunk(b, 0, b.length);
  }
}
