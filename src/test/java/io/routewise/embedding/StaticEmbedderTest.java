package io.routewise.embedding;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The shipped distilled table ({@code models/minilm-l6-static}) behind {@link StaticEmbedder}. */
class StaticEmbedderTest {
  static final String ID = "minilm-l6-static";
  static final Path TABLE = Path.of("models", ID);
  static Embedders embedders;
  static StaticEmbedder embedder;
  static StaticTable table;

  @TempDir
  Path tmp;

  @BeforeAll
  static void load() throws IOException {
    embedders = new Embedders(EmbeddingSettings.defaults().withCacheEntries(0));
    embedder = (StaticEmbedder) embedders.get(ID);
    table = StaticTable.read(TABLE);
  }

  @AfterAll
  static void close() {
    embedders.close();
  }

  private static double cos(float[] a, float[] b) {
    return OnnxEmbedderTest.cos(a, b);
  }

  /** The shipped table read without its token budget: every token of a text. */
  private static StaticEmbedder everyToken() {
    return new StaticEmbedder("every-token", "none", table.withTokenBudget(StaticTable.TokenBudget.ALL),
        embedder.tokenizer());
  }

  /**
   * serve's default embedding, the static table, needs nothing unpacked: its tokenizer is read from
   * the jar, so files_dir (a directory another user may have made first) is never made or read.
   */
  @Test
  void theDefaultTableUsesNothingUnderFilesDir() {
    EmbeddingSettings d = EmbeddingSettings.defaults();
    Path filesDir = tmp.resolve("files");
    try (Embedders own = new Embedders(new EmbeddingSettings(d.model(), d.maxTokens(), d.truncation(), d.threads(), 0,
        filesDir, d.modelsDir(), null))) {
      assertArrayEquals(embedder.embed("hello world"), own.get(ID).embed("hello world"));
    }
    assertFalse(Files.exists(filesDir), filesDir + " was made");
  }

  @Test
  void aPromptsVectorIsTheNormalizedWeightedSumOfItsTokensRows() {
    assertIsWeightedSumOfRows(embedder,
        "Explain, step by step, why the derivative of x² is 2x — and cite Newton's Principia (1687).");
  }

  @Test
  void aLongPromptsVectorIsTheSumOfItsFirstAndLastTokensRows() {
    String prompt = "Read the contract below. " + "Clause: the tenant pays rent monthly, on time. ".repeat(100)
        + "Which clause is missing?";
    assertTrue(embedder.tokenizer().count(prompt) > 1_000);
    assertEquals(new StaticTable.TokenBudget(63, 63), table.tokenBudget(), "the shipped table's budget");
    assertIsWeightedSumOfRows(embedder, prompt);
  }

  @Test
  void aLongPromptWhoseDistinctTokensAreCountedGivesTheSameSum() {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < 300; i++) { // repeats, and new tokens all the way
      b.append("Step ").append(i).append(": the ").append(i % 7 == 0 ? "zeta" : "alpha").append(" value is ")
          .append(i * 37 % 1001).append(". ");
    }
    String prompt = b.toString();
    assertTrue(embedder.tokenizer().count(prompt) > 2 * StaticEmbedder.COUNT_FROM);
    assertIsWeightedSumOfRows(everyToken(), prompt);
  }

  /**
   * Against the plain sum, in order and in doubles, of the weight times the row of every token the
   * table's budget keeps of the whole tokenization.
   */
  private static void assertIsWeightedSumOfRows(StaticEmbedder embedder, String prompt) {
    int[] all = embedder.tokenizer().ids(prompt);
    StaticTable.TokenBudget budget = StaticTable.TokenBudget.ALL;
    if (embedder.inputRule().startsWith("first")) {
      budget = table.tokenBudget();
    }
    int[] ids = budget.cut(java.util.Arrays.copyOfRange(all, 1, all.length - 1)); // without [CLS] and [SEP]
    double[] sum = new double[table.dimension()];
    for (int id : ids) {
      float[] row = table.vector(id);
      for (int d = 0; d < sum.length; d++) {
        sum[d] += (double) table.tokenWeights()[id] * row[d];
      }
    }
    double norm = Math.sqrt(java.util.Arrays.stream(sum).map(x -> x * x).sum());
    float[] v = embedder.embed(prompt);
    assertEquals(table.dimension(), v.length);
    for (int d = 0; d < v.length; d++) {
      assertEquals(sum[d] / norm, v[d], 1e-5, "dimension " + d);
    }
    assertEquals(1.0, cos(v, v), 1e-5);
  }

  @Test
  void aPlainMeanAndAWeightedTableEachGiveTheNormalizedSumOfTheirRowsFoldedOrNot() {
    WordPieceTokenizer tok = embedder.tokenizer();
    int vocab = tok.vocabSize();
    int dim = 8;
    java.util.Random rnd = new java.util.Random(5);
    byte[] rows = new byte[vocab * dim];
    rnd.nextBytes(rows);
    float[] scales = new float[dim];
    for (int d = 0; d < dim; d++) {
      scales[d] = 0.01f * (d + 1);
    }
    float[] ones = new float[vocab];
    java.util.Arrays.fill(ones, 1f);
    float[] varied = new float[vocab];
    float[] zeroOrOne = ones.clone(); // as the shipped table: 0 for [PAD] (id 0) and a few others
    for (int t = 0; t < vocab; t++) {
      varied[t] = 0.5f + rnd.nextFloat();
      if (t == 0 || rnd.nextInt(30) == 0) {
        zeroOrOne[t] = 0f;
      }
    }
    float[] matrix = new float[3 * dim]; // k = 3 rows to fold
    for (int i = 0; i < matrix.length; i++) {
      matrix[i] = (float) rnd.nextGaussian();
    }
    String prompt = "Explain, step by step, why the sky is blue; [PAD] then do it again for sunsets and rainbows.";
    int[] ids = tok.ids(prompt);
    assertTrue(java.util.Arrays.stream(ids).anyMatch(id -> id == 0), "a literal [PAD] is token 0, which weighs 0");
    for (float[] weights : List.of(ones, zeroOrOne, varied)) { // 0/1 weights: summed without them, folded
      StaticTable t = StaticTable.ofInt8(vocab, dim, rows, scales, weights, "all-minilm-l6-v2-q");
      StaticEmbedder e = new StaticEmbedder("test", "none", t, tok);
      assertEquals(weights != varied, e.sumsWithoutWeights(e.fold(matrix, 3)));
      double[] sum = new double[dim];
      for (int i = 1; i < ids.length - 1; i++) {
        for (int d = 0; d < dim; d++) {
          sum[d] += (double) weights[ids[i]] * rows[ids[i] * dim + d] * scales[d];
        }
      }
      double norm = Math.sqrt(java.util.Arrays.stream(sum).map(x -> x * x).sum());
      float[] v = e.embed(prompt);
      float[] projected = new float[3];
      float[] folded = e.embed(prompt, e.fold(matrix, 3), projected);
      for (int d = 0; d < dim; d++) {
        assertEquals(sum[d] / norm, v[d], 1e-5, "dimension " + d);
        assertEquals(v[d], folded[d], 1e-6, "folded, dimension " + d);
      }
      for (int j = 0; j < 3; j++) {
        double mv = 0;
        for (int d = 0; d < dim; d++) {
          mv += matrix[j * dim + d] * sum[d] / norm;
        }
        assertEquals(mv, projected[j], 0.02 * (1 + Math.abs(mv)), "folded product " + j);
      }
    }
  }

  @Test
  void theShippedTableFoldedSumsItsRowsWithoutWeights() {
    // its weights are 1, and 0 for [PAD] and the unused pieces, whose rows the fold's copy zeroes
    assertTrue(embedder.sumsWithoutWeights(embedder.fold(new float[2 * table.dimension()], 2)));
  }

  /**
   * The fold gives, bit for bit, the sums as written out inline (a token's row times the matrix, over
   * the dimensions in order), so mf's decisions do not move with how the loop is arranged.
   */
  @Test
  void theFoldIsTheInlineSumBitForBit() {
    int dim = table.dimension();
    int k = 66; // mf's: 2 x rank 33
    float[] matrix = new float[k * dim];
    java.util.Random random = new java.util.Random(7);
    for (int i = 0; i < matrix.length; i++) {
      matrix[i] = (float) random.nextGaussian();
    }
    StaticEmbedder.Folded folded = embedder.fold(matrix, k);
    byte[] int8 = table.int8();
    float[] scales = table.scales();
    float[] weights = table.tokenWeights();
    int vocab = table.vocabSize();
    float[] sums = new float[vocab * k];
    float[] max = new float[k];
    for (int t = 0; t < vocab; t++) {
      for (int j = 0; j < k; j++) {
        float sum = 0;
        for (int d = 0; d < dim; d++) {
          sum += int8[t * dim + d] * (matrix[j * dim + d] * scales[d]);
        }
        sums[t * k + j] = sum;
        max[j] = Math.max(max[j], Math.abs(sum));
      }
    }
    float[] foldScales = new float[k];
    for (int j = 0; j < k; j++) {
      foldScales[j] = max[j] > 0 ? max[j] / 127f : 1f;
    }
    assertArrayEquals(foldScales, folded.scales());
    int width = folded.width();
    for (int t = 0; t < vocab; t++) {
      if (weights[t] == 0f) {
        continue; // not summed, so not kept (theShippedTableFoldedSumsItsRowsWithoutWeights)
      }
      for (int j = 0; j < k; j++) {
        assertEquals((byte) Math.round(sums[t * k + j] / foldScales[j]), folded.rows()[t * width + dim + j],
            "token " + t + ", row " + j);
      }
    }
  }

  @Test
  void theSourceGivesTheTableUnderItsDirectoryNameWithItsDigest() throws IOException {
    Embedder e = embedders.get(ID);
    assertSame(e, embedders.get(ID));
    assertEquals(ID, e.modelId());
    assertEquals(StaticTable.manifestOf(TABLE).path("digest").asText(), e.fingerprint());
    assertEquals(table.dimension(), e.dimension());
  }

  @Test
  void everyTokenOfALongPromptCountsWithNoBudget() {
    StaticEmbedder every = everyToken();
    String body = "The committee reviewed the quarterly figures and the audit trail in detail. ".repeat(400);
    assertTrue(embedder.tokenizer().count(body) > 5_000);
    float[] a = every.embed(body + "Summarize the findings about cardiology.");
    float[] b = every.embed(body + "Summarize the findings about astronomy.");
    assertFalse(java.util.Arrays.equals(a, b), "the last word, past 5,000 tokens, changes the vector");
    assertTrue(cos(a, b) > 0.99, "one token of 5,000 changes it a little: " + cos(a, b));
    String middle = body.substring(0, body.length() / 2) + "Cardiology. " + body.substring(body.length() / 2);
    assertFalse(java.util.Arrays.equals(every.embed(body), every.embed(middle)), "and so does one in the middle");
  }

  @Test
  void withTheShippedBudgetTheHeadAndTheTailCountAndTheMiddleDoesNot() {
    String body = "The committee reviewed the quarterly figures and the audit trail in detail. ".repeat(400);
    String end = "Summarize the findings about cardiology.";
    float[] plain = embedder.embed(body + end);
    assertFalse(java.util.Arrays.equals(plain, embedder.embed(body + "Summarize the findings about astronomy.")),
        "the last tokens count");
    assertFalse(java.util.Arrays.equals(plain, embedder.embed("Cardiology: " + body + end)), "the first ones count");
    String middle = body.substring(0, body.length() / 2) + "Cardiology. " + body.substring(body.length() / 2);
    assertArrayEquals(plain, embedder.embed(middle + end), "a word 2,500 tokens in is not read");
  }

  /**
   * The budget's ids, read from the head and a window at the end without tokenizing the middle, are
   * those of tokenizing the whole text (cut by characters past the bound, as MiniLM's reading cuts
   * it) and cutting: on every shared prompt and on texts built to break it (one run longer than the
   * budget, special tokens, no space near the end, a budget of one side only). With the shipped
   * budget every one of them is within the bound, so there they are the whole text's exactly.
   */
  @Test
  void aBudgetsIdsAreTheWholeTokenizationCut() throws Exception {
    List<String> texts = new ArrayList<>(WordPieceTokenizerTest.sharedPrompts());
    texts.addAll(List.of("", "   ", "x".repeat(5_000), "a b ".repeat(3_000),
        "[CLS] [SEP] ".repeat(200) + "hello[MASK]world ".repeat(100), "ab".repeat(2_000) + " " + "cd ".repeat(300),
        "cd ".repeat(300) + "ab".repeat(2_000), "word ".repeat(126), "word ".repeat(127), "é ".repeat(90) + "naïve".repeat(400),
        "\u4e2d\u6587 ".repeat(300)));
    WordPieceTokenizer tok = embedder.tokenizer();
    int[][] budgets = {{63, 63}, {128, 0}, {0, 128}, {1, 1}, {32, 96}, {1, 0}, {0, 1}};
    for (int[] b : budgets) {
      StaticTable.TokenBudget budget = new StaticTable.TokenBudget(b[0], b[1]);
      StaticEmbedder e = new StaticEmbedder("cut", "none", table.withTokenBudget(budget), tok);
      for (String t : texts) {
        String read = (b[1] > 0 ? Truncation.HEAD_TAIL : Truncation.HEAD).trimText(t, b[0] + b[1]);
        assertTrue(!budget.equals(table.tokenBudget()) || read.equals(t), "within the shipped budget's bound");
        int[] all = tok.ids(read);
        int[] want = budget.cut(java.util.Arrays.copyOfRange(all, 1, all.length - 1));
        assertArrayEquals(want, e.tokenIds(t), () -> "budget " + budget + ", text of " + t.length() + " chars");
      }
    }
  }

  /**
   * Past the character bound (64 a token each side), the ends are read from the text's first and
   * last characters: a megabyte without a space reads as its first and last 8,064 characters; an
   * ordinary long text, whose 63 tokens at each end span far fewer, still gives its exact ids.
   */
  @Test
  void aTextPastTheCharacterBoundIsReadFromItsFirstAndLastCharacters() {
    WordPieceTokenizer tok = embedder.tokenizer();
    StaticTable.TokenBudget budget = table.tokenBudget();
    String blob = "QmFzZTY0+/" .repeat(100_000); // 1 MB, no space: one run of text
    String trimmed = Truncation.HEAD_TAIL.trimText(blob, budget.head() + budget.tail());
    assertTrue(trimmed.length() < 20_000);
    int[] want = tok.ids(trimmed);
    assertArrayEquals(budget.cut(java.util.Arrays.copyOfRange(want, 1, want.length - 1)), embedder.tokenIds(blob));
    // Where 63 tokens do span more than the bound (120 words of 150 letters, each one [UNK]), the
    // cut shows: the 54th word is read as its first 61 letters, in pieces.
    String unknowns = ("y".repeat(150) + " ").repeat(120);
    int[] cutText = tok.ids(Truncation.HEAD_TAIL.trimText(unknowns, 126));
    int[] whole = tok.ids(unknowns);
    int[] read = embedder.tokenIds(unknowns);
    assertArrayEquals(budget.cut(java.util.Arrays.copyOfRange(cutText, 1, cutText.length - 1)), read);
    assertFalse(java.util.Arrays.equals(budget.cut(java.util.Arrays.copyOfRange(whole, 1, whole.length - 1)), read));
    String prose = "The committee reviewed the quarterly figures and the audit trail in detail. ".repeat(2_000);
    int[] all = tok.ids("Dear board, " + prose + "Which figure was wrong?");
    assertArrayEquals(budget.cut(java.util.Arrays.copyOfRange(all, 1, all.length - 1)),
        embedder.tokenIds("Dear board, " + prose + "Which figure was wrong?"));
  }

  @Test
  void theBudgetIsInTheManifestAndTheDigestAndATableWithoutOneReadsEveryToken() throws IOException {
    JsonNode m = StaticTable.manifestOf(TABLE);
    assertEquals(63, m.path("token_budget").path("head").asInt());
    assertEquals(63, m.path("token_budget").path("tail").asInt());
    assertEquals("first 63 and last 63 tokens", embedder.inputRule());
    Path every = tmp.resolve("every");
    table.withTokenBudget(StaticTable.TokenBudget.ALL).write(every, new ObjectMapper().createObjectNode());
    JsonNode e = StaticTable.manifestOf(every);
    assertTrue(e.path("token_budget").isMissingNode(), "no budget written: what tables before budgets said");
    assertEquals(1, e.path("format_version").asInt(), "and their format");
    assertEquals(2, m.path("format_version").asInt());
    assertFalse(e.path("digest").asText().equals(m.path("digest").asText()), "same rows, another reading: another digest");
    assertEquals(StaticTable.TokenBudget.ALL, StaticTable.read(every).tokenBudget());
    Path other = tmp.resolve("other");
    table.withTokenBudget(new StaticTable.TokenBudget(64, 62)).write(other, new ObjectMapper().createObjectNode());
    assertFalse(StaticTable.manifestOf(other).path("digest").asText().equals(m.path("digest").asText()));
    assertEquals(new StaticTable.TokenBudget(64, 62), StaticTable.read(other).tokenBudget());
  }

  @Test
  void aTableWhoseBudgetWasEditedOrIsMalformedIsRefused() throws IOException {
    ObjectMapper json = new ObjectMapper();
    Path copy = copyTable();
    ObjectNode m = (ObjectNode) json.readTree(copy.resolve("manifest.json").toFile());
    ((ObjectNode) m.get("token_budget")).put("tail", 200);
    json.writeValue(copy.resolve("manifest.json").toFile(), m);
    var e = assertThrows(IOException.class, () -> StaticTable.read(copy));
    assertTrue(e.getMessage().contains("digest"), e.getMessage());
    ((ObjectNode) m.get("token_budget")).put("tail", -1);
    json.writeValue(copy.resolve("manifest.json").toFile(), m);
    e = assertThrows(IOException.class, () -> StaticTable.read(copy));
    assertTrue(e.getMessage().contains("token_budget"), e.getMessage());
    ((ObjectNode) m.get("token_budget")).put("tail", 63);
    m.put("format_version", 1); // what a build before budgets reads as "every token": refused both ways
    json.writeValue(copy.resolve("manifest.json").toFile(), m);
    e = assertThrows(IOException.class, () -> StaticTable.read(copy));
    assertTrue(e.getMessage().contains("format_version 1") && e.getMessage().contains("token_budget"), e.getMessage());
    m.put("format_version", 2);
    m.remove("token_budget");
    json.writeValue(copy.resolve("manifest.json").toFile(), m);
    e = assertThrows(IOException.class, () -> StaticTable.read(copy));
    assertTrue(e.getMessage().contains("needs a token_budget"), e.getMessage());
  }

  @Test
  void paraphrasesAreCloserThanUnrelatedPrompts() {
    float[] a = embedder.embed("How do I reverse a linked list in Java?");
    float[] b = embedder.embed("What is the way to invert a singly linked list using Java?");
    float[] c = embedder.embed("Write a short poem about autumn leaves falling in the park.");
    assertTrue(cos(a, b) > cos(a, c) + 0.2, "paraphrase " + cos(a, b) + " vs unrelated " + cos(a, c));
  }

  @Test
  void aTextWithNoTokenEmbedsAsTheZeroVector() {
    for (String empty : List.of("", "   \n\t", "\u200b")) {
      float[] v = embedder.embed(empty);
      assertEquals(0.0, cos(v, v), 0.0, "'" + empty + "'");
    }
  }

  @Test
  void aTableIsNotCpuBoundAndHasNoCacheInFrontEvenWhenOneIsConfigured() {
    try (Embedders withCache = new Embedders(EmbeddingSettings.defaults().withCacheEntries(100))) {
      Embedder e = withCache.get(ID);
      assertTrue(e instanceof StaticEmbedder, "a lookup would cost more than the embedding: " + e);
      assertFalse(e.cpuBound());
      assertNull(e.cached("a prompt"), "nothing is cached, nothing computed");
      assertTrue(withCache.get("all-minilm-l6-v2-q").cpuBound());
    }
  }

  @Test
  void int8RowsStayWithinOnePercentOfTheFloatRowsTheyWereMadeFrom() {
    StaticTable floats = StaticTable.ofFloats(3, 4, new float[] {0.5f, -1f, 0.25f, 0f, 0, 0, 0, 0, 3f, 2f, -1f, 0.1f},
        new float[] {1, 1, 1}, "all-minilm-l6-v2-q");
    StaticTable q = floats.quantized();
    assertTrue(q.isInt8());
    for (int t = 0; t < 3; t++) {
      float[] a = floats.vector(t);
      float[] b = q.vector(t);
      for (int d = 0; d < 4; d++) {
        assertEquals(a[d], b[d], 0.01 * Math.max(1e-6, Math.abs(a[0]) + Math.abs(a[1]) + Math.abs(a[2]) + Math.abs(a[3])));
      }
    }
    assertArrayEquals(new float[4], q.vector(1), "a zero row stays zero");
  }

  @Test
  void aTableWhoseFilesNoLongerMatchTheirDigestIsRefused() throws IOException {
    Path copy = copyTable();
    byte[] v = Files.readAllBytes(copy.resolve("vectors.i8"));
    v[12345] ^= 1;
    Files.write(copy.resolve("vectors.i8"), v);
    var e = assertThrows(IOException.class, () -> StaticTable.read(copy));
    assertTrue(e.getMessage().contains("digest") && e.getMessage().contains("manifest.json"), e.getMessage());
  }

  @Test
  void aTableWrittenWithANonFiniteValueIsRefusedNamingIt() throws IOException {
    // its digest matches (it was written so): every prompt holding that token would embed as NaN
    Path nan = tmp.resolve("nan");
    StaticTable.ofFloats(2, 2, new float[] {1, 0, 0, 1}, new float[] {1, Float.NaN}, "all-minilm-l6-v2-q")
        .write(nan, new ObjectMapper().createObjectNode());
    var e = assertThrows(IOException.class, () -> StaticTable.read(nan));
    assertTrue(e.getMessage().contains("token_weights value 1 is NaN"), e.getMessage());
  }

  @Test
  void aTableMadeWithAnotherTokenizerIsRefused() throws IOException {
    Path copy = copyTable();
    ObjectMapper json = new ObjectMapper();
    ObjectNode m = (ObjectNode) json.readTree(copy.resolve("manifest.json").toFile());
    ((ObjectNode) m.get("tokenizer")).put("sha256", "0".repeat(64));
    json.writeValue(copy.resolve("manifest.json").toFile(), m);
    var e = assertThrows(IOException.class, () -> StaticTable.read(copy));
    assertTrue(e.getMessage().contains("all-minilm-l6-v2-q-tokenizer.json"), e.getMessage());
  }

  @Test
  void anIdThatNamesNoModelAndNoTableIsRefusedListingWhatThereIs() {
    var e = assertThrows(IllegalArgumentException.class, () -> embedders.get("minilm-l6-statik"));
    assertTrue(e.getMessage().contains("all-minilm-l6-v2-q") && e.getMessage().contains("routewise distill"),
        e.getMessage());
    assertFalse(EmbeddingSettings.isTableName("../models/minilm-l6-static"));
  }

  private Path copyTable() throws IOException {
    Path copy = tmp.resolve(ID);
    Files.createDirectories(copy);
    List<Path> files = new ArrayList<>();
    try (var list = Files.list(TABLE)) {
      list.forEach(files::add);
    }
    for (Path f : files) {
      Files.copy(f, copy.resolve(f.getFileName()));
    }
    return copy;
  }
}
