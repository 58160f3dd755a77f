package io.routewise.server;

import jakarta.servlet.http.HttpServletRequest;

/**
 * The client's request headers that go upstream with its call: the ids that tie one request together
 * across services (W3C trace context, request ids). Everything else the client sends stays here: its
 * {@code Authorization} above all, and SDK noise the upstream has no use for.
 */
final class TraceHeaders {
  static final String[] NAMES = {"traceparent", "tracestate", "x-request-id", "x-client-request-id"};
  private static final String[] NONE = {};

  private TraceHeaders() {}

  /** Name/value pairs, in {@link #NAMES} order; the shared empty array when the client sent none. */
  static String[] of(HttpServletRequest request) {
    String[] out = NONE;
    int n = 0;
    for (String name : NAMES) {
      String value = request.getHeader(name);
      if (value != null) {
        if (out == NONE) {
          out = new String[NAMES.length * 2];
        }
        out[n++] = name;
        out[n++] = value;
      }
    }
    return n == out.length ? out : java.util.Arrays.copyOf(out, n);
  }
}
