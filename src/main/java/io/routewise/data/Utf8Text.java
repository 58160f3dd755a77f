package io.routewise.data;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** A whole UTF-8 text file, or an error naming its line that is not UTF-8 (not Java's bare "Input length = 1"). */
public final class Utf8Text {
  private Utf8Text() {}

  public static String read(Path file) throws IOException {
    if (Files.isDirectory(file)) { // readAllBytes says only "Is a directory", not which path
      throw new IOException(file + ": a directory, not a file");
    }
    byte[] bytes = Files.readAllBytes(file);
    CharBuffer out = CharBuffer.allocate(bytes.length);
    ByteBuffer in = ByteBuffer.wrap(bytes);
    CharsetDecoder decoder = strict();
    if (decoder.decode(in, out, true).isError()) {
      throw notUtf8(file, bytes, in.position());
    }
    decoder.flush(out);
    return out.flip().toString();
  }

  /** The error for a file a reader found not to be UTF-8, its line found again (a buffered reader reads ahead). */
  static IOException notUtf8(Path file) throws IOException {
    byte[] bytes = Files.readAllBytes(file);
    ByteBuffer in = ByteBuffer.wrap(bytes);
    strict().decode(in, CharBuffer.allocate(bytes.length), true);
    return notUtf8(file, bytes, in.position());
  }

  private static IOException notUtf8(Path file, byte[] bytes, int at) {
    if (bytes.length >= 2 && (bytes[0] & 0xff) == 0x1f && (bytes[1] & 0xff) == 0x8b) { // gzip's magic number
      return new IOException(file + ": is gzip-compressed, not JSON lines; decompress it first (gunzip -k)");
    }
    int line = 1;
    for (int i = 0; i < at && i < bytes.length; i++) {
      line += bytes[i] == '\n' ? 1 : 0;
    }
    return new IOException(file + ": line " + line + ": not UTF-8 (byte " + at
        + "); convert the file, e.g. iconv -f latin1 -t utf-8");
  }

  private static CharsetDecoder strict() {
    return StandardCharsets.UTF_8.newDecoder()
        .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);
  }
}
