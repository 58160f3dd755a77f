package io.routewise.config;

/**
 * What an upstream charges, in USD per million tokens: {@code upstreams.<name>.price: {input, output}}.
 *
 * @param input per million prompt (input) tokens, >= 0
 * @param output per million completion (output) tokens, >= 0
 */
public record Price(double input, double output) {
  public Price {
    if (!(input >= 0 && output >= 0) || Double.isInfinite(input) || Double.isInfinite(output)) {
      throw new IllegalArgumentException("prices must be finite and non-negative: " + input + ", " + output);
    }
  }

  /** USD for one answer with these token counts. */
  public double cost(long promptTokens, long completionTokens) {
    return (promptTokens * input + completionTokens * output) / 1_000_000.0;
  }
}
