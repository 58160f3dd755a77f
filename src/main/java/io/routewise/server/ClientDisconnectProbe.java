package io.routewise.server;

import io.routewise.upstream.ClientProbe;
import jakarta.servlet.http.HttpServletRequest;
import java.io.IOException;
import org.eclipse.jetty.ee10.servlet.ServletContextRequest;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.io.SocketChannelEndPoint;
import org.eclipse.jetty.util.Callback;

/**
 * Notices an HTTP/1.1 client closing its connection while its request waits on the upstream, or
 * on a scoring thread for its routing decision.
 *
 * <p>Jetty does not read from a connection while its request is being handled (the body has been
 * read), so it cannot see the client leave. This registers read interest on the connection itself;
 * when the socket becomes readable, the bytes waiting are counted without consuming them (FIONREAD):
 * none means end of stream, so the client is gone. Bytes mean a pipelined next request, which is
 * left for Jetty to parse once this response is done. Disarming takes the interest back before
 * Jetty needs it again, which it does only after the response is complete.
 *
 * <p>This relies on the handler being synchronous and having read the request body to its end
 * before the decision and the upstream call: only then has Jetty no read interest of its own registered, so the
 * interest failed on disarm is always this probe's. A client that only half-closes its side (rare;
 * no mainstream HTTP client does) looks the same as one that left, as it does to nginx by default.
 */
final class ClientDisconnectProbe implements ClientProbe {
  private static final Exception DISARMED = new Exception("probe disarmed", null, false, false) { };

  private final HttpServletRequest request;
  private SocketChannelEndPoint endPoint;
  private Interest armed;

  /** A probe for this request's connection; it finds the connection only when armed, so quick calls pay nothing more. */
  ClientDisconnectProbe(HttpServletRequest request) {
    this.request = request;
  }

  /** Watches the connection if it is plain HTTP/1.1 over TCP; otherwise (none found) does nothing. */
  @Override
  public synchronized void arm(Runnable gone) {
    if (endPoint == null) {
      ServletContextRequest r = ServletContextRequest.getServletContextRequest(request);
      EndPoint e = r == null ? null : r.getConnectionMetaData().getConnection().getEndPoint();
      if (!(e instanceof SocketChannelEndPoint socket)) {
        return;
      }
      endPoint = socket;
    }
    Interest interest = new Interest(gone);
    if (endPoint.tryFillInterested(interest)) {
      armed = interest;
    }
  }

  /**
   * Whether the client has closed its connection, looked at for up to {@code waitMillis}: a closed
   * connection is readable at once, so a client that left is seen within a selector round; one
   * still there costs the whole wait. For a request that waited long on something else (a remote
   * router's decision) before its upstream call, which would otherwise be bought for nobody.
   */
  boolean goneWithin(long waitMillis) throws InterruptedException {
    java.util.concurrent.CountDownLatch gone = new java.util.concurrent.CountDownLatch(1);
    arm(gone::countDown);
    try {
      return gone.await(waitMillis, java.util.concurrent.TimeUnit.MILLISECONDS);
    } finally {
      disarm();
    }
  }

  @Override
  public synchronized void disarm() {
    Interest interest = armed;
    armed = null;
    // Fails the registered interest only if it is still ours and still pending: the request's
    // body was read to its end, so Jetty itself has no interest registered until the response is done.
    if (interest != null && !interest.fired) {
      endPoint.getFillInterest().onFail(DISARMED);
    }
  }

  /** One arming's read interest. Runs on Jetty's selector, so it does no blocking work. */
  private final class Interest implements Callback {
    private final Runnable gone;
    private volatile boolean fired;

    Interest(Runnable gone) {
      this.gone = gone;
    }

    @Override
    public void succeeded() {
      fired = true;
      if (waitingBytes() == 0) {
        cancel();
      }
    }

    @Override
    public void failed(Throwable x) {
      fired = true;
      if (x != DISARMED) {
        cancel(); // the connection failed or was closed under the request: nobody to answer either
      }
    }

    /** Off the selector thread: cancelling closes the upstream socket, which is not the selector's work. */
    private void cancel() {
      Thread.ofVirtual().name("routewise-client-gone").start(gone);
    }

    @Override
    public InvocationType getInvocationType() {
      return InvocationType.NON_BLOCKING;
    }

    private int waitingBytes() {
      try {
        return endPoint.getChannel().socket().getInputStream().available();
      } catch (IOException e) {
        return 0; // closed or reset: gone
      }
    }
  }
}
