package io.routewise.upstream;

import java.io.IOException;
import java.io.InputStream;
import java.util.Arrays;
import okhttp3.Call;
import okhttp3.Response;

/**
 * An upstream response whose headers have arrived; the body is read (or relayed) by the caller,
 * who must {@link #close()} it. {@link #cancel()} aborts the upstream call, e.g. when the client
 * went away mid-stream. Each body read is timed against the upstream's timeout.
 */
public final class UpstreamResponse implements AutoCloseable {
  /**
   * A body whose first bytes come this long after its headers was held back (see {@link
   * UpstreamClient#markBodySentLate()}): Linux delays an ACK by at least 40 ms.
   */
  private static final long LATE_BODY_NANOS = java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(20);
  private final Call call;
  private final Response response;
  private final IdleTimeouts.Watch watch;
  private final InputStream body;
  private final UpstreamClient from;
  private final long headersAt;

  UpstreamResponse(Call call, Response response, IdleTimeouts.Watch watch, UpstreamClient from, long headersAt) {
    this.from = from;
    this.headersAt = headersAt;
    this.call = call;
    this.response = response;
    this.watch = watch;
    this.body = response.body().byteStream();
  }

  public int status() {
    return response.code();
  }

  public String header(String name) {
    return response.header(name);
  }

  /** Headers in the order received, by index (names as sent; repeated names repeat). */
  public int headerCount() {
    return response.headers().size();
  }

  public String headerName(int i) {
    return response.headers().name(i);
  }

  public String headerValue(int i) {
    return response.headers().value(i);
  }

  /** The body's length in bytes, or -1 when unknown (chunked, or unzipped on the way). */
  public long contentLength() {
    return response.body().contentLength();
  }

  /** Reads the next body bytes into {@code buf}: the count, or -1 at the end. */
  public int read(byte[] buf) throws IOException {
    return read(buf, 0, buf.length);
  }

  /** Reads the next body bytes into {@code buf[off, off + len)}: the count, or -1 at the end. */
  public int read(byte[] buf, int off, int len) throws IOException {
    watch.waiting();
    try {
      return body.read(buf, off, len);
    } finally {
      watch.idle();
    }
  }

  /** The body as a stream (each read timed as {@link #read(byte[])}'s), for a parser that reads it on. */
  public InputStream bodyStream() {
    return new InputStream() {
      @Override
      public int read() throws IOException {
        byte[] one = new byte[1];
        return UpstreamResponse.this.read(one, 0, 1) < 0 ? -1 : one[0] & 0xFF;
      }

      @Override
      public int read(byte[] b, int off, int len) throws IOException {
        return UpstreamResponse.this.read(b, off, len);
      }
    };
  }

  /** A body longer than the caller would hold: the call is cancelled. */
  public static final class TooLarge extends IOException {
    private final long max;

    TooLarge(long max) {
      super("the answer is longer than " + max + " bytes");
      this.max = max;
    }

    /** The limit it passed. */
    public long max() {
      return max;
    }
  }

  /**
   * The whole body (non-streamed responses), at most {@code max} bytes after any decoding: past it
   * (an upstream gone wrong, or a small gzip body that unpacks to gigabytes), {@link TooLarge}.
   */
  public byte[] bodyBytes(long max) throws IOException {
    return bodyBytes(max, bytes -> {});
  }

  /** As {@link #bodyBytes(long)}, telling {@code allocated} the size of each buffer it allocates. */
  public byte[] bodyBytes(long max, java.util.function.LongConsumer allocated) throws IOException {
    long declared = response.body().contentLength();
    if (declared > max) {
      call.cancel();
      throw new TooLarge(max);
    }
    byte[] buf = new byte[declared >= 0 && declared <= (1 << 24) ? (int) declared : (int) Math.min(8192, max)];
    allocated.accept(buf.length);
    int len = 0;
    watch.waiting();
    try {
      while (true) {
        if (len == buf.length) {
          int next = body.read(); // at a declared length this is the end: no copy needed
          if (next < 0) {
            break;
          }
          if (len >= max) {
            call.cancel();
            throw new TooLarge(max);
          }
          int grown = (int) Math.min(max, Math.max(16, buf.length * 2L));
          allocated.accept(grown - buf.length);
          buf = Arrays.copyOf(buf, grown);
          buf[len++] = (byte) next;
        }
        int n = body.read(buf, len, buf.length - len);
        if (n < 0) {
          break;
        }
        boolean first = len == 0;
        len += n;
        if (len != declared) {
          watch.acknowledge(); // more to come: do not make it wait on our delayed ACK
        }
        long now = watch.waiting(); // each read gets the whole timeout, as with a socket read timeout
        if (first && now - headersAt > LATE_BODY_NANOS) {
          from.markBodySentLate();
        }
      }
    } finally {
      watch.idle();
      watch.stopProbing();
    }
    return len == buf.length ? buf : Arrays.copyOf(buf, len);
  }

  /**
   * The start of an error body, for the log only: what came of its first {@code max} bytes within
   * {@code wait} in all (an upstream that sends its headers and stalls must not hold up a failover
   * or the client's error); then the call is cancelled, and the part that came is what it said.
   * Throws only when the body broke off with nothing read.
   */
  public byte[] errorBody(int max, java.time.Duration wait) throws IOException {
    long deadline = System.nanoTime() + wait.toNanos();
    byte[] buf = new byte[max];
    int len = 0;
    long now = watch.waiting();
    try {
      while (len < max) {
        long left = deadline - now;
        if (left <= 0) {
          call.cancel();
          break;
        }
        watch.limitWaitsTo(left);
        int n;
        try {
          n = body.read(buf, len, max - len);
        } catch (IOException e) {
          if (watch.expired() && len > 0) {
            break; // the wait ran out: what came is what it said
          }
          throw e;
        }
        if (n < 0) {
          break;
        }
        len += n;
        now = watch.waiting();
      }
    } finally {
      watch.idle();
      watch.stopProbing();
    }
    return Arrays.copyOf(buf, len);
  }

  /** True when the last failure came from this call's timeout rather than a broken connection. */
  public boolean timedOut() {
    return watch.expired();
  }

  /**
   * Stops watching the client's connection (see {@link ClientProbe}); due before the response to
   * the client is complete. {@link #bodyBytes} and {@link #close()} do it themselves.
   */
  public void stopProbing() {
    watch.stopProbing();
  }

  /** True when the call was cancelled because its client disconnected while the body was awaited. */
  public boolean clientGone() {
    return watch.clientGone();
  }

  public void cancel() {
    call.cancel();
  }

  @Override
  public void close() {
    watch.close();
    response.close();
  }
}
