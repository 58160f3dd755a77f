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
  private final boolean retryUseless;

  public ApiException(int status, String type, String message, String param, String code) {
    this(status, type, message, param, code, false);
  }

  private ApiException(int status, String type, String message, String param, String code, boolean retryUseless) {
    super(message, null, false, false);
    this.status = status;
    this.type = type;
    this.param = param;
    this.code = code;
    this.retryUseless = retryUseless;
  }

  /**
   * This error, marked as one a retry cannot mend: sent with {@code x-should-retry: false}, which
   * OpenAI's SDKs obey. They retry every 5xx by default (twice), so an answer the upstream had
   * generated and billed before it broke off was bought three times, and a wrong key or base_url
   * asked three times for the same 502.
   */
  ApiException retryUseless() {
    return new ApiException(status, type, getMessage(), param, code, true);
  }

  /** Whether a retry of the same request cannot help (see {@link #retryUseless()}). */
  public boolean isRetryUseless() {
    return retryUseless;
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
  static ApiException upstreamsCooling(String chosen, java.util.List<String> failover) {
    String others = failover.size() == 1 ? "its failover upstream " + failover.get(0) + " are both"
        : "its failover upstreams " + String.join(", ", failover) + " are all";
    return new ApiException(503, "upstream_error", "The " + chosen + " upstream and " + others
        + " failing; routewise is not sending them requests until one answers again. Retry shortly.",
        null, "upstreams_unavailable");
  }

  /** The client's 502 or 504 for an upstream that could not be reached or did not answer in time. */
  static ApiException upstream(io.routewise.upstream.UpstreamException e) {
    ApiException out = e.isTimeout()
        ? new ApiException(504, "upstream_error", e.getMessage(), null, "upstream_timeout")
        : new ApiException(502, "upstream_error", e.getMessage(), null, "upstream_unreachable");
    // not reached (refused, unknown host, connect timeout): a retry may find it back, so the SDK's default stays
    return e.reachedUpstream() ? out.retryUseless() : out;
  }

  /**
   * The client's 502 for an upstream answer longer than routewise reads whole ({@code what}: "answer",
   * "error answer"); the caller logs it and the call is cancelled.
   */
  static ApiException responseTooLarge(String upstream, String what, long max, String setting) {
    return new ApiException(502, "upstream_error", "The " + upstream + " upstream's " + what + " is longer than "
        + max + " bytes" + (setting == null ? "" : " (" + setting + ")") + ".", null, "upstream_response_too_large",
        true);
  }

  /**
   * The client's 502 for an upstream answer that cannot be what it claims: a 200 chat answer that is
   * not a JSON object (an HTML page from a wrong {@code base_url}, a cut or compressed body), or a
   * status HTTP does not have.
   */
  static ApiException invalidResponse(String upstream, String what) {
    return new ApiException(502, "upstream_error", "The " + upstream + " upstream " + what + ".", null,
        "upstream_invalid_response", true);
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
