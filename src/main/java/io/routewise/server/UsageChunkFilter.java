package io.routewise.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.OutputStream;
import java.util.Arrays;

/**
 * Relays a stream for which routewise, not the client, asked {@code include_usage}: every event as it
 * completes, but the one that carries only the usage (one {@code data:} line, {@code "choices":[]}),
 * which a client that did not ask for it may not expect, dropped whole with its other fields
 * ({@code event:}, {@code id:}). An event is held until its blank line, unless it grows past what a
 * usage event could be; a stream that ends lines with a lone CR is relayed as it comes, unfiltered.
 */
final class UsageChunkFilter {
  private static final ObjectMapper JSON = new ObjectMapper();
  /** A usage event is a few hundred bytes: a longer one is relayed without waiting for its end. */
  private static final int MAX_HELD = 16 * 1024;

  /** The current event's bytes so far: its complete lines, then a partial one. */
  private byte[] pending = new byte[8192];
  private int len;
  /** Where the partial line starts: the complete lines before it are counted below. */
  private int scanned;
  private int dataLines;
  private boolean usageLine;
  /** The current event was too long to hold: the rest of it goes as it comes. */
  private boolean passingEvent;
  /** The line being read began in bytes of such an event already relayed: its end is no blank line. */
  private boolean lineBegun;
  /** Lone CRs end lines here: nothing is filtered. */
  private boolean passingAll;

  /** Writes to {@code out} what of the stream so far can go to the client. */
  void relay(byte[] buf, int n, OutputStream out) throws IOException {
    if (passingAll) {
      out.write(buf, 0, n);
      return;
    }
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
      if (b == '\r') {
        if (i + 1 == len) {
          break; // \r\n or a lone \r: the next read says
        }
        if (pending[i + 1] != '\n') {
          passingAll = true;
          out.write(pending, flushFrom, len - flushFrom);
          len = 0;
          return;
        }
        continue;
      }
      if (b != '\n') {
        continue;
      }
      int end = i > lineStart && pending[i - 1] == '\r' ? i - 1 : i;
      if (end == lineStart && !lineBegun) { // a blank line: the event is complete
        if (!passingEvent && dataLines == 1 && usageLine) {
          out.write(pending, flushFrom, eventStart - flushFrom);
          flushFrom = i + 1;
        }
        eventStart = i + 1;
        dataLines = 0;
        usageLine = false;
        passingEvent = false;
      } else if (!lineBegun && startsWithData(pending, lineStart, end)) {
        dataLines++;
        usageLine |= isUsageChunk(pending, lineStart, end);
      }
      lineBegun = false;
      lineStart = i + 1;
    }
    int keepFrom = eventStart;
    if (passingEvent || len - eventStart > MAX_HELD) {
      passingEvent = true; // its blank line, or a later event, will not be dropped on its account
      keepFrom = len;
      // a line it leaves open (more than a blank line's CR of it) goes too: the next read goes on with it
      lineBegun |= lineStart < len && !(lineStart == len - 1 && pending[lineStart] == '\r');
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
    return rest;
  }

  private static boolean startsWithData(byte[] b, int from, int to) {
    return to - from >= 5 && b[from] == 'd' && b[from + 1] == 'a' && b[from + 2] == 't' && b[from + 3] == 'a'
        && b[from + 4] == ':';
  }

  /** {@code data: {...}} whose object has a {@code usage} object and no choices. */
  static boolean isUsageChunk(byte[] b, int from, int to) {
    if (to - from < 6 || !startsWithData(b, from, to) || !mentionsUsageObject(b, from + 5, to)) {
      return false;
    }
    try {
      JsonNode chunk = JSON.readTree(b, from + 5, to - from - 5);
      JsonNode choices = chunk.path("choices");
      return chunk.path("usage").isObject() && (choices.isMissingNode() || choices.isArray() && choices.isEmpty());
    } catch (IOException e) {
      return false; // not JSON: the client's business
    }
  }

  /** Whether {@code "usage"}, a colon and an opening brace appear in order (every other chunk has "usage":null). */
  private static boolean mentionsUsageObject(byte[] b, int from, int to) {
    byte[] key = {'"', 'u', 's', 'a', 'g', 'e', '"'};
    outer:
    for (int i = from; i + key.length <= to; i++) {
      for (int j = 0; j < key.length; j++) {
        if (b[i + j] != key[j]) {
          continue outer;
        }
      }
      int k = i + key.length;
      while (k < to && (b[k] == ' ' || b[k] == ':')) {
        k++;
      }
      if (k < to && b[k] == '{') {
        return true;
      }
    }
    return false;
  }
}
