package io.routewise.server;

import io.routewise.upstream.UpstreamResponse;
import jakarta.servlet.http.HttpServletResponse;

/**
 * Which upstream response headers reach the client: the content type and what clients act on
 * (request ids, rate limits, retry-after, retry-after-ms and x-should-retry, which OpenAI's SDKs
 * read before retrying, OpenAI's processing headers). Hop-by-hop and framing
 * headers are the server's own business; OpenAI's organization and project name the operator's
 * account, which is not the client's to see.
 */
final class UpstreamHeaders {
  private UpstreamHeaders() {}

  static void copy(UpstreamResponse from, HttpServletResponse to) {
    for (int i = 0, n = from.headerCount(); i < n; i++) {
      String name = from.headerName(i);
      if (name.equalsIgnoreCase("content-type") || name.equalsIgnoreCase("x-request-id")
          || name.equalsIgnoreCase("retry-after") || name.equalsIgnoreCase("retry-after-ms")
          || name.equalsIgnoreCase("x-should-retry") || startsWithIgnoreCase(name, "x-ratelimit-")
          || (startsWithIgnoreCase(name, "openai-") && !name.equalsIgnoreCase("openai-organization")
              && !name.equalsIgnoreCase("openai-project"))) {
        to.setHeader(name, from.headerValue(i)); // a repeated name keeps its last value
      }
    }
  }

  private static boolean startsWithIgnoreCase(String s, String prefix) {
    return s.regionMatches(true, 0, prefix, 0, prefix.length());
  }
}
