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

  public String configName() {
    return name().toLowerCase();
  }

  public static Truncation parse(String s) {
    return valueOf(s.trim().toUpperCase());
  }
}
