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
      if (value != null && sendable(value)) {
        if (out == NONE) {
          out = new String[NAMES.length * 2];
        }
        out[n++] = name;
        out[n++] = value;
      }
    }
    return n == out.length ? out : java.util.Arrays.copyOf(out, n);
  }

  /**
   * Whether a value can go upstream: printable ASCII and tabs. OkHttp refuses anything else with
   * an exception, and a trace id is not worth failing the call for, so such a value is left out.
   */
  static boolean sendable(String value) {
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      if (c != '\t' && (c < 0x20 || c > 0x7e)) {
        return false;
      }
    }
    return true;
  }
}
