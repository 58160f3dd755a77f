package io.routewise.server;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.util.thread.Scheduler;

/**
 * Client connections, held to a number and to a deadline for their request headers.
 *
 * <p>Past {@code maxConnections} open at once, a new connection is closed as soon as it is accepted:
 * accepting goes on (Jetty's own connection limits, which stop accepting, left the server never
 * accepting again behind Javalin), and the file descriptors left stay for the upstream calls that
 * every request needs. A new connection that has not sent a whole request's headers {@code
 * headerMillis} after it opened is closed, and so is a kept-alive one that began a request and has
 * not finished its headers one to two periods later: a client trickling headers a byte at a time
 * would otherwise keep a connection for as long as each byte comes within the idle timeout.
 *
 * <p>Runs on Jetty's selector and scheduler threads: a counter, and one scheduled check per open
 * connection, cancelled when it closes.
 */
final class ConnectionGuard implements Connection.Listener {
  private final int maxConnections;
  private final long headerMillis;
  private volatile Scheduler scheduler;
  private final Consumer<String> closed;
  private final AtomicInteger open = new AtomicInteger();
  /** Each open connection's check, until the connection closes: at most maxConnections. */
  private final java.util.concurrent.ConcurrentHashMap<Connection, Watch> watches =
      new java.util.concurrent.ConcurrentHashMap<>();

  /**
   * @param maxConnections connections open at once, 0 for no limit
   * @param headerMillis the time a new connection has to send its first request's headers, and a
   *     kept-alive one a later request's once it began sending it (up to twice this); 0 for none
   * @param closed told each connection this closes: {@code limit} or {@code headers}
   */
  ConnectionGuard(int maxConnections, long headerMillis, Consumer<String> closed) {
    this.maxConnections = maxConnections;
    this.headerMillis = headerMillis;
    this.closed = closed;
  }

  /** Guards {@code connector}'s connections; before it starts (the first connector's scheduler runs the checks). */
  void attach(org.eclipse.jetty.server.Connector connector) {
    if (scheduler == null) {
      scheduler = connector.getScheduler();
    }
    connector.addBean(this);
  }

  /**
   * A request on {@code connection} is being handled, from when Jetty hands it over until its answer
   * is written: a body arriving then (slowly, after a 100 Continue) is its business, not a header's.
   * Jetty's own count of answers sent moves when an answer's headers go, the interim 100 included,
   * so it cannot tell (review).
   */
  void begin(Connection connection) {
    Watch watch = connection == null ? null : watches.get(connection);
    if (watch != null) {
      watch.handling.incrementAndGet();
    }
  }

  /** The request {@link #begin} counted is answered. */
  void end(Connection connection) {
    Watch watch = connection == null ? null : watches.get(connection);
    if (watch != null) {
      watch.handling.decrementAndGet();
    }
  }

  @Override
  public void onOpened(Connection connection) {
    int now = open.incrementAndGet();
    if (maxConnections > 0 && now > maxConnections) {
      closed.accept("limit");
      connection.getEndPoint().close();
      return;
    }
    if (headerMillis > 0) {
      Watch watch = new Watch(connection);
      watches.put(connection, watch);
      watch.next();
    }
  }

  @Override
  public void onClosed(Connection connection) {
    open.decrementAndGet();
    // a short-lived connection's check would hold it until it ran
    Watch watch = watches.remove(connection);
    if (watch != null) {
      watch.cancel();
    }
  }

  /**
   * One connection's check, every {@code headerMillis}. Jetty counts a request in once its headers
   * are parsed, and a request being handled (a long answer, a body arriving) is never judged. Between requests, bytes that came without making a request are a request's start:
   * if the check after that one finds no new request either, its headers took over a period, and the
   * connection is closed. A connection sending nothing between requests is left to Jetty's idle timeout.
   */
  private final class Watch implements Runnable {
    private final Connection connection;
    /** Requests on this connection being handled now ({@link #begin}, {@link #end}). */
    final AtomicInteger handling = new AtomicInteger();
    private long messagesIn;
    private long bytesIn;
    private boolean started;
    private volatile Scheduler.Task task;

    Watch(Connection connection) {
      this.connection = connection;
    }

    void next() {
      task = scheduler.schedule(this, headerMillis, TimeUnit.MILLISECONDS);
    }

    void cancel() {
      Scheduler.Task t = task;
      if (t != null) {
        t.cancel();
      }
    }

    @Override
    public void run() {
      if (!connection.getEndPoint().isOpen()) {
        watches.remove(connection);
        return;
      }
      long in = connection.getMessagesIn();
      long bytes = connection.getBytesIn();
      boolean noNewRequest = handling.get() == 0 && in == messagesIn;
      if (in == 0 || (noNewRequest && started)) {
        watches.remove(connection);
        closed.accept("headers");
        connection.getEndPoint().close();
        return;
      }
      started = noNewRequest && bytes > bytesIn;
      messagesIn = in;
      bytesIn = bytes;
      next();
    }
  }

  /** Client connections open now (those being closed for the limit included, briefly). */
  int open() {
    return open.get();
  }
}
