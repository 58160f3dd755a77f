package io.routewise.upstream;

/** An answer's {@code Retry-After}, read as the callers that honour it need it. */
public final class RetryAfter {
  /** The longest wait a Retry-After is taken for: an hour's ask would stall a labeling run or a judge. */
  public static final long MAX_MS = 60_000;

  private RetryAfter() {}

  /**
   * The wait the header asks for in milliseconds, at most {@link #MAX_MS}; {@code otherwise} when it
   * is absent or an HTTP date (not worth a clock comparison with another machine's).
   */
  public static long millis(String header, long otherwise) {
    if (header == null) {
      return otherwise;
    }
    String seconds = header.trim();
    if (seconds.isEmpty() || !seconds.chars().allMatch(c -> c >= '0' && c <= '9')) {
      return otherwise; // an HTTP date, or not a wait at all
    }
    // past 7 digits the seconds are far over the cap (and past 16, over a long's milliseconds)
    return seconds.length() > 7 ? MAX_MS : Math.min(MAX_MS, Long.parseLong(seconds) * 1000);
  }
}
