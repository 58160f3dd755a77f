package io.routewise.server;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;

/**
 * The body fields that may name a session for pinning ({@code routing.session_key}), read the same
 * way by the chat and Responses parsers: {@code user}, {@code safety_identifier} (which OpenAI asks
 * clients to send in its place) and {@code prompt_cache_key}. A value that is not a string goes
 * upstream unjudged and names no session. A {@code user} given twice is refused, as it always was;
 * of the others given twice the last counts, as most JSON parsers (Python's, an upstream's) read
 * them: refusing them would turn away requests that pinning, off by default, never reads.
 */
final class SessionFields {
  private String user;
  private String safetyIdentifier;
  private String promptCacheKey;
  private int seen;

  /** Reads the field if it is one of these (true), else leaves the parser where it is (false). */
  boolean read(String name, JsonParser p, JsonToken v) throws IOException {
    int bit = switch (name) {
      case "user" -> 1;
      case "safety_identifier" -> 2;
      case "prompt_cache_key" -> 4;
      default -> 0;
    };
    if (bit == 0) {
      return false;
    }
    if ((seen & bit) != 0 && bit == 1) {
      throw ChatRequestParser.twice(name); // refused, as it always was
    }
    seen |= bit;
    String value = v == JsonToken.VALUE_STRING ? p.getText() : null;
    p.skipChildren();
    switch (bit) {
      case 1 -> user = value;
      case 2 -> safetyIdentifier = value;
      default -> promptCacheKey = value;
    }
    return true;
  }

  /** The end user the body names: its {@code user}, else its {@code safety_identifier}; null for none. */
  String user() {
    return user != null && !user.isBlank() ? user : safetyIdentifier;
  }

  String promptCacheKey() {
    return promptCacheKey;
  }
}
