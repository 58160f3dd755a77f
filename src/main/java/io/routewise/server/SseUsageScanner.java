package io.routewise.server;

import java.util.Arrays;
import java.util.Optional;

/**
 * Watches a relayed server-sent-event stream for a chunk with {@code usage} (sent when the client
 * asked for {@code stream_options.include_usage}) and for its {@code data: [DONE]}. Only lines that
 * mention "usage" are parsed; a line is held across reads, bounded so a stream without line ends
 * cannot grow it without limit.
 */
final class SseUsageScanner {
  private static final int MAX_LINE = 64 * 1024;
  private static final byte[] USAGE = "\"usage\"".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
  /** A choice's last chunk has {@code "finish_reason"} with a string value (null while it goes on). */
  private static final byte[] FINISH_KEY = "\"finish_reason\"".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
  private static final int AFTER_KEY = FINISH_KEY.length;
  private static final int AFTER_COLON = AFTER_KEY + 1;

  private byte[] line = new byte[1024];
  private int len;
  private boolean overflow;
  private Usage usage;
  private boolean done;
  private boolean finished;
  private boolean errored;
  /** Bytes of FINISH_KEY matched so far, or AFTER_KEY / AFTER_COLON: over every byte, whatever the line's length. */
  private int finishState;

  void feed(byte[] buf, int n) {
    for (int i = 0; i < n; i++) {
      byte b = buf[i];
      if (!finished) {
        matchFinish(b);
      }
      if (b == '\n' || b == '\r') { // SSE ends lines with LF, CRLF or a lone CR (the CRLF's LF: an empty line)
        endLine();
      } else if (!overflow) {
        if (len == line.length) {
          if (len >= MAX_LINE) {
            overflow = true;
            continue;
          }
          line = Arrays.copyOf(line, len * 2);
        }
        line[len++] = b;
      }
    }
  }

  private void endLine() {
    int end = len;
    if (!overflow && (end == 12 && startsWith("data: [DONE]") || end == 11 && startsWith("data:[DONE]"))) {
      done = true;
    }
    if (end >= 14 && (startsWith("data: {\"error\"") || startsWith("data:{\"error\""))) {
      errored = true; // the upstream's own error event: what it relayed is no whole answer, [DONE] or not
    }
    if (!overflow && len > 6 && line[0] == 'd' && startsWith("data:") && ByteSearch.indexOf(line, len, USAGE) >= 0) {
      int off = 5;
      while (off < len && line[off] == ' ') {
        off++;
      }
      Usage.fromJson(line, off, len - off).ifPresent(u -> usage = u);
    }
    len = 0;
    overflow = false;
  }

  private boolean startsWith(String prefix) {
    for (int i = 0; i < prefix.length(); i++) {
      if (line[i] != prefix.charAt(i)) {
        return false;
      }
    }
    return true;
  }

  /** True once the upstream sent an error event ({@code data: {"error": …}}) in the stream. */
  boolean errored() {
    return errored;
  }

  /** True once the stream's {@code data: [DONE]} line has gone by: the answer is complete. */
  boolean done() {
    return done;
  }

  /** Reads {@code "finish_reason"}, white space, a colon, white space, then a quote: a finished choice. */
  private void matchFinish(byte b) {
    if (finishState < AFTER_KEY) {
      if (b == FINISH_KEY[finishState]) {
        finishState++;
      } else {
        finishState = b == '"' ? 1 : 0;
      }
    } else if (b == ' ' || b == '\t' || b == '\r' || b == '\n') {
      return;
    } else if (finishState == AFTER_KEY && b == ':') {
      finishState = AFTER_COLON;
    } else if (finishState == AFTER_COLON && b == '"') {
      finished = true;
    } else {
      finishState = b == '"' ? 1 : 0;
    }
  }

  /** The stream has ended: a last line without its newline counts too. */
  void finish() {
    if (len > 0) {
      endLine();
    }
  }

  /**
   * True once the answer is known to be whole: {@code [DONE]} came, or a chunk gave a choice its
   * finish_reason (some servers end there). A stream that ends with neither was cut off.
   */
  boolean complete() {
    return done || finished;
  }

  Optional<Usage> result() {
    return Optional.ofNullable(usage);
  }
}
