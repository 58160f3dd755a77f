package io.routewise.config;

import java.time.Duration;

/**
 * What a router holds when a request asks for {@code router-<name>-auto}: a share of requests sent
 * strong, or a spend rate, instead of a fixed threshold. Read from {@code routers.<name>.target}.
 *
 * @param kind what {@code value} is
 * @param value the share in [0, 1], or USD per hour (>= 0)
 * @param minAlpha the lowest threshold the controller may set (so a budget never sends everything strong)
 * @param maxAlpha the highest (so a tight budget or a shifted mix never starves the strong model)
 * @param window how far back the controller looks at win rates, spend and the observed share
 * @param initialAlpha the threshold until the window holds enough decisions (and no other replica
 *     has published one)
 */
public record TargetConfig(Kind kind, double value, double minAlpha, double maxAlpha, Duration window,
    double initialAlpha) {

  /** Which target: the YAML key that sets it. */
  public enum Kind {
    STRONG_SHARE("strong_share"),
    USD_PER_HOUR("usd_per_hour");

    private final String key;

    Kind(String key) {
      this.key = key;
    }

    public String key() {
      return key;
    }
  }

  public static final long DEFAULT_WINDOW_S = 60;

  public TargetConfig {
    if (!(minAlpha >= 0 && minAlpha <= maxAlpha && maxAlpha <= 1)) {
      throw new IllegalArgumentException("need 0 <= min_alpha <= max_alpha <= 1: " + minAlpha + ", " + maxAlpha);
    }
  }

  /** A share target over the default window, the whole α range, starting at {@code initialAlpha}. */
  public static TargetConfig strongShare(double share, double initialAlpha) {
    return new TargetConfig(Kind.STRONG_SHARE, share, 0, 1, Duration.ofSeconds(DEFAULT_WINDOW_S), initialAlpha);
  }

  /**
   * Reads {@code routers.<name>.target}, or null when the router has none. Problems name the key.
   *
   * @param defaultAlpha {@code routing.threshold}: the start when {@code initial_alpha} is not given
   */
  static TargetConfig read(ConfigNode router, double defaultAlpha, java.util.List<UpstreamConfig> upstreams) {
    if (!router.has("target")) {
      return null;
    }
    ConfigNode t = router.child("target");
    boolean share = t.has(Kind.STRONG_SHARE.key());
    boolean usd = t.has(Kind.USD_PER_HOUR.key());
    double value = 0;
    Kind kind = Kind.STRONG_SHARE;
    if (share == usd) {
      for (Kind k : Kind.values()) {
        if (!t.has(k.key()) && t.keys().contains(k.key())) { // "strong_share:" with its value left out
          t.readElsewhere(k.key());
          t.problem(k.key(), "has no value");
        }
      }
      t.problem(null, share ? "give strong_share or usd_per_hour, not both"
          : "give strong_share (a share of requests in [0, 1]) or usd_per_hour (a spend rate)");
      if (share) { // read, so that they are not reported as unknown keys as well
        t.number(Kind.STRONG_SHARE.key(), 0.5, 0, 1);
        t.number(Kind.USD_PER_HOUR.key(), 0, 0, 1e12);
      } else { // known: a misspelt one's unknown-key problem lists them
        t.readElsewhere(Kind.STRONG_SHARE.key());
        t.readElsewhere(Kind.USD_PER_HOUR.key());
      }
    } else if (share) {
      value = t.number(Kind.STRONG_SHARE.key(), 0.5, 0, 1);
    } else {
      kind = Kind.USD_PER_HOUR;
      value = t.number(Kind.USD_PER_HOUR.key(), 0, 0, 1e12);
      for (UpstreamConfig u : upstreams) { // every answer's cost must be known to hold a budget
        if (u.price() == null) {
          t.problem(Kind.USD_PER_HOUR.key(), "needs upstreams." + u.name() + ".price ({input: USD, output: USD} per 1M tokens)");
        }
      }
    }
    double min = t.number("min_alpha", 0, 0, 1);
    double max = t.number("max_alpha", 1, 0, 1);
    if (min > max) {
      t.problem("min_alpha", "must not be above max_alpha (" + min + " > " + max + ")");
      min = 0;
      max = 1;
    }
    Duration window = Duration.ofSeconds(t.longValue("window_s", DEFAULT_WINDOW_S, 1, 86_400));
    double initial = t.number("initial_alpha", Math.min(max, Math.max(min, defaultAlpha)), 0, 1);
    if (initial < min || initial > max) {
      t.problem("initial_alpha", "must lie within [min_alpha, max_alpha] = [" + min + ", " + max + "], got " + initial);
      initial = Math.min(max, Math.max(min, initial));
    }
    t.rejectUnknownKeys();
    return new TargetConfig(kind, value, min, max, window, initial);
  }
}
