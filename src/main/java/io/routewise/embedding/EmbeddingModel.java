package io.routewise.embedding;

import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * A sentence-embedding model shipped inside a Maven jar: its ONNX graph and {@code tokenizer.json}
 * as classpath resources, how its token states are pooled, and its vector size. Nothing downloads.
 */
public enum EmbeddingModel {
  /** sentence-transformers/all-MiniLM-L6-v2, int8-quantized; trained with mean pooling. */
  MINILM_L6_Q("all-minilm-l6-v2-q", "all-minilm-l6-v2-q.onnx", "all-minilm-l6-v2-q-tokenizer.json",
      Pooling.MEAN, 384, 512),
  /** BAAI/bge-small-en-v1.5, int8-quantized; trained to be read from the CLS token. */
  BGE_SMALL_Q("bge-small-en-v1.5-q", "bge-small-en-v1.5-q.onnx", "bge-small-en-v1.5-q-tokenizer.json",
      Pooling.CLS, 384, 512);

  /** How token states become one vector. */
  public enum Pooling { MEAN, CLS }

  private final String id;
  private final String onnxResource;
  private final String tokenizerResource;
  private final Pooling pooling;
  private final int dimension;
  private final int maxPositions;

  EmbeddingModel(String id, String onnxResource, String tokenizerResource, Pooling pooling, int dimension,
      int maxPositions) {
    this.id = id;
    this.onnxResource = onnxResource;
    this.tokenizerResource = tokenizerResource;
    this.pooling = pooling;
    this.dimension = dimension;
    this.maxPositions = maxPositions;
  }

  public String id() {
    return id;
  }

  public String onnxResource() {
    return onnxResource;
  }

  public String tokenizerResource() {
    return tokenizerResource;
  }

  public Pooling pooling() {
    return pooling;
  }

  public int dimension() {
    return dimension;
  }

  /** The longest input (special tokens included) the model's position table allows. */
  public int maxPositions() {
    return maxPositions;
  }

  public static Optional<EmbeddingModel> byId(String id) {
    return Arrays.stream(values()).filter(m -> m.id.equals(id)).findFirst();
  }

  public static List<String> ids() {
    return Arrays.stream(values()).map(EmbeddingModel::id).toList();
  }
}
