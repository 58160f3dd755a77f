package io.routewise.server;

/**
 * A request that ends with an error the client sees, in OpenAI's shape
 * {@code {"error":{"message","type","param","code"}}}. Turned into HTTP in one place
 * ({@link ProxyServer}).
 */
public final class ApiException extends RuntimeException {
  private final int status;
  private final String type;
  private final String param;
  private final String code;

  public ApiException(int status, String type, String message, String param, String code) {
    super(message, null, false, false);
    this.status = status;
    this.type = type;
    this.param = param;
    this.code = code;
  }

  public static ApiException invalidRequest(String message, String param) {
    return new ApiException(400, "invalid_request_error", message, param, null);
  }

  public static ApiException invalidRequest(String message, String param, String code) {
    return new ApiException(400, "invalid_request_error", message, param, code);
  }

  /** A new request while the server drains; sent with {@code Connection: close} (the caller sets it). */
  static ApiException shuttingDown() {
    return new ApiException(503, "server_error",
        "routewise is shutting down and takes no new requests; retry, and it goes to another instance.",
        null, "shutting_down");
  }

  /**
   * The client's 503 when the upstream chosen and its failover upstream are both down (cooling after
   * failures): answered at once rather than after another timeout; the SDKs retry a 503.
   */
  static ApiException upstreamsCooling(String chosen, String other) {
    return new ApiException(503, "upstream_error", "The " + chosen + " upstream and its failover upstream " + other
        + " are both failing; routewise is not sending them requests until one answers again. Retry shortly.",
        null, "upstreams_unavailable");
  }

  /** The client's 502 or 504 for an upstream that could not be reached or did not answer in time. */
  static ApiException upstream(io.routewise.upstream.UpstreamException e) {
    return e.isTimeout()
        ? new ApiException(504, "upstream_error", e.getMessage(), null, "upstream_timeout")
        : new ApiException(502, "upstream_error", e.getMessage(), null, "upstream_unreachable");
  }

  /**
   * The client's 502 for an upstream answer longer than routewise reads whole ({@code what}: "answer",
   * "error answer"); the caller logs it and the call is cancelled.
   */
  static ApiException responseTooLarge(String upstream, String what, long max, String setting) {
    return new ApiException(502, "upstream_error", "The " + upstream + " upstream's " + what + " is longer than "
        + max + " bytes" + (setting == null ? "" : " (" + setting + ")") + ".", null, "upstream_response_too_large");
  }

  /**
   * The client's 502 for an upstream answer that cannot be what it claims: a 200 chat answer that is
   * not a JSON object (an HTML page from a wrong {@code base_url}, a cut or compressed body), or a
   * status HTTP does not have.
   */
  static ApiException invalidResponse(String upstream, String what) {
    return new ApiException(502, "upstream_error", "The " + upstream + " upstream " + what + ".", null,
        "upstream_invalid_response");
  }

  public int status() {
    return status;
  }

  public String type() {
    return type;
  }

  public String param() {
    return param;
  }

  public String code() {
    return code;
  }
}
