package io.routewise.server;

import io.javalin.http.Context;
import io.routewise.metrics.RoutewiseMetrics;
import io.routewise.upstream.UpstreamClient;
import io.routewise.upstream.UpstreamException;
import io.routewise.upstream.UpstreamResponse;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.io.OutputStream;
import java.util.Locale;

/**
 * The other OpenAI endpoints under {@code /v1} ({@code embeddings}, {@code responses},
 * {@code completions}, {@code files}, ...), sent unchanged to the one upstream that
 * {@code routing.passthrough} names, so a client whose base URL is routewise can use them too. Nothing
 * is routed or parsed: method, path, query, body and content type go as the client sent them, with
 * the upstream's key instead of the client's; the answer comes back as the upstream sent it,
 * streamed as it arrives.
 */
final class PassthroughHandler {
  /** Client headers some endpoints need besides trace ids: the Assistants API wants {@code OpenAI-Beta}. */
  private static final String[] EXTRA_HEADERS = {"openai-beta", "accept"};

  private final UpstreamClient upstream;
  private final RoutewiseMetrics metrics;
  private final long maxBodyBytes;
  private final InFlightRequests inFlight;
  private final UpstreamFailureLog failures = new UpstreamFailureLog();

  PassthroughHandler(UpstreamClient upstream, RoutewiseMetrics metrics, long maxBodyBytes, InFlightRequests inFlight) {
    this.upstream = upstream;
    this.metrics = metrics;
    this.maxBodyBytes = maxBodyBytes;
    this.inFlight = inFlight;
  }

  void handle(Context ctx) throws IOException {
    try {
      metrics.passthrough(upstream.name(), forward(ctx));
    } catch (ApiException e) {
      metrics.passthrough(upstream.name(), e.status());
      throw e;
    }
  }

  private int forward(Context ctx) throws IOException {
    if (inFlight.draining()) {
      ctx.header("Connection", "close");
      throw new ApiException(503, "server_error",
          "routewise is shutting down and takes no new requests; retry, and it goes to another instance.",
          null, "shutting_down");
    }
    String method = ctx.method().name();
    String path = ctx.req().getRequestURI().substring("/v1/".length()); // still percent-encoded
    for (String segment : path.split("/", -1)) {
      String s = segment.toLowerCase(Locale.ROOT).replace("%2e", ".");
      if (s.equals(".") || s.equals("..")) {
        // would climb out of the upstream's API root, e.g. from an Azure deployment to the resource
        throw ApiException.invalidRequest("The request path may not contain '.' or '..' segments.", null);
      }
    }
    byte[] body = method.equals("GET") || method.equals("HEAD") ? null : RequestBodies.readAny(ctx, maxBodyBytes);
    UpstreamResponse response;
    try {
      response = upstream.forward(method, path, ctx.req().getQueryString(), body, ctx.req().getContentType(),
          new ClientDisconnectProbe(ctx.req()), clientHeaders(ctx));
    } catch (UpstreamException e) {
      if (e.isClientGone()) {
        ctx.header("Connection", "close");
        throw new ApiException(499, "invalid_request_error", "The client closed the connection.", null,
            "client_closed_request");
      }
      ApiException error = e.isTimeout()
          ? new ApiException(504, "upstream_error", e.getMessage(), null, "upstream_timeout")
          : new ApiException(502, "upstream_error", e.getMessage(), null, "upstream_unreachable");
      failures.failed(upstream.name(), "passthrough " + error.status() + " " + error.code(), e.getMessage());
      throw error;
    }
    try (response) {
      int status = response.status();
      HttpServletResponse res = ctx.res();
      res.setStatus(status);
      UpstreamHeaders.copy(response, res);
      String disposition = response.header("Content-Disposition"); // file downloads keep their name
      if (disposition != null) {
        res.setHeader("Content-Disposition", disposition);
      }
      String type = response.header("Content-Type");
      boolean events = type != null && type.toLowerCase(Locale.ROOT).startsWith("text/event-stream");
      long length = response.contentLength();
      if (events) {
        res.setHeader("Cache-Control", "no-cache");
        res.setHeader("X-Accel-Buffering", "no");
      } else if (length >= 0) {
        res.setContentLengthLong(length);
      }
      relay(response, res.getOutputStream(), events || length < 0);
      return status;
    }
  }

  /** Copies the body as it comes; flushing each read when the client should see it at once. */
  private void relay(UpstreamResponse response, OutputStream out, boolean flushEach) throws IOException {
    byte[] buf = new byte[8192];
    while (true) {
      int n;
      try {
        n = response.read(buf);
      } catch (IOException e) {
        if (!response.clientGone()) {
          failures.failed(upstream.name(), "passthrough body failed",
              upstream.failure(e, response.timedOut()).getMessage());
        }
        throw e; // headers are gone: all that is left is to cut the response short
      }
      if (n < 0) {
        break;
      }
      try {
        out.write(buf, 0, n);
        if (flushEach) {
          out.flush();
        }
      } catch (IOException clientGone) {
        response.cancel();
        throw clientGone;
      }
    }
  }

  private static String[] clientHeaders(Context ctx) {
    String[] trace = TraceHeaders.of(ctx.req());
    String[] out = java.util.Arrays.copyOf(trace, trace.length + EXTRA_HEADERS.length * 2);
    int n = trace.length;
    for (String name : EXTRA_HEADERS) {
      String value = ctx.req().getHeader(name);
      if (value != null) {
        out[n++] = name;
        out[n++] = value;
      }
    }
    return java.util.Arrays.copyOf(out, n);
  }
}
