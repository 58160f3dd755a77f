package io.routewise.server;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.LongSupplier;

/**
 * With failover on, an upstream that failed {@link #FAILURES_IN_A_ROW} calls in a row (unreachable,
 * timed out, 429, 5xx, 401/403) cools down: for the cooldown, requests chosen for it go straight to
 * its failover upstream instead of each paying for one more failure first (a connect timeout, or a
 * whole {@code timeout_ms} on a hung one, for every request of an outage). When the cooldown is over
 * one request tries it again: an answer ends the cooling, another failure starts a new cooldown; the
 * requests meanwhile keep going to the failover upstream. Only a state per upstream, two atomics:
 * nothing on the request path waits.
 */
final class UpstreamCooldowns {
  /** A single 5xx or 429 among many answers is not an outage: only this many in a row are. */
  static final int FAILURES_IN_A_ROW = 3;
  private static final long NOT_COOLING = Long.MIN_VALUE;

  private final long cooldownNanos;
  private final LongSupplier clock;
  private final Consumer<String> log;
  private final Map<String, State> states = new java.util.concurrent.ConcurrentHashMap<>();

  UpstreamCooldowns(Iterable<String> upstreams, Duration cooldown, LongSupplier clock, Consumer<String> log) {
    this.cooldownNanos = cooldown.toNanos();
    this.clock = clock;
    this.log = log;
    upstreams.forEach(name -> states.put(name, new State()));
  }

  /**
   * Whether a request chosen for {@code upstream} should skip it now. While it cools, yes; once the
   * cooldown is over, one caller gets {@code false} (the next try, which starts a new cooldown in case
   * it never reports) and the others keep skipping until that try answers or the new cooldown ends.
   */
  boolean skip(String upstream) {
    State s = states.get(upstream);
    long until = s.coolUntil.get();
    if (until == NOT_COOLING) {
      return false;
    }
    long now = clock.getAsLong();
    if (now - until < 0) {
      return true;
    }
    return !s.coolUntil.compareAndSet(until, now + cooldownNanos);
  }

  /** Whether {@code upstream} cools now, without taking its next try. */
  boolean cooling(String upstream) {
    long until = states.get(upstream).coolUntil.get();
    return until != NOT_COOLING && clock.getAsLong() - until < 0;
  }

  /** 1 while {@code upstream} cools (or waits for the answer of its next try), else 0: for the gauge. */
  double coolingGauge(String upstream) {
    return states.get(upstream).coolUntil.get() == NOT_COOLING ? 0 : 1;
  }

  /** A call to {@code upstream} failed as failover counts failures: unreachable, a timeout, 429, 5xx, 401, 403. */
  void failed(String upstream) {
    State s = states.get(upstream);
    int inARow = s.failures.incrementAndGet();
    if (inARow < FAILURES_IN_A_ROW) {
      return;
    }
    long previous = s.coolUntil.getAndSet(clock.getAsLong() + cooldownNanos);
    if (previous == NOT_COOLING) {
      log.accept("upstream " + upstream + " failed " + inARow + " calls in a row: cooling down for "
          + cooldownNanos / 1_000_000 + " ms (routing.failover_cooldown_ms); requests chosen for it go to its failover"
          + " upstream until a try answers");
    }
  }

  /** {@code upstream} answered (any status but those {@link #failed} counts): it is up. */
  void answered(String upstream) {
    State s = states.get(upstream);
    if (s.failures.get() != 0) {
      s.failures.set(0);
    }
    if (s.coolUntil.get() != NOT_COOLING && s.coolUntil.getAndSet(NOT_COOLING) != NOT_COOLING) {
      log.accept("upstream " + upstream + " answered again: cooling over");
    }
  }

  private static final class State {
    final AtomicInteger failures = new AtomicInteger();
    final AtomicLong coolUntil = new AtomicLong(NOT_COOLING);
  }
}
