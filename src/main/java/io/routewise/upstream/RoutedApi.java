package io.routewise.upstream;

/**
 * The two OpenAI endpoints routewise routes, each sent to the same path under the chosen upstream's
 * {@code base_url}: Chat Completions, and the Responses API that OpenAI's Agents SDK and newer clients
 * speak. Every other endpoint is passthrough's, unrouted.
 */
public enum RoutedApi {
  CHAT_COMPLETIONS("chat/completions"),
  RESPONSES("responses");

  private final String path;

  RoutedApi(String path) {
    this.path = path;
  }

  /** The path below {@code /v1} (and below an upstream's {@code base_url}). */
  public String path() {
    return path;
  }
}
