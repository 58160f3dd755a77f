package io.routewise.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.routewise.config.Secret;
import io.routewise.config.UpstreamConfig;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** OPENAI_API_KEY set to "" passed as "no key" without a word, and every call to OpenAI was a 401. */
class KeylessUpstreamsTest {
  private static UpstreamConfig upstream(String name, String url, String key, Map<String, Secret> headers) {
    return new UpstreamConfig(name, URI.create(url), Secret.of(key), "m", Duration.ofSeconds(5), Duration.ofSeconds(5),
        headers, null, null, false);
  }

  @Test
  void anEmptyKeyToAnHttpsUpstreamIsWarnedOfAndNoneOrALocalServerIsNot() {
    List<String> warned = ServeCommand.keylessUpstreams(List.of(
        upstream("strong", "https://api.openai.com/v1", "", Map.of()),
        upstream("azure", "https://x.openai.azure.com/openai/deployments/d", "", Map.of("api-key", Secret.of("k"))),
        upstream("hosted", "https://example.com/v1", "none", Map.of()),
        upstream("weak", "http://localhost:11434/v1", "", Map.of())));
    assertEquals(List.of("upstreams.strong.api_key is empty or left out, so calls to api.openai.com carry no"
        + " credentials (no api_key line, or an environment variable set to \"\"?); write api_key: none if it needs none"),
        warned);
  }
}
