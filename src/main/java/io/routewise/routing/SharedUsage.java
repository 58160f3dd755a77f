package io.routewise.routing;

import java.time.Duration;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

/**
 * Background responses' awaited usage, shared through the state store so that whichever replica
 * relays the poll that shows one done counts it, once ({@link StateStore#claimUsage}). One thread of
 * its own makes the store calls (a store connection is a thread's), from a short queue: writes and
 * claims are not waited for; a lookup, asked on a request's thread, is waited for at most the pin
 * lookup's timeout, and skipped once its request stopped waiting. Lookups take at most half the
 * queue, so a burst of them cannot turn a claim away. With the store down, backed up or silent, a
 * call has no answer. At close, claims and writes still queued get a second to run.
 */
public final class SharedUsage implements AutoCloseable {
  static final int CAPACITY = 1024;

  private final StateStore store;
  private final BooleanSupplier storeUp;
  private final long timeoutNanos;
  private final BlockingQueue<Call<?>> queue = new ArrayBlockingQueue<>(CAPACITY);
  /** Places lookups may take in the queue: half of it, so claims and writes always find room. */
  private final java.util.concurrent.Semaphore lookupPlaces = new java.util.concurrent.Semaphore(CAPACITY / 2);
  private final Thread thread;
  private volatile boolean closed;

  /** A lookup's answer: whether the store answered, and the record it holds (null: none). */
  public record Lookup(boolean answered, String record) {}

  private interface StoreCall<T> {
    T run(StateStore store) throws Exception;
  }

  private static final class Call<T> {
    final StoreCall<T> body;
    /** Takes a lookup's place (released once it ran or was skipped). */
    final boolean lookup;
    /** Skipped once its caller stopped waiting. */
    final boolean skippable;
    final CompletableFuture<T> answer = new CompletableFuture<>();

    Call(StoreCall<T> body, boolean lookup, boolean skippable) {
      this.body = body;
      this.lookup = lookup;
      this.skippable = skippable;
    }

    void run(StateStore store) {
      if (skippable && answer.isDone()) {
        return; // its request stopped waiting: answered for nobody
      }
      try {
        answer.complete(body.run(store));
      } catch (Throwable e) {
        answer.completeExceptionally(e);
      }
    }
  }

  public SharedUsage(StateStore store, BooleanSupplier storeUp, Duration lookupTimeout) {
    this.store = store;
    this.storeUp = storeUp;
    this.timeoutNanos = lookupTimeout.toNanos();
    this.thread = new Thread(this::serve, "routewise-usage");
    thread.setDaemon(true);
    thread.start();
  }

  /** At close, claims and writes still queued get this long to run (the store is still open then). */
  private static final long CLOSE_GRACE_NANOS = java.util.concurrent.TimeUnit.SECONDS.toNanos(1);

  private void serve() {
    while (!closed) {
      Call<?> call;
      try {
        call = queue.take();
      } catch (InterruptedException stop) {
        break;
      }
      runOne(call);
    }
    // closed: claims and writes still queued run while the grace lasts; the rest have no answer (a
    // claim's caller then counts it itself)
    long until = System.nanoTime() + CLOSE_GRACE_NANOS;
    Thread.interrupted(); // the close's interrupt, not the store's to see
    for (Call<?> left; (left = queue.poll()) != null; ) {
      if (!left.lookup && System.nanoTime() - until < 0) {
        runOne(left);
      } else {
        left.answer.completeExceptionally(new IllegalStateException("closed"));
        release(left);
      }
    }
  }

  private void runOne(Call<?> call) {
    try {
      call.run(store);
    } catch (RuntimeException e) {
      // a callback's failure: the thread goes on
    } finally {
      release(call);
    }
  }

  private void release(Call<?> call) {
    if (call.lookup) {
      lookupPlaces.release();
    }
  }

  private <T> CompletableFuture<T> submit(StoreCall<T> body, boolean lookup, boolean skippable) {
    Call<T> call = new Call<>(body, lookup, skippable);
    if (closed || !storeUp.getAsBoolean()) {
      call.answer.completeExceptionally(new IllegalStateException("the state store is down"));
      return call.answer;
    }
    if (lookup && !lookupPlaces.tryAcquire()) {
      call.answer.completeExceptionally(new IllegalStateException("the store's lookups are backed up"));
      return call.answer;
    }
    if (!queue.offer(call)) {
      release(call);
      if (!lookup) {
        dropped(); // a lookup's request is told (no answer); a write's or claim's caller is not waiting
      }
      call.answer.completeExceptionally(new IllegalStateException("the store's calls are backed up"));
    } else if (closed && queue.remove(call)) { // closed as it was queued: the thread may have drained already
      release(call);
      call.answer.completeExceptionally(new IllegalStateException("closed"));
    }
    return call.answer;
  }

  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(SharedUsage.class);
  /** Writes and claims dropped for a full queue since the last warning, and when that was (nanoTime). */
  private final java.util.concurrent.atomic.AtomicLong droppedSinceWarning = new java.util.concurrent.atomic.AtomicLong();
  private final java.util.concurrent.atomic.AtomicLong lastWarning = new java.util.concurrent.atomic.AtomicLong(
      System.nanoTime() - WARN_EVERY_NANOS);
  private static final long WARN_EVERY_NANOS = TimeUnit.MINUTES.toNanos(1);

  /**
   * A write or claim the full queue turned away: said at most once a minute, with how many. Before,
   * it was silent, and the background responses they were for went uncounted at other replicas.
   */
  private void dropped() {
    droppedSinceWarning.incrementAndGet();
    long last = lastWarning.get();
    long now = System.nanoTime();
    if (now - last >= WARN_EVERY_NANOS && lastWarning.compareAndSet(last, now)) {
      long count = droppedSinceWarning.getAndSet(0);
      LOG.warn("shared state: the awaited-usage queue is full ({} calls, the store slower than the traffic): {} "
          + "writes or claims dropped since the last warning; a background response they were for is counted by "
          + "the replica that relayed it, or unmetered", CAPACITY, count);
    }
  }

  /** Keeps {@code record} under {@code key} for {@code ttl} (not waited for). */
  public void put(String key, String record, Duration ttl) {
    submit(s -> {
      s.putUsage(key, record, ttl);
      return null;
    }, false, false);
  }

  /** Keeps {@code key}'s record another {@code ttl} (not waited for). */
  public void keep(String key, Duration ttl) {
    submit(s -> {
      s.keepUsage(key, ttl);
      return null;
    }, false, false);
  }

  /** {@code key}'s record, waited for at most the lookup timeout (a request's thread). */
  public Lookup get(String key) {
    CompletableFuture<String> answer = submit(s -> s.usage(key), true, true);
    try {
      return new Lookup(true, answer.get(timeoutNanos, TimeUnit.NANOSECONDS));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (Exception noAnswer) {
      // down, backed up, failed or too slow
    }
    answer.cancel(false); // still queued: skipped
    return new Lookup(false, null);
  }

  /**
   * {@code key}'s record handed to {@code then} on this class's thread (at once on the caller's when
   * the store is down).
   */
  public void get(String key, Consumer<Lookup> then) {
    submit(s -> s.usage(key), true, false).whenComplete((record, e) -> then.accept(new Lookup(e == null, record)));
  }

  /**
   * Claims counting {@code key}'s usage, for {@code ttl}; {@code then} hears TRUE (this claim holds),
   * FALSE (another did first) or null (no answer), on this class's thread (or at once, as above).
   */
  public void claim(String key, Duration ttl, Consumer<Boolean> then) {
    submit(s -> s.claimUsage(key, ttl), false, false).whenComplete((won, e) -> then.accept(e == null ? won : null));
  }

  /** Told when the store lost its state: writes again the records this replica keeps. */
  private volatile Runnable onStoreLost;

  /** Sets what {@link #storeLost} runs (the records' holder, once it has one to keep). */
  public void onStoreLost(Runnable writeAgain) {
    onStoreLost = writeAgain;
  }

  /** The store lost its state (restarted empty, flushed): the records are written again. Sync thread. */
  void storeLost() {
    Runnable r = onStoreLost;
    if (r != null) {
      r.run();
    }
  }

  /** Waits until the calls queued before it have run, for a place in the queue first if it is full (tests). */
  public void drain() throws Exception {
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (true) {
      try {
        submit(s -> null, false, false).get(5, TimeUnit.SECONDS);
        return;
      } catch (java.util.concurrent.ExecutionException full) {
        if (closed || System.nanoTime() - until > 0) {
          throw full;
        }
        Thread.sleep(5);
      }
    }
  }

  /**
   * Stops taking calls and waits (a little past the grace) for those queued to run or fail, so the
   * store, closed after this, is still open for them.
   */
  @Override
  public void close() {
    closed = true;
    // woken by a call of nothing, not interrupted: a store call under way is let finish
    if (!queue.offer(new Call<Void>(store -> null, false, false))) {
      thread.interrupt();
    }
    try {
      thread.join(java.util.concurrent.TimeUnit.NANOSECONDS.toMillis(CLOSE_GRACE_NANOS) + 1_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
