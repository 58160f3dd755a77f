package io.routewise.upstream;

/**
 * An upstream could not be reached or did not answer in time. The server turns it into a 502 or
 * 504 in OpenAI's error shape. Messages name the upstream and never carry its key.
 */
public class UpstreamException extends Exception {
  private final boolean timeout;

  public UpstreamException(String message, boolean timeout, Throwable cause) {
    super(message, cause);
    this.timeout = timeout;
  }

  /** True for a timeout (504), false for a connection failure (502). */
  public boolean isTimeout() {
    return timeout;
  }
}
