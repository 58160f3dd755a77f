package io.routewise.server;

import jakarta.servlet.http.HttpServletRequest;
import java.util.Enumeration;
import java.util.HashSet;
import java.util.Locale;
import java.util.Set;

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
    Set<String> hopOnly = connectionOptions(request.getHeaders("Connection"));
    for (String name : NAMES) {
      String value = request.getHeader(name);
      if (value != null && sendable(value) && !hopOnly.contains(name)) {
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
   * The header names (lower case) that {@code Connection} lines name: they are for that hop alone, and a
   * proxy removes them before forwarding (RFC 9110 7.6.1), whichever way the message goes.
   */
  static Set<String> connectionOptions(Enumeration<String> lines) {
    Set<String> names = Set.of();
    while (lines != null && lines.hasMoreElements()) {
      names = withOptions(lines.nextElement(), names);
    }
    return names;
  }

  /**
   * {@code names} plus the header names one {@code Connection} line gives. {@code keep-alive} and {@code
   * close} name nothing forwarded either way, so the usual line allocates nothing.
   */
  static Set<String> withOptions(String line, Set<String> names) {
    if (line.equalsIgnoreCase("keep-alive") || line.equalsIgnoreCase("close")) {
      return names;
    }
    for (String option : line.split(",")) {
      String name = option.trim().toLowerCase(Locale.ROOT);
      if (!name.isEmpty() && !name.equals("keep-alive") && !name.equals("close")) {
        names = names.isEmpty() ? new HashSet<>() : names;
        names.add(name);
      }
    }
    return names;
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
