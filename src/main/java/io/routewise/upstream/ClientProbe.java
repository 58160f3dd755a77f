package io.routewise.upstream;

/**
 * Watches the connection of the client an upstream call is made for, so that a call nobody is
 * waiting for any more can be cancelled instead of running (and being billed) to its end.
 * {@link IdleTimeouts} arms it once a call has waited {@link IdleTimeouts#PROBE_CLIENT_AFTER}, so
 * quick calls never pay for it, and disarms it before the client is answered.
 */
public interface ClientProbe {
  /** Starts watching; runs {@code gone} at most once, on any thread, if the client disconnects. */
  void arm(Runnable gone);

  /** Stops watching. Called before anything is written to the client, and only after {@link #arm}. */
  void disarm();
}
