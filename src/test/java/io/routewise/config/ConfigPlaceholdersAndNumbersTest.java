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

  /**
   * YAML 1.1 reads an unquoted number with a leading 0 as octal, 0x as hex and 1:30 as base 60: a
   * zero-padded shutdown_grace_ms: 025000 was a 10.752 s grace (while port: 08080, no octal, was 8080),
   * and 0x1F a port of 31, though a number not written in decimal is to stop the start.
   */
  @Test
  void aNumberYamlReadsInAnotherBaseIsRefusedNotTakenAsThatBase() {
    String yaml = YAML.replace("port: 7000}", "port: 0x1F, shutdown_grace_ms: 025000, max_body_bytes: 0b1010}")
        .replace("api_key: \"${PRIMARY_KEY:-${FALLBACK_KEY}}\"", "api_key: k, timeout_ms: 1:30, price: {input: 1:30, output: 1}")
        .replace("model: m}", "model: 0777}");
    ConfigException e = assertThrows(ConfigException.class, () -> {
      RoutewiseConfig c = new ConfigLoader(Map.of()).parse(yaml, "config.yaml");
      throw new AssertionError("accepted: port " + c.server().port() + ", grace " + c.server().shutdownGrace()
          + ", max_body_bytes " + c.server().maxBodyBytes() + ", timeout " + c.strong().timeout());
    });
    for (String key : java.util.List.of("server.port", "server.shutdown_grace_ms", "server.max_body_bytes",
        "upstreams.strong.timeout_ms", "upstreams.strong.price.input")) {
      assertTrue(e.getMessage().contains(key + ": must be written in decimal"), e.getMessage());
    }
    assertTrue(e.getMessage().contains("server.shutdown_grace_ms: must be written in decimal, got '025000'"), e.getMessage());
    assertTrue(!e.getMessage().contains("upstreams.weak.model"), "text takes it as written: " + e.getMessage());
    RoutewiseConfig decimal = new ConfigLoader(Map.of()).parse(YAML.replace("port: 7000}", "port: 7_000}")
        .replace("api_key: \"${PRIMARY_KEY:-${FALLBACK_KEY}}\"", "api_key: k").replace("model: m}", "model: 0777}"),
        "config.yaml");
    assertTrue(decimal.server().port() == 7000, "1_000 is decimal: " + decimal.server().port());
    assertTrue(decimal.weak().model().equals("0777"), "a model id as written, not 511: " + decimal.weak().model());
  }
}
