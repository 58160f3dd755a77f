package io.routewise.config;

import java.net.URI;
import java.time.Duration;
import java.util.Map;

/**
 * One OpenAI-compatible upstream.
 *
 * @param name the entry's name under {@code upstreams:}: {@code strong}, {@code weak}, or any other
 * @param baseUrl e.g. https://api.openai.com/v1, no trailing slash; a query string (Azure's
 *     {@code ?api-version=}) is kept after the endpoint's path
 * @param apiKey sent as {@code Authorization: Bearer}; blank or "none" sends no header
 * @param model the model name written into forwarded requests
 * @param connectTimeout TCP/TLS connect limit; past it the client gets 502
 * @param timeout limit for the response headers and for each gap between body bytes; past it 504
 * @param headers sent with every call, in order (Azure's {@code api-key}, {@code OpenAI-Organization});
 *     values are secrets, since a header may carry a key
 * @param price USD per million input and output tokens; null when not configured (unknown: its
 *     answers are not counted in the cost metrics)
 * @param routerModel the trained model id that learned routers use for this upstream; null to let
 *     them place it by {@code model}
 * @param streamUsage ask this upstream for usage on streams whose client did not ask for it (left
 *     {@code include_usage} unset or false; the usage chunk is kept from the client), so that their
 *     tokens and cost are counted
 * @param accepts what it takes besides text, of {@link #MEDIA} ({@code accepts:} less {@code text});
 *     all of them unless said
 * @param modelPrices prices of other models it serves, by model id ({@code model_prices:}), for the
 *     passthrough traffic that names them; an id ending in {@code *} prices every id it begins (a
 *     model's dated snapshots)
 */
public record UpstreamConfig(
    String name, URI baseUrl, Secret apiKey, String model, Duration connectTimeout, Duration timeout,
    Map<String, Secret> headers, Price price, String routerModel, boolean streamUsage, java.util.Set<String> accepts,
    Map<String, Price> modelPrices) {

  /** What {@code accepts:} may list besides {@code text}. */
  public static final java.util.List<String> MEDIA = java.util.List.of("image", "audio", "file");

  public UpstreamConfig {
    headers = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(headers));
    accepts = java.util.Set.copyOf(accepts);
    modelPrices = Map.copyOf(modelPrices);
  }

  /** Without {@code model_prices:}. */
  public UpstreamConfig(
      String name, URI baseUrl, Secret apiKey, String model, Duration connectTimeout, Duration timeout,
      Map<String, Secret> headers, Price price, String routerModel, boolean streamUsage, java.util.Set<String> accepts) {
    this(name, baseUrl, apiKey, model, connectTimeout, timeout, headers, price, routerModel, streamUsage, accepts,
        Map.of());
  }

  /**
   * The price of {@code modelId} at this upstream: its {@code price} for its own {@code model}, else
   * its {@code model_prices} entry of that id, else that of the longest {@code prefix*} it begins
   * with; null when unknown.
   */
  public Price priceOf(String modelId) {
    if (modelId == null) {
      return null;
    }
    if (modelId.equals(model) && price != null) {
      return price;
    }
    Price exact = modelPrices.get(modelId);
    if (exact != null) {
      return exact;
    }
    Price found = null;
    int longest = -1;
    for (Map.Entry<String, Price> e : modelPrices.entrySet()) {
      String id = e.getKey();
      int prefix = id.length() - 1;
      if (prefix > longest && id.endsWith("*") && modelId.startsWith(id.substring(0, prefix))) {
        found = e.getValue();
        longest = prefix;
      }
    }
    return found;
  }

  /** Whether it prices any model: passthrough bodies are read for theirs only then. */
  public boolean pricesAny() {
    return price != null || !modelPrices.isEmpty();
  }

  /** Taking every kind of media (no {@code accepts:}). */
  public UpstreamConfig(
      String name, URI baseUrl, Secret apiKey, String model, Duration connectTimeout, Duration timeout,
      Map<String, Secret> headers, Price price, String routerModel, boolean streamUsage) {
    this(name, baseUrl, apiKey, model, connectTimeout, timeout, headers, price, routerModel, streamUsage,
        java.util.Set.copyOf(MEDIA));
  }

  /** Without {@code stream_usage} (off, its default). */
  public UpstreamConfig(
      String name, URI baseUrl, Secret apiKey, String model, Duration connectTimeout, Duration timeout,
      Map<String, Secret> headers, Price price, String routerModel) {
    this(name, baseUrl, apiKey, model, connectTimeout, timeout, headers, price, routerModel, false);
  }

  public UpstreamConfig(
      String name, URI baseUrl, Secret apiKey, String model, Duration connectTimeout, Duration timeout,
      Map<String, Secret> headers) {
    this(name, baseUrl, apiKey, model, connectTimeout, timeout, headers, null, null);
  }

  public UpstreamConfig(
      String name, URI baseUrl, Secret apiKey, String model, Duration connectTimeout, Duration timeout) {
    this(name, baseUrl, apiKey, model, connectTimeout, timeout, Map.of());
  }

  /** The same upstream at another price (null: unknown). */
  public UpstreamConfig withPrice(Price newPrice) {
    return new UpstreamConfig(name, baseUrl, apiKey, model, connectTimeout, timeout, headers, newPrice, routerModel,
        streamUsage, accepts, modelPrices);
  }

  /** Whether an Authorization header is sent ("none" is the placeholder local servers use). */
  public boolean sendsKey() {
    return sendsKey(apiKey);
  }

  static boolean sendsKey(Secret apiKey) {
    return !apiKey.isBlank() && !apiKey.value().equals("none");
  }
}
