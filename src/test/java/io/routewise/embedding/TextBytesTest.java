package io.routewise.embedding;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class TextBytesTest {

  /** Tells "2+2?" from "2+2" and a lone surrogate, as MiniLM's tokenizer does ('?' is a token, the half pair nothing). */
  private static final class CountsQuestionMarks implements Embedder {
    @Override
    public float[] embed(String text) {
      return new float[] {text.length(), text.chars().filter(c -> c == '?').count()};
    }

    @Override
    public int dimension() {
      return 2;
    }

    @Override
    public String modelId() {
      return "counts";
    }
  }

  @Test
  void aPromptWithHalfASurrogatePairDoesNotShareACachedVectorWithTheOneWithAQuestionMarkThere() {
    Embedder raw = new CountsQuestionMarks();
    try (CachingEmbedder cache = new CachingEmbedder(raw, 100)) {
      cache.embed("What is 2+2\uD800"); // another client's request, first
      assertArrayEquals(raw.embed("What is 2+2?"), cache.embed("What is 2+2?"), "what was asked before changed it");
    }
  }

  @Test
  void wellFormedTextKeepsItsUtf8BytesAndLoneHalvesAreTheirOwn() {
    for (String s : List.of("", "plain", "naïve 日本 😀 end", "😀😀")) {
      assertArrayEquals(s.getBytes(StandardCharsets.UTF_8), TextBytes.of(s), s); // stored keys stay valid
    }
    assertArrayEquals(new byte[] {'a', (byte) 0xED, (byte) 0xA0, (byte) 0x80, 'b'}, TextBytes.of("a\uD800b"));
    assertArrayEquals(new byte[] {(byte) 0xED, (byte) 0xB0, (byte) 0x80, (byte) 0xF0, (byte) 0x9F, (byte) 0x98,
        (byte) 0x80}, TextBytes.of("\uDC00😀"));
    assertFalse(java.util.Arrays.equals(TextBytes.of("x\uD800"), TextBytes.of("x\uDC00")));
    assertFalse(java.util.Arrays.equals(TextBytes.of("x\uD800"), TextBytes.of("x?")));
  }

  @Test
  void textAfterALoneHalfIsUtf8AndCostsNoObjectACharacter() {
    byte[] half = {(byte) 0xED, (byte) 0xA0, (byte) 0x80};
    for (String s : List.of("plain", "naïve 日本 😀 end", "é\u07FF\u0800\uFFFF", "\uDBFF\uDFFF")) {
      byte[] utf8 = s.getBytes(StandardCharsets.UTF_8);
      byte[] expected = java.util.Arrays.copyOf(half, 3 + utf8.length);
      System.arraycopy(utf8, 0, expected, 3, utf8.length);
      assertArrayEquals(expected, TextBytes.of("\uD800" + s), s);
    }
    // One lone half at the start of a long prompt (the cache's key is taken on the request path, of the
    // whole prompt): the bytes of one array or two, not a String and a byte[] for each character
    var threads = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
    assumeTrue(threads.isThreadAllocatedMemorySupported() && threads.isThreadAllocatedMemoryEnabled());
    String prompt = "\uD800" + "a".repeat(1_000_000);
    TextBytes.of(prompt); // loaded and compiled enough
    long before = threads.getCurrentThreadAllocatedBytes();
    byte[] key = TextBytes.of(prompt);
    long allocated = threads.getCurrentThreadAllocatedBytes() - before;
    assertEquals(3 + 1_000_000, key.length);
    assertTrue(allocated < 8L * prompt.length(), allocated + " bytes allocated for a " + prompt.length() + "-character text");
  }
}
