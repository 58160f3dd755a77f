package io.routewise.routing;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;

/**
 * The pin threads: two, each with its own connection in the store, taking the requests' pin lookups
 * and writes from one short queue. Each takes whatever is queued (up to {@link #MAX_BATCH}) and makes
 * it one store call for the lookups and one for the writes (pipelined in Redis), so a burst of new
 * sessions waits a round trip or two, not one per session behind two threads (PinBurstBench, 64 request
 * threads: about 40,000 new sessions a second against 10,000 one call each).
 */
final class PinCalls implements AutoCloseable {
  /** The most requests one store call carries. */
  static final int MAX_BATCH = 64;

  /** A lookup ({@code offer} null) or a write of {@code offer} for {@code ttlMillis}, and its answer. */
  static final class Call {
    final String session;
    final String offer;
    final long ttlMillis;
    final CompletableFuture<StateStore.Pin> answer = new CompletableFuture<>();

    Call(String session, String offer, long ttlMillis) {
      this.session = session;
      this.offer = offer;
      this.ttlMillis = ttlMillis;
    }

    boolean write() {
      return offer != null;
    }
  }

  private final StateStore store;
  // short: a lookup waiting longer than its timeout is abandoned anyway
  private final BlockingQueue<Call> queue = new ArrayBlockingQueue<>(256);
  private final List<Thread> threads = new ArrayList<>();
  private volatile boolean closed;

  PinCalls(StateStore store) {
    this.store = store;
    for (int i = 1; i <= 2; i++) {
      Thread t = new Thread(this::serve, "routewise-pins-" + i);
      t.setDaemon(true);
      t.start();
      threads.add(t);
    }
  }

  /** Queues {@code call}; false when the queue is full (the threads are backed up) or closed. */
  boolean submit(Call call) {
    return !closed && queue.offer(call);
  }

  private void serve() {
    List<Call> batch = new ArrayList<>(MAX_BATCH);
    List<Call> lookups = new ArrayList<>(MAX_BATCH);
    List<Call> writes = new ArrayList<>(MAX_BATCH);
    while (!closed) {
      try {
        batch.add(queue.take());
      } catch (InterruptedException stop) {
        return;
      }
      queue.drainTo(batch, MAX_BATCH - 1);
      for (Call c : batch) {
        if (c.write()) {
          writes.add(c); // run even when its request stopped waiting: the store should still have the pin
        } else if (!c.answer.isDone()) { // a lookup its request gave up on is answered for nobody
          lookups.add(c);
        }
      }
      run(lookups, false);
      run(writes, true);
      batch.clear();
      lookups.clear();
      writes.clear();
    }
  }

  private void run(List<Call> calls, boolean write) {
    if (calls.isEmpty()) {
      return;
    }
    try {
      Map<String, StateStore.Pin> answers;
      if (write) {
        Map<String, StateStore.Pin> offers = new LinkedHashMap<>();
        for (Call c : calls) {
          // two first turns of one session in one batch: the first offer is the one made, both hear the winner
          offers.putIfAbsent(c.session, new StateStore.Pin(c.offer, c.ttlMillis));
        }
        answers = store.pinAllIfAbsent(offers);
      } else {
        Set<String> sessions = new LinkedHashSet<>();
        for (Call c : calls) {
          sessions.add(c.session);
        }
        answers = store.pins(sessions);
      }
      for (Call c : calls) {
        c.answer.complete(answers.get(c.session)); // null: no pin (a lookup), or none holds (a write: offered again)
      }
    } catch (Throwable e) { // the store failed (the sync notices and marks it down); the thread goes on
      for (Call c : calls) {
        c.answer.completeExceptionally(e);
      }
      if (e instanceof InterruptedException || e instanceof java.io.InterruptedIOException) {
        Thread.currentThread().interrupt(); // close() asked: the loop's next take ends the thread
      }
    }
  }

  @Override
  public void close() {
    closed = true;
    for (Thread t : threads) {
      t.interrupt();
    }
  }
}
