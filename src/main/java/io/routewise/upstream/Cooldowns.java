package io.routewise.upstream;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.LongSupplier;

/**
 * A dependency that is down cools down: for the cooldown, calls to it are skipped instead of each
 * paying for one more failure first (a connect timeout, or a whole time limit on a hung one, for
 * every request of an outage). Upstreams with failover on (requests chosen for one go straight to
 * its failover upstream) and a {@code causal_llm} judge (requests go strong without asking it) use
 * it. Down means {@link #FAILURES_IN_A_ROW} calls in a row failed (for an upstream: unreachable,
 * timed out, 429 but one refusing a request too large for the limit, 5xx, 401/403, a stream that
 * broke off before its first byte) and none answered for {@link #QUIET}: on a busy dependency a few
 * errors in a row among many answers are not an outage, and cooling an upstream would send its
 * traffic to another model. When the cooldown is over one call tries it; the others keep going
 * round it until that try answers (the cooling ends), fails (a new cooldown starts) or runs past the
 * dependency's own time limit. Only atomics per name: nothing on the request path waits.
 */
public final class Cooldowns {
  public static final int FAILURES_IN_A_ROW = 3;
  public static final Duration QUIET = Duration.ofSeconds(1);
  /** {@link #claim}: the upstream does not cool; also the state of one that does not. */
  public static final long NOT_COOLING = Long.MIN_VALUE;
  /** How stale the last answer's time may be written: a busy upstream does not write it on every answer. */
  private static final long ANSWER_CLOCK_NANOS = TimeUnit.MILLISECONDS.toNanos(100);

  private final long cooldownNanos;
  private final LongSupplier clock;
  private final Consumer<String> log;
  private final String what;
  private final String meanwhile;
  private final Map<String, State> states = new java.util.concurrent.ConcurrentHashMap<>();

  /**
   * @param tryLimits per name, the longest one call to it can take (its connect and answer
   *     timeouts): a try is waited for that long before another is let through
   * @param what what the names are, for the log ("upstream", "judge")
   * @param meanwhile for the log, after "cooling down for N ms": the setting and what calls do meanwhile
   */
  public Cooldowns(Map<String, Duration> tryLimits, Duration cooldown, LongSupplier clock, Consumer<String> log,
      String what, String meanwhile) {
    this.cooldownNanos = cooldown.toNanos();
    this.clock = clock;
    this.log = log;
    this.what = what;
    this.meanwhile = meanwhile;
    long now = clock.getAsLong();
    tryLimits.forEach((name, limit) -> states.put(name, new State(Math.max(cooldownNanos, limit.toNanos()), now)));
  }

  /**
   * Whether a request chosen for {@code upstream} should skip it now. While it cools, yes; once the
   * cooldown is over, one caller gets {@code false} (the try) and the others keep skipping until it
   * reports, or for the upstream's time limit should it never report (its client left).
   */
  public boolean skip(String upstream) {
    return claim(upstream) == SKIPPED;
  }

  /** {@link #claim}: skip the upstream (it cools, or another request has its try). */
  public static final long SKIPPED = Long.MIN_VALUE + 1;

  /**
   * {@link #skip}, telling what was taken: {@link #SKIPPED}, {@link #NOT_COOLING} (free to call), or
   * the try's hold, which {@link #giveBack} returns should the try not be made after all.
   */
  public long claim(String upstream) {
    State s = states.get(upstream);
    long until = s.coolUntil.get();
    if (until == NOT_COOLING) {
      return NOT_COOLING;
    }
    long now = clock.getAsLong();
    if (now - until < 0) {
      return SKIPPED;
    }
    long hold = now + s.tryNanos;
    if (hold == NOT_COOLING || hold == SKIPPED || !s.coolUntil.compareAndSet(until, hold)) {
      return SKIPPED; // (a hold equal to a marker: once in 2^63 ns, skipped rather than misread)
    }
    s.tryStartedAt.set(now);
    s.tryHold.set(hold);
    return hold;
  }

  /** A try {@link #claim} took and that will not be made (its client left first): the next request takes it. */
  public void giveBack(String upstream, long claimed) {
    if (claimed != NOT_COOLING && claimed != SKIPPED) {
      states.get(upstream).coolUntil.compareAndSet(claimed, clock.getAsLong());
    }
  }

  /** Whether {@code upstream} is up: not cooling, nor waiting for a try to answer since it cooled. */
  public boolean up(String upstream) {
    return states.get(upstream).coolUntil.get() == NOT_COOLING;
  }

  /** Whether {@code upstream} cools now (a try in flight included), without taking its next try. */
  public boolean cooling(String upstream) {
    long until = states.get(upstream).coolUntil.get();
    return until != NOT_COOLING && clock.getAsLong() - until < 0;
  }

  /** How long until {@code upstream}'s cooldown (or its try's hold) ends; zero when it does not cool. */
  public Duration left(String upstream) {
    long until = states.get(upstream).coolUntil.get();
    return until == NOT_COOLING ? Duration.ZERO : Duration.ofNanos(Math.max(0, until - clock.getAsLong()));
  }

  /**
   * How long a caller turned away should wait before {@code upstream} may be up again: the rest of its
   * cooldown, and while a try is in flight at most the cooldown itself (the try's answer ends the cooling
   * sooner, its failure starts a cooldown that long), not the try's hold, which is only its worst case
   * (twice an upstream's timeouts: minutes by default). Zero when it does not cool.
   */
  public Duration retryIn(String upstream) {
    State s = states.get(upstream);
    long until = s.coolUntil.get();
    if (until == NOT_COOLING) {
      return Duration.ZERO;
    }
    long left = Math.max(0, until - clock.getAsLong());
    return Duration.ofNanos(until == s.tryHold.get() ? Math.min(left, cooldownNanos) : left);
  }

  /** 1 from the start of a cooldown until a try answers, else 0: for the gauge. */
  public double coolingGauge(String upstream) {
    return states.get(upstream).coolUntil.get() == NOT_COOLING ? 0 : 1;
  }

  /**
   * A call to {@code upstream}, sent at {@code calledAt} (the clock's time), failed: unreachable,
   * timed out, 429, 5xx, 401, 403, or a stream cut off before its first byte.
   */
  public void failed(String upstream, long calledAt) {
    failed(upstream, calledAt, Duration.ZERO);
  }

  /**
   * As {@link #failed(String, long)}, for a failure that asked to be left alone for {@code atLeast}
   * (a Retry-After): should it start or renew a cooldown, that cooldown lasts at least as long.
   */
  public void failed(String upstream, long calledAt, Duration atLeast) {
    State s = states.get(upstream);
    int inARow = s.failures.incrementAndGet();
    long now = clock.getAsLong();
    if (inARow < FAILURES_IN_A_ROW || now - s.lastAnswered.get() < QUIET.toNanos()) {
      return;
    }
    long coolNanos = Math.max(cooldownNanos, atLeast.toNanos());
    long until = now + coolNanos;
    // The try's failure (a call sent since the try began: no other gets through during its hold)
    // starts a fresh cooldown; kept, its hold (twice the timeouts, minutes by default) was the
    // cooldown after every failed try. Another call's failure, sent before, never shortens a hold.
    long tryHold = s.tryHold.get();
    boolean theTry = calledAt - s.tryStartedAt.get() >= 0;
    long previous = s.coolUntil.getAndUpdate(u -> u == NOT_COOLING || u - until < 0 || (theTry && u == tryHold) ? until : u);
    if (clock.getAsLong() - s.lastAnswered.get() < QUIET.toNanos()) {
      // An answer came meanwhile: not down after all. Each failure takes back what it set, whatever it
      // found: two failures passing the check before an answer, the second writing over the first's
      // cooldown, left the first's take-back failing and the second not looking (a live upstream
      // cooled silently; shown by interleaving, not by a test).
      s.coolUntil.compareAndSet(until, NOT_COOLING);
      return;
    }
    if (previous == NOT_COOLING) {
      log.accept(what + " " + upstream + " failed " + inARow + " calls in a row and answered none for "
          + TimeUnit.NANOSECONDS.toMillis(now - s.lastAnswered.get()) + " ms: cooling down for "
          + coolNanos / 1_000_000 + " ms " + meanwhile);
    }
  }

  /** {@code upstream} answered (any status but those {@link #failed} counts; a stream, once its first bytes came). */
  public void answered(String upstream) {
    State s = states.get(upstream);
    long now = clock.getAsLong();
    if (now - s.lastAnswered.get() > ANSWER_CLOCK_NANOS) {
      s.lastAnswered.set(now);
    }
    if (s.failures.get() != 0) {
      s.failures.set(0);
    }
    if (s.coolUntil.get() != NOT_COOLING && s.coolUntil.getAndSet(NOT_COOLING) != NOT_COOLING) {
      log.accept(what + " " + upstream + " answered again: cooling over");
    }
  }

  private static final class State {
    final long tryNanos;
    final AtomicInteger failures = new AtomicInteger();
    final AtomicLong lastAnswered;
    final AtomicLong coolUntil = new AtomicLong(NOT_COOLING);
    /** When the last try was let through, and the hold it set ({@code coolUntil} while it is in flight). */
    final AtomicLong tryStartedAt;
    final AtomicLong tryHold = new AtomicLong(NOT_COOLING);

    State(long tryNanos, long now) {
      this.tryNanos = tryNanos;
      this.lastAnswered = new AtomicLong(now);
      this.tryStartedAt = new AtomicLong(now + Long.MAX_VALUE / 2); // no try yet: after any call
    }
  }
}
