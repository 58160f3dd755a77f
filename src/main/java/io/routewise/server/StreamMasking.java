package io.routewise.server;

import java.io.IOException;

/**
 * Masks the operator's account ids in a stream's error events (see {@link AccountIds}) a whole line
 * at a time: a read that ends inside a line holds that part back until the line's end comes, so an
 * event split over two reads (at any byte, an id's middle included) is masked whole. Holding part of
 * a line delays nothing a client can use: an SSE client acts on an event only once its line is
 * complete. A read that ends at a line's end, as nearly every one of a stream does, passes straight
 * through. A line longer than {@link #MAX_HELD} goes on as it comes, as before.
 */
final class StreamMasking {
  static final int MAX_HELD = 64 * 1024;

  /** Where the bytes go: the client's stream, or a filter before it. */
  @FunctionalInterface
  interface Sink {
    void write(byte[] bytes, int length) throws IOException;
  }

  private byte[] held = new byte[0];
  private int heldLength;

  /** Takes the next read ({@code buf[0, n)}) and writes what can go on now to {@code sink}. */
  void relay(byte[] buf, int n, Sink sink) throws IOException {
    if (n <= 0) {
      return;
    }
    if (heldLength == 0 && isLineEnd(buf[n - 1])) {
      emit(buf, n, sink);
      return;
    }
    byte[] joined = new byte[heldLength + n];
    System.arraycopy(held, 0, joined, 0, heldLength);
    System.arraycopy(buf, 0, joined, heldLength, n);
    int cut = joined.length;
    while (cut > 0 && !isLineEnd(joined[cut - 1])) {
      cut--;
    }
    if (joined.length - cut > MAX_HELD) {
      cut = joined.length;
    }
    heldLength = joined.length - cut;
    if (held.length < heldLength) {
      held = new byte[Math.max(heldLength, 256)];
    }
    System.arraycopy(joined, cut, held, 0, heldLength);
    if (cut > 0) {
      emit(joined, cut, sink);
    }
  }

  /** Writes a last line that came without its end (the stream ended or broke off). */
  void finish(Sink sink) throws IOException {
    if (heldLength > 0) {
      int length = heldLength;
      heldLength = 0;
      emit(held, length, sink);
    }
  }

  private static void emit(byte[] bytes, int length, Sink sink) throws IOException {
    byte[] masked = AccountIds.maskedErrorEvent(bytes, length);
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
