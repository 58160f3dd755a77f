package io.routewise.config;

/**
 * What an upstream charges, in USD per million tokens, as providers list it.
 *
 * @param input per million prompt tokens
 * @param output per million completion tokens
 */
public record Price(double input, double output) {
  public Price {
    if (!(input >= 0 && output >= 0) || Double.isInfinite(input) || Double.isInfinite(output)) {
      throw new IllegalArgumentException("prices must be finite and non-negative: " + input + ", " + output);
    }
  }

  /** The USD cost of one call that used these tokens. */
  public double cost(long promptTokens, long completionTokens) {
    return (promptTokens * input + completionTokens * output) / 1_000_000.0;
  }
}
