package io.routewise.upstream;

/** An answer's {@code Retry-After}, read as the callers that honour it need it. */
public final class RetryAfter {
  /** The longest wait a Retry-After is taken for: an hour's ask would stall a labeling run or a judge. */
  public static final long MAX_MS = 60_000;

  private RetryAfter() {}

  /**
   * The wait the header asks for in milliseconds, at most {@link #MAX_MS}; {@code otherwise} when it
   * is absent, not a wait, or an HTTP date already past (by this machine's clock: one behind the
   * upstream's is no reason to ask again at once).
   */
  public static long millis(String header, long otherwise) {
    return millis(header, otherwise, System.currentTimeMillis());
  }

  static long millis(String header, long otherwise, long nowMillis) {
    if (header == null) {
      return otherwise;
    }
    String seconds = header.trim();
    if (seconds.isEmpty() || !seconds.chars().allMatch(c -> c >= '0' && c <= '9')) {
      try { // an HTTP date, as RFC 9110 allows
        long at = java.time.ZonedDateTime.parse(seconds, java.time.format.DateTimeFormatter.RFC_1123_DATE_TIME)
            .toInstant().toEpochMilli();
        return at > nowMillis ? Math.min(MAX_MS, at - nowMillis) : otherwise;
      } catch (java.time.format.DateTimeParseException notADate) {
        return otherwise;
      }
    }
    // past 7 digits the seconds are far over the cap (and past 16, over a long's milliseconds)
    return seconds.length() > 7 ? MAX_MS : Math.min(MAX_MS, Long.parseLong(seconds) * 1000);
  }

  /**
   * As {@link #millis(String, long)}, OpenAI's and Azure's {@code retry-after-ms} (milliseconds,
   * what their SDKs read first) before {@code Retry-After}.
   */
  public static long millis(String retryAfterMs, String retryAfter, long otherwise) {
    if (retryAfterMs != null) {
      try {
        double ms = Double.parseDouble(retryAfterMs.trim());
        if (ms >= 0 && ms < Double.POSITIVE_INFINITY) { // not NaN, not negative
          return (long) Math.min(MAX_MS, Math.ceil(ms));
        }
      } catch (NumberFormatException notANumber) {
        // Retry-After, if any, says it
      }
    }
    return millis(retryAfter, otherwise);
  }
}
