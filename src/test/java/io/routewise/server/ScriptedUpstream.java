package io.routewise.server;

import io.routewise.RawHttp;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/** A raw upstream: each request (one per connection) gets the next scripted answer, then its connection closes. */
final class ScriptedUpstream implements AutoCloseable {
  interface Answer {
    void write(OutputStream out) throws Exception;
  }

  final ServerSocket server;
  final BlockingQueue<Answer> answers = new LinkedBlockingQueue<>();
  final AtomicInteger requests = new AtomicInteger();

  ScriptedUpstream() throws IOException {
    server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    RawHttp.serveEach(server, this::serve);
  }

  private void serve(Socket s) {
    try (s) {
      String head = RawHttp.readHead(s.getInputStream());
      s.getInputStream().readNBytes(RawHttp.contentLength(head));
      requests.incrementAndGet();
      Answer a = answers.poll(10, TimeUnit.SECONDS);
      if (a != null) {
        a.write(s.getOutputStream());
        s.getOutputStream().flush();
      }
    } catch (Exception e) {
      // the proxy went away
    }
  }

  String url() {
    return "http://127.0.0.1:" + server.getLocalPort() + "/v1";
  }

  static Answer json(int status, String body) {
    return out -> out.write(("HTTP/1.1 " + status + " X\r\nContent-Type: application/json\r\nConnection: close\r\n"
        + "Content-Length: " + body.getBytes(StandardCharsets.UTF_8).length + "\r\n\r\n" + body)
        .getBytes(StandardCharsets.UTF_8));
  }

  /** SSE headers, then {@code body} as it is, then the connection closes (no framing: read to EOF). */
  static Answer sse(String body) {
    return out -> out.write(("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n" + body)
        .getBytes(StandardCharsets.UTF_8));
  }

  @Override
  public void close() throws IOException {
    server.close();
  }
}
