package io.routewise.config;

/**
 * A client's keys, which it sends as its bearer token ({@code server.api_keys}), and the name its
 * requests, tokens and spend are counted under in the metrics and the access log.
 *
 * @param name the client's name when the keys are written as a mapping ({@code search: "${KEY}"}),
 *     else null
 * @param keys the keys it may send, each as good as the others: a named client has several while
 *     one is rotated ({@code keys: [...]}); none for a named client whose keys were all left unset
 *     (it matches nothing)
 * @param budget what the client may spend on routed answers in each period, or null for no limit
 * @param rateLimit how many requests the client may make, or null for no limit
 * @param models the model names its requests may name ({@code router-*} for any ending so), or null
 *     for any
 */
public record ClientKey(String name, java.util.List<Secret> keys, Budget budget, RateLimit rateLimit,
    java.util.List<String> models) {
  public ClientKey {
    keys = java.util.List.copyOf(keys);
    models = models == null ? null : java.util.List.copyOf(models);
  }

  public ClientKey(String name, java.util.List<Secret> keys, Budget budget, RateLimit rateLimit) {
    this(name, keys, budget, rateLimit, null);
  }

  public ClientKey(String name, java.util.List<Secret> keys, Budget budget) {
    this(name, keys, budget, null);
  }

  /** Whether this client may name {@code model}: one of its {@code models}, exactly or by a trailing {@code *}. */
  public boolean allowsModel(String model) {
    return models == null || models.stream().anyMatch(m -> m.endsWith("*")
        ? model.startsWith(m.substring(0, m.length() - 1)) : model.equals(m));
  }

  /** One key; a blank one is none. */
  public ClientKey(String name, Secret key, Budget budget) {
    this(name, key.isBlank() ? java.util.List.of() : java.util.List.of(key), budget);
  }

  public ClientKey(String name, Secret key) {
    this(name, key, null);
  }

  /**
   * At most {@code usd} on metered answers per calendar {@code per} (UTC): past it, the client's
   * metered requests are refused until the next one begins.
   *
   * @param allowUnpriced whether the client's passthrough requests may name a model their upstream
   *     does not price, or send a body routewise cannot read (compressed): unmetered, they would
   *     spend past the budget unseen, so by default ({@code unpriced: refuse}) they are refused
   * @param uncappedTokens the completion tokens a choice of a request without {@code max_tokens}
   *     holds at least ({@code uncapped_tokens}; the client's recent mean when larger)
   */
  public record Budget(double usd, Period per, boolean allowUnpriced, long uncappedTokens) {
    /** Completion tokens an uncapped choice holds at least, unless the budget says otherwise. */
    public static final long UNCAPPED_TOKENS = 500;

    public Budget(double usd, Period per) {
      this(usd, per, false);
    }

    public Budget(double usd, Period per, boolean allowUnpriced) {
      this(usd, per, allowUnpriced, UNCAPPED_TOKENS);
    }
  }

  /**
   * At most {@code requests} of the client's {@code /v1} requests per {@code per}, at each replica:
   * a burst of that many, then one each {@code per / requests}.
   */
  public record RateLimit(long requests, RatePeriod per) {}

  /** A rate limit's period. */
  public enum RatePeriod {
    SECOND(1), MINUTE(60), HOUR(3_600);

    private final long seconds;

    RatePeriod(long seconds) {
      this.seconds = seconds;
    }

    /** The config's word for it. */
    public String key() {
      return name().toLowerCase(java.util.Locale.ROOT);
    }

    public long nanos() {
      return seconds * 1_000_000_000L;
    }
  }

  /** A budget's period, calendar-aligned in UTC. */
  public enum Period {
    HOUR, DAY, MONTH;

    /** The config's word for it. */
    public String key() {
      return name().toLowerCase(java.util.Locale.ROOT);
    }

    /** The start (epoch millis) of the period holding {@code millis}. */
    public long start(long millis) {
      java.time.ZonedDateTime t = java.time.Instant.ofEpochMilli(millis).atZone(java.time.ZoneOffset.UTC);
      java.time.ZonedDateTime s = switch (this) {
        case HOUR -> t.truncatedTo(java.time.temporal.ChronoUnit.HOURS);
        case DAY -> t.truncatedTo(java.time.temporal.ChronoUnit.DAYS);
        case MONTH -> t.truncatedTo(java.time.temporal.ChronoUnit.DAYS).withDayOfMonth(1);
      };
      return s.toInstant().toEpochMilli();
    }

    /** The start (epoch millis) of the period after the one holding {@code millis}. */
    public long next(long millis) {
      java.time.ZonedDateTime s = java.time.Instant.ofEpochMilli(start(millis)).atZone(java.time.ZoneOffset.UTC);
      return (switch (this) {
        case HOUR -> s.plusHours(1);
        case DAY -> s.plusDays(1);
        case MONTH -> s.plusMonths(1);
      }).toInstant().toEpochMilli();
    }
  }
}
