package io.routewise.config;

import java.net.URI;
import java.time.Duration;
import java.util.Map;

/**
 * One OpenAI-compatible upstream.
 *
 * @param name strong or weak
 * @param baseUrl e.g. https://api.openai.com/v1, no trailing slash; a query string (Azure's
 *     {@code ?api-version=}) is kept after the endpoint's path
 * @param apiKey sent as {@code Authorization: Bearer}; blank or "none" sends no header
 * @param model the model name written into forwarded requests
 * @param connectTimeout TCP/TLS connect limit; past it the client gets 502
 * @param timeout limit for the response headers and for each gap between body bytes; past it 504
 * @param headers sent with every call, in order (Azure's {@code api-key}, {@code OpenAI-Organization});
 *     values are secrets, since a header may carry a key
 * @param price what the upstream charges, or null when the config gives no {@code price}
 */
public record UpstreamConfig(
    String name, URI baseUrl, Secret apiKey, String model, Duration connectTimeout, Duration timeout,
    Map<String, Secret> headers, Price price) {

  public UpstreamConfig {
    headers = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(headers));
  }

  public UpstreamConfig(
      String name, URI baseUrl, Secret apiKey, String model, Duration connectTimeout, Duration timeout,
      Map<String, Secret> headers) {
    this(name, baseUrl, apiKey, model, connectTimeout, timeout, headers, null);
  }

  public UpstreamConfig(
      String name, URI baseUrl, Secret apiKey, String model, Duration connectTimeout, Duration timeout) {
    this(name, baseUrl, apiKey, model, connectTimeout, timeout, Map.of());
  }

  /** Whether an Authorization header is sent ("none" is the placeholder local servers use). */
  public boolean sendsKey() {
    return sendsKey(apiKey);
  }

  static boolean sendsKey(Secret apiKey) {
    return !apiKey.isBlank() && !apiKey.value().equals("none");
  }
}
