package io.routewise.server;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.Locale;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpStatus;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.handler.ErrorHandler;
import org.eclipse.jetty.util.Callback;

/**
 * Errors Jetty answers itself, before any route runs (a header block over its limit: 431; a request
 * it cannot parse: 400; a URI too long: 414), in OpenAI's shape like every other error, rather than
 * Jetty's HTML page, which an SDK would report as an unparseable body. A page on an origin {@code
 * server.cors_origins} allows gets the CORS headers routewise's own errors carry, so it can read why.
 */
final class JsonErrorHandler extends ErrorHandler {
  private final java.util.function.IntConsumer refused;
  private final List<String> corsOrigins;

  /**
   * @param refused told each status answered here: no route ran, so no other counter has the request
   * @param corsOrigins {@code server.cors_origins}
   */
  JsonErrorHandler(java.util.function.IntConsumer refused, List<String> corsOrigins) {
    this.refused = refused;
    this.corsOrigins = List.copyOf(corsOrigins);
  }

  /** Every method: Jetty's own writes a page for GET, POST and HEAD only, so a DELETE's, PUT's or preflight's was empty and uncounted. */
  @Override
  public boolean errorPageForMethod(String method) {
    return true;
  }

  @Override
  protected void generateResponse(Request request, Response response, int code, String message, Throwable cause,
      Callback callback) {
    if (code == HttpStatus.UPGRADE_REQUIRED_426) {
      // Jetty's answer to an HTTP/2.0 request line (an h2c preface included), naming no Upgrade: no HTTP/1.x, so 505
      code = HttpStatus.HTTP_VERSION_NOT_SUPPORTED_505;
      message = null;
      response.setStatus(code);
    }
    refused.accept(code);
    String allowOrigin = allowOrigin(request);
    if (allowOrigin != null) { // as the CORS rule answers routewise's own errors
      response.getHeaders().put(HttpHeader.ACCESS_CONTROL_ALLOW_ORIGIN, allowOrigin);
      response.getHeaders().add(HttpHeader.VARY, "Origin");
      response.getHeaders().put(HttpHeader.ACCESS_CONTROL_EXPOSE_HEADERS, "x-request-id");
    }
    String reason = HttpStatus.getMessage(code);
    // A server error's message is Jetty's own (an exception's class and text): the log's, not the client's.
    String text = code >= 500 || message == null || message.isBlank() || message.equals(reason)
        ? reason : reason + ": " + message;
    byte[] body = OpenAiErrors.body(text + ".", code >= 500 ? "server_error" : "invalid_request_error", null,
        reason.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9]+", "_"));
    response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/json");
    response.getHeaders().put("x-request-id", RequestIds.next());
    response.write(true, ByteBuffer.wrap(body), callback);
  }

  /**
   * The {@code Access-Control-Allow-Origin} for a page's request, or null. A request Jetty refused
   * while reading its head (a URI or header block over the limit, a malformed line) comes with none
   * of its headers, so its {@code Origin} is unknown: with {@code "*"}, or one site listed, the answer
   * is the same whatever it was (a browser on any other origin still reads nothing).
   */
  private String allowOrigin(Request request) {
    boolean any = corsOrigins.contains("*");
    if (request.getHeaders().size() == 0) {
      return any ? "*"
          : corsOrigins.size() == 1 && !corsOrigins.get(0).contains("*") ? ProxyServer.plainOrigin(corsOrigins.get(0))
          : null;
    }
    String origin = request.getHeaders().get(HttpHeader.ORIGIN);
    return origin == null ? null : any ? "*" : ProxyServer.listed(corsOrigins, origin) ? origin : null;
  }
}
