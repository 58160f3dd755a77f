package io.routewise.server;

import io.routewise.upstream.UpstreamResponse;
import jakarta.servlet.http.HttpServletResponse;
import java.util.Locale;

/**
 * Which upstream response headers reach the client: the content type and what clients act on
 * (request ids, rate limits, retry-after, OpenAI's processing headers). Hop-by-hop and framing
 * headers are the server's own business.
 */
final class UpstreamHeaders {
  private UpstreamHeaders() {}

  static void copy(UpstreamResponse from, HttpServletResponse to) {
    for (String name : from.headerNames()) {
      String lower = name.toLowerCase(Locale.ROOT);
      if (lower.equals("content-type") || lower.equals("x-request-id") || lower.equals("retry-after")
          || lower.startsWith("x-ratelimit-") || lower.startsWith("openai-")) {
        to.setHeader(name, from.header(name));
      }
    }
  }
}
