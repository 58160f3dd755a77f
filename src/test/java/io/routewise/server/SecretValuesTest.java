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
}
