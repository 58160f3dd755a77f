package io.routewise.server;

import io.javalin.http.Context;
import java.io.IOException;
import java.io.InputStream;
import java.util.Arrays;

/** Reads a request body up to a limit; larger bodies are a 413 before they are buffered whole. */
final class RequestBodies {
  /**
   * How much of a too-large body is read and thrown away so that its client hears the 413. Clients
   * send the whole body before reading the answer; cut off early, they get a reset instead of the
   * error (measured: a 6 MB prompt with the default 4 MiB limit, 10 of 10 broken pipes), and the
   * OpenAI SDKs retry a reset twice, sending it all again. Beyond this the connection is just closed.
   */
  private static final long DISCARD_LIMIT = 64L * 1024 * 1024;

  private RequestBodies() {}

  /** A chat request's body: empty is a 400. */
  static byte[] read(Context ctx, long max) throws IOException {
    byte[] body = readAny(ctx, max);
    if (body.length == 0) {
      throw ApiException.invalidRequest("The request body is empty; expected a JSON chat completion request.", null);
    }
    return body;
  }

  /** Whatever body the request has, possibly none. */
  static byte[] readAny(Context ctx, long max) throws IOException {
    long declared = ctx.req().getContentLengthLong();
    if (declared > max) {
      throw tooLarge(ctx, max, declared <= DISCARD_LIMIT ? 0 : -1);
    }
    // A declared length is a promise, not bytes: start at most at 64 KiB so slow clients announcing
    // 4 MiB cannot reserve memory they never send.
    int initial = (int) Math.min(declared >= 0 ? Math.min(declared, 64 * 1024) : 16 * 1024, max);
    byte[] buf = new byte[Math.max(initial, 16)];
    int len = 0;
    try (InputStream in = ctx.req().getInputStream()) {
      while (true) {
        if (len == buf.length) {
          if (len >= max) {
            if (in.read() != -1) {
              throw tooLarge(ctx, max, len + 1);
            }
            break;
          }
          buf = Arrays.copyOf(buf, (int) Math.min(max, (long) buf.length * 2));
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
      }
    }
    return len == buf.length ? buf : Arrays.copyOf(buf, len);
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
