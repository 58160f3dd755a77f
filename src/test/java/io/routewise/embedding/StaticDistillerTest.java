package io.routewise.embedding;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The distillation recipe on the real MiniLM and its tokenizer, over a part of the vocabulary (the
 * whole takes ~40 s; {@code models/README.md} gives the command and says the shipped table came out
 * byte for byte the same from two runs).
 */
class StaticDistillerTest {
  static final EmbeddingModel MODEL = EmbeddingModel.MINILM_L6_Q;
  /** Every 20th token (1,527 of them), so the PCA has more rows than dimensions. */
  static final int[] TOKENS = IntStream.range(0, 30522).filter(t -> t % 20 == 0).toArray();
  static OnnxEmbedder onnx;
  static WordPieceTokenizer tokenizer;
  static float[] vectors;

  @TempDir
  Path tmp;

  @BeforeAll
  static void load() {
    onnx = OnnxEmbedder.load(MODEL, MODEL.maxPositions(), Truncation.HEAD, 1, ModelFiles.defaultDir());
    tokenizer = WordPieceTokenizer.of(MODEL);
    vectors = StaticDistiller.tokenVectors(onnx, tokenizer, TOKENS, done -> {});
  }

  @AfterAll
  static void close() {
    onnx.close();
  }

  static final List<String> CORPUS = List.of("What is the capital of France?", "Solve for x: 2x + 3 = 11.",
      "Write a haiku about the sea.", "What is the derivative of sin(x)?");

  StaticTable distill(float[] raw, StaticDistiller.Recipe recipe, ObjectNode record) {
    return StaticDistiller.distill(raw, MODEL, tokenizer, recipe, CORPUS, StaticTable.TokenBudget.ALL, record);
  }

  @Test
  void theSameTokensAndRecipeGiveTheSameBytes() throws Exception {
    float[] again = StaticDistiller.tokenVectors(onnx, tokenizer, TOKENS, done -> {});
    assertArrayEquals(vectors, again, "the forward passes are deterministic");
    StaticDistiller.Recipe recipe = new StaticDistiller.Recipe(64, StaticDistiller.Weighting.CORPUS, 1e-3, true);
    ObjectMapper json = new ObjectMapper();
    Path a = tmp.resolve("a");
    Path b = tmp.resolve("b");
    ObjectNode ra = json.createObjectNode();
    ObjectNode rb = json.createObjectNode();
    distill(vectors, recipe, ra).write(a, ra);
    distill(again, recipe, rb).write(b, rb);
    for (String f : List.of("manifest.json", "vectors.i8", "scales.f32", "token_weights.f32")) {
      assertEquals(-1, Files.mismatch(a.resolve(f), b.resolve(f)), f);
    }
    StaticTable read = StaticTable.read(a);
    assertEquals(64, read.dimension());
    assertTrue(ra.path("pca").path("explained_variance").asDouble() > 0.5, ra.toString());
  }

  @Test
  void aTokensVectorIsTheModelsOwnSentenceEmbeddingOfThatTokenAlone() {
    int dim = MODEL.dimension();
    for (String word : List.of("the", "hospital", "violin")) {
      int[] ids = tokenizer.ids(word);
      assertEquals(3, ids.length, word + " is one token");
      int id = ids[1];
      float[] raw = StaticDistiller.tokenVectors(onnx, tokenizer, new int[] {id}, done -> {});
      float[] row = java.util.Arrays.copyOfRange(raw, id * dim, (id + 1) * dim);
      assertEquals(1.0, cos(OnnxEmbedder.normalize(row), onnx.embed(word)), 1e-5, word);
    }
  }

  @Test
  void pcaAxesAreOrthonormalAndOrderedByTheVarianceTheyExplain() {
    boolean[] fit = new boolean[tokenizer.vocabSize()];
    for (int t : TOKENS) {
      fit[t] = StaticDistiller.producible(tokenizer, t);
    }
    StaticDistiller.Pca pca = StaticDistiller.pca(vectors, tokenizer.vocabSize(), MODEL.dimension(), fit);
    for (int i = 0; i < 8; i++) {
      for (int j = 0; j < 8; j++) {
        double dot = 0;
        for (int d = 0; d < MODEL.dimension(); d++) {
          dot += pca.axes()[i][d] * pca.axes()[j][d];
        }
        assertEquals(i == j ? 1.0 : 0.0, dot, 1e-9, "axes " + i + ", " + j);
      }
    }
    for (int k = 1; k < MODEL.dimension(); k++) {
      assertTrue(pca.variances()[k] <= pca.variances()[k - 1] + 1e-12, "variance " + k);
    }
    assertEquals(1.0, pca.explained(MODEL.dimension()), 1e-9);
  }

  @Test
  void jacobiFindsTheEigenvaluesOfASmallSymmetricMatrix() {
    double[][] a = {{4, 1, 0}, {1, 3, 1}, {0, 1, 2}};
    double[][] v = new double[3][3];
    double[] vals = StaticDistiller.jacobi(new double[][] {a[0].clone(), a[1].clone(), a[2].clone()}, v);
    java.util.Arrays.sort(vals);
    // eigenvalues of this tridiagonal matrix: 3 - sqrt(3), 3, 3 + sqrt(3)
    assertArrayEquals(new double[] {3 - Math.sqrt(3), 3, 3 + Math.sqrt(3)}, vals, 1e-12);
  }

  @Test
  void sifWeighsAFrequentTokenBelowARareOneAndUnusedTokensAtZero() {
    long[] counts = StaticDistiller.counts(tokenizer, CORPUS, StaticTable.TokenBudget.ALL);
    float[] w = StaticDistiller.sifWeights(tokenizer, counts, 1e-3);
    int what = tokenizer.ids("what")[1];
    int haiku = tokenizer.ids("sea")[1];
    int violin = tokenizer.ids("violin")[1];
    assertTrue(counts[what] == 2 && counts[haiku] == 1 && counts[violin] == 0);
    assertTrue(w[what] < w[haiku] && w[haiku] < w[violin], w[what] + " " + w[haiku] + " " + w[violin]);
    int unused = 1;
    assertEquals("[unused0]", tokenizer.token(unused));
    assertEquals(0f, w[unused]);
    float[] zipf = StaticDistiller.sifWeights(tokenizer, null, 1e-4);
    assertTrue(zipf[tokenizer.ids("the")[1]] < zipf[violin], "Zipf: an early (frequent) id weighs less");
  }

  /** With a token budget, corpus weighting counts the tokens the table will read, not the skipped middle. */
  @Test
  void corpusCountsWithABudgetSkipTheMiddleAsTheTableDoes() {
    String text = "what is the sea " + "rain ".repeat(40) + "violin " + "rain ".repeat(40) + "what a haiku";
    int violin = tokenizer.ids("violin")[1];
    int what = tokenizer.ids("what")[1];
    int rain = tokenizer.ids("rain")[1];
    long[] all = StaticDistiller.counts(tokenizer, List.of(text), StaticTable.TokenBudget.ALL);
    StaticTable.TokenBudget budget = new StaticTable.TokenBudget(10, 10);
    long[] cut = StaticDistiller.counts(tokenizer, List.of(text), budget);
    assertEquals(1, all[violin]);
    assertEquals(0, cut[violin], "violin sits in the skipped middle");
    assertEquals(2, cut[what]);
    assertEquals(20, java.util.Arrays.stream(cut).sum());
    assertEquals(80, all[rain]);
    int[] ids = tokenizer.ids(text);
    long readRain = java.util.Arrays.stream(budget.cut(java.util.Arrays.copyOfRange(ids, 1, ids.length - 1)))
        .filter(t -> t == rain).count();
    assertEquals(readRain, cut[rain]);
  }

  static double cos(float[] a, float[] b) {
    double s = 0;
    for (int i = 0; i < a.length; i++) {
      s += a[i] * b[i];
    }
    return s;
  }
}
