package io.routewise.cli;

import io.routewise.embedding.EmbedderSource;

/** Placeholder until the ONNX embedder lands: routers that need embeddings fail to load clearly. */
final class Embedders {
  private Embedders() {}

  static EmbedderSource none() {
    return modelId -> {
      throw new IllegalStateException("no sentence embedder is available for " + modelId);
    };
  }
}
