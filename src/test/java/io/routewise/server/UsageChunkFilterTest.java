package io.routewise.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.routewise.upstream.Usage;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
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

  /** sse-starlette's way with indented JSON: one event, a data line per line of it, joined by the SDKs with newlines. */
  private static String indented(String json) {
    StringBuilder event = new StringBuilder();
    for (String line : json.split("\n")) {
      event.append("data: ").append(line).append('\n');
    }
    return event.append('\n').toString();
  }

  private static final String USAGE_INDENTED = indented("""
      {
        "id": "c",
        "object": "chat.completion.chunk",
        "choices": [],
        "usage": {
          "prompt_tokens": 9,
          "completion_tokens": 2,
          "total_tokens": 11
        }
      }""");

  /** A last content chunk with usage on it, indented: the client's, as it came (its usage kept, as others keep "usage": null). */
  private static final String LAST_INDENTED = indented("""
      {
        "id": "c",
        "choices": [
          {"index": 0, "delta": {"content": "usage"}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11}
      }""");

  /** {@code stream} relayed in two reads, split at {@code at}. */
  private static String relaySplit(String stream, int at) throws Exception {
    byte[] in = stream.getBytes(StandardCharsets.UTF_8);
    UsageChunkFilter f = new UsageChunkFilter();
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    f.relay(java.util.Arrays.copyOfRange(in, 0, at), at, out);
    f.relay(java.util.Arrays.copyOfRange(in, at, in.length), in.length - at, out);
    out.write(f.finish());
    return out.toString(StandardCharsets.UTF_8);
  }

  /**
   * A usage event of several data lines (indented JSON, which sse-starlette sends so) is a usage chunk
   * all the same, whatever its line ends (LF, CRLF, a lone CR) and wherever a read splits it: a client
   * that did not ask for it never gets a {@code choices: []} chunk; the rest goes byte for byte.
   */
  @Test
  void dropsAUsageEventOfSeveralDataLinesWhateverItsLineEndsAndReads() throws Exception {
    java.util.List<String> wrong = new java.util.ArrayList<>();
    for (String nl : new String[] {"\n", "\r\n", "\r"}) {
      String[] usages = {USAGE, USAGE_INDENTED, "event: usage\nid: 7\n" + USAGE_INDENTED};
      for (int u = 0; u < usages.length; u++) {
        String stream = (CHUNK + usages[u] + CHUNK + DONE).replace("\n", nl);
        String expected = (CHUNK + CHUNK + DONE).replace("\n", nl);
        int splits = 0;
        for (int at = 0; at <= stream.length(); at++) {
          splits += expected.equals(relaySplit(stream, at)) ? 0 : 1;
        }
        if (splits > 0 || !expected.equals(relay(stream, 1))) {
          wrong.add((nl.equals("\n") ? "LF" : nl.equals("\r") ? "CR" : "CRLF") + " usage event " + u + ": "
              + splits + " of " + (stream.length() + 1) + " splits");
        }
      }
    }
    assertEquals(java.util.List.of(), wrong);
  }

  /** A content chunk of several data lines, the last with usage on it, goes to the client as it came. */
  @Test
  void keepsContentEventsOfSeveralDataLinesWithOrWithoutUsage() throws Exception {
    for (String nl : new String[] {"\n", "\r\n", "\r"}) {
      String stream = (CHUNK + indented("{\n  \"choices\": [{\"delta\": {}}],\n  \"usage\": null\n}") + LAST_INDENTED + DONE)
          .replace("\n", nl);
      for (int at = 0; at <= stream.length(); at++) {
        assertEquals(stream, relaySplit(stream, at), "split at " + at);
      }
    }
  }

  /** As relayStream relays it (masking, the scanner, [DONE]): the usage of a multi-line usage event is counted, and not sent on. */
  @Test
  void aMultiLineUsageEventIsCountedAndNotRelayed() throws Exception {
    for (String nl : new String[] {"\n", "\r\n", "\r"}) {
      String head = (CHUNK + CHUNK).replace("\n", nl);
      byte[] stream = (head + (USAGE_INDENTED + DONE).replace("\n", nl)).getBytes(StandardCharsets.UTF_8);
      for (int read : new int[] {1, 2, 3, 5, 8, 13, 64, 8192}) {
        Relayed relayed = new Relayed(stream, new int[] {read});
        String got = relayed.client.toString(StandardCharsets.UTF_8);
        String what = (nl.equals("\n") ? "LF" : nl.equals("\r") ? "CR" : "CRLF") + ", reads of " + read;
        assertEquals(head + "data: [DONE]", got.substring(0, Math.min(got.length(), head.length() + 12)), what);
        assertFalse(got.contains("\"choices\": []"), what);
        assertEquals(Optional.of(new Usage(9, 2, 0)), relayed.scanner.result(), what);
      }
    }
  }

  /**
   * A line of an event too long to hold goes on as it comes; a read that then begins with that line's
   * LF (its CR ended the read before: the masking ahead passes a line whole up to its CR) ends the line,
   * not the event, so the event's next data line, usage-shaped, is not taken for an event of its own.
   */
  @Test
  void anEventOfSeveralDataLinesStaysWhenItsLongFirstLineEndsAcrossReads() throws Exception {
    String joined = "data: {\"a\":\"" + "x".repeat(20_000) + "\"}\r\n" + USAGE.replace("\n", "\r\n");
    String stream = CHUNK.replace("\n", "\r\n") + joined + DONE.replace("\n", "\r\n");
    int cr = stream.indexOf("\r\n", CHUNK.length() + 2) + 1;
    UsageChunkFilter f = new UsageChunkFilter();
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    byte[] first = stream.substring(0, cr).getBytes(StandardCharsets.UTF_8);
    byte[] rest = stream.substring(cr).getBytes(StandardCharsets.UTF_8);
    f.relay(first, first.length, out);
    f.relay(rest, rest.length, out);
    out.write(f.finish());
    assertEquals(stream, out.toString(StandardCharsets.UTF_8));
  }

  @Test
  void aStreamWithLoneCarriageReturnsIsNotHeldAndLosesOnlyItsUsageChunk() throws Exception {
    String cr = (CHUNK + USAGE + DONE).replace("\n", "\r");
    UsageChunkFilter f = new UsageChunkFilter();
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    byte[] first = CHUNK.replace("\n", "\r").getBytes(StandardCharsets.UTF_8);
    f.relay(first, first.length, out);
    assertEquals(first.length, out.size(), "not held waiting for a newline that never comes");
    assertEquals((CHUNK + DONE).replace("\n", "\r"), relay(cr, 9), "its lines are read as an SDK reads them");
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
  void recognisesOnlyAUsageObjectWithoutChoices() throws Exception {
    assertTrue(chunk(USAGE.strip()));
    assertTrue(chunk("data:{\"usage\" : {\"prompt_tokens\":1}}"));
    assertFalse(chunk(CHUNK.strip()));
    assertFalse(chunk("data: {\"choices\":[{}],\"usage\":{\"prompt_tokens\":1}}"));
    assertFalse(chunk("event: usage"));
  }

  /** Whether the filter drops {@code line} as an event of its own. */
  private static boolean chunk(String line) throws Exception {
    return relay(line + "\n\n", 100_000).isEmpty();
  }

  /** What a client gets of {@code stream} read in pieces of {@code reads} bytes, relayed as relayStream does. */
  private static final class Relayed {
    final ByteArrayOutputStream client = new ByteArrayOutputStream();
    final SseUsageScanner scanner = new SseUsageScanner();

    Relayed(byte[] stream, int[] reads) throws Exception {
      SseOutput out = new SseOutput(client);
      UsageChunkFilter filter = new UsageChunkFilter();
      StreamMasking masking = new StreamMasking(SecretValues.NONE);
      StreamMasking.Sink sink = (b, len) -> filter.relay(b, len, out);
      int at = 0;
      for (int r = 0; ; r++) {
        if (at == stream.length) {
          scanner.finish();
          masking.finish(sink);
          out.write(filter.finish());
          return;
        }
        int n = Math.min(reads[r % reads.length], stream.length - at);
        byte[] buf = java.util.Arrays.copyOfRange(stream, at, at + 8192); // the relay's buffer, reused
        at += n;
        scanner.feed(buf, n);
        masking.relay(buf, n, sink);
        if (scanner.done()) {
          masking.finish(sink);
          out.write(filter.finish());
          out.write(ChatCompletionsHandler.eventEnd(buf, n));
          return;
        }
      }
    }
  }

  private static String content(java.util.Random rnd, int size) {
    return "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":"
        + "{\"content\":\"" + text(rnd, size) + "\"},\"finish_reason\":null}],\"usage\":null}";
  }

  private static String text(java.util.Random rnd, int size) {
    StringBuilder text = new StringBuilder(size);
    String[] words = {"word ", "\\\"usage\\\": {", "data: ", "\u00e9 ", "[DONE] "};
    while (text.length() < size) {
      text.append(words[rnd.nextInt(words.length)]);
    }
    return text.toString();
  }

  /**
   * Realistic streams (LF, CRLF or lone CRs; chunks of 10 B to 200 KB, comments, named events, a last chunk with
   * choices and usage, an event of two data lines, a usage event of one or several), relayed in reads of every size, as relayStream relays them: the
   * client gets every byte but the usage-only event's, in order, [DONE] once, and the usage is counted.
   */
  @Test
  void aRealisticStreamReadInAnyPiecesLosesOnlyTheUsageChunk() throws Exception {
    java.util.Random rnd = new java.util.Random(102);
    int[] sizes = {10, 300, 2_000, 15_000, 17_000, 40_000, 70_000, 200_000};
    for (int round = 0; round < 60; round++) {
      String nl = new String[] {"\n", "\r\n", "\r"}[rnd.nextInt(3)];
      StringBuilder in = new StringBuilder();
      StringBuilder expected = new StringBuilder();
      int events = 1 + rnd.nextInt(5);
      for (int e = 0; e < events; e++) {
        String event = switch (rnd.nextInt(6)) {
          case 0 -> ": keep-alive" + nl;
          case 1 -> "event: message" + nl + "id: " + e + nl + content(rnd, sizes[rnd.nextInt(sizes.length)]) + nl;
          case 2 -> content(rnd, sizes[rnd.nextInt(sizes.length)]) + nl + "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":1}}" + nl;
          default -> content(rnd, sizes[rnd.nextInt(sizes.length)]) + nl;
        };
        in.append(event).append(nl);
        expected.append(event).append(nl);
      }
      long prompt = 1 + rnd.nextInt(1000);
      String usage = "{\"prompt_tokens\":" + prompt + ",\"completion_tokens\":7,\"total_tokens\":" + (prompt + 7) + "}";
      if (rnd.nextInt(4) == 0) { // usage on the last content chunk, as some servers send it: the client's
        String last = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"" + text(rnd, sizes[rnd.nextInt(sizes.length)])
            + "\"},\"finish_reason\":\"stop\"}],\"usage\":" + usage + "}" + nl + nl;
        in.append(last);
        expected.append(last);
      } else {
        in.append(rnd.nextBoolean() ? "" : "event: usage" + nl);
        if (rnd.nextBoolean()) {
          in.append("data: {\"id\":\"c\",\"choices\":[],\"usage\":").append(usage).append("}").append(nl).append(nl);
        } else { // indented, a data line per line (sse-starlette's way)
          in.append(indented("{\n  \"id\": \"c\",\n  \"choices\": [],\n  \"usage\": " + usage + "\n}").replace("\n", nl));
        }
      }
      in.append("data: [DONE]").append(nl).append(nl);
      expected.append("data: [DONE]").append(nl).append(nl);
      byte[] stream = in.toString().getBytes(StandardCharsets.UTF_8);
      int[] reads = new int[16];
      int most = new int[] {1, 7, 100, 8192}[rnd.nextInt(4)];
      for (int i = 0; i < reads.length; i++) {
        reads[i] = 1 + rnd.nextInt(most);
      }
      Relayed relayed = new Relayed(stream, reads);
      String got = relayed.client.toString(StandardCharsets.UTF_8);
      String what = "round " + round + (nl.equals("\n") ? " LF" : nl.equals("\r") ? " CR" : " CRLF") + ", reads " + java.util.Arrays.toString(reads);
      // [DONE]'s own blank line may be written by routewise (relayStream stops reading at [DONE])
      String head = expected.substring(0, expected.length() - 2 * nl.length());
      assertTrue(got.startsWith(head), what + ": " + firstDifference(head, got));
      assertTrue(java.util.List.of("\n\n", "\r\n\r\n", "\r\n\n", "\r\r", "\r\n\r\r")
          .contains(got.substring(head.length())), what + ": its end");
      assertEquals(Optional.of(new Usage(prompt, 7, 0)), relayed.scanner.result(), what);
    }
  }

  private static String firstDifference(String expected, String got) {
    int i = 0;
    while (i < expected.length() && i < got.length() && expected.charAt(i) == got.charAt(i)) {
      i++;
    }
    return "differs at " + i + " of " + expected.length() + "/" + got.length() + ": expected ..."
        + expected.substring(Math.max(0, i - 40), Math.min(expected.length(), i + 60)).replace("\r", "\\r").replace("\n", "\\n")
        + " got ..." + got.substring(Math.max(0, i - 40), Math.min(got.length(), i + 60)).replace("\r", "\\r").replace("\n", "\\n");
  }
}
