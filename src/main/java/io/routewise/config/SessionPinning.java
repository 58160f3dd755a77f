package io.routewise.config;

import java.time.Duration;

/**
 * {@code routing.session_pinning} and its settings: a request that names its session is routed the
 * way that session's first turn was, for {@code ttl} after that turn.
 *
 * @param enabled whether sessions are pinned at all
 * @param key where the session is named: {@code header} ({@value #HEADER}), {@code user} (the
 *     body's {@code user}, or its {@code safety_identifier}, which OpenAI asks clients to send in its
 *     place) or {@code prompt_cache_key} (the body's, which clients keep per conversation or prompt
 *     prefix: pinning by it also keeps the upstream's prompt cache warm)
 * @param ttl how long a pin lives after its session's first turn
 * @param localEntries the most pins one replica keeps in memory (the least recently used go first)
 */
public record SessionPinning(boolean enabled, String key, Duration ttl, int localEntries) {
  public static final String HEADER = "X-Session-Id";
  public static final long DEFAULT_TTL_MS = 3_600_000;
  public static final int DEFAULT_ENTRIES = 100_000;

  public static final SessionPinning OFF =
      new SessionPinning(false, "header", Duration.ofMillis(DEFAULT_TTL_MS), DEFAULT_ENTRIES);

  /** The values {@code key} may take. */
  public static final java.util.List<String> KEYS = java.util.List.of("header", "user", "prompt_cache_key");
}
