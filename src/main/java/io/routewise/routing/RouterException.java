package io.routewise.routing;

/**
 * A router could not score a prompt. {@link #kind()} is a short, bounded label ("timeout",
 * "http_500", "no_rating") used for the failure metric and for logging each kind once.
 */
public class RouterException extends Exception {
  private final String kind;

  public RouterException(String kind, String message) {
    super(message);
    this.kind = kind;
  }

  public RouterException(String kind, String message, Throwable cause) {
    super(message, cause);
    this.kind = kind;
  }

  public String kind() {
    return kind;
  }
}
