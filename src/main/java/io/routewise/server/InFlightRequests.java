package io.routewise.server;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerFieldUpdater;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;

/**
 * Requests being served, and the switch that turns new chat requests away once shutdown begins, so
 * a restart lets running completions (often tens of seconds of streaming) finish instead of cutting
 * them off. A request counts from when Jetty hands it over until its response is completely written
 * (the last chunk of a stream included), so stopping the server after the drain loses no bytes.
 * A callback object, a response wrapper and three atomic operations per request; nothing blocks until
 * {@link #drain} is called. Once shutdown begins, every answer whose headers are still to go closes its
 * connection, those of requests that came before included, so pooling clients reconnect elsewhere.
 */
final class InFlightRequests extends Handler.Wrapper {
  private final AtomicInteger count = new AtomicInteger();
  private final ConnectionGuard guard;
  private final Object drained = new Object();
  private volatile boolean draining;
  private volatile boolean closing;
  private volatile boolean cutOff;

  /** @param guard told which connections have a request being handled, or null for none */
  InFlightRequests(ConnectionGuard guard) {
    this.guard = guard;
  }

  @Override
  public boolean handle(Request request, Response response, Callback callback) throws Exception {
    // Counted before the handler can look at the draining flag, which drain() sets before reading
    // the count: a request either sees the flag (and is turned away) or is waited for.
    count.incrementAndGet();
    org.eclipse.jetty.io.Connection connection = guard == null ? null : request.getConnectionMetaData().getConnection();
    if (guard != null) {
      guard.begin(connection);
    }
    Counted counted = new Counted(callback, connection);
    boolean handled;
    try {
      handled = super.handle(request, new Closing(request, response), counted);
    } catch (Throwable t) {
      counted.exitOnce();
      throw t;
    }
    if (!handled) {
      counted.exitOnce();
    }
    return handled;
  }

  /**
   * The request's callback, which uncounts it once its response is completely written. Once only:
   * a handler that throws may still have completed the callback.
   */
  private final class Counted extends Callback.Nested {
    private static final AtomicIntegerFieldUpdater<Counted> EXITED =
        AtomicIntegerFieldUpdater.newUpdater(Counted.class, "exited");
    private volatile int exited;
    private final org.eclipse.jetty.io.Connection connection;

    Counted(Callback callback, org.eclipse.jetty.io.Connection connection) {
      super(callback);
      this.connection = connection;
    }

    @Override
    public void succeeded() {
      try {
        super.succeeded();
      } finally {
        exitOnce();
      }
    }

    @Override
    public void failed(Throwable x) {
      try {
        super.failed(x);
      } finally {
        exitOnce();
      }
    }

    void exitOnce() {
      if (EXITED.compareAndSet(this, 0, 1)) {
        if (guard != null) {
          guard.end(connection);
        }
        exit();
      }
    }
  }

  /** The response, which says {@code Connection: close} if it starts once the shutdown has begun. */
  private final class Closing extends Response.Wrapper {
    Closing(Request request, Response response) {
      super(request, response);
    }

    @Override
    public void write(boolean last, java.nio.ByteBuffer content, Callback callback) {
      if ((closing || draining) && !isCommitted()) {
        getHeaders().put(org.eclipse.jetty.http.HttpHeader.CONNECTION, org.eclipse.jetty.http.HttpHeaderValue.CLOSE);
      }
      super.write(last, content, callback);
    }
  }

  private void exit() {
    if (count.decrementAndGet() == 0 && draining) {
      synchronized (drained) {
        drained.notifyAll();
      }
    }
  }

  int count() {
    return count.get();
  }

  /** From now on every answer closes its connection (server.shutdown_delay_ms: requests are still served). */
  void closeConnections() {
    closing = true;
  }

  boolean draining() {
    return draining;
  }

  /** Whether the shutdown's grace ran out with requests in flight: those are being cut off, not left by their clients. */
  boolean cutOff() {
    return cutOff;
  }

  /**
   * Turns new chat requests away and waits up to {@code grace} for those in flight to finish.
   *
   * @return how many were still in flight when the wait ended (0 when all finished)
   */
  int drain(Duration grace) throws InterruptedException {
    int left = await(grace);
    if (left > 0) {
      cutOff = true;
    }
    return left;
  }

  /**
   * As {@link #drain}, but what is left when the wait ends is not cut off: the shutdown waits on.
   *
   * @return how many are still in flight (0 when all finished)
   */
  int await(Duration wait) throws InterruptedException {
    draining = true;
    long deadline = System.nanoTime() + wait.toNanos();
    synchronized (drained) {
      long left;
      while (count.get() > 0 && (left = deadline - System.nanoTime()) > 0) {
        drained.wait(Math.max(1, left / 1_000_000));
      }
    }
    return count.get();
  }
}
