package io.routewise.server;

import java.io.IOException;

/**
 * Masks the operator's account ids in a stream's error events (see {@link AccountIds}), and the
 * upstreams' keys in any event ({@link SecretValues}), a whole line
 * at a time: a read that ends inside a line holds that part back until the line's end comes, so an
 * event split over two reads (at any byte, an id's middle included) is masked whole. Holding part of
 * a line delays nothing a client can use: an SSE client acts on an event only once its line is
 * complete. A read passes on without a copy up to its last line end; only the part after it (none,
 * for nearly every read of a stream) is copied. A line longer than its bound ({@link #MAX_HELD}, or
 * {@link #MAX_HELD_RESPONSES}) goes on as it comes, as before.
 */
final class StreamMasking {
  static final int MAX_HELD = 64 * 1024;
  /**
   * A Responses stream's bound: its last event repeats the whole answer (and the request's
   * instructions and tools) on one line, and a line cut part way after its start went on could only
   * reach the client as JSON its SDK fails to parse, where a line held whole is dropped and the
   * client hears routewise's error. Held only while such a line arrives, which is about at once.
   */
  static final int MAX_HELD_RESPONSES = 1024 * 1024;

  private final int maxHeld;
  /** The relays' read size: a held line passes its bound by at most one read before it goes on. */
  private static final int READ = 8192;

  /** Where the bytes go: the client's stream, or a filter before it. */
  @FunctionalInterface
  interface Sink {
    void write(byte[] bytes, int length) throws IOException;
  }

  private byte[] held = new byte[0];
  private int heldLength;
  private final SecretValues secrets;

  /** @param secrets the upstreams' keys, masked in an error event with the account ids */
  StreamMasking(SecretValues secrets) {
    this(secrets, MAX_HELD);
  }

  StreamMasking(SecretValues secrets, int maxHeld) {
    this.secrets = secrets;
    this.maxHeld = maxHeld;
  }

  /** Takes the next read ({@code buf[0, n)}) and writes what can go on now to {@code sink}. */
  void relay(byte[] buf, int n, Sink sink) throws IOException {
    if (n <= 0) {
      return;
    }
    int from = 0;
    if (heldLength > 0) { // the held line's end, then the rest as a read of its own
      int end = 0;
      while (end < n && !isLineEnd(buf[end])) {
        end++;
      }
      if (end == n) {
        hold(buf, 0, n);
        if (heldLength > maxHeld) {
          finish(sink); // a line this long goes on as it comes
        }
        return;
      }
      hold(buf, 0, end + 1);
      finish(sink);
      from = end + 1;
    }
    int cut = n;
    while (cut > from && !isLineEnd(buf[cut - 1])) {
      cut--;
    }
    if (n - cut > maxHeld) {
      cut = n;
    }
    if (cut > from) {
      if (from == 0) {
        emit(buf, cut, sink); // the usual read: no copy
      } else {
        emit(java.util.Arrays.copyOfRange(buf, from, cut), cut - from, sink);
      }
    }
    hold(buf, cut, n);
  }

  /** Writes a last line that came without its end (the stream ended). */
  void finish(Sink sink) throws IOException {
    if (heldLength > 0) {
      int length = heldLength;
      heldLength = 0;
      byte[] line = held;
      if (held.length > MAX_HELD) { // a long line's buffer is not kept for the rest of the stream
        held = new byte[0];
      }
      emit(line, length, sink);
    }
  }

  /**
   * Drops a line held without its end (the stream broke off): an SSE client cannot use part of a
   * line, and written before routewise's error event it would run into that event's line.
   */
  void discard() {
    heldLength = 0;
    if (held.length > MAX_HELD) {
      held = new byte[0];
    }
  }

  private void hold(byte[] buf, int from, int to) {
    int length = to - from;
    if (length == 0) {
      return;
    }
    if (held.length < heldLength + length) {
      // doubled, but never past the bound and a read: a line just past it would take twice the bound
      int grown = Math.min(Math.max(256, held.length * 2), maxHeld + READ);
      held = java.util.Arrays.copyOf(held, Math.max(heldLength + length, grown));
    }
    System.arraycopy(buf, from, held, heldLength, length);
    heldLength += length;
  }

  private void emit(byte[] bytes, int length, Sink sink) throws IOException {
    byte[] masked = AccountIds.maskedErrorEvent(bytes, length, secrets);
    if (masked == null) {
      // a generated key in any event, as an upstream echoing the request repeats it
      masked = secrets.inAnswers().maskedOrNull(bytes, length);
    }
    if (masked == null) {
      sink.write(bytes, length);
    } else {
      sink.write(masked, masked.length);
    }
  }

  /** SSE ends a line with CR, LF or both. */
  private static boolean isLineEnd(byte b) {
    return b == '\n' || b == '\r';
  }
}
