package io.routewise;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

/** HTTP/1.1 by hand, for tests that need what a client library hides: when bytes go and come. */
public final class RawHttp {
  private RawHttp() {}

  /** Accepts connections on {@code server} until it closes, each served by {@code serve} on a virtual thread of its own. */
  public static void serveEach(java.net.ServerSocket server, java.util.function.Consumer<java.net.Socket> serve) {
    Thread.ofVirtual().start(() -> {
      while (!server.isClosed()) {
        try {
          java.net.Socket s = server.accept();
          Thread.ofVirtual().start(() -> serve.accept(s));
        } catch (IOException closed) {
          return;
        }
      }
    });
  }

  /** An answer read by {@link #exchange}: its head, and its body as long as its Content-Length says. */
  public record Answer(String head, byte[] body) {}

  /** Writes {@code request} (ISO-8859-1) on a fresh connection to {@code port} on loopback and reads its answer. */
  public static Answer exchange(int port, String request) throws IOException {
    try (java.net.Socket s = new java.net.Socket("127.0.0.1", port)) {
      s.setSoTimeout(10_000);
      s.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
      s.getOutputStream().flush();
      String head = readHead(s.getInputStream());
      return new Answer(head, s.getInputStream().readNBytes(contentLength(head)));
    }
  }

  /** Reads a request or response head, through its blank line. */
  public static String readHead(InputStream in) throws IOException {
    ByteArrayOutputStream head = new ByteArrayOutputStream();
    int matched = 0;
    while (matched < 4) {
      int b = in.read();
      if (b < 0) {
        throw new IOException("connection closed after: " + head);
      }
      head.write(b);
      matched = b == "\r\n\r\n".charAt(matched) ? matched + 1 : (b == '\r' ? 1 : 0);
    }
    return head.toString(StandardCharsets.ISO_8859_1);
  }

  /** The head's Content-Length, or 0 when it has none. */
  public static int contentLength(String head) {
    for (String line : head.split("\r\n")) {
      if (line.toLowerCase(Locale.ROOT).startsWith("content-length:")) {
        return Integer.parseInt(line.substring(15).trim());
      }
    }
    return 0;
  }
}
