package io.routewise.server;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The values of one field of a {@code multipart/form-data} body (RFC 7578), read for what a request
 * names (an audio transcription's {@code model}) without buffering anything but those values.
 */
final class FormFields {
  private FormFields() {}

  /**
   * Every value of the fields named {@code field} (in any case: servers differ), in order; null when
   * the body is not a form routewise can read to its end (no boundary, a part cut off), so that what
   * it could not check is not taken as naming nothing. File parts are not looked into.
   */
  static List<String> values(byte[] body, String contentType, String field) {
    String boundary = boundary(contentType);
    if (boundary == null) {
      return null;
    }
    byte[] delimiter = ("--" + boundary).getBytes(StandardCharsets.ISO_8859_1);
    int at = indexOf(body, delimiter, 0);
    if (at < 0) {
      return null;
    }
    List<String> values = new ArrayList<>();
    while (true) {
      int after = at + delimiter.length;
      if (after + 1 < body.length && body[after] == '-' && body[after + 1] == '-') {
        return values; // the closing delimiter
      }
      int headersStart = skipLine(body, after);
      int headersEnd = headersStart < 0 ? -1 : indexOf(body, "\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1), headersStart);
      if (headersEnd < 0) {
        return null;
      }
      String headers = new String(body, headersStart, headersEnd - headersStart, StandardCharsets.ISO_8859_1);
      int valueStart = headersEnd + 4;
      int next = indexOf(body, ("\r\n--" + boundary).getBytes(StandardCharsets.ISO_8859_1), valueStart);
      if (next < 0) {
        return null; // cut off: a part without its end
      }
      if (field.equalsIgnoreCase(name(headers))) {
        values.add(new String(body, valueStart, next - valueStart, StandardCharsets.UTF_8));
      }
      at = next + 2;
    }
  }

  /** The {@code boundary} parameter of a {@code multipart/form-data} Content-Type, quoted or not; null if none. */
  static String boundary(String contentType) {
    for (String param : contentType.split(";")) {
      String p = param.strip();
      if (p.toLowerCase(Locale.ROOT).startsWith("boundary=")) {
        String b = p.substring("boundary=".length());
        if (b.length() >= 2 && b.startsWith("\"") && b.endsWith("\"")) {
          b = b.substring(1, b.length() - 1);
        }
        return b.isEmpty() || b.length() > 70 ? null : b; // RFC 2046: 1 to 70 characters
      }
    }
    return null;
  }

  /** The {@code name} of a part's {@code Content-Disposition: form-data; name="..."}; null if it has none. */
  private static String name(String headers) {
    for (String line : headers.split("\r\n")) {
      int colon = line.indexOf(':');
      if (colon < 0 || !line.substring(0, colon).strip().equalsIgnoreCase("Content-Disposition")) {
        continue;
      }
      for (String param : line.substring(colon + 1).split(";")) {
        String p = param.strip();
        if (p.toLowerCase(Locale.ROOT).startsWith("name=")) {
          String v = p.substring(5);
          return v.length() >= 2 && v.startsWith("\"") && v.endsWith("\"") ? v.substring(1, v.length() - 1) : v;
        }
      }
    }
    return null;
  }

  private static int skipLine(byte[] body, int from) {
    for (int i = from; i + 1 < body.length; i++) {
      if (body[i] == '\r' && body[i + 1] == '\n') {
        return i + 2;
      }
    }
    return -1;
  }

  private static int indexOf(byte[] body, byte[] what, int from) {
    outer:
    for (int i = Math.max(0, from); i + what.length <= body.length; i++) {
      for (int j = 0; j < what.length; j++) {
        if (body[i + j] != what[j]) {
          continue outer;
        }
      }
      return i;
    }
    return -1;
  }
}
