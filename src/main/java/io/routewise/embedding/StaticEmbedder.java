package io.routewise.embedding;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A static sentence embedding: the weighted mean of a distilled table's token vectors
 * ({@link StaticTable}, made by {@code routewise distill}), L2-normalized. Every token of the prompt
 * counts: there is no token budget and no truncation. Tokenized by {@link WordPieceTokenizer} (the
 * ids Hugging Face's tokenizer gives), without [CLS] and [SEP].
 *
 * <p>A decision costs microseconds (tokenizing and adding a few hundred rows; ~0.1 µs a token, about
 * what parsing the JSON body it came in costs), so this embedder is not {@link #cpuBound()}: routers
 * over it score on the request thread, with no scoring thread, queue or cache. A text with no token
 * at all embeds as the zero vector.
 *
 * <p>Each token adds its weight times its int8 row to a float sum (the JIT vectorizes this loop; an
 * int sum of the bytes measured five times slower), scaled once per dimension at the end.
 *
 * <p>Immutable and safe for concurrent use; each call allocates its result, an integer sum and the
 * tokenizer's buffer (two bytes a character). Holds no native resource.
 */
public final class StaticEmbedder implements Embedder {
  private final String id;
  private final String digest;
  private final WordPieceTokenizer tokenizer;
  private final int dimension;
  private final byte[] int8;
  private final float[] float32;
  private final float[] weights;
  // One per dimension, applied once to the sum.
  private final float[] scales;

  public StaticEmbedder(String id, String digest, StaticTable table, WordPieceTokenizer tokenizer) {
    if (tokenizer.vocabSize() != table.vocabSize()) {
      throw new IllegalArgumentException(id + ": the table has " + table.vocabSize() + " tokens, the tokenizer "
          + tokenizer.vocabSize());
    }
    this.id = id;
    this.digest = digest;
    this.tokenizer = tokenizer;
    this.dimension = table.dimension();
    this.int8 = table.int8();
    this.float32 = table.float32();
    this.weights = table.tokenWeights();
    this.scales = table.scales();
  }

  /**
   * Loads the table in {@code dir} under the id {@code id} (its directory name), with the tokenizer
   * of the model it was distilled from, extracted from its jar under {@code filesDir}.
   */
  public static StaticEmbedder load(String id, Path dir, Path filesDir) throws IOException {
    StaticTable table = StaticTable.read(dir);
    EmbeddingModel model = EmbeddingModel.byId(table.tokenizerModel()).orElseThrow();
    String digest = StaticTable.digestOf(StaticTable.manifestOf(dir));
    return new StaticEmbedder(id, digest, table, WordPieceTokenizer.of(model, filesDir));
  }

  public WordPieceTokenizer tokenizer() {
    return tokenizer;
  }

  @Override
  public float[] embed(String text) {
    float[] v = new float[dimension];
    tokenizer.tokenize(text, int8 != null ? t -> addInt8(v, t) : t -> addFloat32(v, t));
    for (int d = 0; d < dimension; d++) {
      v[d] *= scales[d];
    }
    return OnnxEmbedder.normalize(v);
  }

  private void addInt8(float[] sum, int token) {
    float w = weights[token];
    int off = token * dimension;
    for (int d = 0; d < sum.length; d++) {
      sum[d] += w * int8[off + d];
    }
  }

  private void addFloat32(float[] sum, int token) {
    float w = weights[token];
    int off = token * dimension;
    for (int d = 0; d < sum.length; d++) {
      sum[d] += w * float32[off + d];
    }
  }

  /** Microseconds, linear in the prompt's length: scored on the request thread. */
  @Override
  public boolean cpuBound() {
    return false;
  }

  @Override
  public int dimension() {
    return dimension;
  }

  @Override
  public String inputRule() {
    return "all tokens";
  }

  @Override
  public String modelId() {
    return id;
  }

  @Override
  public String fingerprint() {
    return digest;
  }
}
