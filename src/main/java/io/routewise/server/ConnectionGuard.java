package io.routewise.server;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.util.thread.Scheduler;

/**
 * Client connections, held to a number and to a deadline for their first request.
 *
 * <p>Past {@code maxConnections} open at once, a new connection is closed as soon as it is accepted:
 * accepting goes on (Jetty's own connection limits, which stop accepting, left the server never
 * accepting again behind Javalin), and the file descriptors left stay for the upstream calls that
 * every request needs. A connection that has not sent a whole request's headers {@code
 * firstRequestMillis} after it opened is closed: a client trickling its headers a byte at a time
 * would otherwise keep it for as long as each byte comes within the idle timeout. Later requests on
 * a kept-alive connection are not timed: that connection already sent one, and the proxy in front
 * (README) is the place for per-client limits.
 *
 * <p>Runs on Jetty's selector and scheduler threads: a counter, and one scheduled check per open
 * connection, cancelled when it closes.
 */
final class ConnectionGuard implements Connection.Listener {
  private final int maxConnections;
  private final long firstRequestMillis;
  private final Scheduler scheduler;
  private final Consumer<String> closed;
  private final AtomicInteger open = new AtomicInteger();
  /** Each open connection's first-request check, until it runs or the connection closes: at most maxConnections. */
  private final java.util.concurrent.ConcurrentHashMap<Connection, Scheduler.Task> deadlines =
      new java.util.concurrent.ConcurrentHashMap<>();

  /**
   * @param maxConnections connections open at once, 0 for no limit
   * @param firstRequestMillis the time a connection has to send its first request's headers, 0 for none
   * @param closed told each connection this closes: {@code limit} or {@code headers}
   */
  ConnectionGuard(int maxConnections, long firstRequestMillis, Scheduler scheduler, Consumer<String> closed) {
    this.maxConnections = maxConnections;
    this.firstRequestMillis = firstRequestMillis;
    this.scheduler = scheduler;
    this.closed = closed;
  }

  @Override
  public void onOpened(Connection connection) {
    int now = open.incrementAndGet();
    if (maxConnections > 0 && now > maxConnections) {
      closed.accept("limit");
      connection.getEndPoint().close();
      return;
    }
    if (firstRequestMillis > 0) {
      deadlines.put(connection, scheduler.schedule(() -> {
        deadlines.remove(connection);
        // a request counts in once its headers are parsed, so a long answer to it is not cut
        if (connection.getEndPoint().isOpen() && connection.getMessagesIn() == 0) {
          closed.accept("headers");
          connection.getEndPoint().close();
        }
      }, firstRequestMillis, TimeUnit.MILLISECONDS));
    }
  }

  @Override
  public void onClosed(Connection connection) {
    open.decrementAndGet();
    // a short-lived connection's check would hold it until the deadline
    Scheduler.Task deadline = deadlines.remove(connection);
    if (deadline != null) {
      deadline.cancel();
    }
  }

  /** Client connections open now (those being closed for the limit included, briefly). */
  int open() {
    return open.get();
  }
}
