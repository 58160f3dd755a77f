package io.routewise.embedding;

import io.routewise.config.ConfigNode;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The process-wide {@link EmbedderSource}: one ONNX session and one LRU cache per model id, created
 * on first use with the configured settings, closed with this source at shutdown.
 *
 * <p>There is no global instance: the owner (serve, a CLI command, a test) creates one and closes it.
 */
public final class Embedders implements EmbedderSource, AutoCloseable {
  private final EmbeddingSettings settings;
  private final Map<String, CachingEmbedder> byId = new ConcurrentHashMap<>();

  public Embedders(EmbeddingSettings settings) {
    this.settings = settings;
  }

  /** Reads the {@code embedding:} config node (problems go to the node's problem list). */
  public static Embedders fromConfig(ConfigNode embedding) {
    return new Embedders(EmbeddingSettings.from(embedding));
  }

  public EmbeddingSettings settings() {
    return settings;
  }

  /**
   * The shared embedder for {@code modelId} (see {@link EmbeddingModel#ids()}).
   *
   * @throws IllegalArgumentException for an unknown id
   */
  @Override
  public CachingEmbedder get(String modelId) {
    EmbeddingModel model = EmbeddingModel.byId(modelId).orElseThrow(() -> new IllegalArgumentException(
        "unknown embedding model '" + modelId + "' (known: " + String.join(", ", EmbeddingModel.ids()) + ")"));
    return byId.computeIfAbsent(modelId, id -> {
      Embedder e = OnnxEmbedder.load(model, Math.min(settings.maxTokens(), model.maxPositions()),
          settings.truncation(), settings.threads(), settings.filesDir());
      if (settings.storeDir() != null) {
        e = new EmbeddingStore(e, settings.storeDir().resolve(settings.vectorsId(id) + ".bin"));
      }
      return new CachingEmbedder(e, settings.cacheEntries());
    });
  }

  /** The embedders created so far (by the routers that loaded), by model id. */
  public Map<String, CachingEmbedder> loaded() {
    return Map.copyOf(byId);
  }

  /** The ONNX embedder behind {@code modelId}, for token-level access (e.g. a BERT router's head). */
  public OnnxEmbedder onnx(String modelId) {
    Embedder e = get(modelId).delegate();
    return (OnnxEmbedder) (e instanceof EmbeddingStore s ? s.delegate() : e);
  }

  @Override
  public void close() {
    byId.values().forEach(CachingEmbedder::close);
    byId.clear();
  }
}
