package io.routewise.server;

import java.util.concurrent.ThreadLocalRandom;

/** Request ids routewise makes up when the upstream gave none: {@code rw-} and 16 hex digits. */
final class RequestIds {
  private static final char[] HEX = "0123456789abcdef".toCharArray();

  private RequestIds() {}

  /** Random, not secret: ids only need to be told apart, so no SecureRandom on the request path. */
  static String next() {
    long bits = ThreadLocalRandom.current().nextLong();
    char[] out = new char[19];
    out[0] = 'r';
    out[1] = 'w';
    out[2] = '-';
    for (int i = 18; i >= 3; i--) {
      out[i] = HEX[(int) (bits & 0xf)];
      bits >>>= 4;
    }
    return new String(out);
  }
}
