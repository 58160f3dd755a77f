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
 * lookup's timeout. With the store down, backed up or silent, a call has no answer (null).
 */
public final class SharedUsage implements AutoCloseable {
  private final StateStore store;
  private final BooleanSupplier storeUp;
  private final long timeoutNanos;
  private final BlockingQueue<Runnable> queue = new ArrayBlockingQueue<>(1024);
  private final Thread thread;
  private volatile boolean closed;

  private interface StoreCall<T> {
    T run(StateStore store) throws Exception;
  }

  public SharedUsage(StateStore store, BooleanSupplier storeUp, Duration lookupTimeout) {
    this.store = store;
    this.storeUp = storeUp;
    this.timeoutNanos = lookupTimeout.toNanos();
    this.thread = new Thread(this::serve, "routewise-usage");
    thread.setDaemon(true);
    thread.start();
  }

  private void serve() {
    while (!closed) {
      try {
        queue.take().run();
      } catch (InterruptedException stop) {
        return;
      } catch (RuntimeException e) {
        // a callback's failure: the thread goes on
      }
    }
  }

  private <T> CompletableFuture<T> submit(StoreCall<T> call) {
    CompletableFuture<T> answer = new CompletableFuture<>();
    Runnable task = () -> {
      try {
        answer.complete(call.run(store));
      } catch (Throwable e) {
        answer.completeExceptionally(e);
      }
    };
    if (closed || !storeUp.getAsBoolean() || !queue.offer(task)) {
      answer.completeExceptionally(new IllegalStateException("the state store is down or backed up"));
    }
    return answer;
  }

  /** Keeps {@code record} under {@code key} for {@code ttl} (not waited for). */
  public void put(String key, String record, Duration ttl) {
    submit(s -> {
      s.putUsage(key, record, ttl);
      return null;
    });
  }

  /** Keeps {@code key}'s record another {@code ttl} (not waited for). */
  public void keep(String key, Duration ttl) {
    submit(s -> {
      s.keepUsage(key, ttl);
      return null;
    });
  }

  /** {@code key}'s record, or null (none, or no answer within the lookup timeout). */
  public String get(String key) {
    try {
      return submit(s -> s.usage(key)).get(timeoutNanos, TimeUnit.NANOSECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return null;
    } catch (Exception noAnswer) {
      return null;
    }
  }

  /**
   * {@code key}'s record handed to {@code then} on this class's thread (at once on the caller's when
   * the store is down): null for none, or no answer.
   */
  public void get(String key, Consumer<String> then) {
    submit(s -> s.usage(key)).whenComplete((record, e) -> then.accept(e == null ? record : null));
  }

  /**
   * Claims counting {@code key}'s usage, for {@code ttl}; {@code then} hears TRUE (this claim holds),
   * FALSE (another did first) or null (no answer), on this class's thread (or at once, as above).
   */
  public void claim(String key, Duration ttl, Consumer<Boolean> then) {
    submit(s -> s.claimUsage(key, ttl)).whenComplete((won, e) -> then.accept(e == null ? won : null));
  }

  /** Waits until the calls queued before it have run (tests). */
  public void drain() throws Exception {
    submit(s -> null).get(5, TimeUnit.SECONDS);
  }

  @Override
  public void close() {
    closed = true;
    thread.interrupt();
  }
}
