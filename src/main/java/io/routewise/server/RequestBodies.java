package io.routewise.server;

import io.javalin.http.Context;
import java.io.IOException;
import java.io.InputStream;
import java.util.Arrays;

/** Reads a request body up to a limit; larger bodies are a 413 before they are buffered whole. */
final class RequestBodies {
  private RequestBodies() {}

  static byte[] read(Context ctx, long max) throws IOException {
    long declared = ctx.req().getContentLengthLong();
    if (declared > max) {
      throw tooLarge(max);
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
              throw tooLarge(max);
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
    if (len == 0) {
      throw ApiException.invalidRequest("The request body is empty; expected a JSON chat completion request.", null);
    }
    return len == buf.length ? buf : Arrays.copyOf(buf, len);
  }

  private static ApiException tooLarge(long max) {
    return new ApiException(413, "invalid_request_error",
        "The request body is larger than the limit of " + max + " bytes (server.max_body_bytes).", null,
        "request_too_large");
  }
}
