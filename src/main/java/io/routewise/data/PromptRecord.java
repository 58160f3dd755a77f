package io.routewise.data;

import java.util.Map;

/**
 * One prompt of a dataset in the outcomes format ({@code ../shared/data}): what each model scored on
 * it (higher is better; graded 0/1, F1, or a judge's 1..10).
 *
 * @param source the row's {@code source}, or the file name for Chatbot-Arena battle rows
 * @param category subject or task, may be null
 * @param outcomes model id to score; empty for battle rows (their battles are kept in {@link Dataset})
 */
public record PromptRecord(String id, String source, String category, String prompt, Map<String, Double> outcomes) {

  /**
   * Whether serve would score this prompt ({@link io.routewise.routing.Prompt#hasText}): one without
   * text (blank, or only invisible or combining characters) goes to the top unscored, so it neither
   * trains a router nor is scored by one.
   */
  public boolean hasText() {
    return io.routewise.routing.Prompt.of(prompt).hasText();
  }

  /**
   * A prompt's id when its line gives none: {@code p-} and the first 12 hex digits of its text's SHA-256.
   * The text's, not its line's: score, eval and label name a prompt alike, and reruns of an edited file agree.
   */
  public static String textId(String prompt) {
    try {
      byte[] digest = java.security.MessageDigest.getInstance("SHA-256")
          .digest(prompt.getBytes(java.nio.charset.StandardCharsets.UTF_8));
      return "p-" + java.util.HexFormat.of().formatHex(digest, 0, 6);
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e); // every JDK has SHA-256
    }
  }
}
