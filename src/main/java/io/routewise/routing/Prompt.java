package io.routewise.routing;

import java.util.Objects;

/**
 * What a router sees of a request: the text of the last user message. New inputs (system prompt,
 * conversation length) become fields here rather than new {@link Router} methods.
 */
public record Prompt(String text) {
  public Prompt {
    Objects.requireNonNull(text, "text");
  }

  public static Prompt of(String text) {
    return new Prompt(text);
  }
}
