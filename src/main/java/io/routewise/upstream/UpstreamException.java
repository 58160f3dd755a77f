package io.routewise.upstream;

/**
 * An upstream could not be reached or did not answer in time. The server turns it into a 502 or
 * 504 in OpenAI's error shape. The message, which the client sees, names the upstream's role and
 * the kind of failure but not its host or the raw I/O error: those are internal names, and they
 * go to the operator's log as {@link #detail()}. Neither ever carries a key.
 */
public class UpstreamException extends Exception {
  private final boolean timeout;
  private final boolean clientGone;
  private final boolean brokeOff;
  /** For a client gone: whether the request had gone out on a connection (the upstream may be at work on it). */
  private final boolean sent;
  private final String detail;

  public UpstreamException(String message, String detail, boolean timeout, Throwable cause) {
    this(message, detail, timeout, false, false, false, cause);
  }

  private UpstreamException(String message, String detail, boolean timeout, boolean clientGone, boolean brokeOff,
      boolean sent, Throwable cause) {
    super(message, cause);
    this.detail = detail;
    this.timeout = timeout;
    this.clientGone = clientGone;
    this.brokeOff = brokeOff;
    this.sent = sent;
  }

  /** An answer whose headers had come broke off: the upstream did (and billed) the work. */
  static UpstreamException brokeOff(String message, String detail, Throwable cause) {
    return new UpstreamException(message, detail, false, false, true, true, cause);
  }

  /**
   * Whether the upstream got the request and worked on it: its answer broke off, or it did not
   * answer in time. Sending it again runs (and bills) it again, and a slow one is slow again.
   */
  public boolean reachedUpstream() {
    return timeout || brokeOff;
  }

  /** The failure as the operator's log has it: with the upstream's host and the I/O error. */
  public String detail() {
    return detail;
  }

  /**
   * The call was cancelled because the client it was for disconnected: nobody is left to answer.
   * {@code sent}: a connection was in hand, so the request had gone out (or was going).
   */
  static UpstreamException clientGone(String upstream, boolean sent, Throwable cause) {
    String message = "The client disconnected; the " + upstream + " upstream call was cancelled.";
    return new UpstreamException(message, message, false, true, false, sent, cause);
  }

  /** For a client gone ({@link #isClientGone}): whether its request had gone to the upstream, not still connecting. */
  public boolean requestSent() {
    return sent;
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
