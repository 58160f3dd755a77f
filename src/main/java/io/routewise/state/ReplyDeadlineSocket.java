package io.routewise.state;

import java.io.FilterInputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketAddress;
import java.net.SocketTimeoutException;

/**
 * A Redis connection's socket whose replies must come whole within the timeout of the request they
 * answer: the socket's own timeout bounds each read alone, so a reply that came a few bytes at a time
 * (a congested link, a proxy in between, a loaded Redis answering a pipeline in pieces) held its
 * thread for as long as it took (a helper's trial: the sync thread two minutes in one reply, Redis
 * still counted up). Each flush (a command or pipeline sent) starts the clock; each read gets at most
 * what is left of it, and none once it is spent. One thread uses it at a time, as a Jedis connection.
 */
final class ReplyDeadlineSocket extends Socket {
  private final Socket socket;
  private final long timeoutNanos;
  private int soTimeout;
  private long deadline;
  private boolean awaiting;
  private InputStream input;
  private OutputStream output;

  ReplyDeadlineSocket(Socket socket, java.time.Duration timeout) throws IOException {
    this.socket = socket;
    this.timeoutNanos = timeout.toNanos();
    this.soTimeout = socket.getSoTimeout();
  }

  @Override
  public synchronized InputStream getInputStream() throws IOException {
    if (input == null) {
      input = new FilterInputStream(socket.getInputStream()) {
        @Override
        public int read() throws IOException {
          bound();
          return super.read();
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
          bound();
          return super.read(b, off, len);
        }
      };
    }
    return input;
  }

  @Override
  public synchronized OutputStream getOutputStream() throws IOException {
    if (output == null) {
      output = new FilterOutputStream(socket.getOutputStream()) {
        @Override
        public void write(byte[] b, int off, int len) throws IOException {
          out.write(b, off, len); // the socket's stream, not FilterOutputStream's byte at a time
        }

        @Override
        public void flush() throws IOException {
          super.flush();
          deadline = System.nanoTime() + timeoutNanos; // a request is out: its reply is due within the timeout
          awaiting = true;
        }
      };
    }
    return output;
  }

  /** Gives the next read what is left of the reply's time (the configured timeout where none is awaited). */
  private void bound() throws IOException {
    if (!awaiting || soTimeout == 0) {
      socket.setSoTimeout(soTimeout); // 0: no limit asked for (Jedis's blocking calls; none of routewise's)
      return;
    }
    long left = deadline - System.nanoTime();
    if (left <= 0) {
      throw new SocketTimeoutException("Read timed out (the reply did not come whole within "
          + timeoutNanos / 1_000_000 + " ms)");
    }
    socket.setSoTimeout((int) Math.max(1, Math.min(soTimeout, (left + 999_999) / 1_000_000)));
  }

  @Override
  public synchronized void setSoTimeout(int timeout) throws java.net.SocketException {
    soTimeout = timeout;
    socket.setSoTimeout(timeout);
  }

  @Override
  public synchronized int getSoTimeout() {
    return soTimeout;
  }

  @Override
  public synchronized void close() throws IOException {
    socket.close();
  }

  @Override
  public boolean isConnected() {
    return socket.isConnected();
  }

  @Override
  public boolean isBound() {
    return socket.isBound();
  }

  @Override
  public boolean isClosed() {
    return socket.isClosed();
  }

  @Override
  public boolean isInputShutdown() {
    return socket.isInputShutdown();
  }

  @Override
  public boolean isOutputShutdown() {
    return socket.isOutputShutdown();
  }

  @Override
  public SocketAddress getRemoteSocketAddress() {
    return socket.getRemoteSocketAddress();
  }

  @Override
  public SocketAddress getLocalSocketAddress() {
    return socket.getLocalSocketAddress();
  }

  @Override
  public String toString() {
    return socket.toString();
  }
}
