package io.routewise.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.routewise.upstream.Usage;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/**
 * When a relayed stream counts as whole: a stream that ends without it gets routewise's error event,
 * so a whole one must never be missed (a false error on a good answer), however its server writes it.
 */
class SseUsageScannerTest {
  private static SseUsageScanner scan(String stream, int readSize) {
    return scan(stream, readSize, false);
  }

  private static SseUsageScanner scanResponses(String stream, int readSize) {
    return scan(stream, readSize, true);
  }

  private static SseUsageScanner scan(String stream, int readSize, boolean responses) {
    return feed(new SseUsageScanner(responses), stream, readSize);
  }

  /** {@code stream} fed to {@code s} {@code readSize} bytes at a time, then finished. */
  private static SseUsageScanner feed(SseUsageScanner s, String stream, int readSize) {
    byte[] b = stream.getBytes(StandardCharsets.UTF_8);
    for (int at = 0; at < b.length; at += readSize) {
      byte[] part = java.util.Arrays.copyOfRange(b, at, Math.min(b.length, at + readSize));
      s.feed(part, part.length);
    }
    s.finish();
    return s;
  }

  private static String chunk(String delta, String finish) {
    return "data: {\"choices\":[{\"index\":0,\"delta\":" + delta + ",\"finish_reason\":" + finish + "}]}\n\n";
  }

  @Test
  void aWholeStreamIsCompleteHoweverItsServerEndsIt() {
    String body = chunk("{\"content\":\"hi\"}", "null");
    for (String whole : new String[] {
        body + "data: [DONE]\n\n",
        body + "data:[DONE]\n\n", // no space: the SSE format allows it
        body + "data: [DONE]", // no newline after the last line
        body + chunk("{}", "\"stop\""), // ends at its finish_reason, no [DONE]
        body + "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\" : \"length\"}]}\n\n",
        // a last chunk longer than the line buffer: a whole tool call's arguments at once
        body + chunk("{\"tool_calls\":[{\"function\":{\"arguments\":\"" + "x".repeat(70_000) + "\"}}]}", "\"tool_calls\"")}) {
      for (int readSize : new int[] {1, 7, 8192}) {
        assertTrue(scan(whole, readSize).complete(), readSize + ": " + whole.substring(Math.max(0, whole.length() - 120)));
      }
    }
  }

  /**
   * Some servers put the usage on the last content chunk, not on a chunk of its own; where that chunk
   * is past the line buffer (a whole tool call's arguments at once), its usage, near its end, counts too.
   */
  @Test
  void theUsageOfAChatChunkLongerThanTheLineBufferIsRead() {
    String usage = "\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":20000,\"total_tokens\":20009}";
    String last = "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,"
        + "\"function\":{\"arguments\":\"" + "x".repeat(70_000) + "\"}}]},\"finish_reason\":\"tool_calls\"}],"
        + usage + "}\n\n";
    for (int readSize : new int[] {1, 8192, 1 << 20}) {
      SseUsageScanner s = scan(chunk("{\"content\":\"\"}", "null") + last + "data: [DONE]\n\n", readSize);
      assertTrue(s.complete());
      assertEquals(new Usage(9, 20_000), s.result().orElseThrow(), "read " + readSize);
    }
  }

  @Test
  void aStreamCutBeforeItsEndIsNot() {
    String body = chunk("{\"content\":\"hi\"}", "null");
    for (String cut : new String[] {
        body,
        body + "data: [DO",
        // a finish_reason inside the text (escaped quotes) is not the field
        chunk("{\"content\":\"say \\\"finish_reason\\\": \\\"stop\\\"\"}", "null")}) {
      for (int readSize : new int[] {1, 8192}) {
        assertFalse(scan(cut, readSize).complete(), cut);
      }
    }
    assertEquals(false, scan("", 1).complete());
  }

  private static String choice(int index, String delta, String finish) {
    return "data: {\"choices\":[{\"index\":" + index + ",\"delta\":" + delta + ",\"finish_reason\":" + finish + "}]}\n\n";
  }

  /**
   * Of {@code n: 2}, the first choice's finish_reason is no end: the stream was whole only once each
   * choice that began had its own (or [DONE] came). Before, a cut after the first one's read as whole.
   */
  @Test
  void aStreamOfSeveralChoicesIsWholeOnceEachEnded() {
    String begun = choice(0, "{\"content\":\"a\"}", "null") + choice(1, "{\"content\":\"b\"}", "null");
    String longToolCall = choice(1, "{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\""
        + "x".repeat(70_000) + "\"}}]}", "\"tool_calls\"");
    for (int readSize : new int[] {1, 7, 8192}) {
      SseUsageScanner cut = new SseUsageScanner(false, 2);
      byte[] b = (begun + choice(0, "{}", "\"stop\"")).getBytes(StandardCharsets.UTF_8);
      for (int at = 0; at < b.length; at += readSize) {
        byte[] part = java.util.Arrays.copyOfRange(b, at, Math.min(b.length, at + readSize));
        cut.feed(part, part.length);
      }
      cut.finish();
      assertFalse(cut.complete(), readSize + ": the second choice never ended");
      for (String whole : new String[] {
          begun + choice(0, "{}", "\"stop\"") + choice(1, "{}", "\"length\""),
          begun + choice(0, "{}", "\"stop\"") + longToolCall, // its end past the line buffer
          choice(0, "{\"content\":\"a\"}", "\"stop\""), // an upstream that answers one choice whatever n says
          begun + "data: [DONE]\n\n"}) {
        SseUsageScanner s = new SseUsageScanner(false, 2);
        byte[] w = whole.getBytes(StandardCharsets.UTF_8);
        for (int at = 0; at < w.length; at += readSize) {
          byte[] part = java.util.Arrays.copyOfRange(w, at, Math.min(w.length, at + readSize));
          s.feed(part, part.length);
        }
        s.finish();
        assertTrue(s.complete(), readSize + ": " + whole.substring(0, Math.min(200, whole.length())));
      }
    }
  }

  /** Lines ended by a lone CR (SSE allows it): before, neither the usage nor [DONE] was seen in them. */
  @Test
  void linesEndedByALoneCrAreReadAsLinesAre() {
    String usage = "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":3,\"total_tokens\":8}}";
    for (String end : new String[] {"\r", "\r\n", "\n"}) {
      String stream = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"},\"finish_reason\":null}]}" + end + end
          + usage + end + end + "data: [DONE]" + end + end;
      for (int readSize : new int[] {1, 5, 8192}) {
        SseUsageScanner s = scan(stream, readSize);
        assertTrue(s.done(), readSize + " " + end.length());
        assertEquals(new Usage(5, 3, 0), s.result().orElseThrow());
      }
    }
  }

  /**
   * An event's data may span several {@code data:} lines, joined with a newline (the SSE format; a
   * server that writes its JSON indented, through a library that splits data at newlines, sends it
   * so): the SDKs parse the joined data, so its usage and its type are the event's, whatever the
   * line ends and however the stream is read.
   */
  @Test
  void anEventWhoseDataSpansSeveralLinesIsReadAsOne() {
    for (String end : new String[] {"\n", "\r\n", "\r"}) {
      String chat = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"},\"finish_reason\":null}]}" + end + end
          + "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]," + end
          + "data: \"usage\":{\"prompt_tokens\":5," + end + "data:\"completion_tokens\":3,\"total_tokens\":8}}" + end + end
          + "data: [DONE]" + end + end;
      String responses = "event: response.completed" + end + "data: {\"type\":\"response.completed\"," + end
          + ": a comment between them changes nothing" + end
          + "data: \"response\":{\"id\":\"resp_1\"," + COMPLETED_USAGE + "}}" + end + end;
      for (int readSize : new int[] {1, 7, 8192}) {
        SseUsageScanner s = scan(chat, readSize);
        assertTrue(s.done(), readSize + " " + end.length());
        assertEquals(new Usage(5, 3, 0), s.result().orElseThrow(), readSize + " " + end.length());
        SseUsageScanner r = scanResponses(responses, readSize);
        assertTrue(r.done() && r.complete() && !r.errored(), readSize + " " + end.length());
        assertEquals(new Usage(9, 2, 3), r.result().orElseThrow(), readSize + " " + end.length());
        assertEquals("resp_1", r.responseId());
      }
    }
    // lines of two events are not one: a blank line between them ends the first
    SseUsageScanner two = scanResponses("data: {\"type\":\"response.completed\",\n\n"
        + "data: \"response\":{" + COMPLETED_USAGE + "}}\n\n", 8192);
    assertFalse(two.complete(), "no event was whole JSON");
  }

  /**
   * An event spanning several data: lines whose data passes MAX_LINE (indented JSON of a long answer,
   * split at its newlines) is read as a line past it is: its type and id from its start, its usage
   * from its end. Joined only within the bound, its usage went unread and the whole stream read as cut.
   */
  @Test
  void anEventWhoseDataSpansSeveralLinesPastTheBoundKeepsItsStartAndEnd() {
    for (String text : new String[] {"x".repeat(100_000), "x".repeat(40_000) + "\",\n      \"more\": \"" + "y".repeat(40_000)}) {
      String indented = "{\n  \"type\": \"response.completed\",\n  \"response\": {\n    \"id\": \"resp_1\",\n"
          + "    \"output\": [{\"content\": [{\n      \"text\": \"" + text + "\"\n    }]}],\n"
          + "    \"usage\": {\n      \"input_tokens\": 9,\n      \"output_tokens\": 2,\n      \"total_tokens\": 11\n    }\n  }\n}";
      String event = "event: response.completed\ndata: " + indented.replace("\n", "\ndata: ") + "\n\n";
      for (int readSize : new int[] {7, 8192}) {
        SseUsageScanner r = scanResponses(event, readSize);
        assertTrue(r.done() && r.complete() && !r.errored(), "read " + readSize + " at a time");
        assertEquals(new Usage(9, 2, 0), r.result().orElseThrow(), "read " + readSize + " at a time");
        assertEquals("resp_1", r.responseId());
      }
    }
  }

  private static final String COMPLETED_USAGE = "\"usage\":{\"input_tokens\":9,\"input_tokens_details\":"
      + "{\"cached_tokens\":3},\"output_tokens\":2,\"total_tokens\":11}";

  /** A Responses stream ends at its last event, which holds its usage, however long its line. */
  @Test
  void aResponsesStreamEndsAtItsLastEventWithItsUsageAndId() {
    String created = "event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"id\":\"resp_1\","
        + "\"instructions\":\"" + "i".repeat(70_000) + "\",\"usage\":null}}\n\n";
    String delta = "data: {\"type\":\"response.output_text.delta\",\"delta\":\"[DONE] \\\"usage\\\":{}\"}\n\n";
    for (String text : new String[] {"Hello!", "x".repeat(200_000)}) { // a long answer, whole in the last event
      String completed = "event: response.completed\ndata: {\"type\": \"response.completed\", \"response\":{\"id\":"
          + "\"resp_1\",\"output\":[{\"type\":\"message\",\"content\":[{\"type\":\"output_text\",\"text\":\"" + text
          + "\"}]}]," + COMPLETED_USAGE + ",\"user\":null,\"metadata\":{\"k\":\"" + "m".repeat(9_000) + "\"}}}\n\n";
      for (int readSize : new int[] {1, 7, 8192, 1 << 20}) {
        SseUsageScanner cut = scanResponses(created + delta, readSize);
        assertFalse(cut.complete(), "no last event: cut off (" + readSize + ")");
        assertEquals("resp_1", cut.responseId(), "named in a created event longer than the line buffer");
        SseUsageScanner s = scanResponses(created + delta + completed, readSize);
        assertTrue(s.done() && s.complete() && !s.errored(), "read " + readSize);
        assertEquals(new Usage(9, 2, 3), s.result().orElseThrow(), "read " + readSize + ", answer " + text.length());
      }
    }
    SseUsageScanner incomplete = scanResponses("data: {\"type\":\"response.incomplete\",\"response\":{"
        + COMPLETED_USAGE + "}}\n\n", 64);
    assertTrue(incomplete.complete() && !incomplete.errored(), "stopped at max_output_tokens: whole, as a finish_reason of length");
    assertEquals(2, incomplete.result().orElseThrow().completion());
  }

  /** Usage that begins within the line buffer's last bytes of a line just past it (a real-client trial lost it). */
  @Test
  void usageAcrossTheLineBuffersEndIsRead() {
    String before = "data: {\"type\":\"response.completed\",\"response\":{\"id\":\"resp_1\",\"output\":[{\"text\":\"";
    String after = "\"}]," + COMPLETED_USAGE + ",\"user\":null,\"metadata\":{}}}";
    for (int usageAt : new int[] {65_536 - 200, 65_536 - 100, 65_536 - 5, 65_536 + 3, 65_536 + 5_000}) {
      String line = before + "x".repeat(usageAt - before.length() - 4) + after;
      assertEquals(usageAt, line.indexOf("\"usage\""));
      for (int readSize : new int[] {1, 4096, 1 << 20}) {
        SseUsageScanner s = scanResponses(line + "\n\n", readSize);
        assertTrue(s.done(), "usage at " + usageAt);
        assertEquals(new Usage(9, 2, 3), s.result().orElseThrow(), "usage at " + usageAt + ", read " + readSize);
      }
    }
  }

  @Test
  void aResponsesStreamsFailureIsNoWholeAnswer() {
    SseUsageScanner failed = scanResponses("data: {\"type\":\"response.failed\",\"response\":{\"id\":\"resp_2\","
        + "\"error\":{\"code\":\"server_error\"}," + COMPLETED_USAGE + "}}\n\n", 16);
    assertTrue(failed.done() && failed.errored());
    assertEquals(9, failed.result().orElseThrow().prompt(), "what it used is still spent");
    SseUsageScanner error = scanResponses("event: error\ndata: {\"type\":\"error\",\"code\":\"rate_limit_exceeded\"}\n\n", 16);
    assertTrue(error.errored());
    assertFalse(error.complete());
    // a chat scanner reads none of this as an end
    assertFalse(scan("data: {\"type\":\"response.completed\",\"response\":{}}\n\n", 16).complete());
  }

  /**
   * vLLM writes each event with pydantic's field order, openai-python's: {@code response}, then
   * {@code sequence_number}, then {@code type} last. Its response.completed echoes the request's
   * instructions and tools, so an agent's last event passes 64 KiB with a short answer.
   */
  @Test
  void aResponsesEventWhoseTypeComesLastIsReadHoweverLong() {
    String created = "event: response.created\ndata: {\"response\":{\"id\":\"resp_v\",\"instructions\":\"be brief\","
        + "\"usage\":null},\"sequence_number\":0,\"type\":\"response.created\"}\n\n";
    String delta = "event: response.output_text.delta\ndata: {\"content_index\":0,\"delta\":\"Hi\",\"item_id\":\"m\","
        + "\"output_index\":0,\"sequence_number\":1,\"type\":\"response.output_text.delta\"}\n\n";
    for (String instructions : new String[] {"be brief", "i".repeat(70_000)}) {
      String completed = "event: response.completed\ndata: {\"response\":{\"id\":\"resp_v\",\"instructions\":\""
          + instructions + "\",\"output\":[{\"type\":\"message\",\"content\":[{\"type\":\"output_text\","
          + "\"text\":\"Hi\"}]}]," + COMPLETED_USAGE + ",\"user\":null},\"sequence_number\":2,"
          + "\"type\":\"response.completed\"}\n\n";
      for (int readSize : new int[] {1, 8192}) {
        SseUsageScanner s = scanResponses(created + delta + completed, readSize);
        assertTrue(s.complete() && !s.errored(), "instructions " + instructions.length() + ", read " + readSize);
        assertEquals(new Usage(9, 2, 3), s.result().orElseThrow(), "instructions " + instructions.length());
        // a server that sends no response.created: its completed event is the first to name the response
        SseUsageScanner alone = scanResponses(delta + completed, readSize);
        assertTrue(alone.complete(), "no created event, instructions " + instructions.length() + ", read " + readSize);
        // nor event: lines (they are optional): the type is the data's alone
        SseUsageScanner bare = scanResponses((created + delta + completed).replaceAll("event: [a-z._]+\n", ""), readSize);
        assertTrue(bare.complete() && !bare.errored(), "no event lines, instructions " + instructions.length());
        assertEquals(new Usage(9, 2, 3), bare.result().orElseThrow(), "no event lines, instructions " + instructions.length());
        SseUsageScanner crlf = scanResponses((created + delta + completed).replace("\n", "\r\n"), readSize);
        assertTrue(crlf.complete() && !crlf.errored(), "CRLF, instructions " + instructions.length());
      }
    }
  }

  /**
   * A stream whose connection closed part way through its response.completed line did not end with
   * that event: the SDKs never see it (an event is dispatched at its blank line), so the client must
   * hear of the cut, and its tokens are not whole either.
   */
  @Test
  void aResponsesStreamCutInsideItsLastEventIsNotWhole() {
    String created = "data: {\"type\":\"response.created\",\"response\":{\"id\":\"resp_1\",\"usage\":null}}\n\n";
    String completed = "data: {\"type\":\"response.completed\",\"sequence_number\":3,\"response\":{\"id\":"
        + "\"resp_1\",\"output\":[{\"type\":\"message\",\"content\":[{\"type\":\"output_text\",\"text\":\""
        + "x".repeat(1_000) + "\"}]}]," + COMPLETED_USAGE + "}}\n\n";
    for (int cut : new int[] {60, completed.length() / 2, completed.indexOf("\"usage\"") + 12}) {
      SseUsageScanner s = scanResponses(created + completed.substring(0, cut), 8192);
      assertFalse(s.complete(), "cut at " + cut + " of " + completed.length());
    }
    String longCompleted = completed.replace("x".repeat(1_000), "x".repeat(100_000));
    for (int cut : new int[] {80_000, longCompleted.indexOf("\"usage\"") + 40}) { // past the line bound
      SseUsageScanner s = scanResponses(created + longCompleted.substring(0, cut), 8192);
      assertFalse(s.complete(), "cut at " + cut + " of " + longCompleted.length());
    }
    // whole, its blank line and all, it is complete
    assertTrue(scanResponses(created + longCompleted, 8192).complete());
    assertTrue(scanResponses(created + completed, 8192).complete());
  }

  /**
   * A last event whose line the body's end closed (no line end: the relay then adds its blank line)
   * is whole however long, where its line shows it whole: vLLM's ends with its type. Before, one past
   * the line bound was judged cut, and a whole answer got routewise's error event after it.
   */
  @Test
  void aLongLastEventWithoutItsLineEndIsWholeWhenItsEndShowsIt() {
    String completed = "event: response.completed\ndata: {\"response\":{\"id\":\"resp_v\",\"instructions\":\""
        + "i".repeat(70_000) + "\",\"output\":[]," + COMPLETED_USAGE + ",\"user\":null},\"sequence_number\":2,"
        + "\"type\":\"response.completed\"}";
    for (int readSize : new int[] {1, 8192}) {
      SseUsageScanner s = scanResponses(completed, readSize);
      assertTrue(s.complete() && !s.errored(), "read " + readSize);
      assertEquals(new Usage(9, 2, 3), s.result().orElseThrow());
      // cut short before that end, it is not
      assertFalse(scanResponses(completed.substring(0, completed.length() - 12), readSize).complete());
      assertFalse(scanResponses(completed.substring(0, completed.indexOf("\"user\"")), readSize).complete());
    }
  }

  /**
   * An event: line (every event of OpenAI's and vLLM's streams has one) costs no allocation: its name
   * is needed only for a data line past the line bound.
   */
  @Test
  void anEventLineAllocatesNothing() {
    com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
    SseUsageScanner s = new SseUsageScanner(true);
    byte[] line = "event: response.output_text.delta\n".getBytes(StandardCharsets.UTF_8);
    for (int i = 0; i < 20_000; i++) { // warm: buffers sized, code compiled
      s.feed(line, line.length);
    }
    long before = mx.getCurrentThreadAllocatedBytes();
    for (int i = 0; i < 10_000; i++) {
      s.feed(line, line.length);
    }
    long allocated = mx.getCurrentThreadAllocatedBytes() - before;
    assertTrue(allocated < 32 * 1024, allocated + " bytes for 10,000 event: lines");
  }

  // ---- adversarial cases for the several-data-lines reading (a review of c096b50) ----

  private static SseUsageScanner scanChoices(String stream, int readSize, int choices) {
    return feed(new SseUsageScanner(false, choices), stream, readSize);
  }

  private static final String USAGE_CHUNK_INDENTED = "{\n  \"id\": \"c\",\n  \"choices\": [],\n  \"usage\": {\n"
      + "    \"prompt_tokens\": 9,\n    \"completion_tokens\": 2,\n    \"total_tokens\": 11\n  }\n}";

  private static String lines(String json, String eol) {
    return "data: " + json.replace("\n", eol + "data: ") + eol + eol;
  }

  /** CRLF and lone CR line ends, split anywhere across reads, between an event's data lines. */
  @Test
  void anEventOfSeveralLinesIsReadWhateverItsLineEndsAndReads() {
    for (String eol : new String[] {"\n", "\r\n", "\r"}) {
      String stream = chunk("{\"content\":\"hi\"}", "\"stop\"").replace("\n", eol)
          + lines(USAGE_CHUNK_INDENTED, eol) + "data: [DONE]" + eol + eol;
      for (int readSize : new int[] {1, 2, 3, 5, 7, 8192}) {
        SseUsageScanner s = scan(stream, readSize);
        assertTrue(s.done() && s.complete() && !s.errored(), eol.length() + "/" + readSize);
        assertEquals(new Usage(9, 2), s.result().orElseThrow(), eol.length() + "/" + readSize);
      }
    }
  }

  /** event:, id:, retry: and comment lines between an event's data lines leave its data whole (as the SDKs join it). */
  @Test
  void otherFieldsAndCommentsBetweenDataLinesLeaveTheEventWhole() {
    String json = USAGE_CHUNK_INDENTED;
    String[] parts = json.split("\n");
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < parts.length; i++) {
      b.append("data: ").append(parts[i]).append('\n');
      b.append(i % 4 == 0 ? ": keep-alive\n" : i % 4 == 1 ? "id: 7\n" : i % 4 == 2 ? "event: chunk\n" : "retry: 100\n");
    }
    String stream = chunk("{\"content\":\"hi\"}", "\"stop\"") + b + "\ndata: [DONE]\n\n";
    for (int readSize : new int[] {1, 7, 8192}) {
      SseUsageScanner s = scan(stream, readSize);
      assertEquals(new Usage(9, 2), s.result().orElseThrow(), "read " + readSize);
      assertTrue(s.done() && s.complete() && !s.errored());
    }
  }

  /** A "data" line with no colon is the field data with an empty value: a newline in the SDK's data, JSON unharmed. */
  @Test
  void aDataLineWithoutAColonLeavesTheEventReadable() {
    String json = USAGE_CHUNK_INDENTED.replace("  \"usage\"", "\ndata\n  \"usage\"");
    String stream = chunk("{\"content\":\"hi\"}", "\"stop\"") + "data: " + json.replace("\n", "\ndata: ")
        .replace("data: data\n", "data\n") + "\n\ndata: [DONE]\n\n";
    assertTrue(stream.contains("\ndata\n"), stream);
    for (int readSize : new int[] {1, 8192}) {
      SseUsageScanner s = scan(stream, readSize);
      assertEquals(new Usage(9, 2), s.result().orElseThrow());
      assertTrue(s.done() && s.complete() && !s.errored());
    }
  }

  /** A Responses last event whose first data line passes 64 KiB, then short lines with its usage. */
  @Test
  void aFirstDataLinePastTheBoundThenShortOnes() {
    String event = "event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"id\":\"resp_9\","
        + "\"output\":[{\"content\":[{\"text\":\"" + "x".repeat(100_000) + "\"}]}]\ndata: ,\"usage\":{\"input_tokens\":9,"
        + "\ndata: \"output_tokens\":2,\"total_tokens\":11}\ndata: }}\n\n";
    for (int readSize : new int[] {7, 8192, 1 << 20}) {
      SseUsageScanner r = scanResponses(event, readSize);
      assertTrue(r.done() && r.complete() && r.lastEvent() && !r.errored(), "read " + readSize);
      assertEquals(new Usage(9, 2, 0), r.result().orElseThrow(), "read " + readSize);
      assertEquals("resp_9", r.responseId());
    }
    // a chat usage chunk the same way
    String chat = "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"" + "x".repeat(100_000)
        + "\"},\"finish_reason\":\"stop\"}]\ndata: ,\"usage\":{\"prompt_tokens\":9,\ndata: \"completion_tokens\":2,"
        + "\"total_tokens\":11}}\n\ndata: [DONE]\n\n";
    for (int readSize : new int[] {7, 8192}) {
      SseUsageScanner s = scan(chat, readSize);
      assertTrue(s.done() && s.complete() && !s.errored());
      assertEquals(new Usage(9, 2), s.result().orElseThrow(), "read " + readSize);
    }
  }

  /** Thousands of short data lines: read once, the usage at their end. (Its time is printed, not asserted.) */
  @Test
  void anEventOfThousandsOfLinesIsReadOnce() {
    StringBuilder b = new StringBuilder("data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"}");
    for (int i = 0; i < 20_000; i++) {
      b.append("\ndata: ,\"k").append(i).append("\":").append(i);
    }
    b.append("\ndata: ,\"finish_reason\":\"stop\"}],\ndata: \"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2,"
        + "\"total_tokens\":11}}\n\ndata: [DONE]\n\n");
    String stream = b.toString();
    for (int readSize : new int[] {1, 8192}) {
      long t = System.nanoTime();
      SseUsageScanner s = scan(stream, readSize);
      long ms = (System.nanoTime() - t) / 1_000_000;
      System.out.println("20,000-line event, " + stream.length() + " bytes, read " + readSize + ": " + ms + " ms");
      assertTrue(s.done() && s.complete() && !s.errored());
      assertEquals(new Usage(9, 2), s.result().orElseThrow());
    }
  }

  /**
   * A stream's last event without its blank line: a one-line usage chunk so ended is counted
   * ({@link SseUsageScanner#finish}); one of several lines is the same chunk and must count the same.
   */
  @Test
  void aLastEventOfSeveralLinesWithoutItsBlankLineCountsAsAOneLineOneDoes() {
    String body = chunk("{\"content\":\"hi\"}", "\"stop\"");
    String oneLine = "data: " + USAGE_CHUNK_INDENTED.replace("\n", "") + "\n";
    String several = "data: " + USAGE_CHUNK_INDENTED.replace("\n", "\ndata: ") + "\n";
    for (int readSize : new int[] {1, 8192}) {
      assertEquals(new Usage(9, 2), scan(body + oneLine, readSize).result().orElseThrow(), "one line");
      assertEquals(new Usage(9, 2), scan(body + several, readSize).result().orElseThrow(), "several lines");
      assertEquals(new Usage(9, 2), scan(body + several.strip(), readSize).result().orElseThrow(), "several, no last newline");
    }
    String completed = "{\n\"type\": \"response.completed\",\n\"response\": {\"id\": \"resp_1\",\n" + COMPLETED_USAGE + "}\n}";
    SseUsageScanner oneR = scanResponses("event: response.completed\ndata: " + completed.replace("\n", "") + "\n", 8192);
    SseUsageScanner severalR = scanResponses("event: response.completed\ndata: " + completed.replace("\n", "\ndata: ") + "\n", 8192);
    assertEquals(oneR.done(), severalR.done(), "done");
    assertEquals(oneR.result(), severalR.result(), "usage");
  }

  /** n>1: a chunk of several data lines (one choice's end in it) ends that choice; past the bound too. */
  @Test
  void severalChoicesWrittenOnSeveralLinesEndEachChoice() {
    String c0 = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"},\"finish_reason\":null}]}\n\n"
        + "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n";
    for (String args : new String[] {"x", "x".repeat(100_000)}) {
      String c1 = "data: {\n data:   \"choices\": [\ndata:     {\n".replace(" data:", "data:")
          + "data:       \"index\": 1,\ndata:       \"delta\": {\"tool_calls\": [{\"index\": 0, \"function\": {\"arguments\": \""
          + args + "\"}}]},\ndata:       \"finish_reason\": \"tool_calls\"\ndata:     }\ndata:   ]\ndata: }\n\n";
      for (int readSize : new int[] {1, 8192}) {
        SseUsageScanner s = scanChoices(c0 + c1, readSize, 2); // no [DONE]: some servers end at the last finish_reason
        assertTrue(s.complete(), args.length() + " read " + readSize);
        SseUsageScanner cut = scanChoices(c0 + c1.substring(0, c1.indexOf("\"finish_reason\"")), readSize, 2);
        assertFalse(cut.complete(), args.length() + " cut, read " + readSize);
      }
    }
  }

  /**
   * An upstream's error event written over several data lines (indented JSON, as sse-starlette splits it):
   * the SDKs join the lines and raise its error; it is no whole answer, [DONE] after it or not.
   */
  @Test
  void anErrorEventOfSeveralDataLinesIsAnError() {
    String error = "{\n  \"error\": {\n    \"message\": \"overloaded\",\n    \"type\": \"server_error\"\n  }\n}";
    String body = chunk("{\"content\":\"hi\"}", "null") + lines(error, "\n");
    for (int readSize : new int[] {1, 8192}) {
      assertTrue(scan(body, readSize).errored(), "read " + readSize);
      assertTrue(scan(body + "data: [DONE]\n\n", readSize).errored(), "[DONE] after it, read " + readSize);
      SseUsageScanner r = scanResponses("event: error\n" + lines("{\n\"type\": \"error\",\n\"code\": \"x\"\n}", "\n"), readSize);
      assertTrue(r.errored(), "Responses error, read " + readSize);
    }
  }

  /** [DONE] after an event of several lines, and a one-line error, are still seen. */
  @Test
  void doneAndErrorsStillSeenAfterAnEventOfSeveralLines() {
    String stream = lines(USAGE_CHUNK_INDENTED, "\n");
    for (int readSize : new int[] {1, 8192}) {
      assertTrue(scan(stream + "data: [DONE]\n\n", readSize).done());
      assertTrue(scan(stream + "data: {\"error\":{\"message\":\"x\"}}\n\n", readSize).errored());
      assertFalse(scan(stream + "data: [DONE]\n\n", readSize).errored());
    }
  }
}
