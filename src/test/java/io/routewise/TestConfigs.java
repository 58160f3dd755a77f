package io.routewise;

import io.routewise.config.ConfigLoader;
import io.routewise.config.RoutewiseConfig;
import java.net.URI;
import java.net.http.HttpRequest;
import java.time.Duration;
import java.util.Map;

/** Builds configs for tests: both upstreams on loopback, port 0 (any free port). */
public final class TestConfigs {
  private TestConfigs() {}

  public static String yaml(String strongUrl, String weakUrl, String extra) {
    return """
        server: {host: 127.0.0.1, port: 0}
        upstreams:
          strong: {base_url: "%s", api_key: "sk-strong-secret", model: strong-model, timeout_ms: 1500}
          weak: {base_url: "%s", api_key: none, model: weak-model, timeout_ms: 1500}
        routing: {router: random, threshold: 0.5}
        %s
        """.formatted(strongUrl, weakUrl, extra);
  }

  /** {@link #yaml} with more keys in its {@code routing} map, e.g. {@code "failover: true"}. */
  public static String withRouting(String yaml, String routingKeys) {
    String line = "routing: {router: random, threshold: 0.5}";
    if (!yaml.contains(line)) {
      throw new IllegalArgumentException("not a TestConfigs.yaml: " + yaml);
    }
    return yaml.replace(line, "routing: {router: random, threshold: 0.5, " + routingKeys + "}");
  }

  /** {@link #yaml} with more keys in its {@code server} map, e.g. {@code "shutdown_grace_ms: 500"}. */
  public static String withServer(String yaml, String serverKeys) {
    String line = "server: {host: 127.0.0.1, port: 0}";
    if (!yaml.contains(line)) {
      throw new IllegalArgumentException("not a TestConfigs.yaml: " + yaml);
    }
    return yaml.replace(line, "server: {host: 127.0.0.1, port: 0, " + serverKeys + "}");
  }

  public static RoutewiseConfig config(String yaml) {
    return new ConfigLoader(Map.of()).parse(yaml, "test");
  }

  /** A one-message chat completion for {@code model}, posted to a routewise on {@code port}. */
  public static HttpRequest chat(int port, String model) {
    return HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/v1/chat/completions"))
        .header("Content-Type", "application/json").timeout(Duration.ofSeconds(10))
        .POST(HttpRequest.BodyPublishers.ofString(
            "{\"model\":\"" + model + "\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"))
        .build();
  }
}
