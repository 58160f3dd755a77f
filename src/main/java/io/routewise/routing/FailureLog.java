package io.routewise.routing;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Logs router failures once per (router, kind) at WARN and stays quiet afterwards, so an endpoint
 * that is down does not write a line per request; the failure metric counts every occurrence.
 * Kinds are bounded (see {@link RouterException#kind()}), so the set of logged pairs stays small.
 * Routers write messages without secrets or prompts; this logs the message, not the stack trace.
 */
public final class FailureLog implements RoutingListener {
  private static final Logger LOG = LoggerFactory.getLogger(FailureLog.class);

  private final Set<String> seen = ConcurrentHashMap.newKeySet();
  private final Consumer<String> warn;

  public FailureLog() {
    this(LOG::warn);
  }

  /** For tests: {@code warn} receives each line that would be logged. */
  public FailureLog(Consumer<String> warn) {
    this.warn = warn;
  }

  @Override
  public void routerFailed(String router, String kind, Throwable error) {
    if (seen.add(router + '\u0000' + kind)) {
      warn.accept("router " + router + " failed (" + kind + "): " + describe(error)
          + "; routed to the strong model. Further '" + kind + "' failures of " + router
          + " are only counted (routewise_router_failures_total)");
    }
  }

  /** Whether a failure of this kind has been logged. */
  public boolean logged(String router, String kind) {
    return seen.contains(router + '\u0000' + kind);
  }

  private static String describe(Throwable error) {
    if (error == null) {
      return "no detail";
    }
    return error instanceof RouterException || error.getMessage() == null
        ? String.valueOf(error.getMessage() == null ? error.getClass().getName() : error.getMessage())
        : error.getClass().getSimpleName() + ": " + error.getMessage();
  }
}
