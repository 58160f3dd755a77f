package io.routewise.config;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Values as a reader of the config sees them: a placeholder of another form than ${VAR} and
 * ${VAR:-default} stops the start (a nested default, as a shell writes it, had reached the upstream
 * as the literal key "${B}"), and a number is one written in decimal.
 */
class ConfigPlaceholdersAndNumbersTest {
  private static final String YAML = """
      server: {host: 127.0.0.1, port: 7000}
      upstreams:
        strong: {base_url: "http://a/v1", api_key: "${PRIMARY_KEY:-${FALLBACK_KEY}}", model: gpt-4o}
        weak: {base_url: "http://b/v1", api_key: none, model: m}
      """;

  @Test
  void aNestedDefaultIsRefusedNotSentAsLiteralText() {
    ConfigLoader loader = new ConfigLoader(Map.of("FALLBACK_KEY", "sk-fallback"));
    ConfigException e = assertThrows(ConfigException.class, () -> {
      RoutewiseConfig c = loader.parse(YAML, "config.yaml");
      throw new AssertionError("accepted; upstreams.strong.api_key = '" + c.strong().apiKey().value() + "'");
    });
    assertTrue(e.getMessage().contains("upstreams.strong.api_key"), e.getMessage());
    RoutewiseConfig dollars = new ConfigLoader(Map.of()).parse(YAML.replace("${PRIMARY_KEY:-${FALLBACK_KEY}}",
        "${PRIMARY_KEY:-pa$$w0rd}"), "config.yaml");
    assertTrue(dollars.strong().apiKey().value().equals("pa$$w0rd"), "a default may hold a $ not before {");
  }

  /**
   * Numbers are parsed with Double.parseDouble, which also takes Java literal suffixes and hex
   * floats: "0.5f", "1d" and "0x1p1" (= 2.0) pass as numbers instead of "must be a number".
   */
  @Test
  void javaLiteralSuffixesAreNotNumbers() {
    String yaml = YAML.replace("api_key: \"${PRIMARY_KEY:-${FALLBACK_KEY}}\"", "api_key: k, price: {input: 0x1p1, output: 1d}")
        + "routing: {threshold: 0.5f}\n";
    ConfigException e = assertThrows(ConfigException.class, () -> {
      RoutewiseConfig c = new ConfigLoader(Map.of()).parse(yaml, "config.yaml");
      throw new AssertionError("accepted: threshold " + c.routing().threshold() + ", price " + c.strong().price());
    });
    assertTrue(e.getMessage().contains("routing.threshold: must be a number"), e.getMessage());
    assertTrue(e.getMessage().contains("upstreams.strong.price.input: must be a number"), e.getMessage());
  }
}
