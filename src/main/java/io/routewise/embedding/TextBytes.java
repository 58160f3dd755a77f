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
    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream(text.length() * 3);
    out.writeBytes(text.substring(0, lone).getBytes(StandardCharsets.UTF_8));
    for (int i = lone; i < text.length(); i++) {
      char c = text.charAt(i);
      if (Character.isHighSurrogate(c) && i + 1 < text.length() && Character.isLowSurrogate(text.charAt(i + 1))) {
        out.writeBytes(text.substring(i, i + 2).getBytes(StandardCharsets.UTF_8));
        i++;
      } else if (Character.isSurrogate(c)) {
        out.write(0xE0 | (c >> 12));
        out.write(0x80 | ((c >> 6) & 0x3F));
        out.write(0x80 | (c & 0x3F));
      } else {
        out.writeBytes(String.valueOf(c).getBytes(StandardCharsets.UTF_8));
      }
    }
    return out.toByteArray();
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
