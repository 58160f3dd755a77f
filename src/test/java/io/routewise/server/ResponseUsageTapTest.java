package io.routewise.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.routewise.upstream.Usage;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class ResponseUsageTapTest {
  private static ResponseUsageTap fed(String body, int piece) {
    byte[] b = body.getBytes(StandardCharsets.UTF_8);
    ResponseUsageTap tap = new ResponseUsageTap();
    for (int i = 0; i < b.length; i += piece) {
      tap.feed(b, i, Math.min(piece, b.length - i));
    }
    return tap;
  }

  @Test
  void readsTheTopLevelUsageAndStatusInAnyPiecesAndOrder() {
    String body = "{\"id\":\"r\",\"output\":[{\"usage\":{\"input_tokens\":999},\"status\":\"in_progress\"}],"
        + "\"usage\":{\"input_tokens\":7,\"input_tokens_details\":{\"cached_tokens\":2},\"output_tokens\":3},"
        + "\"status\":\"completed\",\"metadata\":{\"k\":\"v\"}}";
    for (int piece : new int[] {1, 3, 64, body.length()}) {
      ResponseUsageTap tap = fed(body, piece);
      assertTrue(tap.finished(), "piece " + piece);
      assertEquals(Optional.of(new Usage(7, 3, 2)), tap.usage(), "piece " + piece);
    }
  }

  /** An image's base64, one string of megabytes, is scanned past, not held (before, a parser held it whole). */
  @Test
  void aLongStringIsScannedNotHeld() {
    ResponseUsageTap tap = new ResponseUsageTap();
    byte[] head = "{\"status\":\"completed\",\"output\":[{\"result\":\"".getBytes(StandardCharsets.UTF_8);
    tap.feed(head, 0, head.length);
    byte[] chunk = new byte[8192];
    java.util.Arrays.fill(chunk, (byte) 'A');
    Runtime rt = Runtime.getRuntime();
    System.gc();
    long before = rt.totalMemory() - rt.freeMemory();
    for (int i = 0; i < 40 * 128; i++) { // 40 MiB
      tap.feed(chunk, 0, chunk.length);
    }
    System.gc();
    long held = rt.totalMemory() - rt.freeMemory() - before;
    assertTrue(held < 8 << 20, "held " + (held >> 20) + " MiB");
    byte[] tail = "\\\"\"}],\"usage\":{\"input_tokens\":5,\"output_tokens\":1}}".getBytes(StandardCharsets.UTF_8);
    tap.feed(tail, 0, tail.length);
    assertEquals(Optional.of(new Usage(5, 1)), tap.usage(), "an escaped quote does not end the string");
  }

  @Test
  void aByteOrderMarkBeforeTheObjectIsReadPastAsJacksonReadsIt() {
    byte[] json = "{\"status\":\"completed\",\"usage\":{\"input_tokens\":5,\"output_tokens\":1}}"
        .getBytes(StandardCharsets.UTF_8);
    byte[] body = new byte[json.length + 3];
    body[0] = (byte) 0xEF;
    body[1] = (byte) 0xBB;
    body[2] = (byte) 0xBF;
    System.arraycopy(json, 0, body, 3, json.length);
    ResponseUsageTap tap = new ResponseUsageTap();
    for (byte b : body) {
      tap.feed(new byte[] {b}, 0, 1);
    }
    assertEquals(Optional.of(new Usage(5, 1)), tap.usage());
    ResponseUsageTap half = new ResponseUsageTap();
    half.feed(body, 1, body.length - 1); // part of a mark is not one
    assertFalse(half.finished());
  }

  @Test
  void aUsageObjectPastItsBoundIsGivenUp() {
    String big = "{\"status\":\"completed\",\"usage\":{\"input_tokens\":5,\"pad\":\"" + "x".repeat(70_000) + "\"}}";
    assertFalse(fed(big, 4096).finished());
  }

  @Test
  void notDoneOrNotWholeOrNotAnObjectHasNoUsage() {
    String usage = "\"usage\":{\"input_tokens\":7,\"output_tokens\":3}";
    assertFalse(fed("{\"status\":\"in_progress\"," + usage + "}", 5).finished(), "under way");
    assertFalse(fed("{\"status\":\"completed\"," + usage, 5).finished(), "cut before its end");
    assertFalse(fed("[{\"status\":\"completed\"," + usage + "}]", 5).finished(), "not an object");
    assertFalse(fed("{\"status\":\"completed\"," + usage + "} {", 5).finished(), "more after it");
    ResponseUsageTap failed = fed("{\"status\":\"failed\",\"usage\":null}", 4);
    assertTrue(failed.finished());
    assertEquals(Optional.empty(), failed.usage(), "done, and without usage");
  }
}
