package io.routewise.embedding;

/**
 * Gives routers the shared embedder for a model id, created once on first use, so that two routers
 * on the same embedding model share one ONNX session (or one static table) and one cache.
 */
@FunctionalInterface
public interface EmbedderSource {
  Embedder get(String modelId);

  /** The embedding routers use unless their own settings name another ({@code embedding.model}). */
  default String defaultModelId() {
    return EmbeddingSettings.DEFAULT_MODEL;
  }
}
