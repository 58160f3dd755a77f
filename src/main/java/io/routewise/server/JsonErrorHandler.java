package io.routewise.server;

import java.nio.ByteBuffer;
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
 * Jetty's HTML page, which an SDK would report as an unparseable body.
 */
final class JsonErrorHandler extends ErrorHandler {
  private final java.util.function.IntConsumer refused;

  /** @param refused told each status answered here: no route ran, so no other counter has the request */
  JsonErrorHandler(java.util.function.IntConsumer refused) {
    this.refused = refused;
  }

  @Override
  protected void generateResponse(Request request, Response response, int code, String message, Throwable cause,
      Callback callback) {
    refused.accept(code);
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
}
