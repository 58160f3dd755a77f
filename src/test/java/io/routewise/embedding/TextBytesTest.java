package io.routewise.embedding;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

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
}
