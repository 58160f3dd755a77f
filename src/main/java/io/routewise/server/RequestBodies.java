package io.routewise.server;

import io.javalin.http.Context;
import java.io.IOException;
import java.io.InputStream;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Reads request bodies into memory, within three limits: one body's size (413), the bytes held by
 * all requests together (503, so that many slow or large bodies cannot exhaust the heap), and a
 * minimum pace once a grace has passed (408, so that a client dripping a body cannot hold its share
 * for long). A body's bytes count from its first read until its request is answered ({@link Body#close}).
 */
final class RequestBodies {
  /**
   * How much of a too-large body is read and thrown away so that its client hears the 413. Clients
   * send the whole body before reading the answer; cut off early, they get a reset instead of the
   * error (measured: a 6 MB prompt with the default 4 MiB limit, 10 of 10 broken pipes), and the
   * OpenAI SDKs retry a reset twice, sending it all again. Beyond this the connection is just closed.
   */
  private static final long DISCARD_LIMIT = 64L * 1024 * 1024;
  private final long max;
  private final long minBytesPerSecond;
  private final long graceNanos;
  private final AtomicLong free;
  private final long capacity;
  private final java.util.function.Consumer<String> refused;

  /**
   * @param graceNanos how long a body may take before its pace is checked
   * @param refused told the reason ({@code memory} or {@code slow}) of each body turned away
   */
  RequestBodies(long maxBodyBytes, long maxBufferedBytes, long minBytesPerSecond, long graceNanos,
      java.util.function.Consumer<String> refused) {
    this.max = maxBodyBytes;
    this.capacity = maxBufferedBytes;
    this.free = new AtomicLong(maxBufferedBytes);
    this.minBytesPerSecond = minBytesPerSecond;
    this.graceNanos = graceNanos;
    this.refused = refused;
  }

  /** Bytes of request bodies held now. */
  long buffered() {
    return capacity - free.get();
  }

  /**
   * A request body read whole, whose bytes count against the shared limit until it is closed (once
   * its request is answered). Closing twice releases once.
   */
  final class Body implements AutoCloseable {
    private final byte[] bytes;
    private long held;

    private Body(byte[] bytes, long held) {
      this.bytes = bytes;
      this.held = held;
    }

    byte[] bytes() {
      return bytes;
    }

    @Override
    public void close() {
      release(held);
      held = 0;
    }
  }

  /** A chat request's body: empty is a 400; compressed (routewise must read the prompt) a 415. */
  Body read(Context ctx) throws IOException {
    String encoding = ctx.req().getHeader("Content-Encoding");
    if (encoding != null && !encoding.isBlank() && !encoding.strip().equalsIgnoreCase("identity")) {
      ctx.header("Connection", "close"); // the body is not read
      throw new ApiException(415, "invalid_request_error", "Content-Encoding '" + AccessLog.safe(encoding.strip())
          + "' is not supported here; send the JSON body uncompressed.", null, "unsupported_content_encoding");
    }
    Body body = readAny(ctx);
    if (body.bytes.length == 0) {
      body.close();
      throw ApiException.invalidRequest("The request body is empty; expected a JSON chat completion request.", null);
    }
    return body;
  }

  /** Whatever body the request has, possibly none. */
  Body readAny(Context ctx) throws IOException {
    long declared = ctx.req().getContentLengthLong();
    if (declared > max) {
      throw tooLarge(ctx, max, declared <= DISCARD_LIMIT ? 0 : -1);
    }
    // A declared length is a promise, not bytes: start at most at 64 KiB so slow clients announcing
    // 4 MiB cannot reserve memory they never send.
    int initial = Math.max((int) Math.min(declared >= 0 ? Math.min(declared, 64 * 1024) : 16 * 1024, max), 16);
    reserve(ctx, initial);
    long held = initial;
    boolean done = false;
    try {
      byte[] buf = new byte[initial];
      int len = 0;
      long start = System.nanoTime();
      try (InputStream in = ctx.req().getInputStream()) {
        while (true) {
          if (len == buf.length) {
            if (len >= max) {
              if (in.read() != -1) {
                throw tooLarge(ctx, max, len + 1);
              }
              break;
            }
            int grown = (int) Math.min(max, (long) buf.length * 2);
            reserve(ctx, grown - buf.length);
            held += grown - buf.length;
            buf = Arrays.copyOf(buf, grown);
          }
          int n;
          try {
            n = in.read(buf, len, buf.length - len);
          } catch (org.eclipse.jetty.io.EofException e) {
            throw ApiException.invalidRequest("The request body ended before its Content-Length.", null);
          }
          if (n < 0) {
            break;
          }
          len += n;
          if (minBytesPerSecond > 0) {
            checkPace(ctx, len, System.nanoTime() - start);
          }
        }
      }
      byte[] bytes = len == buf.length ? buf : Arrays.copyOf(buf, len);
      // what stays held is the body itself, not the buffer it was read into
      release(held - bytes.length);
      held = bytes.length;
      done = true;
      return new Body(bytes, held);
    } finally {
      if (!done) {
        release(held);
      }
    }
  }

  /** 408 for a body behind the minimum pace, counted from the end of the grace. */
  private void checkPace(Context ctx, long len, long elapsedNanos) {
    long late = elapsedNanos - graceNanos;
    if (late > 0 && len < (double) minBytesPerSecond * late / 1e9) {
      refused.accept("slow");
      ctx.header("Connection", "close"); // the rest of the body is not waited for
      throw new ApiException(408, "invalid_request_error", "The request body arrived at "
          + Math.round(len / (elapsedNanos / 1e9)) + " bytes/s, below the server's minimum of " + minBytesPerSecond
          + " (server.min_body_bytes_per_second).", null, "request_timeout");
    }
  }

  private void reserve(Context ctx, long n) {
    long f;
    do {
      f = free.get();
      if (f < n) {
        refused.accept("memory");
        ctx.header("Retry-After", "1");
        ctx.header("Connection", "close"); // the rest of the body is not read
        throw new ApiException(503, "server_error", "routewise holds as many request bodies as its memory "
            + "allows (server.max_buffered_body_bytes); retry shortly.", null, "server_overloaded");
      }
    } while (!free.compareAndSet(f, f - n));
  }

  private void release(long n) {
    if (n > 0) {
      free.addAndGet(n);
    }
  }

  /**
   * The 413, after reading the rest of the body (of which {@code consumed} bytes were read already)
   * up to {@link #DISCARD_LIMIT}; with {@code consumed} negative, or past the limit, the connection
   * is closed instead.
   */
  private static ApiException tooLarge(Context ctx, long max, long consumed) {
    if (consumed < 0 || !discard(ctx, DISCARD_LIMIT - consumed)) {
      ctx.header("Connection", "close");
    }
    return new ApiException(413, "invalid_request_error",
        "The request body is larger than the limit of " + max + " bytes (server.max_body_bytes).", null,
        "request_too_large");
  }

  /** Reads and drops the rest of the body; false when it is longer than {@code budget} or breaks off. */
  private static boolean discard(Context ctx, long budget) {
    byte[] scratch = new byte[64 * 1024];
    try {
      InputStream in = ctx.req().getInputStream();
      for (long left = budget; left >= 0; ) {
        int n = in.read(scratch);
        if (n < 0) {
          return true;
        }
        left -= n;
      }
    } catch (IOException e) {
      // the client broke off: nobody to answer
    }
    return false;
  }
}
