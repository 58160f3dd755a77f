package io.routewise.embedding;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The pure-Java tokenizer against DJL's (Hugging Face tokenizers through JNI) on the same tokenizer.json. */
class WordPieceTokenizerTest {
  static final Path DATA = Path.of("../shared/data");
  static Path tokenizerJson;
  static HuggingFaceTokenizer djl;
  static WordPieceTokenizer java;

  @BeforeAll
  static void load() throws Exception {
    tokenizerJson = ModelFiles.extract(EmbeddingModel.MINILM_L6_Q.tokenizerResource(), ModelFiles.defaultDir());
    djl = HuggingFaceTokenizer.builder().optTokenizerPath(tokenizerJson).optAddSpecialTokens(true)
        .optTruncation(false).optPadding(false).build();
    java = WordPieceTokenizer.load(tokenizerJson);
  }

  @AfterAll
  static void close() {
    djl.close();
  }

  static int[] djlIds(String text) {
    return Arrays.stream(djl.encode(text, true, false).getIds()).mapToInt(x -> (int) x).toArray();
  }

  /** Every prompt of the shared data files, the held-out ones included. */
  static List<String> sharedPrompts() throws Exception {
    ObjectMapper json = new ObjectMapper();
    List<String> out = new ArrayList<>();
    List<Path> files;
    try (var list = Files.list(DATA)) {
      files = list.filter(f -> f.toString().endsWith(".jsonl")).sorted().toList();
    }
    assertTrue(files.size() >= 6, "expected the six data files in " + DATA.toAbsolutePath());
    for (Path f : files) {
      try (BufferedReader r = Files.newBufferedReader(f)) {
        for (String line = r.readLine(); line != null; line = r.readLine()) {
          out.add(json.readTree(line).path("prompt").asText());
        }
      }
    }
    return out;
  }

  @Test
  void everyPromptOfTheSharedDataGetsTheIdsDjlGives() throws Exception {
    List<String> prompts = sharedPrompts();
    assertTrue(prompts.size() > 15_000, "prompts: " + prompts.size());
    int tokens = 0;
    for (String p : prompts) {
      int[] expected = djlIds(p);
      assertArrayEquals(expected, java.ids(p), () -> "prompt: " + p);
      tokens += expected.length;
    }
    assertTrue(tokens > 1_000_000, "tokens compared: " + tokens);
  }

  @Test
  void everyCodePointBetweenTwoLettersGetsTheIdsDjlGives() {
    // The whole Basic Multilingual Plane, and beyond it every code point whose category this JDK and
    // Hugging Face's tables disagree on, plus every 16th other one (the whole range takes ~15 s).
    int checked = 0;
    for (int cp = 0; cp <= 0x10FFFF; cp++) {
      if (cp >= 0xD800 && cp <= 0xDFFF) {
        continue; // a lone surrogate is not text: DJL's JNI conversion mangles the rest of such a string
      }
      if (cp > 0xFFFF && cp % 16 != 0 && WordPieceTokenizer.olderClass(cp) < 0) {
        continue;
      }
      String s = "q" + Character.toString(cp) + "Q";
      int c = cp;
      assertArrayEquals(djlIds(s), java.ids(s), () -> String.format("U+%04X", c));
      checked++;
    }
    assertTrue(checked > 120_000, "checked " + checked);
  }

  @Test
  void randomMixturesOfScriptsSpecialTokensAndControlsGetTheIdsDjlGives() {
    String[] parts = {"a", "B", "Zebra", "running", "unbelievable", "##", "#", "[", "]", "[MASK]", "[CLS]", "[mask]",
        "[SEP", "UNK]", "[PAD][UNK]", " ", "  ", "\t", "\n", "\r\n", "\u000b", "\u0000", "\u00a0", "\u2003", "\u3000",
        "é", "É", "e\u0301", "Ç", "ß", "ﬁ", "İ", "Σ", "ς", "Ä", "ñ", "中", "文", "𠀀", "😀", "👍🏽", "🥺", "\u200b",
        "\u200d", "\ufeff", "\ufffd", "\u0085", "-", "—", "'", "“", "…", "$", "^", "`", "|", "~", "123", "4.5e-3",
        "x²", "½", "∑", "→", "≤", "ｆｕｌｌ", "한국어", "русский", "Ελληνικά", "العربية", "हिन्दी", "ไทย", "\u0301",
        "\u1734", "\u166d", "a".repeat(101), "ab".repeat(60), "supercalifragilisticexpialidocious"};
    Random rnd = new Random(42);
    for (int t = 0; t < 20_000; t++) {
      StringBuilder b = new StringBuilder();
      for (int i = 1 + rnd.nextInt(12); i > 0; i--) {
        b.append(parts[rnd.nextInt(parts.length)]);
      }
      String s = b.toString();
      assertArrayEquals(djlIds(s), java.ids(s), () -> s.codePoints().mapToObj(c -> String.format("U+%04X", c)).toList().toString());
    }
  }

  @Test
  void specialTokensAreCutFromTheRawTextButTheirLowerCaseIsPlainText() {
    int[] ids = java.ids("fill the [MASK] please");
    assertEquals(103, ids[3], "[MASK] is one special token");
    int[] lower = java.ids("fill the [mask] please");
    assertTrue(lower.length > ids.length, "[mask] is punctuation and a word: " + Arrays.toString(lower));
  }

  @Test
  void everyPlainCharacterHasTheClassItsNormalizedFormHas() {
    assertEquals(-1, WordPieceTokenizer.plainClassMismatch(), "the one-pass segment would split differently");
  }

  @Test
  void aWordOverOneHundredCharactersIsOneUnknownToken() {
    assertArrayEquals(new int[] {101, 100, 102}, java.ids("a".repeat(101)));
    assertTrue(java.ids("a".repeat(100)).length > 3, "100 characters are still split into pieces");
  }

  @Test
  void accentsAndCaseDoNotChangeTheIds() {
    assertArrayEquals(java.ids("cafe resume"), java.ids("CAFÉ Résumé"));
    assertArrayEquals(java.ids("cafe"), java.ids("cafe\u0301"));
  }

  @Test
  void theCountLeavesOutClsAndSep() {
    assertEquals(java.ids("how many tokens is this").length - 2, java.count("how many tokens is this"));
  }

  @Test
  void aTokenizerJsonOfAnotherPipelineIsRefusedSayingWhatDiffers() throws Exception {
    ObjectMapper json = new ObjectMapper();
    ObjectNode t = (ObjectNode) json.readTree(tokenizerJson.toFile());
    t.putObject("normalizer").put("type", "Lowercase");
    t.putObject("pre_tokenizer").put("type", "Whitespace");
    var e = assertThrows(IllegalArgumentException.class, () -> WordPieceTokenizer.read(t, "cased.json"));
    assertTrue(e.getMessage().contains("cased.json") && e.getMessage().contains("normalizer must be BertNormalizer")
        && e.getMessage().contains("pre_tokenizer must be BertPreTokenizer"), e.getMessage());
  }

  /**
   * A character serve takes for text (Prompt.hasText) is one the tokenizer reads: one it
   * drops (U+FFFD from a broken decoding, private use) was scored as an empty prompt, a
   * sure win for the cheapest upstream, where no text goes to the top.
   */
  @Test
  void aCharacterIsTextExactlyWhenTheTokenizerReadsIt() {
    List<String> disagree = new java.util.ArrayList<>();
    for (int c = 1; c < 0x110000; c++) {
      if (Character.isSurrogate((char) c) && c <= 0xFFFF) {
        continue;
      }
      // (the other way, marks newer than the tokenizer's Unicode read as [UNK], goes to the top: safe)
      String alone = new String(Character.toChars(c));
      if (io.routewise.routing.Prompt.of(alone).hasText() && java.count(alone) == 0 && disagree.size() < 20) {
        disagree.add(Integer.toHexString(c));
      }
    }
    assertEquals(List.of(), disagree);
  }
}
