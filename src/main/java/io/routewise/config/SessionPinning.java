package io.routewise.config;

import java.time.Duration;

/**
 * {@code routing.session_pinning} and its settings: a request that names its session is routed the
 * way that session's first turn was, for {@code ttl} after that turn.
 *
 * @param enabled whether sessions are pinned at all
 * @param key where the session is named: {@code header} ({@value #HEADER}) or {@code user} (the
 *     chat body's {@code user} field)
 * @param ttl how long a pin lives after its session's first turn
 * @param localEntries the most pins one replica keeps in memory (the least recently used go first)
 */
public record SessionPinning(boolean enabled, String key, Duration ttl, int localEntries) {
  public static final String HEADER = "X-Session-Id";
  public static final long DEFAULT_TTL_MS = 3_600_000;
  public static final int DEFAULT_ENTRIES = 100_000;

  public static final SessionPinning OFF =
      new SessionPinning(false, "header", Duration.ofMillis(DEFAULT_TTL_MS), DEFAULT_ENTRIES);

  public boolean byUser() {
    return key.equals("user");
  }
}
