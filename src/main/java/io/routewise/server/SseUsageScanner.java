package io.routewise.server;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import io.routewise.upstream.Usage;
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
 * error}; its {@code response.created} names the response id. Of each event the type is read (where
 * it comes first, as OpenAI writes it, a delta's line no further), and of the response's own events
 * the response's id and usage. A line past the bound gives its type from its start, its {@code
 * event:} line or its end, and its usage, which comes near its end, from a last stretch kept for it.
 *
 * <p>An event whose data spans several {@code data:} lines is read as the SDKs read it: its lines
 * joined with a newline, read once at its blank line (past MAX_LINE, as a line past it is: its start
 * and its last stretch). Its first line is read as it ends, as a one-line event's is.
 */
final class SseUsageScanner {
  private static final int MAX_LINE = 64 * 1024;
  /** How much of a line's end is kept past MAX_LINE: its usage, then at most a Responses event's user and metadata. */
  private static final int TAIL = 32 * 1024;
  private static final byte[] USAGE = "\"usage\"".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
  private static final byte[] TYPE = "\"type\"".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
  private static final byte[] ERROR_KEY = "\"error\"".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
  private static final byte[] CHOICES = "\"choices\"".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
  /** A choice's last chunk has {@code "finish_reason"} with a string value (null while it goes on). */
  private static final byte[] FINISH_KEY = "\"finish_reason\"".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
  private static final int AFTER_KEY = FINISH_KEY.length;
  private static final int AFTER_COLON = AFTER_KEY + 1;

  private byte[] line = new byte[1024];
  private int len;
  /**
   * The current event's data lines so far, its first as it came ("data: …") and each further one's data
   * after a newline, up to MAX_LINE; swapped with {@link #line}, so a one-line event copies nothing.
   */
  private byte[] held = new byte[1024];
  private int heldLen;
  /** Data lines of the current event so far (0 after its blank line). */
  private int heldLines;
  /** The current event's data passed MAX_LINE: {@link #held} has its start, {@link #eventTail} its end. */
  private boolean heldOver;
  /** The current event's last TAIL bytes once it passed MAX_LINE, a ring as {@link #tail} is. */
  private byte[] eventTail;
  private long eventTailCount;
  /** The last byte was a CR: an LF now is the rest of its CRLF, not a blank line. */
  private boolean afterCr;
  /** The line being read began {@code data:}: only there is a finish_reason a choice's end. */
  private boolean dataLine;
  private boolean overflow;
  private Usage usage;
  private boolean done;
  private boolean lastEvent;
  private boolean finished;
  private boolean errored;
  /** Bytes of FINISH_KEY matched so far, or AFTER_KEY / AFTER_COLON: over every byte, whatever the line's length. */
  private int finishState;
  /** A Responses stream's. */
  private final boolean responses;
  private String responseId;
  /** A line's last TAIL bytes once it passed MAX_LINE, as a ring; allocated for the first such line. */
  private byte[] tail;
  private long tailCount;
  /**
   * A Responses stream's current event's {@code event:} name (its type, as the server named it): its
   * bytes, kept as they came (read only for a data line past MAX_LINE), and their count, -1 for none.
   */
  private byte[] eventName = new byte[64];
  private int eventNameLength = -1;
  /** The line being ended is the stream's last, with no line end after it: it may be cut short. */
  private boolean atEnd;

  /**
   * A chat stream of several choices ({@code n} above 1): each ends with a finish_reason of its own,
   * so the choices' indices are read from every chunk, those {@link #started} and those {@link #ended}.
   */
  private final boolean severalChoices;
  private final java.util.BitSet started = new java.util.BitSet();
  private final java.util.BitSet ended = new java.util.BitSet();
  /** A finish_reason's string came in the line being read. */
  private boolean finishInLine;
  /** A finish_reason's string came in one of the current event's data lines (read with the event, past MAX_LINE). */
  private boolean finishInEvent;

  /** A chat-completions stream's. */
  SseUsageScanner() {
    this(false);
  }

  SseUsageScanner(boolean responses) {
    this(responses, 1);
  }

  /** A chat-completions stream of {@code choices} choices (its request's {@code n}), or a Responses stream's. */
  SseUsageScanner(boolean responses, int choices) {
    this.responses = responses;
    this.severalChoices = !responses && choices > 1;
  }

  void feed(byte[] buf, int n) {
    for (int i = 0; i < n; i++) {
      byte b = buf[i];
      if (afterCr && b == '\n') {
        afterCr = false;
        continue;
      }
      afterCr = b == '\r';
      // no finish_reason there: its end is its last event (done); and only in a data line's JSON: a whole
      // completion sent to a stream request (untyped, text/plain) names one too, with no event at all
      if ((!finished || severalChoices) && !responses && dataLine) {
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
        if (len == 5) {
          dataLine = startsWith("data:");
        }
      } else {
        keepTail(b);
      }
    }
  }

  private void keepTail(byte b) {
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

  private void endLine() {
    int end = len;
    if (!overflow && (end == 12 && startsWith("data: [DONE]") || end == 11 && startsWith("data:[DONE]"))) {
      done = true;
    }
    if (end >= 14 && (startsWith("data: {\"error\"") || startsWith("data:{\"error\""))) {
      errored = true; // the upstream's own error event: what it relayed is no whole answer, [DONE] or not
    }
    if (responses && !overflow && end > 6 && startsWith("event:")) {
      if (eventName.length < end - 6) {
        eventName = new byte[end - 6];
      }
      System.arraycopy(line, 6, eventName, 0, end - 6);
      eventNameLength = end - 6;
    }
    boolean data = len >= 5 && line[0] == 'd' && startsWith("data:");
    if (data && heldLines > 0) {
      addToEvent(); // read with the event's other lines at its blank line
    } else if (data) {
      readData();
      keepAsEvent();
    } else if (end == 0) { // the event's blank line
      if (heldLines > 1) {
        readEvent();
      }
      heldLines = 0;
      heldLen = 0;
      heldOver = false;
      eventNameLength = -1; // the next event names its own
    }
    finishInLine = false;
    dataLine = false;
    len = 0;
    overflow = false;
    tailCount = 0;
  }

  /** Reads the data line in {@link #line} (or an event's data lines joined there): its usage, type, id, choices. */
  private void readData() {
    if (len > 6) {
      int off = 5;
      while (off < len && line[off] == ' ') {
        off++;
      }
      if (responses) {
        responsesEvent(off);
      } else {
        if (overflow) {
          // a last completion chunk with the usage on it (some servers' way), past the bound: from its end;
          // not another event's (an image stream's usage counts image tokens, which no text price meters)
          if (ByteSearch.indexOf(line, len, CHOICES) >= 0) {
            usageInTail().ifPresent(u -> usage = u);
          }
        } else if (ByteSearch.indexOf(line, len, USAGE) >= 0) {
          Usage.fromJson(line, off, len - off).ifPresent(u -> usage = u);
        }
        if (severalChoices) {
          choices(off);
        }
      }
    }
  }

  /** Keeps the data line just read as its event's first: another may follow before the blank line. */
  private void keepAsEvent() {
    byte[] swap = held;
    held = line;
    heldLen = len;
    line = swap;
    heldLines = 1;
    heldOver = overflow;
    finishInEvent = finishInLine;
    if (overflow) { // its end, kept past the bound, is the event's so far
      eventTailCount = 0;
      appendTail(tail, tailCount);
    }
  }

  /**
   * Adds the data line in {@link #line} to its event's: after a newline, as the SDKs join them (one
   * space after the colon dropped). Past MAX_LINE the event's start stays and its end is kept, as a
   * long line's is.
   */
  private void addToEvent() {
    heldLines++;
    finishInEvent |= finishInLine;
    int off = 5;
    if (off < len && line[off] == ' ') {
      off++;
    }
    int n = len - off;
    if (!heldOver && !overflow && heldLen + 1 + n <= MAX_LINE) {
      if (held.length < heldLen + 1 + n) {
        held = Arrays.copyOf(held, Math.min(MAX_LINE, Math.max(heldLen + 1 + n, held.length * 2)));
      }
      held[heldLen++] = '\n';
      System.arraycopy(line, off, held, heldLen, n);
      heldLen += n;
      return;
    }
    if (!heldOver) { // passing the bound now: what is held begins the kept end
      heldOver = true;
      eventTailCount = 0;
      appendEventTail(held, 0, heldLen);
      if (held.length < MAX_LINE) {
        held = Arrays.copyOf(held, MAX_LINE);
      }
      if (heldLen < MAX_LINE) {
        held[heldLen++] = '\n';
        int fits = Math.min(n, MAX_LINE - heldLen);
        System.arraycopy(line, off, held, heldLen, fits);
        heldLen += fits;
      }
    }
    appendEventTail(new byte[] {'\n'}, 0, 1);
    appendEventTail(line, off, n);
    if (overflow) {
      appendTail(tail, tailCount); // the line's own end, past its bound
    }
  }

  /** Reads the event's joined data lines once, at its blank line, as one line (past MAX_LINE, as a long one). */
  private void readEvent() {
    byte[] swap = line;
    line = held;
    held = swap;
    len = heldLen;
    overflow = heldOver;
    finishInLine = finishInEvent; // the choice cut at the bound ends if a finish_reason came in any of its lines
    if (heldOver) {
      byte[] ring = tail;
      tail = eventTail;
      eventTail = ring;
      tailCount = eventTailCount;
    }
    if (errorObject()) {
      errored = true; // an error event of indented JSON ("{", then "error" on a line of its own), as the SDKs join it
    }
    readData();
  }

  /** The data in {@link #line} is an object whose first key is {@code "error"}, white space (newlines too) between. */
  private boolean errorObject() {
    int at = 5;
    while (at < len && (line[at] == ' ' || line[at] == '\n' || line[at] == '\t' || line[at] == '\r')) {
      at++;
    }
    if (at >= len || line[at] != '{') {
      return false;
    }
    at++;
    while (at < len && (line[at] == ' ' || line[at] == '\n' || line[at] == '\t' || line[at] == '\r')) {
      at++;
    }
    return len - at >= 7 && Arrays.equals(line, at, at + 7, ERROR_KEY, 0, 7);
  }

  private void appendEventTail(byte[] src, int off, int n) {
    if (eventTail == null) {
      eventTail = new byte[TAIL];
    }
    for (int i = Math.max(off, off + n - TAIL); i < off + n; i++) {
      eventTail[(int) (eventTailCount++ % TAIL)] = src[i];
    }
  }

  /** Appends a line's kept end (a ring of {@code count} bytes written) to the event's. */
  private void appendTail(byte[] ring, long count) {
    int n = (int) Math.min(count, TAIL);
    for (long i = count - n; i < count; i++) {
      appendEventTail(ring, (int) (i % TAIL), 1);
    }
  }

  /**
   * A Responses event: its type (where it comes first, as OpenAI writes it, the rest of a delta's line
   * is not parsed; vLLM writes it last), and for the response's own events ({@code response.created},
   * {@code .completed}, ...) the response's id; a last one, its usage. A line that is not whole JSON
   * (the stream's end cut it short) is no event: an SDK never sees it either.
   */
  private void responsesEvent(int off) {
    if (atEnd && overflow && !endsAsLastEvent()) {
      return; // a line past the bound that the stream's end closed: whole only where its end shows it
    }
    String type = null;
    String id = null;
    try (JsonParser p = ChatRequestParser.JSON.createParser(line, off, len - off)) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        return;
      }
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        String name = p.currentName();
        JsonToken v = p.nextToken();
        if (name.equals("type") && v == JsonToken.VALUE_STRING) {
          type = p.getText();
          if (!ownEvent(type)) {
            return; // a delta, an output item: nothing here
          }
        } else if (name.equals("response") && v == JsonToken.START_OBJECT) {
          while (p.nextToken() == JsonToken.FIELD_NAME) {
            if (p.nextToken() == JsonToken.VALUE_STRING && p.currentName().equals("id")) {
              id = p.getText();
            } else {
              p.skipChildren();
            }
            if (overflow && type != null && id != null) {
              break; // the rest, cut at the bound, cannot be parsed: its usage is read from the tail
            }
          }
        } else {
          p.skipChildren();
        }
        if (overflow && type != null && id != null) {
          break;
        }
      }
    } catch (java.io.IOException | RuntimeException cut) {
      if (!overflow) {
        return; // not whole JSON: no event
      }
      // a line past MAX_LINE, cut at the bound: what its start said stands
    }
    if (type == null && overflow) {
      type = eventNameLength >= 0 // written after the response (vLLM's order)
          ? new String(eventName, 0, eventNameLength, java.nio.charset.StandardCharsets.UTF_8).strip() : typeInTail();
    }
    if (type == null) {
      return;
    }
    if (responseId == null && id != null) {
      responseId = id;
    }
    if (type.equals("response.failed") || type.equals("error")) {
      errored = true; // no whole answer, as a chat stream's error event is none
    }
    if (type.equals("response.completed") || type.equals("response.incomplete") || type.equals("response.failed")) {
      done = true;
      lastEvent = true;
      (overflow ? usageInTail() : Usage.fromJson(line, off, len - off)).ifPresent(u -> usage = u);
    }
  }

  /**
   * Of a chat chunk of several choices, which choices it carries ({@code choices[].index}, 0 where a
   * server leaves it out) and which of them end (a string {@code finish_reason}). Of a line past
   * MAX_LINE (a long tool call's arguments) the part kept is read: a choice whose index it has and
   * whose end is past it ends if a finish_reason came in the line.
   */
  private void choices(int off) {
    int index = -1;
    boolean ends = false;
    try (JsonParser p = ChatRequestParser.JSON.createParser(line, off, len - off)) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        return;
      }
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        boolean isChoices = p.currentName().equals("choices");
        if (p.nextToken() != JsonToken.START_ARRAY || !isChoices) {
          p.skipChildren();
          continue;
        }
        while (p.nextToken() == JsonToken.START_OBJECT) {
          index = 0;
          ends = false;
          while (p.nextToken() == JsonToken.FIELD_NAME) {
            String name = p.currentName();
            JsonToken v = p.nextToken();
            if (name.equals("index") && v == JsonToken.VALUE_NUMBER_INT) {
              index = p.getNumberType() == JsonParser.NumberType.INT ? p.getIntValue() : -1;
            } else if (name.equals("finish_reason") && v == JsonToken.VALUE_STRING) {
              ends = true;
            } else {
              p.skipChildren();
            }
          }
          choice(index, ends);
          index = -1;
        }
      }
    } catch (java.io.IOException | RuntimeException cut) {
      choice(index, ends || finishInLine); // the choice the line was cut in (-1: none)
    }
  }

  private void choice(int index, boolean ends) {
    if (index >= 0 && index < 1024) { // OpenAI allows n up to 128
      started.set(index);
      if (ends) {
        ended.set(index);
      }
    }
  }

  /** {@code error}, or one of the response's own events (one dot: {@code response.created}), not a part's. */
  private static boolean ownEvent(String type) {
    return type.equals("error") || type.startsWith("response.") && type.indexOf('.', 9) < 0;
  }

  /**
   * The kept end of a line past MAX_LINE, after a byte left for a '{': where the last {@code key}
   * begins, the object {"key": ...} with whatever followed it left unread. Null without one.
   */
  private byte[] tailFrom(byte[] key, int[] at) {
    if (tail == null || tailCount == 0) {
      return null;
    }
    int n = (int) Math.min(tailCount, TAIL);
    byte[] end = new byte[n + 1];
    int from = (int) ((tailCount - n) % TAIL);
    for (int i = 0; i < n; i++) {
      end[i + 1] = tail[(from + i) % TAIL];
    }
    at[0] = -1;
    for (int i = ByteSearch.indexOf(end, end.length, key); i >= 0; i = ByteSearch.indexOf(end, i + 1, end.length, key)) {
      at[0] = i;
    }
    if (at[0] < 1) {
      return null;
    }
    end[at[0] - 1] = '{';
    return end;
  }

  /** The usage in the kept end of a line past MAX_LINE: its last {@code "usage"} key's object. */
  private Optional<Usage> usageInTail() {
    int[] at = new int[1];
    byte[] end = tailFrom(USAGE, at);
    return end == null ? Optional.empty() : Usage.fromJson(end, at[0] - 1, end.length - at[0] + 1);
  }

  /**
   * Whether a line past MAX_LINE ends with a last event's type as its last field (vLLM's order), its
   * object closed: then it is whole. (Where the type comes first, its end cannot be checked.)
   */
  private boolean endsAsLastEvent() {
    String type = typeInTail();
    return type != null && (type.equals("response.completed") || type.equals("response.incomplete")
        || type.equals("response.failed"));
  }

  /** The type of a line past MAX_LINE whose last field is its {@code type}, from its kept end; else null. */
  private String typeInTail() {
    int[] at = new int[1];
    byte[] end = tailFrom(TYPE, at);
    if (end == null) {
      return null;
    }
    try (JsonParser p = ChatRequestParser.JSON.createParser(end, at[0] - 1, end.length - at[0] + 1)) {
      if (p.nextToken() == JsonToken.START_OBJECT && p.nextToken() == JsonToken.FIELD_NAME
          && p.nextToken() == JsonToken.VALUE_STRING) {
        String type = p.getText();
        if (p.nextToken() == JsonToken.END_OBJECT && p.nextToken() == null) { // "type":"…"} ends the line
          return type;
        }
      }
    } catch (java.io.IOException | RuntimeException notLast) {
      // its type is elsewhere
    }
    return null;
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

  /**
   * True once a Responses stream's own last event ({@code response.completed}, {@code .incomplete},
   * {@code .failed}) went by: the response is finished, which a {@code [DONE]} alone does not say (a
   * resumed stream may carry only that).
   */
  boolean lastEvent() {
    return lastEvent;
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
      finishInLine = true;
      finishState = 0;
    } else {
      finishState = b == '"' ? 1 : 0;
    }
  }

  /** The stream has ended: a last line without its newline counts too, and a last event without its blank line. */
  void finish() {
    if (len > 0) {
      atEnd = true;
      endLine();
    }
    if (heldLines > 1) { // an event of several lines without its blank line: read as a last line without its end is
      atEnd = true;
      readEvent();
      heldLines = 0;
    }
  }

  /**
   * True once the answer is known to be whole: {@code [DONE]} (a Responses stream's last event) came,
   * or a chunk gave a choice its finish_reason (some servers end there); of several choices, every
   * choice that began. A stream that ends with neither was cut off.
   */
  boolean complete() {
    return done || (severalChoices ? !ended.isEmpty() && contains(ended, started) : finished);
  }

  private static boolean contains(java.util.BitSet all, java.util.BitSet some) {
    java.util.BitSet rest = (java.util.BitSet) some.clone();
    rest.andNot(all);
    return rest.isEmpty();
  }

  Optional<Usage> result() {
    return Optional.ofNullable(usage);
  }
}
