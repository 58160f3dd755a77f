package io.routewise.config;

import java.net.URI;
import java.time.Duration;

/**
 * One OpenAI-compatible upstream.
 *
 * @param name strong or weak
 * @param baseUrl e.g. https://api.openai.com/v1, no trailing slash
 * @param apiKey sent as {@code Authorization: Bearer}; blank or "none" sends no header
 * @param model the model name written into forwarded requests
 * @param connectTimeout TCP/TLS connect limit; past it the client gets 502
 * @param timeout limit for the response headers and for each gap between body bytes; past it 504
 */
public record UpstreamConfig(
    String name, URI baseUrl, Secret apiKey, String model, Duration connectTimeout, Duration timeout) {

  /** Whether an Authorization header is sent ("none" is the placeholder local servers use). */
  public boolean sendsKey() {
    return !apiKey.isBlank() && !apiKey.value().equals("none");
  }
}
