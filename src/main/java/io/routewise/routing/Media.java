package io.routewise.routing;

import java.util.Set;

/**
 * What a chat request carries besides text, in any of its messages: a router scores the text only,
 * and a cheap upstream may not take the rest (a local text model sent an image answers 400 or
 * makes something up). An upstream says what it takes with {@code accepts:} (everything by default).
 */
public enum Media {
  /** {@code image_url} parts. */
  IMAGE,
  /** {@code input_audio} parts. */
  AUDIO,
  /** {@code file} parts (a PDF). */
  FILE;

  /** Every kind: an upstream that says nothing is taken to accept them all, as before {@code accepts:}. */
  public static final Set<Media> ALL = Set.of(values());

  /** The kind of a content part's {@code type}, or null for text (and for kinds routewise does not know). */
  public static Media ofPartType(String type) {
    return switch (type) {
      case "image_url", "input_image", "image" -> IMAGE;
      case "input_audio", "audio" -> AUDIO;
      case "file", "input_file" -> FILE;
      default -> null;
    };
  }
}
