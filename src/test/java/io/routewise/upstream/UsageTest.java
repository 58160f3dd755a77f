package io.routewise.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** An answer's usage as read, and the shape an answer without usage must have to pass as a chat completion. */
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

  private static java.util.Optional<Usage> usage(String usage) {
    return Usage.fromJson(("{\"id\":\"x\",\"usage\":" + usage + "}").getBytes(StandardCharsets.UTF_8));
  }

  /**
   * Counts are whole numbers however written; a usage whose counts cannot be read, or that has none,
   * is no usage (the answer unmetered, and counted so), where it was metered at 0 tokens: "1000" or
   * 1000.0 read as nothing, and 9.2e18 tokens added 1e14 USD to a counter that never goes back.
   */
  @Test
  void countsAreWholeNumbersHoweverWrittenAndAnUnreadableUsageIsNone() {
    assertEquals(java.util.Optional.of(new Usage(1000, 20)), usage("{\"prompt_tokens\":1000,\"completion_tokens\":20}"));
    assertEquals(java.util.Optional.of(new Usage(1000, 20)), usage("{\"prompt_tokens\":1000.0,\"completion_tokens\":\"20\"}"));
    assertEquals(java.util.Optional.of(new Usage(1000, 20, 400)), usage("{\"prompt_tokens\":1e3,\"completion_tokens\":20,"
        + "\"prompt_tokens_details\":{\"cached_tokens\":\"400\",\"audio_tokens\":null}}"));
    assertEquals(java.util.Optional.of(new Usage(0, 20)), usage("{\"prompt_tokens\":-5,\"completion_tokens\":20}"),
        "a negative count is none, as before");
    assertEquals(java.util.Optional.of(new Usage(1000, 20)), usage("{\"input_tokens\":1000,\"output_tokens\":20}"));
    for (String unreadable : new String[] {"{}", "{\"prompt_tokens\":\"lots\",\"completion_tokens\":20}",
        "{\"prompt_tokens\":10.5,\"completion_tokens\":20}", "{\"prompt_tokens\":[1],\"completion_tokens\":20}",
        "{\"prompt_tokens\":9223372036854775807,\"completion_tokens\":9223372036854775807}",
        "{\"prompt_tokens\":100,\"completion_tokens\":20,\"completion_tokens_details\":{\"reasoning_tokens\":\"some\"}}",
        "{\"total_tokens\":1e23}"}) {
      assertEquals(java.util.Optional.empty(), usage(unreadable), unreadable);
    }
    assertEquals(java.util.Optional.of(new Usage(0, 0)), usage("{\"total_tokens\":0}"), "a count of none is a count");
  }
}
