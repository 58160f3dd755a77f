package io.routewise.upstream;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The shape an answer without usage must have to pass as a chat completion. */
class UsageTest {
  private static boolean shaped(String body) {
    return Usage.looksLikeJson(body.getBytes(StandardCharsets.UTF_8));
  }

  @Test
  void aWholeObjectPassesWhateverItsStringsHold() {
    assertTrue(shaped("{\"choices\":[{\"message\":{\"content\":\"a } or ] or \\\" or \\\\\"}}]}")); // brackets in text
    assertTrue(shaped("\uFEFF  {\"a\": [1, {\"b\": []}]}\n"));
    assertTrue(shaped("data: {\"choices\":[]}\n\n")); // a stream under another content type
  }

  /** A body cut off right after an inner brace had braces at both ends and passed as an answer. */
  @Test
  void aBodyCutAfterAnInnerBraceOrTwoValuesDoNot() {
    assertFalse(shaped("{\"choices\":[{\"message\":{\"content\":\"hi\"}}"));
    assertFalse(shaped("{\"choices\":[{\"message\":{\"content\":\"hi}"));
    assertFalse(shaped("{\"a\":1} {\"b\":2}"));
    assertFalse(shaped("{\"a\":[1}}"));
    assertFalse(shaped("{\"a\":\"unclosed}"));
    assertFalse(shaped("<html></html>"));
  }
}
