package io.routewise.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class SecretValuesTest {
  private static String masked(SecretValues s, String text) {
    return new String(s.masked(text.getBytes(StandardCharsets.UTF_8)), StandardCharsets.UTF_8);
  }

  @Test
  void everyOccurrenceOfEveryKeyIsMaskedTheLongestFirst() {
    SecretValues s = new SecretValues(List.of("sk-abcdefgh", "sk-abcdefgh-more", "none", "k"));
    assertEquals("a *** b *** c ***", masked(s, "a sk-abcdefgh b sk-abcdefgh-more c sk-abcdefgh"));
    assertEquals("a *** b", s.masked("a sk-abcdefgh-more b"));
    byte[] clean = "nothing here, k and none stay".getBytes(StandardCharsets.UTF_8);
    assertSame(clean, s.masked(clean), "short values are not looked for, and a body without a key is not copied");
    assertTrue(SecretValues.NONE.isEmpty());
    assertEquals("xsk-abcdefghx", masked(SecretValues.NONE, "xsk-abcdefghx"));
  }

  /** A key in base_url's query (Azure Functions' ?code=, Google's ?key=) is masked as an api_key is. */
  @Test
  void aCredentialInTheBaseUrlsQueryIsMasked() {
    io.routewise.config.UpstreamConfig u = new io.routewise.config.UpstreamConfig("strong",
        java.net.URI.create("https://fn.example.net/api/v1?code=Abc123%2Bdef456%3D%3D&api-version=2024-10-21"),
        io.routewise.config.Secret.of("none"), "m", java.time.Duration.ofSeconds(5), java.time.Duration.ofSeconds(5));
    SecretValues s = SecretValues.of(List.of(u));
    assertEquals("url ?code=*** said ***; version 2024-10-21 stays",
        s.masked("url ?code=Abc123%2Bdef456%3D%3D said Abc123+def456==; version 2024-10-21 stays"));
  }
}
