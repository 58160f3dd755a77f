package io.routewise.embedding;

/** What of a prompt longer than the token budget is embedded. */
public enum Truncation {
  /** The first tokens only (what the models' own tokenizer.json does). */
  HEAD,
  /**
   * The first half and the last half of the budget: long prompts often put the instructions first
   * and the actual question last (or paste a document in between).
   */
  HEAD_TAIL;

  /**
   * {@code ids} ([CLS] ... [SEP], as the tokenizer gives them) cut to {@code maxTokens} by this rule,
   * keeping the first and last token; {@code ids} itself when it fits.
   */
  public long[] cut(long[] ids, int maxTokens) {
    if (ids.length <= maxTokens) {
      return ids;
    }
    int body = maxTokens - 2;
    long[] out = new long[maxTokens];
    out[0] = ids[0];
    out[maxTokens - 1] = ids[ids.length - 1];
    if (this == HEAD) {
      System.arraycopy(ids, 1, out, 1, body);
    } else {
      int head = (body + 1) / 2;
      int tail = body - head;
      System.arraycopy(ids, 1, out, 1, head);
      System.arraycopy(ids, ids.length - 1 - tail, out, 1 + head, tail);
    }
    return out;
  }

  /**
   * Characters kept per side by {@link #trimText}: far more than {@code maxTokens} word pieces ever
   * span in real text, so the kept tokens are the ones a full tokenization would keep.
   */
  static final int CHARS_PER_TOKEN_BOUND = 64;

  /**
   * {@code text} shortened by characters before tokenizing, so a 4 MB prompt does not cost seconds
   * of tokenizer time on the request path: HEAD keeps its start, HEAD_TAIL its start and its end.
   * Text within the bound comes back unchanged.
   */
  public String trimText(String text, int maxTokens) {
    int keep = maxTokens * CHARS_PER_TOKEN_BOUND;
    if (text.length() <= 2 * keep) {
      return text;
    }
    String head = text.substring(0, boundary(text, keep));
    if (this == HEAD) {
      return head;
    }
    return head + " " + text.substring(boundary(text, text.length() - keep));
  }

  /** {@code i}, moved back one char if it would split a surrogate pair. */
  private static int boundary(String s, int i) {
    return i > 0 && Character.isHighSurrogate(s.charAt(i - 1)) && Character.isLowSurrogate(s.charAt(i)) ? i - 1 : i;
  }

  public String configName() {
    return name().toLowerCase();
  }

  public static Truncation parse(String s) {
    try {
      return valueOf(s.trim().toUpperCase(java.util.Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("truncation must be head or head_tail, got '" + s + "'");
    }
  }
}
