package io.routewise.upstream;

/**
 * Watches the connection of the client an upstream call is made for, so that a call nobody is
 * waiting for any more can be cancelled instead of running (and being billed) to its end.
 * {@link IdleTimeouts} arms it once a call has run {@link IdleTimeouts#PROBE_CLIENT_AFTER}, so quick
 * calls never pay for it, and disarms it before the response is complete: for a whole body before
 * it is written, for a stream once its relay ends.
 */
public interface ClientProbe {
  /** Starts watching; runs {@code gone} at most once, on any thread, if the client disconnects. */
  void arm(Runnable gone);

  /**
   * Stops watching. Called only after {@link #arm}, and before the response to the client is
   * complete (a whole body: before it is written; a stream: after its last relayed chunk).
   */
  void disarm();
}
