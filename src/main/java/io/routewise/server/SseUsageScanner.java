package io.routewise.server;

import java.util.Arrays;
import java.util.Optional;

/**
 * Watches a relayed server-sent-event stream for a chunk with {@code usage} (sent when the client
 * asked for {@code stream_options.include_usage}) and for its {@code data: [DONE]}. Only lines that
 * mention "usage" are parsed; a line is held across reads, bounded so a stream without line ends
 * cannot grow it without limit.
 *
 * <p>A Responses stream instead ends with a {@code response.completed} (or {@code .incomplete})
 * event holding the whole answer, its usage included, or with {@code response.failed} or {@code
 * error}; its {@code response.created} names the response id. Of each event only the type is read
 * (and the response's id and usage from those few): a line past the bound still gives its type from
 * its start and its usage, which comes near its end, from a last stretch kept for it.
 */
final class SseUsageScanner {
  private static final int MAX_LINE = 64 * 1024;
  /** How much of a Responses line's end is kept past MAX_LINE: its usage, then at most user and metadata. */
  private static final int TAIL = 32 * 1024;
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
  /** A Responses stream's. */
  private final boolean responses;
  private String responseId;
  /** A Responses line's last TAIL bytes once it passed MAX_LINE, as a ring; allocated for the first such line. */
  private byte[] tail;
  private long tailCount;

  /** A chat-completions stream's. */
  SseUsageScanner() {
    this(false);
  }

  SseUsageScanner(boolean responses) {
    this.responses = responses;
  }

  void feed(byte[] buf, int n) {
    for (int i = 0; i < n; i++) {
      byte b = buf[i];
      if (!finished && !responses) { // no finish_reason there: its end is its last event (done)
        matchFinish(b);
      }
      if (b == '\n' || b == '\r') { // SSE ends lines with LF, CRLF or a lone CR (the CRLF's LF: an empty line)
        endLine();
      } else if (!overflow) {
        if (len == line.length) {
          if (len >= MAX_LINE) {
            overflow = true;
            keepTail(b);
            continue;
          }
          line = Arrays.copyOf(line, len * 2);
        }
        line[len++] = b;
      } else {
        keepTail(b);
      }
    }
  }

  private void keepTail(byte b) {
    if (responses) {
      if (tail == null) {
        tail = new byte[TAIL];
      }
      if (tailCount == 0) { // the line's first byte past MAX_LINE: the end kept so far begins the tail
        int kept = Math.min(len, TAIL);
        System.arraycopy(line, len - kept, tail, 0, kept);
        tailCount = kept;
      }
      tail[(int) (tailCount++ % TAIL)] = b;
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
    if (len > 6 && line[0] == 'd' && startsWith("data:")) {
      int off = 5;
      while (off < len && line[off] == ' ') {
        off++;
      }
      if (responses) {
        responsesEvent(off);
      } else if (!overflow && ByteSearch.indexOf(line, len, USAGE) >= 0) {
        Usage.fromJson(line, off, len - off).ifPresent(u -> usage = u);
      }
    }
    len = 0;
    overflow = false;
    tailCount = 0;
  }

  /**
   * A Responses event: its type, read first (the rest of a delta's line is not parsed), and for the
   * response's own events ({@code response.created}, {@code .completed}, ...) its id; a last one, its usage.
   */
  private void responsesEvent(int off) {
    String type = null;
    try (com.fasterxml.jackson.core.JsonParser p = ChatRequestParser.JSON.createParser(line, off, len - off)) {
      if (p.nextToken() != com.fasterxml.jackson.core.JsonToken.START_OBJECT) {
        return;
      }
      while (p.nextToken() == com.fasterxml.jackson.core.JsonToken.FIELD_NAME) {
        String name = p.currentName();
        com.fasterxml.jackson.core.JsonToken v = p.nextToken();
        if (name.equals("type") && v == com.fasterxml.jackson.core.JsonToken.VALUE_STRING) {
          type = p.getText();
          if (!ownEvent(type)) {
            return; // a delta, an output item: nothing here
          }
        } else if (name.equals("response") && v == com.fasterxml.jackson.core.JsonToken.START_OBJECT
            && responseId == null) {
          while (p.nextToken() == com.fasterxml.jackson.core.JsonToken.FIELD_NAME) {
            com.fasterxml.jackson.core.JsonToken iv = p.nextToken();
            if (p.currentName().equals("id") && iv == com.fasterxml.jackson.core.JsonToken.VALUE_STRING) {
              responseId = p.getText();
              break;
            }
            p.skipChildren();
          }
          if (type != null) {
            break; // the type came first, as it does: the rest is the answer, read for usage below
          }
        } else {
          p.skipChildren();
        }
      }
    } catch (java.io.IOException | RuntimeException cut) {
      // a line past MAX_LINE, cut: what its start said stands
    }
    if (type == null) {
      return;
    }
    if (type.equals("response.failed") || type.equals("error")) {
      errored = true; // no whole answer, as a chat stream's error event is none
    }
    if (type.equals("response.completed") || type.equals("response.incomplete") || type.equals("response.failed")) {
      done = true;
      (overflow ? usageInTail() : Usage.fromJson(line, off, len - off)).ifPresent(u -> usage = u);
    }
  }

  /** {@code error}, or one of the response's own events (one dot: {@code response.created}), not a part's. */
  private static boolean ownEvent(String type) {
    return type.equals("error") || type.startsWith("response.") && type.indexOf('.', 9) < 0;
  }

  /** The usage in the kept end of a line past MAX_LINE: its last {@code "usage"} key's object. */
  private Optional<Usage> usageInTail() {
    if (tail == null || tailCount == 0) {
      return Optional.empty();
    }
    int n = (int) Math.min(tailCount, TAIL);
    byte[] end = new byte[n + 1];
    end[0] = '{';
    int from = (int) ((tailCount - n) % TAIL);
    for (int i = 0; i < n; i++) {
      end[i + 1] = tail[(from + i) % TAIL];
    }
    int at = -1;
    for (int i = ByteSearch.indexOf(end, end.length, USAGE); i >= 0; i = ByteSearch.indexOf(end, i + 1, end.length, USAGE)) {
      at = i;
    }
    if (at < 0) {
      return Optional.empty();
    }
    end[at - 1] = '{'; // "{" then "usage":{...}, whatever came after it left unread
    return Usage.fromJson(end, at - 1, end.length - at + 1);
  }

  /** A Responses stream's response id, once an event named it; else null. */
  String responseId() {
    return responseId;
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

  /** True once the stream's {@code data: [DONE]} line (a Responses stream's last event) has gone by: it has ended. */
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
   * True once the answer is known to be whole: {@code [DONE]} (a Responses stream's last event) came,
   * or a chunk gave a choice its finish_reason (some servers end there). A stream that ends with
   * neither was cut off.
   */
  boolean complete() {
    return done || finished;
  }

  Optional<Usage> result() {
    return Optional.ofNullable(usage);
  }
}
