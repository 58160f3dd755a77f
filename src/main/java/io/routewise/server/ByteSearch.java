package io.routewise.server;

/** Finding a few ASCII bytes in a relayed buffer without decoding it. */
final class ByteSearch {
  private ByteSearch() {}

  /** Where {@code needle} first occurs in {@code buf[0, n)}, or -1. */
  static int indexOf(byte[] buf, int n, byte[] needle) {
    return indexOf(buf, 0, n, needle);
  }

  /** Where {@code needle} first occurs in {@code buf[from, n)}, or -1. */
  static int indexOf(byte[] buf, int from, int n, byte[] needle) {
    outer:
    for (int i = from; i + needle.length <= n; i++) {
      for (int j = 0; j < needle.length; j++) {
        if (buf[i + j] != needle[j]) {
          continue outer;
        }
      }
      return i;
    }
    return -1;
  }
}
