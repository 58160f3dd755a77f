package io.routewise.server;

import io.javalin.http.Context;
import io.routewise.upstream.ClientProbe;
import java.io.IOException;
import java.nio.channels.SocketChannel;
import org.eclipse.jetty.ee10.servlet.ServletContextRequest;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.io.SocketChannelEndPoint;
import org.eclipse.jetty.util.Callback;

/**
 * Notices an HTTP/1.1 client closing its connection while its request waits on the upstream.
 *
 * <p>Jetty does not read from a connection while its request is being handled (the body has been
 * read), so it cannot see the client leave. This registers read interest on the connection itself;
 * when the socket becomes readable, the bytes waiting are counted without consuming them (FIONREAD):
 * none means end of stream, so the client is gone. Bytes mean a pipelined next request, which is
 * left for Jetty to parse once this response is done. Disarming takes the interest back before
 * Jetty needs it again, which it does only after the response is complete.
 */
final class ClientDisconnectProbe implements ClientProbe {
  private static final Exception DISARMED = new Exception("probe disarmed", null, false, false) { };

  private final SocketChannelEndPoint endPoint;
  private Interest armed;

  private ClientDisconnectProbe(SocketChannelEndPoint endPoint) {
    this.endPoint = endPoint;
  }

  /** A probe for this request's connection, or null where there is none to watch (not plain HTTP/1.1 over TCP). */
  static ClientDisconnectProbe of(Context ctx) {
    ServletContextRequest request = ServletContextRequest.getServletContextRequest(ctx.req());
    if (request == null) {
      return null;
    }
    EndPoint endPoint = request.getConnectionMetaData().getConnection().getEndPoint();
    return endPoint instanceof SocketChannelEndPoint socket && socket.getChannel() instanceof SocketChannel
        ? new ClientDisconnectProbe(socket) : null;
  }

  @Override
  public synchronized void arm(Runnable gone) {
    Interest interest = new Interest(gone);
    if (endPoint.tryFillInterested(interest)) {
      armed = interest;
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
        gone.run();
      }
    }

    @Override
    public void failed(Throwable x) {
      fired = true; // disarmed, or the connection failed or timed out: Jetty handles the latter itself
    }

    @Override
    public InvocationType getInvocationType() {
      return InvocationType.NON_BLOCKING;
    }

    private int waitingBytes() {
      try {
        return ((SocketChannel) endPoint.getChannel()).socket().getInputStream().available();
      } catch (IOException e) {
        return 0; // closed or reset: gone
      }
    }
  }
}
