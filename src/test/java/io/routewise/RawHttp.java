package io.routewise;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

/** HTTP/1.1 by hand, for tests that need what a client library hides: when bytes go and come. */
public final class RawHttp {
  private RawHttp() {}

  /** Reads a request or response head, through its blank line. */
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
