package io.routewise.embedding;

import io.routewise.config.ConfigNode;
import java.nio.file.Path;
import java.util.List;

/**
 * The {@code embedding:} section of the config. Every key is optional:
 *
 * <pre>
 * embedding:
 *   max_tokens: 128          # token budget per prompt, [CLS]/[SEP] included (8..512)
 *   truncation: head_tail    # head | head_tail: what of a longer prompt is embedded
 *   threads: 2               # ONNX intra-op threads per model
 *   cache_entries: 10000     # LRU embedding cache shared by the routers (0 = off)
 *   files_dir: /tmp/routewise/models   # where the ONNX graph and tokenizer are extracted
 * </pre>
 *
 * The embedding model itself is named by each router's manifest (the vectors it was trained on).
 * {@code storeDir} (not a config key) turns on the persistent {@link EmbeddingStore} of offline
 * commands; null for serve.
 */
public record EmbeddingSettings(
    int maxTokens, Truncation truncation, int threads, int cacheEntries, Path filesDir, Path storeDir) {

  public static final int DEFAULT_MAX_TOKENS = 128;
  public static final Truncation DEFAULT_TRUNCATION = Truncation.HEAD_TAIL;

  public static EmbeddingSettings defaults() {
    return new EmbeddingSettings(DEFAULT_MAX_TOKENS, DEFAULT_TRUNCATION, defaultThreads(), 10_000,
        ModelFiles.defaultDir(), null);
  }

  /** Two threads: measured fastest for single prompts on a 2-core box; more cores give at most 4. */
  public static int defaultThreads() {
    return Math.max(1, Math.min(4, Runtime.getRuntime().availableProcessors()));
  }

  public static EmbeddingSettings from(ConfigNode node) {
    EmbeddingSettings d = defaults();
    EmbeddingSettings s = new EmbeddingSettings(
        node.integer("max_tokens", d.maxTokens(), 8, 512),
        Truncation.parse(node.oneOf("truncation", d.truncation().configName(), List.of("head", "head_tail"))),
        node.integer("threads", d.threads(), 1, 64),
        node.integer("cache_entries", d.cacheEntries(), 0, 10_000_000),
        Path.of(node.string("files_dir", d.filesDir().toString())), null);
    node.rejectUnknownKeys();
    return s;
  }

  public EmbeddingSettings withMaxTokens(int n) {
    return new EmbeddingSettings(n, truncation, threads, cacheEntries, filesDir, storeDir);
  }

  public EmbeddingSettings withTruncation(Truncation t) {
    return new EmbeddingSettings(maxTokens, t, threads, cacheEntries, filesDir, storeDir);
  }

  public EmbeddingSettings withThreads(int n) {
    return new EmbeddingSettings(maxTokens, truncation, n, cacheEntries, filesDir, storeDir);
  }

  public EmbeddingSettings withCacheEntries(int n) {
    return new EmbeddingSettings(maxTokens, truncation, threads, n, filesDir, storeDir);
  }

  public EmbeddingSettings withStoreDir(Path dir) {
    return new EmbeddingSettings(maxTokens, truncation, threads, cacheEntries, filesDir, dir);
  }

  /** Names the vectors these settings give for {@code modelId}: model, budget and truncation. */
  public String vectorsId(String modelId) {
    return modelId + "-" + maxTokens + "-" + truncation.configName();
  }
}
