package io.routewise.config;

/**
 * What an upstream charges, in USD per million tokens: {@code upstreams.<name>.price: {input, output,
 * cached_input, cache_write}}.
 *
 * @param input per million prompt (input) tokens, >= 0
 * @param output per million completion (output) tokens, >= 0
 * @param cachedInput per million prompt tokens the upstream answered from its prompt cache (usage's
 *     {@code prompt_tokens_details.cached_tokens}), >= 0; {@code input} when the upstream gives none
 * @param cacheWrite per million prompt tokens the upstream wrote to its prompt cache (OpenRouter's
 *     {@code prompt_tokens_details.cache_write_tokens}; Anthropic bills them at 1.25 times input),
 *     >= 0; {@code input} when the upstream gives none
 */
public record Price(double input, double output, double cachedInput, double cacheWrite) {
  public Price {
    if (!(input >= 0 && output >= 0 && cachedInput >= 0 && cacheWrite >= 0) || Double.isInfinite(input)
        || Double.isInfinite(output) || Double.isInfinite(cachedInput) || Double.isInfinite(cacheWrite)) {
      throw new IllegalArgumentException("prices must be finite and non-negative: " + input + ", " + output + ", "
          + cachedInput + ", " + cacheWrite);
    }
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
    return cost(promptTokens, cachedPromptTokens, 0, completionTokens);
  }

  /**
   * USD for one answer whose prompt also wrote {@code cacheWrittenTokens} of its tokens to the
   * upstream's prompt cache, at the cache-write rate (both parts within the prompt's count).
   */
  public double cost(long promptTokens, long cachedPromptTokens, long cacheWrittenTokens, long completionTokens) {
    long prompt = Math.max(0, promptTokens);
    long cached = Math.clamp(cachedPromptTokens, 0, prompt);
    long written = Math.clamp(cacheWrittenTokens, 0, prompt - cached);
    return ((prompt - cached - written) * input + cached * cachedInput + written * cacheWrite
        + completionTokens * output) / 1_000_000.0;
  }
}
