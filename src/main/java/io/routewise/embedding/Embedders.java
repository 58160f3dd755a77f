package io.routewise.embedding;

import io.routewise.config.ConfigNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The process-wide {@link EmbedderSource}, the one place embedders are made: per model id one ONNX
 * session (a sentence model of {@link EmbeddingModel}) or one static table (a directory under
 * {@code models_dir} made by {@code routewise distill}), created on first use with the configured
 * settings, closed with this source at shutdown. An ONNX model gets one LRU cache in front
 * ({@link CachingEmbedder}); a static table none: looking a prompt up (a SHA-256 of its text and a
 * lock) costs more than embedding it.
 *
 * <p>There is no global instance: the owner (serve, a CLI command, a test) creates one and closes it.
 */
public final class Embedders implements EmbedderSource, AutoCloseable {
  private final EmbeddingSettings settings;
  private final Map<String, Embedder> byId = new ConcurrentHashMap<>();

  public Embedders(EmbeddingSettings settings) {
    this.settings = settings;
  }

  /** Reads the {@code embedding:} config node (problems go to the node's problem list). */
  public static Embedders fromConfig(ConfigNode embedding, Path modelsDir) {
    return new Embedders(EmbeddingSettings.from(embedding, modelsDir));
  }

  public EmbeddingSettings settings() {
    return settings;
  }

  @Override
  public String defaultModelId() {
    return settings.model();
  }

  /**
   * The shared embedder for {@code modelId}: a sentence model's id ({@link EmbeddingModel#ids()}) or a
   * static table's directory name under the models directory.
   *
   * @throws IllegalArgumentException for an id that names neither
   * @throws UncheckedIOException for a static table that cannot be read (the message names the file)
   */
  @Override
  public Embedder get(String modelId) {
    return byId.computeIfAbsent(modelId, id -> {
      String unknown = EmbeddingSettings.unknownModel(id, settings.modelsDir());
      if (unknown != null) {
        throw new IllegalArgumentException("unknown embedding model " + unknown);
      }
      Embedder e;
      var onnx = EmbeddingModel.byId(id);
      if (onnx.isPresent()) {
        EmbeddingModel model = onnx.get();
        e = OnnxEmbedder.load(model, Math.min(settings.maxTokens(), model.maxPositions()),
            settings.truncation(), settings.threads(), settings.filesDir());
        if (settings.storeDir() != null) {
          e = new EmbeddingStore(e, settings.storeDir().resolve(settings.vectorsId(id) + ".bin"));
        }
        return new CachingEmbedder(e, settings.cacheEntries());
      }
      try {
        return StaticEmbedder.load(id, settings.modelsDir().resolve(id));
      } catch (IOException ex) {
        throw new UncheckedIOException(ex.getMessage(), ex);
      }
    });
  }

  /** The embedders created so far (by the routers that loaded), by model id. */
  public Map<String, Embedder> loaded() {
    return Map.copyOf(byId);
  }

  /** The ONNX embedder behind {@code modelId}, for token-level access (e.g. a BERT router's head). */
  public OnnxEmbedder onnx(String modelId) {
    if (!(get(modelId) instanceof CachingEmbedder cache)) {
      throw new IllegalArgumentException(modelId + " is a static table, not an ONNX model");
    }
    Embedder e = cache.delegate();
    return (OnnxEmbedder) (e instanceof EmbeddingStore s ? s.delegate() : e);
  }

  @Override
  public void close() {
    byId.values().forEach(Embedder::close);
    byId.clear();
  }
}
