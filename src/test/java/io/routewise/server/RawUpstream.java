package io.routewise.server;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

/** An upstream on a raw socket, for answers no HTTP server library sends: cut off part way. */
final class RawUpstream {
  private RawUpstream() {}

  /**
   * Answers every request 200 with {@code contentType} and the first {@code sent} characters of
   * {@code body}, then either ends the body properly ({@code endsCleanly}: chunked, its last chunk
   * sent, as a gateway that gave up on its backend does) or closes the connection (a stream chunked,
   * anything else with the whole body's length: cut off).
   */
  static ServerSocket answering(String contentType, String body, int sent, boolean endsCleanly) throws IOException {
    ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    Thread.ofVirtual().start(() -> {
      while (!server.isClosed()) {
        try (Socket s = server.accept()) {
          readRequest(s.getInputStream());
          byte[] part = body.substring(0, sent).getBytes(StandardCharsets.UTF_8);
          boolean chunked = endsCleanly || contentType.equals("text/event-stream");
          OutputStream out = s.getOutputStream();
          out.write(("HTTP/1.1 200 OK\r\nContent-Type: " + contentType + "\r\n" + (chunked
              ? "Transfer-Encoding: chunked\r\n\r\n" + Integer.toHexString(part.length) + "\r\n"
              : "Content-Length: " + body.getBytes(StandardCharsets.UTF_8).length + "\r\n\r\n"))
              .getBytes(StandardCharsets.UTF_8));
          out.write(part);
          out.write((chunked ? "\r\n" : "").getBytes(StandardCharsets.UTF_8));
          out.write((endsCleanly ? "0\r\n\r\n" : "").getBytes(StandardCharsets.UTF_8));
          out.flush();
          Thread.sleep(200);
        } catch (IOException | InterruptedException closed) {
          // the next, or done
        }
      }
    });
    return server;
  }

  /** Reads a request's head and its body (by its Content-Length). */
  private static void readRequest(InputStream in) throws IOException {
    StringBuilder head = new StringBuilder();
    while (!head.toString().endsWith("\r\n\r\n")) {
      int b = in.read();
      if (b < 0) {
        throw new IOException("closed");
      }
      head.append((char) b);
    }
    java.util.regex.Matcher length = java.util.regex.Pattern.compile("(?i)content-length: *(\\d+)").matcher(head);
    in.readNBytes(length.find() ? Integer.parseInt(length.group(1)) : 0);
  }
}
