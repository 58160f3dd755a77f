package io.routewise.server;

import io.javalin.http.Context;
import java.io.IOException;
import java.io.InputStream;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * Reads request bodies into memory, within three limits: one body's size (413), the bytes held by
 * all requests together (503, so that many slow or large bodies cannot exhaust the heap), and a
 * minimum pace once a grace has passed (408, so that a client dripping a body cannot hold its share
 * for long). A body's bytes count from its first read until its upstream has answered ({@link
 * Body#close}). Not counted: the old buffer while a growing one is copied, and a chat body's prompt
 * text (up to twice the body's bytes, as a String with a character beyond Latin-1; the body goes
 * upstream as slices of itself, not a copy); hence the default limit of an eighth of the heap.
 * A refused body is read on and dropped
 * (at the same pace, into one shared scratch buffer), so a client that sends it all before reading
 * hears the error rather than a reset.
 */
final class RequestBodies {
  /**
   * How much of a refused body is read and thrown away so that its client hears the error. Clients
   * send the whole body before reading the answer; cut off early, they get a reset instead of the
   * error (measured: a 6 MB prompt with the default 4 MiB limit, 10 of 10 broken pipes), and the
   * OpenAI SDKs retry a reset twice, sending it all again. Beyond this the connection is just closed.
   */
  private static final long DISCARD_LIMIT = 64L * 1024 * 1024;
  /** Where dropped bytes go, for every request at once: nobody reads them, so sharing is harmless. */
  private static final byte[] SCRATCH = new byte[16 * 1024];

  private final long max;
  private final long minBytesPerSecond;
  private final long graceNanos;
  private final AtomicLong free;
  private final long capacity;
  private final Consumer<String> refused;

  /**
   * @param graceNanos how long a body may take before its pace is checked, and the window it is
   *     checked over after that
   * @param refused told the reason ({@code memory} or {@code slow}) of each body turned away
   */
  RequestBodies(long maxBodyBytes, long maxBufferedBytes, long minBytesPerSecond, long graceNanos,
      Consumer<String> refused) {
    this.max = maxBodyBytes;
    this.capacity = maxBufferedBytes;
    this.free = new AtomicLong(maxBufferedBytes);
    this.minBytesPerSecond = minBytesPerSecond;
    this.graceNanos = graceNanos;
    this.refused = refused;
  }

  /** Bytes of request bodies and whole answers held now (over the limit while answers pile up). */
  long buffered() {
    return capacity - free.get();
  }

  /**
   * A request body read whole, whose bytes count against the shared limit until it is closed: once
   * its upstream has answered (its bytes are not needed for the relay) or its request failed.
   * Closing twice releases once; the request's own thread closes it.
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

  /**
   * An upstream answer read whole before it is relayed. Its bytes count against the same limit but
   * are never refused (the answer is paid for): while answers pile up, new request bodies get the
   * 503 instead, which bounds the answers in memory too. Closed once relayed.
   */
  final class Answer implements AutoCloseable {
    private long held;

    /** Counts {@code bytes} more. */
    void allocated(long bytes) {
      free.addAndGet(-bytes);
      held += bytes;
    }

    @Override
    public void close() {
      release(held);
      held = 0;
    }
  }

  Answer answer() {
    return new Answer();
  }

  /**
   * The pace of one body: after the grace, each window of the grace's length must bring at least
   * the minimum rate's bytes. A whole-body average would let a client send most of a body at once
   * and then drip the rest for minutes.
   */
  private final class Pace {
    private final long start = System.nanoTime();
    private long mark;
    private long markLen = -1;

    /** Whether the body, {@code len} bytes long now (and {@code before} at the read before), is behind. */
    boolean behind(long before, long len) {
      if (minBytesPerSecond <= 0) {
        return false;
      }
      long now = System.nanoTime();
      if (now - start - graceNanos < 0) {
        return false;
      }
      if (markLen < 0) { // the first window begins where the grace ended, with what had come by then
        mark = start + graceNanos;
        markLen = before;
      }
      long span = now - mark;
      if (span < graceNanos) {
        return false;
      }
      boolean slow = len - markLen < minBytesPerSecond * (span / 1e9);
      mark = now;
      markLen = len;
      return slow;
    }
  }

  /**
   * A chat request's body: empty is a 400; compressed (routewise must read the prompt) a 415.
   */
  Body read(Context ctx) throws IOException {
    String encoding = contentCoding(ctx);
    if (encoding != null) {
      drop(ctx, new Pace(), 0, max);
      throw new ApiException(415, "invalid_request_error", "Content-Encoding '" + AccessLog.safe(encoding)
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
    String coding = unsupportedTransferCoding(ctx);
    if (coding != null) {
      drop(ctx, new Pace(), 0, DISCARD_LIMIT);
      throw new ApiException(501, "invalid_request_error", "Transfer-Encoding '" + AccessLog.safe(coding)
          + "' is not supported; send the body as it is, chunked or with a Content-Length.", null,
          "unsupported_transfer_encoding").retryUseless();
    }
    long declared = ctx.req().getContentLengthLong();
    if (declared > max) { // refused before any read, which would tell a client that asked to continue to
      if (declared > DISCARD_LIMIT) {
        ctx.header("Connection", "close");
      } else {
        drop(ctx, new Pace(), 0, DISCARD_LIMIT);
      }
      throw tooLarge();
    }
    // reserved before any read (an available() too), which would tell a client that asked to continue to
    int initial = firstReservation(ctx, declared);
    if (!reserve(initial)) {
      drop(ctx, new Pace(), 0, max);
      throw overloaded(ctx);
    }
    ctx.attribute(READING, Boolean.TRUE); // from here its body is read: a 100 Continue goes with the first read
    return readAny(ctx, new Pace(), initial);
  }

  /**
   * What a body holds of the shared limit before it is read. A declared length is a promise, not bytes:
   * start with what has come (a usual body comes with its headers: then all of it, no copy), at least
   * 4 KiB, at most 64 KiB, so a client that announces 4 MiB and sends a byte holds 4 KiB of the shared
   * limit, not 64 (a key holder's 1,100 such connections held all of a 64 MiB limit with 100 KB sent);
   * more is reserved as bytes come. A client waiting for its 100 Continue has sent nothing yet.
   */
  private int firstReservation(Context ctx, long declared) throws IOException {
    int arrived = awaitsContinue(ctx) ? 0 : ctx.req().getInputStream().available();
    long start = declared >= 0 ? Math.min(declared, Math.max(arrived, 4 * 1024)) : Math.max(arrived, 4 * 1024);
    return Math.max((int) Math.min(Math.min(start, 64 * 1024), max), 16);
  }

  /**
   * The pace is checked when bytes arrive, so a body that stops arriving altogether would wait for
   * the connection's idle timeout (Jetty's 30 s) and get Jetty's bare 408, no JSON. While a body is
   * read, a silence as long as the grace ends the wait instead (a failed read, answered as a slow
   * body); the connection's own idle timeout, which the answer's wait for its upstream must not
   * meet early, is put back after. Returns it, or -1 when nothing was changed.
   */
  private long quietLimit(Context ctx) {
    if (minBytesPerSecond <= 0) {
      return -1;
    }
    long declared = ctx.req().getContentLengthLong();
    try {
      if (declared >= 0 && ctx.req().getInputStream().available() >= declared) {
        return -1; // all here already (a usual prompt comes with its headers): no read can wait
      }
    } catch (IOException e) {
      // the read will say what is wrong
    }
    var channel = channel(ctx);
    if (channel == null) {
      return -1;
    }
    long before = channel.getIdleTimeout();
    long grace = Math.max(1, graceNanos / 1_000_000);
    if (before > 0 && before <= grace) {
      return -1;
    }
    channel.setIdleTimeout(grace);
    return before;
  }

  private static void restoreIdleTimeout(Context ctx, long before) {
    if (before >= 0) {
      var channel = channel(ctx);
      if (channel != null) {
        channel.setIdleTimeout(before);
      }
    }
  }

  private static org.eclipse.jetty.ee10.servlet.ServletChannel channel(Context ctx) {
    var request = org.eclipse.jetty.ee10.servlet.ServletContextRequest.getServletContextRequest(ctx.req());
    return request == null ? null : request.getServletChannel();
  }

  /** The body read, {@code initial} bytes of the shared limit reserved for it already (released on failure). */
  private Body readAny(Context ctx, Pace pace, int initial) throws IOException {
    long declared = ctx.req().getContentLengthLong();
    long held = initial;
    long idleBefore = -1;
    try {
      idleBefore = quietLimit(ctx);
      byte[] buf = new byte[initial];
      int len = 0;
      InputStream in = ctx.req().getInputStream();
      while (true) {
        if (len == buf.length) {
          int next = readByte(ctx, in, len); // at a declared length this is the end: no copy needed
          if (next < 0) {
            break;
          }
          if (len >= max) {
            buf = null; // dropped before the rest is read, and no longer counted
            release(held);
            held = 0;
            drop(ctx, pace, len + 1, DISCARD_LIMIT);
            throw tooLarge();
          }
          // to the declared length when one was given (no trim at the end), else twice the size
          int grown = (int) Math.min(max, declared > buf.length ? Math.min(declared, 2L * buf.length) : 2L * buf.length);
          if (!reserve(grown - held)) {
            buf = null;
            release(held);
            held = 0;
            drop(ctx, pace, len + 1, max);
            throw overloaded(ctx);
          }
          held = grown;
          buf = Arrays.copyOf(buf, grown);
          buf[len++] = (byte) next;
        }
        int n;
        try {
          n = in.read(buf, len, buf.length - len);
        } catch (org.eclipse.jetty.io.EofException e) {
          throw endedEarly(ctx);
        } catch (IOException e) {
          throw quiet(ctx, e, len);
        }
        if (n < 0) {
          break;
        }
        len += n;
        if (pace.behind(len - n, len)) {
          throw slow(ctx, len, pace);
        }
      }
      if (len != buf.length) { // a body without a declared length: held at its size
        byte[] trimmed = Arrays.copyOf(buf, len);
        release(held - len);
        held = len;
        buf = trimmed;
      }
      Body body = new Body(buf, held);
      held = 0;
      return body;
    } finally {
      release(held); // nothing when the body was returned
      restoreIdleTimeout(ctx, idleBefore);
    }
  }

  /** One byte, or -1 at the end; a body cut off before its length is the client's 400, not our 500. */
  private int readByte(Context ctx, InputStream in, long len) throws IOException {
    try {
      return in.read();
    } catch (org.eclipse.jetty.io.EofException e) {
      throw endedEarly(ctx);
    } catch (IOException e) {
      throw quiet(ctx, e, len);
    }
  }

  /** A read that failed because the body went quiet for the grace (see quietLimit) is a 408; another failure as it is. */
  private IOException quiet(Context ctx, IOException e, long len) {
    if (e.getCause() instanceof java.util.concurrent.TimeoutException) {
      throw stopped(ctx, len);
    }
    return e;
  }

  /** A body cut off (or a chunk malformed): worded by how it was framed, a length or chunks. */
  private static ApiException endedEarly(Context ctx) {
    return ApiException.invalidRequest(ctx.req().getContentLengthLong() >= 0
        ? "The request body ended before its Content-Length."
        : "The request body ended before its last chunk, or a chunk was malformed (Transfer-Encoding: chunked).", null);
  }

  private ApiException slow(Context ctx, long len, Pace pace) {
    return slow(ctx, "arrived too slowly (" + len + " bytes in "
        + Math.round((System.nanoTime() - pace.start) / 1e9) + " s");
  }

  private ApiException stopped(Context ctx, long len) {
    if (minBytesPerSecond <= 0) { // no pace asked: it was the connection's own idle timeout
      refused.accept("slow");
      ctx.header("Connection", "close");
      return new ApiException(408, "invalid_request_error", "The request body stopped arriving (" + len
          + " bytes, then none for the server's idle timeout).", null, "request_timeout");
    }
    // the grace, or the connection's idle timeout (server.idle_timeout_ms) where that is shorter
    var channel = channel(ctx);
    long quietMillis = graceNanos / 1_000_000;
    if (channel != null && channel.getIdleTimeout() > 0) {
      quietMillis = Math.min(quietMillis, channel.getIdleTimeout());
    }
    return slow(ctx, "stopped arriving (" + len + " bytes, then none for " + Math.round(quietMillis / 1e3) + " s");
  }

  private ApiException slow(Context ctx, String what) {
    refused.accept("slow");
    ctx.header("Connection", "close"); // the rest of the body is not waited for
    return new ApiException(408, "invalid_request_error", "The request body " + what + "; after "
        + Math.round(graceNanos / 1e9) + " s each " + Math.round(graceNanos / 1e9) + " s must bring "
        + minBytesPerSecond + " bytes/s, server.min_body_bytes_per_second).", null, "request_timeout");
  }

  private ApiException overloaded(Context ctx) {
    refused.accept("memory");
    ctx.header("Retry-After", "1");
    return new ApiException(503, "server_error", "routewise holds as many request bodies as its memory allows "
        + "(server.max_buffered_body_bytes); retry shortly.", null, "server_overloaded");
  }

  private ApiException tooLarge() {
    return new ApiException(413, "invalid_request_error",
        "The request body is larger than the limit of " + max + " bytes (server.max_body_bytes).", null,
        "request_too_large");
  }

  /** Reads and drops what is left of a body that will not be read (at once when there is none left). */
  void discard(Context ctx) {
    drop(ctx, new Pace(), 0, DISCARD_LIMIT);
  }

  /**
   * Reads and drops the rest of a refused body (of which {@code consumed} bytes were read), at the
   * minimum pace and up to {@code limit} bytes in all; past either, or when the client breaks off,
   * the connection is closed after the answer.
   */
  private void drop(Context ctx, Pace pace, long consumed, long limit) {
    if (consumed == 0 && awaitsContinue(ctx)) {
      ctx.header("Connection", "close"); // the body it has not sent stays unsent
      return;
    }
    long idleBefore = quietLimit(ctx);
    try {
      InputStream in = ctx.req().getInputStream();
      for (long got = consumed; got <= limit; ) {
        int n = in.read(SCRATCH);
        if (n < 0) {
          return;
        }
        got += n;
        if (pace.behind(got - n, got)) {
          break;
        }
      }
    } catch (IOException e) {
      // the client broke off (nobody to answer), or went quiet for the grace (see quietLimit)
    } finally {
      restoreIdleTimeout(ctx, idleBefore);
    }
    ctx.header("Connection", "close");
  }

  /**
   * A transfer coding other than {@code chunked} ({@code Transfer-Encoding: gzip, chunked}), or null.
   * The HTTP server undoes only the chunks: the body read was the coded bytes, a prompt read as
   * "not UTF-8 JSON" and a passthrough body sent upstream as plain JSON though compressed. RFC 9112
   * 6.1: a coding the server does not understand is a 501.
   */
  private static String unsupportedTransferCoding(Context ctx) {
    java.util.Enumeration<String> values = ctx.req().getHeaders("Transfer-Encoding");
    while (values != null && values.hasMoreElements()) {
      for (String coding : values.nextElement().split(",")) {
        String c = coding.strip();
        if (!c.isEmpty() && !c.equalsIgnoreCase("chunked")) {
          return c;
        }
      }
    }
    return null;
  }

  /**
   * The first coding other than {@code identity} that the request's {@code Content-Encoding} names, or
   * null: every line of it counts, each a list ({@code identity} on one line and {@code gzip} on the
   * next is a gzip body).
   */
  static String contentCoding(Context ctx) {
    java.util.Enumeration<String> values = ctx.req().getHeaders("Content-Encoding");
    while (values != null && values.hasMoreElements()) {
      for (String coding : values.nextElement().split(",")) {
        String c = coding.strip();
        if (!c.isEmpty() && !c.equalsIgnoreCase("identity")) {
          return c;
        }
      }
    }
    return null;
  }

  /** Set once a body is being read for its request: from then on a client that asked to continue was told to. */
  private static final String READING = "io.routewise.bodyReading";

  /**
   * Whether the client sent {@code Expect: 100-continue} and no read of its body has been asked for: it
   * waits for the 100 before sending it, so a refusal goes at once, without the 100 that any read (an
   * {@code available()} too) sends, which had a client upload its whole body, megabytes, only to hear
   * a 401 or 413; the connection closes after the answer, its body never sent (as RFC 9110 10.1.1 has it).
   */
  private static boolean awaitsContinue(Context ctx) {
    String expect = ctx.req().getHeader("Expect");
    return expect != null && expect.strip().equalsIgnoreCase("100-continue") && ctx.attribute(READING) == null;
  }

  private boolean reserve(long n) {
    long f;
    do {
      f = free.get();
      if (f < n) {
        return false;
      }
    } while (!free.compareAndSet(f, f - n));
    return true;
  }

  private void release(long n) {
    if (n > 0) {
      free.addAndGet(n);
    }
  }
}
