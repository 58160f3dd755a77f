package io.routewise.upstream;

/**
 * An upstream could not be reached or did not answer in time. The server turns it into a 502 or
 * 504 in OpenAI's error shape. Messages name the upstream and never carry its key.
 */
public class UpstreamException extends Exception {
  private final boolean timeout;
  private final boolean clientGone;

  public UpstreamException(String message, boolean timeout, Throwable cause) {
    this(message, timeout, false, cause);
  }

  private UpstreamException(String message, boolean timeout, boolean clientGone, Throwable cause) {
    super(message, cause);
    this.timeout = timeout;
    this.clientGone = clientGone;
  }

  /** The call was cancelled because the client it was for disconnected: nobody is left to answer. */
  static UpstreamException clientGone(String upstream, Throwable cause) {
    return new UpstreamException("The client disconnected; the " + upstream + " upstream call was cancelled.",
        false, true, cause);
  }

  /** True when the client went away and the call was cancelled for it (nginx's 499), not an upstream failure. */
  public boolean isClientGone() {
    return clientGone;
  }

  /** True for a timeout (504), false for a connection failure (502). */
  public boolean isTimeout() {
    return timeout;
  }
}
