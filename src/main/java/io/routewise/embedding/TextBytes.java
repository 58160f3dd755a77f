package io.routewise.embedding;

import java.nio.charset.StandardCharsets;

/**
 * A text's bytes for keying what was computed from it. UTF-8 for well-formed text; half a surrogate
 * pair, which UTF-8 cannot encode and {@code getBytes} turns into {@code ?}, is written as its code
 * unit's three-byte form (WTF-8). So "2+2?" and "2+2\uD800", which embed differently, never share a
 * key, and every key of well-formed text stays what it was.
 */
final class TextBytes {
  private TextBytes() {}

  static byte[] of(String text) {
    int lone = firstLoneSurrogate(text);
    if (lone < 0) {
      return text.getBytes(StandardCharsets.UTF_8);
    }
    // Encoded here into one array: a String and a byte[] made for each character cost a 4 MB prompt
    // with one lone surrogate (the cache's key, on the request path) ~200 MB of garbage
    byte[] head = text.substring(0, lone).getBytes(StandardCharsets.UTF_8);
    byte[] out = java.util.Arrays.copyOf(head, head.length + (text.length() - lone) * 3); // at most 3 bytes a char
    int n = head.length;
    for (int i = lone; i < text.length(); i++) {
      char c = text.charAt(i);
      if (Character.isHighSurrogate(c) && i + 1 < text.length() && Character.isLowSurrogate(text.charAt(i + 1))) {
        int cp = Character.toCodePoint(c, text.charAt(++i));
        out[n++] = (byte) (0xF0 | (cp >> 18));
        out[n++] = (byte) (0x80 | ((cp >> 12) & 0x3F));
        out[n++] = (byte) (0x80 | ((cp >> 6) & 0x3F));
        out[n++] = (byte) (0x80 | (cp & 0x3F));
      } else if (c < 0x80) {
        out[n++] = (byte) c;
      } else if (c < 0x800) {
        out[n++] = (byte) (0xC0 | (c >> 6));
        out[n++] = (byte) (0x80 | (c & 0x3F));
      } else { // a lone surrogate too: its code unit's three-byte form
        out[n++] = (byte) (0xE0 | (c >> 12));
        out[n++] = (byte) (0x80 | ((c >> 6) & 0x3F));
        out[n++] = (byte) (0x80 | (c & 0x3F));
      }
    }
    return java.util.Arrays.copyOf(out, n);
  }

  private static int firstLoneSurrogate(String text) {
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      if (Character.isHighSurrogate(c) && i + 1 < text.length() && Character.isLowSurrogate(text.charAt(i + 1))) {
        i++;
      } else if (Character.isSurrogate(c)) {
        return i;
      }
    }
    return -1;
  }
}
