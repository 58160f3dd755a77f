package io.routewise.embedding;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class OnnxEmbedderTest {
  static Embedders embedders;

  @BeforeAll
  static void load() {
    embedders = new Embedders(EmbeddingSettings.defaults().withModel(EmbeddingModel.MINILM_L6_Q.id()).withThreads(2).withCacheEntries(100));
  }

  @AfterAll
  static void close() {
    embedders.close();
  }

  static double cos(float[] a, float[] b) {
    double s = 0;
    for (int i = 0; i < a.length; i++) {
      s += a[i] * b[i];
    }
    return s;
  }

  @Test
  void paraphrasesAreCloserThanUnrelatedPromptsForEveryShippedModel() {
    for (String id : EmbeddingModel.ids()) {
      Embedder e = embedders.get(id);
      float[] a = e.embed("How do I reverse a linked list in Java?");
      float[] b = e.embed("What is the way to invert a singly linked list using Java?");
      float[] c = e.embed("Write a short poem about autumn leaves falling in the park.");
      assertTrue(cos(a, b) > cos(a, c) + 0.2, id + ": paraphrase " + cos(a, b) + " vs unrelated " + cos(a, c));
      assertTrue(cos(a, b) > 0.7, id + ": paraphrase similarity " + cos(a, b));
    }
  }

  @Test
  void vectorsAreUnitLengthAndOfTheModelsDimension() {
    Embedder e = embedders.get("all-minilm-l6-v2-q");
    float[] v = e.embed("hello world");
    assertEquals(384, v.length);
    assertEquals(1.0, cos(v, v), 1e-4);
  }

  @Test
  void embeddingSeveralTextsGivesTheSameVectorsAsEmbeddingEachAlone() {
    OnnxEmbedder e = embedders.onnx("all-minilm-l6-v2-q");
    List<String> texts = List.of("short", "a somewhat longer sentence with more tokens in it than the first",
        "medium length text here");
    List<float[]> batch = e.embedAll(texts);
    for (int i = 0; i < texts.size(); i++) {
      assertEquals(1.0, cos(e.embed(texts.get(i)), batch.get(i)), 1e-6, texts.get(i));
    }
  }

  @Test
  void longPromptsKeepTheirHeadAndTailWithinTheTokenBudget() {
    try (OnnxEmbedder headTail = OnnxEmbedder.load(EmbeddingModel.MINILM_L6_Q, 32, Truncation.HEAD_TAIL, 1,
        ModelFiles.defaultDir());
        OnnxEmbedder head = OnnxEmbedder.load(EmbeddingModel.MINILM_L6_Q, 32, Truncation.HEAD, 1,
            ModelFiles.defaultDir())) {
      String text = "alpha ".repeat(100) + "omega";
      long[] ht = headTail.tokenIds(text);
      long[] h = head.tokenIds(text);
      assertEquals(32, ht.length);
      assertEquals(32, h.length);
      long[] omega = headTail.tokenIds("omega");
      assertEquals(omega[1], ht[30], "the last real token survives head+tail truncation");
      assertEquals(ht[31], omega[omega.length - 1], "ends with [SEP]");
      assertTrue(h[30] != omega[1], "head truncation drops the tail");
      assertEquals(103, headTail.countTokens(text));
    }
  }

  @Test
  void theSourceCreatesEachModelOnceAndTheCacheAnswersRepeats() {
    CachingEmbedder e = (CachingEmbedder) embedders.get("all-minilm-l6-v2-q");
    assertSame(e, embedders.get("all-minilm-l6-v2-q"));
    long hits = e.hits();
    float[] first = e.embed("a prompt seen twice");
    float[] second = e.embed("a prompt seen twice");
    assertSame(first, second);
    assertEquals(hits + 1, e.hits());
  }

  /**
   * Two runs sharing the store (train and eval at once, the default directory in tmpdir): each
   * appends its records, and a later run reads back the vector each text was embedded as, never a
   * mix of one run's bytes and the other's under a text's key.
   */
  @Test
  void twoRunsAppendingToOneStoreLeaveEveryVectorReadableAsItWas(@org.junit.jupiter.api.io.TempDir java.nio.file.Path tmp) {
    OnnxEmbedder onnx = embedders.onnx("all-minilm-l6-v2-q");
    Embedder plain = new ForwardingEmbedder(onnx) {
      @Override
      public float[] embed(String text) {
        return onnx.embed(text);
      }

      @Override
      public void close() {} // the shared embedder stays open for the other tests
    };
    java.nio.file.Path file = tmp.resolve("vectors.bin");
    EmbeddingStore a = new EmbeddingStore(plain, file);
    EmbeddingStore b = new EmbeddingStore(plain, file);
    java.util.Map<String, float[]> embedded = new java.util.LinkedHashMap<>();
    for (int i = 0; i < 60; i++) { // interleaved, as two processes run side by side
      String ta = "run a asks question number " + i;
      String tb = "run b asks something else, number " + i;
      embedded.put(ta, a.embed(ta));
      embedded.put(tb, b.embed(tb));
    }
    a.close();
    b.close();
    EmbeddingStore later = new EmbeddingStore(plain, file); // a text not found there is embedded again
    try (later) {
      embedded.forEach((text, v) -> assertArrayEquals(v, later.embed(text), text));
    }
  }

  /**
   * A store in a directory another user made first (train's default is under tmpdir): its vectors are
   * theirs to choose, and training on them is training on their labels' embeddings. Refused instead.
   */
  @Test
  void aStoreInADirectoryAnotherUserOwnsIsRefused(@org.junit.jupiter.api.io.TempDir java.nio.file.Path tmp)
      throws Exception {
    java.nio.file.Path dir = java.nio.file.Files.createDirectory(tmp.resolve("embeddings"));
    java.nio.file.Path file = dir.resolve("vectors.bin");
    String text = "How do I reverse a linked list in Java?";
    var planted = java.nio.ByteBuffer.allocate(16 + 4 * 384);
    planted.put(java.security.MessageDigest.getInstance("SHA-256").digest(TextBytes.of(text)), 0, 16);
    while (planted.hasRemaining()) {
      planted.putFloat(0.05f);
    }
    java.nio.file.Files.write(file, planted.array());
    ModelFilesTest.giveAway(dir);
    OnnxEmbedder onnx = embedders.onnx("all-minilm-l6-v2-q");
    Embedder plain = new ForwardingEmbedder(onnx) {
      @Override
      public float[] embed(String t) {
        return onnx.embed(t);
      }

      @Override
      public void close() {} // the shared embedder stays open for the other tests
    };
    var e = assertThrows(java.io.UncheckedIOException.class, () -> {
      try (EmbeddingStore store = new EmbeddingStore(plain, file)) {
        store.embed(text); // the planted vector, not the model's
      }
    });
    assertTrue(e.getMessage().contains(dir + " belongs to uid"), e.getMessage());
  }

  @Test
  void anUnknownModelIdIsRejectedWithTheKnownIds() {
    var ex = assertThrows(IllegalArgumentException.class, () -> embedders.get("gte-large"));
    assertTrue(ex.getMessage().contains("all-minilm-l6-v2-q"), ex.getMessage());
  }

  @Test
  void aHugePromptIsTrimmedByCharactersFirstWithoutChangingTheTokensKept() {
    OnnxEmbedder e = embedders.onnx("all-minilm-l6-v2-q");
    StringBuilder b = new StringBuilder("Question: explain the following log and say what failed first. ");
    java.util.Random rnd = new java.util.Random(3);
    String[] words = {"error", "connection", "timeout", "retrying", "ok", "user=42", "ΔT", "naïve", "😀", "x"};
    while (b.length() < 200_000) {
      b.append(words[rnd.nextInt(words.length)]).append(rnd.nextBoolean() ? " " : ", ");
    }
    b.append(" Which service failed first?");
    String text = b.toString();
    assertTrue(Truncation.HEAD_TAIL.trimText(text, e.maxTokens()).length() < 20_000);
    // tokenIdsOf applies the embedder's cut (head + tail) to the full tokenization: same ids.
    assertArrayEquals(e.tokenIdsOf(text), e.tokenIds(text));
  }

  /**
   * Half a surrogate pair (a JSON escape such as \ud800 gives one) is dropped, as the static
   * tokenizer drops it: it does not cost the prompt its emoji and every other character past U+FFFF,
   * which DJL's lossy conversion of such a string to Rust turned into nothing.
   */
  @Test
  void aLoneHalfOfASurrogatePairCostsThePromptNoOtherCharacter() {
    OnnxEmbedder e = embedders.onnx("all-minilm-l6-v2-q");
    String text = "x\uD83D\uDE00y \uD83E\uDD14 \uD835\uDC00 why";
    long[] whole = e.tokenIds(text);
    assertArrayEquals(whole, e.tokenIds(text + " \uD800"));
    assertArrayEquals(whole, e.tokenIds("\uDC00" + text));
    int[] wordPiece = WordPieceTokenizer.of(EmbeddingModel.MINILM_L6_Q).ids(text + "\uD800");
    assertArrayEquals(java.util.Arrays.stream(wordPiece).asLongStream().toArray(), e.tokenIds(text + "\uD800"));
  }
}
