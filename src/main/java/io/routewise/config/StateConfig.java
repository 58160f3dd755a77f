package io.routewise.config;

import java.net.URI;
import java.time.Duration;

/**
 * Where the targets' windows, spend counters, current thresholds and session pins are shared
 * between replicas: top-level {@code state:}. Without {@code redis} every replica keeps them alone.
 *
 * @param redis the Redis URL ({@code redis://[[user]:password@]host[:port][/db]}, or {@code rediss://}),
 *     a secret since it may carry a password; null for local state only
 * @param sync how often the background task exchanges state with Redis (and recomputes thresholds)
 * @param timeout the most a connect or one Redis reply may take (an exchange is a few round trips, each
 *     bounded so); a slower Redis counts as down
 * @param pinTimeout the most a request waits for a session pin from Redis
 * @param keyPrefix namespace of every key routewise writes, so several deployments can share a Redis
 */
public record StateConfig(Secret redis, Duration sync, Duration timeout, Duration pinTimeout, String keyPrefix) {
  public static final long DEFAULT_SYNC_MS = 1_000;
  public static final long DEFAULT_TIMEOUT_MS = 250;
  public static final long DEFAULT_PIN_TIMEOUT_MS = 10;

  /** No Redis: every replica holds its targets and pins on its own. */
  public static final StateConfig LOCAL = new StateConfig(null, Duration.ofMillis(DEFAULT_SYNC_MS),
      Duration.ofMillis(DEFAULT_TIMEOUT_MS), Duration.ofMillis(DEFAULT_PIN_TIMEOUT_MS), "routewise");

  public boolean shared() {
    return redis != null;
  }

  /** The Redis URL. */
  public URI redisUri() {
    return redis == null ? null : URI.create(redis.value());
  }

  /** Host and port only, for logs: never the password. */
  public String redisAddress() {
    URI u = redisUri();
    return u == null ? "none" : u.getHost() + ":" + (u.getPort() < 0 ? 6379 : u.getPort());
  }

  static StateConfig read(ConfigNode root) {
    ConfigNode s = root.child("state");
    if (!root.has("state")) {
      return LOCAL;
    }
    Secret redis = null;
    String url = s.string("redis", null);
    if (url != null && !url.isBlank()) {
      redis = validRedisUrl(s, url.trim());
    }
    StateConfig cfg = new StateConfig(redis,
        s.millis("sync_ms", DEFAULT_SYNC_MS, 50, 60_000),
        s.millis("timeout_ms", DEFAULT_TIMEOUT_MS, 1, 60_000),
        s.millis("pin_timeout_ms", DEFAULT_PIN_TIMEOUT_MS, 1, 1_000),
        s.string("key_prefix", "routewise"));
    if (!cfg.keyPrefix().matches("[A-Za-z0-9_.:-]{1,64}")) {
      s.problem("key_prefix", "must be 1 to 64 of A-Z a-z 0-9 _ . : -, got '" + cfg.keyPrefix() + "'");
    }
    s.rejectUnknownKeys();
    return cfg;
  }

  private static Secret validRedisUrl(ConfigNode s, String url) {
    String shown = url.contains("@") ? "(a URL with credentials, not shown)" : "'" + url + "'";
    try {
      URI u = new URI(url);
      boolean scheme = "redis".equals(u.getScheme()) || "rediss".equals(u.getScheme());
      String path = u.getPath() == null ? "" : u.getPath();
      if (!scheme || u.getHost() == null || !(path.isEmpty() || path.equals("/") || path.matches("/[0-9]{1,4}"))
          || u.getQuery() != null || u.getPort() == 0 || u.getPort() > 65535) { // a bad port read as an outage, for good
        s.problem("redis", "must be redis://host[:port][/db] or rediss://..., got " + shown);
        return null;
      }
      if (u.getRawUserInfo() != null && !u.getRawUserInfo().contains(":")) {
        // the Redis client refused it only at the start, with a stack trace naming no key
        s.problem("redis", "carries credentials without a colon: a password is redis://:password@host, a user's "
            + "redis://user:password@host, got " + shown);
        return null;
      }
      return Secret.of(url);
    } catch (java.net.URISyntaxException e) {
      s.problem("redis", "is not a valid URL: " + shown);
      return null;
    }
  }
}
