package io.routewise.embedding;

import io.routewise.config.ConfigNode;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * The {@code embedding:} section of the config. Every key is optional:
 *
 * <pre>
 * embedding:
 *   model: minilm-l6-static  # the embedding routers use unless they name another (embedding_model):
 *                            # a static table under models_dir, or a sentence model of EmbeddingModel
 *   max_tokens: 128          # token budget per prompt, [CLS]/[SEP] included (8..512); sentence models only
 *   truncation: head_tail    # head | head_tail: what of a longer prompt is embedded; sentence models only
 *   threads: 2               # ONNX intra-op threads per model
 *   cache_entries: 10000     # LRU embedding cache shared by the routers (0 = off)
 *   files_dir: /tmp/routewise-USER/models   # where the ONNX graph and its tokenizer are extracted
 * </pre>
 *
 * A router's manifest names the embedding it was trained on; a router set to use another fails to
 * load. {@code modelsDir} (the top-level {@code models_dir}, not a key here) is where static tables
 * are found by their directory name. {@code storeDir} (not a config key) turns on the persistent
 * {@link EmbeddingStore} of offline commands; null for serve.
 */
public record EmbeddingSettings(
    String model, int maxTokens, Truncation truncation, int threads, int cacheEntries, Path filesDir, Path modelsDir,
    Path storeDir) {

  /**
   * The shipped static table (models/minilm-l6-static): its routers score within 0.01 APGR of
   * MiniLM's in microseconds instead of milliseconds (BENCHMARKS.md section 7).
   */
  public static final String DEFAULT_MODEL = "minilm-l6-static";
  public static final int DEFAULT_MAX_TOKENS = 128;
  public static final Truncation DEFAULT_TRUNCATION = Truncation.HEAD_TAIL;

  public static EmbeddingSettings defaults() {
    return new EmbeddingSettings(DEFAULT_MODEL, DEFAULT_MAX_TOKENS, DEFAULT_TRUNCATION,
        defaultThreads(), 10_000, ModelFiles.defaultDir(), Path.of("models"), null);
  }

  /** Two threads: measured fastest for single prompts on a 2-core box; more cores give at most 4. */
  public static int defaultThreads() {
    return Math.max(1, Math.min(4, Runtime.getRuntime().availableProcessors()));
  }

  /** Reads the section with static tables looked for under {@code models}. */
  public static EmbeddingSettings from(ConfigNode node) {
    return from(node, Path.of("models"));
  }

  /**
   * Reads the section; problems go to the node's problem list, {@code model} included when it names
   * neither a sentence model nor a static table under {@code modelsDir}. The default table is not
   * looked for here: a config whose routers need no embedding may run where it is absent (a router
   * that needs it fails to load, naming it).
   */
  public static EmbeddingSettings from(ConfigNode node, Path modelsDir) {
    return from(node, modelsDir, null);
  }

  /**
   * As {@link #from(ConfigNode, Path)}, with {@code override} (a command's {@code --embedding-model},
   * checked by the caller), when not null, in place of the section's {@code model}, which is then not
   * looked for; every other key is read and checked as serve reads it.
   */
  public static EmbeddingSettings from(ConfigNode node, Path modelsDir, String override) {
    EmbeddingSettings d = defaults();
    String model = node.string("model", d.model());
    String unknown = override == null && node.has("model") ? unknownModel(model, modelsDir) : null;
    if (unknown != null) {
      node.problem("model", unknown);
    }
    EmbeddingSettings s = new EmbeddingSettings(override != null ? override : model,
        node.integer("max_tokens", d.maxTokens(), 8, 512),
        Truncation.parse(node.oneOf("truncation", d.truncation().configName(), List.of("head", "head_tail"))),
        node.integer("threads", d.threads(), 1, 64),
        node.integer("cache_entries", d.cacheEntries(), 0, 10_000_000),
        Path.of(node.string("files_dir", d.filesDir().toString())), modelsDir, null);
    node.rejectUnknownKeys();
    return s;
  }

  /** Why {@code id} names no embedding (null when it does): a sentence model, or a table dir under {@code modelsDir}. */
  public static String unknownModel(String id, Path modelsDir) {
    if (EmbeddingModel.byId(id).isPresent()) {
      return null;
    }
    try {
      if (isTableName(id) && StaticTable.manifestOf(modelsDir.resolve(id)) != null) {
        return null;
      }
    } catch (IOException e) {
      return "'" + id + "': " + e.getMessage();
    }
    return "'" + id + "' is neither a sentence model (" + String.join(", ", EmbeddingModel.ids())
        + ") nor a static embedding directory under " + modelsDir + " (make one with 'routewise distill --out "
        + modelsDir.resolve(isTableName(id) ? id : "NAME") + "')";
  }

  /** A static table's id is a plain directory name. */
  static boolean isTableName(String id) {
    return id.matches("[A-Za-z0-9][A-Za-z0-9_.-]*") && !id.contains("..");
  }

  public EmbeddingSettings withModel(String m) {
    return new EmbeddingSettings(m, maxTokens, truncation, threads, cacheEntries, filesDir, modelsDir, storeDir);
  }

  public EmbeddingSettings withMaxTokens(int n) {
    return new EmbeddingSettings(model, n, truncation, threads, cacheEntries, filesDir, modelsDir, storeDir);
  }

  public EmbeddingSettings withTruncation(Truncation t) {
    return new EmbeddingSettings(model, maxTokens, t, threads, cacheEntries, filesDir, modelsDir, storeDir);
  }

  public EmbeddingSettings withThreads(int n) {
    return new EmbeddingSettings(model, maxTokens, truncation, n, cacheEntries, filesDir, modelsDir, storeDir);
  }

  public EmbeddingSettings withCacheEntries(int n) {
    return new EmbeddingSettings(model, maxTokens, truncation, threads, n, filesDir, modelsDir, storeDir);
  }

  public EmbeddingSettings withModelsDir(Path dir) {
    return new EmbeddingSettings(model, maxTokens, truncation, threads, cacheEntries, filesDir, dir, storeDir);
  }

  public EmbeddingSettings withStoreDir(Path dir) {
    return new EmbeddingSettings(model, maxTokens, truncation, threads, cacheEntries, filesDir, modelsDir, dir);
  }

  /** Names the vectors these settings give for {@code modelId}: model, budget and truncation. */
  public String vectorsId(String modelId) {
    return modelId + "-" + maxTokens + "-" + truncation.configName();
  }
}
