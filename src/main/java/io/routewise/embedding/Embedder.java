package io.routewise.embedding;

import java.util.ArrayList;
import java.util.List;

/**
 * Turns text into a fixed-size sentence embedding. Implementations must be safe for concurrent use
 * and own their native resources (closed at shutdown).
 */
public interface Embedder extends AutoCloseable {

  /** The embedding of {@code text}, L2-normalized, of length {@link #dimension()}. */
  float[] embed(String text);

  /** Embeddings of several texts; implementations may run them as one batch. */
  default List<float[]> embedAll(List<String> texts) {
    List<float[]> out = new ArrayList<>(texts.size());
    for (String t : texts) {
      out.add(embed(t));
    }
    return out;
  }

  /**
   * The embedding of {@code text} if it is cached ({@link CachingEmbedder}), else null, computing
   * nothing. Routers over a {@link #cpuBound()} embedder answer such prompts on the request thread
   * instead of a scoring thread.
   */
  default float[] cached(String text) {
    return null;
  }

  /**
   * True when embedding a text is CPU work of a millisecond or more (a transformer's forward pass):
   * routers over it are {@code cpuBound} and score on the server's scoring threads. False for
   * {@link StaticEmbedder}: tokenizing and adding rows costs about as much as parsing the JSON body
   * the prompt came in (~0.1 µs a token), so it is done on the request thread, like the parsing.
   */
  default boolean cpuBound() {
    return true;
  }

  int dimension();

  /**
   * What of a text is embedded, when it is bounded: {@code "128 tokens, head_tail"}; null when
   * unknown. Routers compare it with the rule their vectors were trained under.
   */
  default String inputRule() {
    return null;
  }

  /** Identifies the model (and its settings that change vectors), recorded in router manifests. */
  String modelId();

  /**
   * Identifies the exact vectors where {@link #modelId()} alone does not (a distilled table's digest,
   * since a table can be made again under the same id); null when the id says it all. Recorded in
   * router manifests; a router trained on other vectors fails to load.
   */
  default String fingerprint() {
    return null;
  }

  @Override
  default void close() {}
}
