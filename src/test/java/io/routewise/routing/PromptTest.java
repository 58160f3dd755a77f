package io.routewise.routing;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class PromptTest {
  /** Invisible text went to the router, which read it as a sure win for the cheapest upstream (fuzz trial). */
  @Test
  void onlyWhiteSpaceControlAndInvisibleCharactersAreNoText() {
    for (String none : new String[] {"", "   ", "\t\n\r", "\u3000\u2003", "\u2028", "\u00a0\u00a0", "\u200b",
        "\ufeff", "\u0085", "\u0000", "\u000b\u001c", " \u200d ", "\u0301\u0302", "\ufe0f", "\u20dd", "\ud800", "\ufffd", "\ue000", "\u0903"}) {
      assertFalse(Prompt.of(none).hasText(), () -> "text in " + none.codePoints().mapToObj(Integer::toHexString).toList());
    }
    for (String some : new String[] {"a", " ?", "\u00a0x", "😀", "\ud835\udc07", "e\u0301", "\u0645\u200c\u06cc", "中"}) {
      assertTrue(Prompt.of(some).hasText(), () -> "no text in " + some.codePoints().mapToObj(Integer::toHexString).toList());
    }
  }
}
