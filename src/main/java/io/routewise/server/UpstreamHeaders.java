package io.routewise.server;

import io.routewise.upstream.UpstreamResponse;
import jakarta.servlet.http.HttpServletResponse;
import java.util.Locale;
import java.util.Set;

/**
 * Which upstream response headers reach the client: the content type and what clients act on
 * (request ids, rate limits, retry-after, retry-after-ms and x-should-retry, which OpenAI's SDKs
 * read before retrying, OpenAI's processing headers). Hop-by-hop and framing
 * headers are the server's own business; OpenAI's organization and project name the operator's
 * account, which is not the client's to see.
 */
final class UpstreamHeaders {
  /**
   * Longest value passed on, and most bytes of them in all. The client's answer has one header
   * buffer (Jetty's), and an upstream sending a header over it turned an answer it had already
   * produced, and billed, into a 500; the headers passed on are short (ids, counts, durations).
   */
  static final int MAX_VALUE_CHARS = 1024;
  static final int MAX_TOTAL_CHARS = 8 * 1024;

  /** The request headers routewise sets itself for a client with a rate_limit: the upstream's would be its account's. */
  private static final Set<String> OWN =
      Set.of("x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests");

  private UpstreamHeaders() {}

  /** @param secrets masked in the values passed on (an upstream echoing the request's headers repeats the key) */
  static void copy(UpstreamResponse from, HttpServletResponse to, SecretValues secrets) {
    int total = 0;
    // what the upstream names in Connection is for its hop alone (RFC 9110 7.6.1)
    Set<String> hopOnly = Set.of();
    for (int i = 0, n = from.headerCount(); i < n; i++) {
      if (from.headerName(i).equalsIgnoreCase("Connection")) {
        hopOnly = TraceHeaders.withOptions(from.headerValue(i), hopOnly);
      }
    }
    for (int i = 0, n = from.headerCount(); i < n; i++) {
      String name = from.headerName(i);
      if (!hopOnly.isEmpty() && hopOnly.contains(name.toLowerCase(Locale.ROOT))) {
        continue;
      }
      if (name.equalsIgnoreCase("content-type") || name.equalsIgnoreCase("x-request-id")
          || name.equalsIgnoreCase("retry-after") || name.equalsIgnoreCase("retry-after-ms")
          || name.equalsIgnoreCase("x-should-retry") || startsWithIgnoreCase(name, "x-ratelimit-")
          || (startsWithIgnoreCase(name, "openai-") && !name.equalsIgnoreCase("openai-organization")
              && !name.equalsIgnoreCase("openai-project"))) {
        if (startsWithIgnoreCase(name, "x-ratelimit-") && OWN.contains(name.toLowerCase(Locale.ROOT))
            && to.containsHeader(name)) {
          continue; // a client's own rate limit, set before the request went on
        }
        String value = from.headerValue(i);
        if (value.length() > MAX_VALUE_CHARS || total + name.length() + value.length() > MAX_TOTAL_CHARS) {
          continue;
        }
        total += name.length() + value.length();
        to.setHeader(name, secrets.masked(value)); // a repeated name keeps its last value
      }
    }
  }

  private static boolean startsWithIgnoreCase(String s, String prefix) {
    return s.regionMatches(true, 0, prefix, 0, prefix.length());
  }
}
