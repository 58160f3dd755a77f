package io.routewise.server;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Warns about upstream failures that clients see (502, 504, a stream cut off, a failover, an
 * upstream's own 5xx, and the 401/403/404 that mean a wrong key, URL or model in the config), at
 * most once per interval per upstream; the next line written says how many were left out since the
 * last. A wrong base_url or an outage shows in the log at once, and a thousand failing requests a
 * second do not flood it. Messages name the upstream's host and the error, never a key.
 */
final class UpstreamFailureLog {
  private static final Logger LOG = LoggerFactory.getLogger(UpstreamFailureLog.class);
  static final Duration DEFAULT_INTERVAL = Duration.ofSeconds(10);
  private static final int MAX_DETAIL = 500;

  private final long intervalNanos;
  private final LongSupplier clock;
  private final Consumer<String> sink;
  /** One window per upstream of the config (a ladder's every rung: a flapping one must not hide the others). */
  private final java.util.concurrent.ConcurrentHashMap<String, Window> windows = new java.util.concurrent.ConcurrentHashMap<>();
  private final java.util.concurrent.ConcurrentHashMap<String, Window> configWindows =
      new java.util.concurrent.ConcurrentHashMap<>();

  UpstreamFailureLog() {
    this(DEFAULT_INTERVAL, System::nanoTime, LOG::warn);
  }

  UpstreamFailureLog(Duration interval, LongSupplier clock, Consumer<String> sink) {
    this.intervalNanos = interval.toNanos();
    this.clock = clock;
    this.sink = sink;
  }

  /**
   * @param upstream the upstream's name under {@code upstreams:} (a bounded set: the config's)
   * @param what what the client got, e.g. {@code 502 upstream_unreachable}
   * @param detail the error for the operator: with the upstream's host and the I/O error, which the client's message leaves out
   */
  void failed(String upstream, String what, String detail) {
    log(windows.computeIfAbsent(upstream, u -> new Window()), upstream, what, detail);
  }

  /**
   * As {@link #failed}, for a mistake in the config rather than an outage (a refused key, a wrong
   * URL or model, a redirect): these have a window of their own per upstream, so a 401 is not left
   * out behind the 5xx of an outage that began just before it.
   */
  void misconfigured(String upstream, String what, String detail) {
    log(configWindows.computeIfAbsent(upstream, u -> new Window()), upstream, what, detail);
  }

  private void log(Window w, String upstream, String what, String detail) {
    long last = w.lastLogged.get();
    long now = clock.getAsLong(); // after reading last, so a stale clock never moves the window back
    if (last != Long.MIN_VALUE && now - last < intervalNanos || !w.lastLogged.compareAndSet(last, now)) {
      w.leftOut.incrementAndGet();
      return;
    }
    int leftOut = w.leftOut.getAndSet(0);
    sink.accept("upstream " + upstream + " failed (" + what + "): " + printable(detail)
        + (leftOut > 0 ? " [and " + leftOut + " more failure(s) of this upstream since the last message]" : ""));
  }

  /** The detail can quote the upstream (a malformed status line): bounded, one line, no escapes. */
  static String printable(String detail) {
    String d = detail == null ? "" : detail;
    if (d.length() > MAX_DETAIL) {
      d = d.substring(0, MAX_DETAIL) + "...";
    }
    StringBuilder out = new StringBuilder(d.length());
    for (int i = 0; i < d.length(); i++) {
      char c = d.charAt(i);
      out.append(Character.isISOControl(c) ? '?' : c);
    }
    return out.toString();
  }

  private static final class Window {
    final AtomicLong lastLogged = new AtomicLong(Long.MIN_VALUE);
    final AtomicInteger leftOut = new AtomicInteger();
  }
}
