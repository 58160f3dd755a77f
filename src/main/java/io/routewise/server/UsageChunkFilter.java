package io.routewise.server;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectReader;
import java.io.IOException;
import java.io.OutputStream;
import java.util.Arrays;

/**
 * Relays a stream for which routewise, not the client, asked {@code include_usage}: every event as it
 * completes, but the one that carries only the usage ({@code "choices":[]}), which a client that did not
 * ask for it may not expect, dropped whole with its other fields ({@code event:}, {@code id:}). Its data
 * is read as the SDKs read it: its {@code data:} lines joined with a newline (sse-starlette writes
 * indented JSON so), its lines ended by LF, CRLF or a lone CR. An event is held until its blank line,
 * unless it grows past what a usage event could be.
 */
final class UsageChunkFilter {
  private static final ObjectMapper JSON = new ObjectMapper();
  /** As a client parses an event's data: one JSON value, nothing after it. */
  private static final ObjectReader CHUNK = JSON.readerFor(JsonNode.class)
      .with(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
  /** A usage event is a few hundred bytes: a longer one is relayed without waiting for its end. */
  private static final int MAX_HELD = 16 * 1024;
  private static final byte[] USAGE_KEY = {'"', 'u', 's', 'a', 'g', 'e', '"'};

  /** The current event's bytes so far: its complete lines, then a partial one. */
  private byte[] pending = new byte[8192];
  private int len;
  /** Where the partial line starts: the complete lines before it are counted below. */
  private int scanned;
  /** A data line of the current event has {@code "usage"}: only then is its data read. */
  private boolean usageLine;
  /** The current event was too long to hold: the rest of it goes as it comes. */
  private boolean passingEvent;
  /** The line being read began in bytes of such an event already relayed: its end is no blank line. */
  private boolean lineBegun;
  /** The last line ended with a CR: an LF now is the rest of its CRLF, not a blank line. */
  private boolean afterCr;
  /** That CR was the blank line of an event dropped: the LF goes with it. */
  private boolean droppedCr;

  /** Writes to {@code out} what of the stream so far can go to the client. */
  void relay(byte[] buf, int n, OutputStream out) throws IOException {
    if (len + n > pending.length) {
      pending = Arrays.copyOf(pending, Math.max(pending.length * 2, len + n));
    }
    System.arraycopy(buf, 0, pending, len, n);
    len += n;
    int flushFrom = 0; // [flushFrom, eventStart): complete events to relay
    int eventStart = 0;
    int lineStart = scanned;
    for (int i = scanned; i < len; i++) {
      byte b = pending[i];
      if (afterCr && b == '\n') { // the end of the line (or event) its CR ended
        if (droppedCr) {
          flushFrom = i + 1;
        }
        if (eventStart == i) {
          eventStart = i + 1;
        }
        lineStart = i + 1;
        afterCr = false;
        droppedCr = false;
        continue;
      }
      afterCr = false;
      droppedCr = false;
      if (b != '\n' && b != '\r') {
        continue;
      }
      if (i == lineStart && !lineBegun) { // a blank line: the event is complete
        if (!passingEvent && usageLine && isUsageEvent(pending, eventStart, i)) {
          out.write(pending, flushFrom, eventStart - flushFrom);
          flushFrom = i + 1;
          droppedCr = b == '\r';
        }
        eventStart = i + 1;
        usageLine = false;
        passingEvent = false;
      } else if (!lineBegun && isDataLine(pending, lineStart, i)) {
        // a usage object, or its key at the line's end (its object on the next): not every chunk's "usage":null
        usageLine |= mayOpenUsageObject(pending, lineStart, i);
      }
      afterCr = b == '\r';
      lineBegun = false;
      lineStart = i + 1;
    }
    int keepFrom = eventStart;
    if (passingEvent || len - eventStart > MAX_HELD) {
      passingEvent = true; // its blank line, or a later event, will not be dropped on its account
      keepFrom = len;
      lineBegun |= lineStart < len; // a line it leaves open goes too: the next read goes on with it
    }
    if (keepFrom > flushFrom) {
      out.write(pending, flushFrom, keepFrom - flushFrom);
    }
    System.arraycopy(pending, keepFrom, pending, 0, len - keepFrom);
    scanned = Math.max(0, lineStart - keepFrom);
    len -= keepFrom;
  }

  /** The stream ended: what is held (an event without its blank line), to go as it is. */
  byte[] finish() {
    byte[] rest = Arrays.copyOf(pending, len);
    len = 0;
    scanned = 0;
    afterCr = false;
    droppedCr = false;
    return rest;
  }

  private static boolean startsWithData(byte[] b, int from, int to) {
    return to - from >= 5 && b[from] == 'd' && b[from + 1] == 'a' && b[from + 2] == 't' && b[from + 3] == 'a'
        && b[from + 4] == ':';
  }

  /** A {@code data} field: {@code data:} and its value, or the name alone (an empty value). */
  private static boolean isDataLine(byte[] b, int from, int to) {
    return startsWithData(b, from, to)
        || to - from == 4 && b[from] == 'd' && b[from + 1] == 'a' && b[from + 2] == 't' && b[from + 3] == 'a';
  }

  /**
   * Whether the event in {@code b[from, to)} (its lines, without its blank line) is a usage chunk: its data
   * lines' values (after {@code data:} and one space) joined with newlines, as the SDKs join them.
   */
  private static boolean isUsageEvent(byte[] b, int from, int to) {
    java.io.ByteArrayOutputStream data = new java.io.ByteArrayOutputStream(to - from);
    boolean first = true;
    int lineStart = from;
    for (int i = from; i <= to; i++) {
      if (i < to && b[i] != '\n' && b[i] != '\r') {
        continue;
      }
      if (i > lineStart && isDataLine(b, lineStart, i)) {
        int value = Math.min(i, lineStart + 5);
        if (value < i && b[value] == ' ') {
          value++;
        }
        if (!first) {
          data.write('\n');
        }
        data.write(b, value, i - value);
        first = false;
      }
      if (i < to - 1 && b[i] == '\r' && b[i + 1] == '\n') {
        i++;
      }
      lineStart = i + 1;
    }
    byte[] joined = data.toByteArray();
    return isUsageData(joined, 0, joined.length);
  }

  /** An event's data: a JSON object with a {@code usage} object and no choices. */
  private static boolean isUsageData(byte[] b, int from, int to) {
    if (to - from < 1 || !mentionsUsageObject(b, from, to)) {
      return false;
    }
    try {
      JsonNode chunk = CHUNK.readTree(new java.io.ByteArrayInputStream(b, from, to - from));
      JsonNode choices = chunk.path("choices");
      return chunk.path("usage").isObject() && (choices.isMissingNode() || choices.isArray() && choices.isEmpty());
    } catch (IOException e) {
      return false; // not JSON: the client's business
    }
  }

  private static int indexOf(byte[] b, int from, int to, byte[] key) {
    outer:
    for (int i = from; i + key.length <= to; i++) {
      for (int j = 0; j < key.length; j++) {
        if (b[i + j] != key[j]) {
          continue outer;
        }
      }
      return i;
    }
    return -1;
  }

  /** Whether a line has {@code "usage"} before an opening brace, or before its end (the brace on a later line). */
  private static boolean mayOpenUsageObject(byte[] b, int from, int to) {
    for (int i = indexOf(b, from, to, USAGE_KEY); i >= 0; i = indexOf(b, i + 1, to, USAGE_KEY)) {
      int k = i + USAGE_KEY.length;
      while (k < to && (b[k] == ' ' || b[k] == ':' || b[k] == '\t')) {
        k++;
      }
      if (k == to || b[k] == '{') {
        return true;
      }
    }
    return false;
  }

  /** Whether {@code "usage"}, a colon and an opening brace appear in order (every other chunk has "usage":null). */
  private static boolean mentionsUsageObject(byte[] b, int from, int to) {
    for (int i = indexOf(b, from, to, USAGE_KEY); i >= 0; i = indexOf(b, i + 1, to, USAGE_KEY)) {
      int k = i + USAGE_KEY.length;
      while (k < to && (b[k] == ' ' || b[k] == ':' || b[k] == '\t' || b[k] == '\n' || b[k] == '\r')) {
        k++;
      }
      if (k < to && b[k] == '{') {
        return true;
      }
    }
    return false;
  }
}
