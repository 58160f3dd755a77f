package io.routewise.server;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/**
 * A relayed event stream's way to its client, watched for where it stands between lines, so that an
 * error event routewise adds after a break is one the SDKs raise. An event whose field lines went out
 * ({@code event: response.output_text.delta}) but not its data line yet (the upstream broke off inside
 * it) is joined by the error's data line: after a blank line of routewise's own it reached the client
 * with empty data, which the SDKs fail to parse (a SyntaxError, a JSONDecodeError that {@code except
 * openai.APIError} misses) instead of raising the error. Any other event is ended first, as before.
 */
final class SseOutput extends OutputStream {
  private final OutputStream out;
  /** Whether the bytes are an event stream's (else they go on unwatched: a file's, a JSON answer's). */
  private final boolean events;
  /** Bytes of the line going out now (0: at a line's start). */
  private int lineLength;
  /** The line's first bytes, up to five, to tell a data line ("data:" or "data" alone) from another field. */
  private long head;
  private byte first;
  private boolean afterCr;
  /** The open event (since the last blank line) has a field line other than data, or has a data line. */
  private boolean fields;
  private boolean data;
  /** Whether a byte went out yet: until one does, a flush would send the 200's headers for nothing. */
  private boolean wrote;

  SseOutput(OutputStream out) {
    this(out, true);
  }

  SseOutput(OutputStream out, boolean events) {
    this.out = out;
    this.events = events;
  }

  @Override
  public void write(byte[] b, int off, int len) throws IOException {
    out.write(b, off, len);
    wrote |= len > 0;
    if (!events) {
      return;
    }
    // Only what follows the write's last blank line matters (one ends nearly every write): found from
    // the end, it sets the state as reading every byte would; else every byte is read.
    int from = off;
    for (int i = off + len - 1; i > off; i--) {
      byte c = b[i];
      byte before = b[i - 1];
      if ((c == '\n' || c == '\r') && (before == '\n' || before == '\r') && !(before == '\r' && c == '\n')) {
        fields = false;
        data = false;
        lineLength = 0;
        head = 0;
        afterCr = c == '\r';
        from = i + 1;
        break;
      }
    }
    for (int i = from; i < off + len; i++) {
      see(b[i]);
    }
  }

  @Override
  public void write(int b) throws IOException {
    out.write(b);
    wrote = true;
    if (events) {
      see((byte) b);
    }
  }

  @Override
  public void flush() throws IOException {
    if (wrote) { // all held so far (part of a line): a failure now can still be a status of its own
      out.flush();
    }
  }

  /** Whether any byte went out to the client yet. */
  boolean wroteAny() {
    return wrote;
  }

  @Override
  public void close() throws IOException {
    out.close();
  }

  private void see(byte c) {
    if (c == '\n' && afterCr) { // a CRLF's LF: the line ended at its CR
      afterCr = false;
      return;
    }
    afterCr = c == '\r';
    if (c == '\n' || c == '\r') {
      if (lineLength == 0) {
        fields = false;
        data = false;
      } else if (isData()) {
        data = true;
      } else if (first != ':') { // a comment line changes nothing
        fields = true;
      }
      lineLength = 0;
      head = 0;
      return;
    }
    if (lineLength == 0) {
      first = c;
    }
    if (lineLength < 5) {
      head = head << 8 | (c & 0xff);
    }
    lineLength++;
  }

  private boolean isData() {
    long data4 = ('d' << 24) | ('a' << 16) | ('t' << 8) | 'a';
    return lineLength == 4 && head == data4 || lineLength >= 5 && head == (data4 << 8 | ':');
  }

  /** What ends the event going out now: its line's end and a blank line, a blank line, or nothing (none open). */
  byte[] eventEnd() {
    return lineLength > 0 ? new byte[] {'\n', '\n'} : fields || data ? new byte[] {'\n'} : new byte[0];
  }

  /**
   * routewise's error event with body {@code json}: joined to an open event that has no data line
   * yet, else after a blank line of its own (which also ends a line or event the upstream left open).
   * Joined, it names its type {@code error} (a later event: line replaces the upstream's): the Python
   * and Node SDKs hand an Assistants {@code thread.*} event's data on as that event, error or not,
   * and raise APIError for an {@code error} event as for an untyped one.
   */
  byte[] errorEvent(byte[] json) {
    boolean join = fields && !data && lineLength == 0;
    String prefix = join ? "event: error\ndata: " : "\n\ndata: ";
    byte[] event = new byte[prefix.length() + json.length + 2];
    byte[] p = prefix.getBytes(StandardCharsets.US_ASCII);
    System.arraycopy(p, 0, event, 0, p.length);
    System.arraycopy(json, 0, event, p.length, json.length);
    event[event.length - 2] = '\n';
    event[event.length - 1] = '\n';
    return event;
  }
}
