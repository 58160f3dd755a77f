package io.routewise.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.OutputStream;
import java.util.Arrays;

/**
 * Relays a stream for which routewise, not the client, asked {@code include_usage}: everything as it
 * comes but the chunk that carries only the usage ({@code "choices":[]}), which a client that did not
 * ask for it may not expect, and the blank line that ends its event. Whole lines go at once; a partial
 * line waits for its end, unless it grows past what a usage chunk could be.
 */
final class UsageChunkFilter {
  private static final ObjectMapper JSON = new ObjectMapper();
  /** A usage chunk is a few hundred bytes: a longer partial line is relayed without waiting for its end. */
  private static final int MAX_HELD = 16 * 1024;

  private byte[] pending = new byte[8192];
  private int len;
  private boolean dropBlank;

  /** Writes to {@code out} what of the stream so far can go to the client. */
  void relay(byte[] buf, int n, OutputStream out) throws IOException {
    if (len + n > pending.length) {
      pending = Arrays.copyOf(pending, Math.max(pending.length * 2, len + n));
    }
    System.arraycopy(buf, 0, pending, len, n);
    len += n;
    int lineStart = 0;
    int emitFrom = 0;
    for (int i = 0; i < len; i++) {
      if (pending[i] != '\n') {
        continue;
      }
      boolean blank = i == lineStart || (i == lineStart + 1 && pending[lineStart] == '\r');
      boolean drop = blank ? dropBlank : isUsageChunk(pending, lineStart, i);
      dropBlank = drop && !blank;
      if (drop) {
        out.write(pending, emitFrom, lineStart - emitFrom);
        emitFrom = i + 1;
      }
      lineStart = i + 1;
    }
    int upTo = len - lineStart > MAX_HELD ? len : lineStart;
    if (upTo > emitFrom) {
      out.write(pending, emitFrom, upTo - emitFrom);
    }
    System.arraycopy(pending, upTo, pending, 0, len - upTo);
    len -= upTo;
  }

  /** The stream ended: what is held (a last line without its newline), to go as it is. */
  byte[] finish() {
    byte[] rest = Arrays.copyOf(pending, len);
    len = 0;
    return rest;
  }

  /** {@code data: {...}} whose object has a {@code usage} object and no choices. */
  static boolean isUsageChunk(byte[] b, int from, int to) {
    if (to - from < 6 || b[from] != 'd' || b[from + 1] != 'a' || b[from + 2] != 't' || b[from + 3] != 'a'
        || b[from + 4] != ':' || !mentionsUsageObject(b, from + 5, to)) {
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
