package io.routewise.upstream;

import java.io.IOException;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.util.concurrent.TimeUnit;

/**
 * Finds a pooled HTTP/1.1 connection that the upstream closed while it sat idle, before the request
 * is written on it. Servers close idle connections after seconds (uvicorn, so vLLM, and Node after
 * 5 s; gunicorn 2 s) while the pool keeps them for {@code client.keep_alive_ms}; OkHttp looks for a
 * closed one only after 10 s idle, so in between a request was written into a dead connection and
 * its client got a 502. Looking after the write could not tell "closed while idle" from "got the
 * request and died on it", and resending the latter runs (and bills) it twice; looking before the
 * write can, and a request found this way was never sent, so it can go again on a new connection.
 */
final class StaleConnections {
  /** A pooled connection idle less long is not asked for bytes in its socket, only in OkHttp's buffer. */
  static final long SOCKET_CHECK_AFTER_IDLE_NANOS = TimeUnit.MILLISECONDS.toNanos(10);

  /** Connections idle less long are not looked at: a busy one never pays the look's millisecond. */
  static final long CHECK_AFTER_IDLE_NANOS = TimeUnit.SECONDS.toNanos(1);

  private StaleConnections() {}

  /** The request was not written: its connection had been closed by the upstream (or had sent something unasked). */
  static class ClosedWhileIdle extends IOException {
    ClosedWhileIdle(String message, Throwable cause) {
      super(message, cause);
    }
  }

  /**
   * Waits up to a millisecond for anything on an idle connection: nothing is a live one; the end of
   * the stream, a reset or bytes nobody asked for (some servers send a 408 before closing) are a dead
   * one, which is retired and reported as {@link ClosedWhileIdle}. OkHttp's own check after 10 s is
   * the same read.
   */
  static void check(okhttp3.Connection connection) throws ClosedWhileIdle {
    Socket socket = connection.socket();
    String found;
    Throwable cause = null;
    try {
      int timeout = socket.getSoTimeout();
      socket.setSoTimeout(1);
      try {
        int b = socket.getInputStream().read();
        found = b < 0 ? "closed" : "sent bytes nobody asked for";
      } finally {
        socket.setSoTimeout(timeout);
      }
    } catch (SocketTimeoutException alive) {
      return;
    } catch (IOException e) {
      found = "reset";
      cause = e;
    }
    if (connection instanceof okhttp3.internal.connection.RealConnection pooled) {
      pooled.noNewExchanges(); // never handed out again
    }
    throw new ClosedWhileIdle("the pooled connection had been " + found + " by the upstream while idle", cause);
  }

  /**
   * OkHttp's buffer of what the connection read ({@code RealConnection.socket}, a private field:
   * OkHttp has no accessor); null when this OkHttp has no such field, which a test catches on upgrade.
   */
  private static final java.lang.reflect.Field BUFFERED = bufferedSocketField();

  private static java.lang.reflect.Field bufferedSocketField() {
    try {
      java.lang.reflect.Field f = okhttp3.internal.connection.RealConnection.class.getDeclaredField("socket");
      if (!okhttp3.internal.connection.BufferedSocket.class.isAssignableFrom(f.getType())) {
        throw new NoSuchFieldException("RealConnection.socket is a " + f.getType().getName());
      }
      f.setAccessible(true);
      return f;
    } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
      // another OkHttp: the socket's count still serves, after 10 ms idle (a test fails on such an upgrade)
      org.slf4j.LoggerFactory.getLogger(StaleConnections.class).warn("OkHttp's connection buffer is out of reach ({}): "
          + "bytes an upstream sends past an answer are found only on connections idle 10 ms", e.toString());
      return null;
    }
  }

  /** Whether the check of {@link #checkLeftovers} can see OkHttp's buffer (tests). */
  static boolean seesBufferedBytes() {
    return BUFFERED != null;
  }

  /**
   * Retires a pooled HTTP/1.1 connection holding bytes past the end of its last answer, read into
   * OkHttp's buffer or waiting in the socket's: the next request's answer would be read from them.
   * An upstream whose Content-Length undercounts (characters, not bytes) or that answers twice did
   * so: each client got the previous one's answer. OkHttp's buffer is looked at always (4 ns); the
   * socket's count costs a plain socket one {@code FIONREAD} (1.5 µs on the bench kit, 1.5 % of a
   * proxied request's CPU), so only on a connection idle {@link #SOCKET_CHECK_AFTER_IDLE_NANOS}. Bytes
   * that came in the answer's own segments are in OkHttp's buffer (over TLS too); later ones are
   * found only on a connection idle that long (and over TLS, not at all until decrypted), and any
   * check races bytes still on their way.
   */
  static void checkLeftovers(okhttp3.Connection connection, long idleNanos) throws ClosedWhileIdle {
    long buffered = 0;
    try {
      if (BUFFERED != null && connection instanceof okhttp3.internal.connection.RealConnection) {
        buffered = ((okhttp3.internal.connection.BufferedSocket) BUFFERED.get(connection)).getSource().getBuffer().size();
      }
      if (buffered == 0 && idleNanos >= SOCKET_CHECK_AFTER_IDLE_NANOS) {
        buffered = connection.socket().getInputStream().available();
      }
    } catch (IOException | ReflectiveOperationException | RuntimeException | LinkageError e) {
      return; // a closed socket: the write will say so
    }
    if (buffered > 0) {
      if (connection instanceof okhttp3.internal.connection.RealConnection pooled) {
        pooled.noNewExchanges();
      }
      throw new LeftoverBytes(buffered);
    }
  }

  /** The request was not written: its connection held bytes past the upstream's last answer. */
  static final class LeftoverBytes extends ClosedWhileIdle {
    LeftoverBytes(long bytes) {
      super("the pooled connection held " + bytes + " bytes past the upstream's last answer", null);
    }
  }

  /** Whether {@code e} is (or was caused by) a {@link LeftoverBytes}. */
  static boolean isLeftoverBytes(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof LeftoverBytes) {
        return true;
      }
    }
    return false;
  }

  /** Whether {@code e} is (or was caused by) a {@link ClosedWhileIdle}. */
  static boolean isClosedWhileIdle(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof ClosedWhileIdle) {
        return true;
      }
    }
    return false;
  }

  /**
   * Whether an HTTP/2 upstream said it never processed the request: it reset the stream with
   * REFUSED_STREAM, or its GOAWAY left the stream out (OkHttp reports those streams as refused), or
   * the connection was already going away when the stream was to open. RFC 9113 §8.7 makes such a
   * request safe to send again; servers rotating connections (GOAWAY after N requests or minutes, as
   * large API fronts do) otherwise turn the request in flight at that moment into a 502.
   */
  static boolean isRefusedByHttp2(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof okhttp3.internal.http2.StreamResetException reset
          && reset.errorCode == okhttp3.internal.http2.ErrorCode.REFUSED_STREAM) {
        return true;
      }
      if (t instanceof okhttp3.internal.http2.ConnectionShutdownException) {
        return true;
      }
    }
    return false;
  }
}
