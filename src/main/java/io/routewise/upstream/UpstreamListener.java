package io.routewise.upstream;

/** Observes upstream calls (metrics). Called on request threads; must be fast and thread-safe. */
public interface UpstreamListener {
  UpstreamListener NONE = new UpstreamListener() {};

  /** Response headers arrived after {@code nanos}. */
  default void firstByte(String upstream, long nanos) {}

  /** The call ended: body fully relayed, or failed. {@code outcome} is a bounded label. */
  default void completed(String upstream, int status, String outcome, long nanos) {}

  /**
   * Token counts read from the response's {@code usage}.
   *
   * @param routed whether a router chose the upstream (false: the request named it, or it answered
   *     for a failed one), so that what routing saved counts only what routing chose
   */
  default void tokens(String upstream, Usage usage, boolean routed) {}

  /** A whole answer (status 200) without {@code usage}: its tokens and cost go uncounted. */
  default void unmetered(String upstream) {}
}
