package io.routewise.routing;

import java.util.Objects;

/**
 * What a router sees of a request: the text of the last user message. New inputs (system prompt,
 * conversation length) become fields here rather than new {@link Router} methods.
 *
 * @param media what the request's messages carry besides text: not scored, but the decision goes
 *     only to an upstream that {@code accepts} it
 */
public record Prompt(String text, java.util.Set<Media> media) {
  public Prompt {
    Objects.requireNonNull(text, "text");
    media = media.isEmpty() ? java.util.Set.of() : java.util.Set.copyOf(media);
  }

  public Prompt(String text) {
    this(text, java.util.Set.of());
  }

  public static Prompt of(String text) {
    return new Prompt(text);
  }

  /**
   * Whether there is text to score: a character that is not white space (no-break spaces included),
   * a control character, an invisible format character (zero-width space, BOM), a mark (combining or spacing),
   * half a surrogate pair, a private-use character or U+FFFD (on their own, the tokenizer reads nothing). A request without
   * any (an image, audio, a system-only request) goes to the top, never scored: a router would read
   * it as a sure win for the cheapest upstream. serve and the commands that count prompts as serve
   * routes them ask this one question.
   */
  public boolean hasText() {
    for (int i = 0; i < text.length(); ) {
      char ascii = text.charAt(i);
      if (ascii < 0x80) { // most text: one comparison, not a Unicode lookup
        if (ascii > ' ' && ascii != 0x7f) {
          return true;
        }
        i++;
        continue;
      }
      int c = text.codePointAt(i);
      int type = Character.getType(c);
      if (!Character.isWhitespace(c) && type != Character.SPACE_SEPARATOR && type != Character.CONTROL
          && type != Character.FORMAT && type != Character.NON_SPACING_MARK && type != Character.ENCLOSING_MARK
          && type != Character.COMBINING_SPACING_MARK && type != Character.SURROGATE
          && type != Character.PRIVATE_USE && c != 0xFFFD) { // a mark without its letter (some spacing ones
        // are non-spacing to the tokenizer's older Unicode), half a pair, private use, a broken decoding's U+FFFD:
        // alone, the tokenizer reads nothing
        return true;
      }
      i += Character.charCount(c);
    }
    return false;
  }

  /** A RouterException for a prompt without {@link #hasText() text}, as serve counts it. */
  public static RouterException noText() {
    return new RouterException("no_text", "the request has no user text to score");
  }
}
