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

  public String configName() {
    return name().toLowerCase();
  }

  public static Truncation parse(String s) {
    return valueOf(s.trim().toUpperCase());
  }
}
