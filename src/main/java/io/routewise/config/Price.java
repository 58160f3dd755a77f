package io.routewise.config;

/**
 * What an upstream charges, in USD per million tokens: {@code upstreams.<name>.price: {input, output,
 * cached_input, cache_write, audio_input, audio_output}}. An answer's cost is {@code Usage.cost}.
 *
 * @param input per million prompt (input) tokens, >= 0
 * @param output per million completion (output) tokens, >= 0
 * @param cachedInput per million prompt tokens the upstream answered from its prompt cache (usage's
 *     {@code prompt_tokens_details.cached_tokens}), >= 0; {@code input} when the upstream gives none
 * @param cacheWrite per million prompt tokens the upstream wrote to its prompt cache (OpenRouter's
 *     {@code prompt_tokens_details.cache_write_tokens}; Anthropic bills them at 1.25 times input),
 *     >= 0; {@code input} when the upstream gives none
 * @param audioInput per million prompt tokens that are audio (usage's {@code
 *     prompt_tokens_details.audio_tokens}), >= 0; {@code input} when the upstream gives none
 * @param audioOutput per million completion tokens that are audio, >= 0; {@code output} when none
 */
public record Price(double input, double output, double cachedInput, double cacheWrite, double audioInput,
    double audioOutput) {
  public Price {
    for (double rate : new double[] {input, output, cachedInput, cacheWrite, audioInput, audioOutput}) {
      if (!(rate >= 0) || Double.isInfinite(rate)) {
        throw new IllegalArgumentException("prices must be finite and non-negative: " + input + ", " + output + ", "
            + cachedInput + ", " + cacheWrite + ", " + audioInput + ", " + audioOutput);
      }
    }
  }

  /** A price without audio rates: audio tokens cost what text does. */
  public Price(double input, double output, double cachedInput, double cacheWrite) {
    this(input, output, cachedInput, cacheWrite, input, output);
  }

  /** A price without a cache-write rate: prompt tokens written to the cache cost what others do. */
  public Price(double input, double output, double cachedInput) {
    this(input, output, cachedInput, input);
  }

  /** A price without cache rates: cached prompt tokens cost what others do. */
  public Price(double input, double output) {
    this(input, output, input);
  }

  /** USD for one answer with these token counts, none of them cached. */
  public double cost(long promptTokens, long completionTokens) {
    return cost(promptTokens, 0, completionTokens);
  }

  /**
   * USD for one answer: {@code cachedPromptTokens} of its prompt tokens at the cached rate (OpenAI
   * bills them at a half to a tenth of the rest; counted at the full rate, cache-heavy traffic's spend
   * read up to twice what was billed), the rest of the prompt at the input rate.
   */
  public double cost(long promptTokens, long cachedPromptTokens, long completionTokens) {
    long cached = Math.clamp(cachedPromptTokens, 0, Math.max(0, promptTokens));
    return ((promptTokens - cached) * input + cached * cachedInput + completionTokens * output) / 1_000_000.0;
  }
}
