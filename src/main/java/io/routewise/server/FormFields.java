package io.routewise.server;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The values of one field of a {@code multipart/form-data} body (RFC 7578), read for what a request
 * names (an audio transcription's {@code model}) without buffering anything but those values.
 *
 * <p>Read strictly, as the form every client library writes: where upstreams' form parsers differ
 * (python-multipart's, Go's {@code mime/multipart}, busboy) a form could name a model to one of them
 * that a lenient reading here did not see, so what they might read otherwise is not read at all (a
 * review found each): a preamble, a line ending in a bare LF (Go's parts, its headers), a delimiter
 * followed by anything but CRLF or {@code --} (padding to Go, content to the others), a part whose
 * body starts with a delimiter (empty to Go), a folded header line (busboy unfolds it), two
 * {@code Content-Disposition}s (Starlette takes the last) or two {@code name}s, a {@code name*}
 * (RFC 2231, which Go decodes), white space around {@code =} (Starlette skips it), a backslash in a
 * quoted value (parsers unescape differently, and so end it differently), a quoted {@code ;} read as
 * a separator.
 */
final class FormFields {
  private FormFields() {}

  /**
   * Every value of the fields named {@code field} (in any case: servers differ), in order, a file
   * part's too; null when the body is not a form routewise can read to its end as every parser would
   * (no boundary, a part cut off, any of the above), so that what it could not check is not taken as
   * naming nothing.
   */
  static List<String> values(byte[] body, String contentType, String field) {
    String boundary = boundary(contentType);
    if (boundary == null) {
      return null;
    }
    byte[] dashBoundary = ("--" + boundary).getBytes(StandardCharsets.ISO_8859_1);
    byte[] delimiter = ("\r\n--" + boundary).getBytes(StandardCharsets.ISO_8859_1);
    if (!startsWith(body, 0, dashBoundary)) {
      return null; // a preamble: Go and busboy skip to a delimiter at a line's start, python-multipart refuses it
    }
    List<String> values = new ArrayList<>();
    int at = dashBoundary.length; // just past a delimiter
    while (true) {
      if (startsWith(body, at, "--".getBytes(StandardCharsets.ISO_8859_1))) {
        return values; // the close delimiter; no parser reads what follows it
      }
      if (!startsWith(body, at, CRLF)) {
        return null; // padding (Go), part of a part (the others), or a bare LF (Go's LF mode)
      }
      Part part = part(body, at + CRLF.length);
      if (part == null || startsWith(body, part.bodyStart(), dashBoundary)) {
        return null; // a body starting with its delimiter is empty to Go, content to the others
      }
      int next = ByteSearch.indexOf(body, part.bodyStart(), body.length, delimiter);
      if (next < 0) {
        return null; // cut off: a part without its end
      }
      if (field.equalsIgnoreCase(part.name())) {
        if (part.encoded()) {
          return null; // Go decodes quoted-printable
        }
        values.add(new String(body, part.bodyStart(), next - part.bodyStart(), StandardCharsets.UTF_8));
      }
      at = next + delimiter.length;
    }
  }

  private static final byte[] CRLF = {'\r', '\n'};

  /**
   * A part's headers: its {@code name}, whether it declares a transfer encoding, and where its body
   * starts (past the empty line).
   */
  private record Part(String name, boolean encoded, int bodyStart) {}

  /** The part whose headers start at {@code from}; null if they are not read alike by every parser. */
  private static Part part(byte[] body, int from) {
    String name = null;
    boolean encoded = false;
    int line = from;
    while (true) {
      int end = line;
      while (end < body.length && body[end] != '\r' && body[end] != '\n') {
        end++;
      }
      if (!startsWith(body, end, CRLF)) {
        return null; // a bare CR or LF, or the body's end
      }
      if (end == line) {
        return name == null ? null : new Part(name, encoded, end + CRLF.length);
      }
      String header = new String(body, line, end - line, StandardCharsets.ISO_8859_1);
      int colon = header.indexOf(':');
      if (colon <= 0 || !token(header.substring(0, colon))) {
        return null; // a folded line, a name with white space, or no header at all (a delimiter)
      }
      String headerName = header.substring(0, colon);
      if (headerName.equalsIgnoreCase("Content-Disposition")) {
        Map<String, String> params = name == null ? parameters(header.substring(colon + 1), "name") : null;
        if (params == null || !params.get("").equalsIgnoreCase("form-data") || params.get("name") == null) {
          return null; // a second one, or one not plainly form-data with a name
        }
        name = params.get("name");
      } else if (headerName.equalsIgnoreCase("Content-Transfer-Encoding")) {
        encoded = true;
      }
      line = end + CRLF.length;
    }
  }

  /**
   * The {@code boundary} parameter of a {@code multipart/form-data} Content-Type, quoted or not; null
   * if none, or it is not plain (1 to 70 of RFC 2046's characters, one parameter of that name).
   */
  static String boundary(String contentType) {
    Map<String, String> params = parameters(contentType, "boundary");
    if (params == null || !params.get("").equalsIgnoreCase("multipart/form-data")) {
      return null;
    }
    String b = params.get("boundary");
    if (b == null || b.isEmpty() || b.length() > 70 || b.endsWith(" ")) {
      return null;
    }
    for (int i = 0; i < b.length(); i++) {
      char c = b.charAt(i);
      if (!(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || "'()+_,-./:=? ".indexOf(c) >= 0)) {
        return null;
      }
    }
    return b;
  }

  /**
   * A header value's leading token (under the key {@code ""}) and its {@code ; key=value}
   * parameters, keys in lower case, values unquoted; null unless every parser splits it alike and
   * reads {@code read} alike: no white space around {@code =}, no key twice, no backslash in a quoted
   * value, {@code read} not in RFC 2231's form ({@code name*=utf-8''model}, {@code name*0=}).
   */
  private static Map<String, String> parameters(String value, String read) {
    Map<String, String> params = new HashMap<>();
    int i = skipSpace(value, 0);
    int start = i;
    while (i < value.length() && (tokenChar(value.charAt(i)) || value.charAt(i) == '/')) {
      i++;
    }
    if (i == start) {
      return null;
    }
    params.put("", value.substring(start, i));
    while (true) {
      i = skipSpace(value, i);
      if (i == value.length()) {
        return params;
      }
      if (value.charAt(i) != ';') {
        return null;
      }
      i = skipSpace(value, i + 1);
      start = i;
      while (i < value.length() && tokenChar(value.charAt(i))) {
        i++;
      }
      String key = value.substring(start, i).toLowerCase(Locale.ROOT);
      if (key.isEmpty() || key.startsWith(read + "*") || i == value.length() || value.charAt(i) != '=') {
        return null;
      }
      i++;
      String v;
      if (i < value.length() && value.charAt(i) == '"') {
        int close = value.indexOf('"', i + 1);
        if (close < 0) {
          return null;
        }
        v = value.substring(i + 1, close);
        if (v.indexOf('\\') >= 0) {
          return null;
        }
        i = close + 1;
      } else {
        start = i;
        while (i < value.length() && tokenChar(value.charAt(i))) {
          i++;
        }
        if (i == start) {
          return null;
        }
        v = value.substring(start, i);
      }
      if (params.put(key, v) != null) {
        return null;
      }
    }
  }

  private static int skipSpace(String s, int i) {
    while (i < s.length() && (s.charAt(i) == ' ' || s.charAt(i) == '\t')) {
      i++;
    }
    return i;
  }

  private static boolean token(String s) {
    for (int i = 0; i < s.length(); i++) {
      if (!tokenChar(s.charAt(i))) {
        return false;
      }
    }
    return !s.isEmpty();
  }

  /** RFC 9110's tchar. */
  private static boolean tokenChar(char c) {
    return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || "!#$%&'*+-.^_`|~".indexOf(c) >= 0;
  }

  private static boolean startsWith(byte[] body, int at, byte[] prefix) {
    if (at < 0 || body.length - at < prefix.length) {
      return false;
    }
    for (int i = 0; i < prefix.length; i++) {
      if (body[at + i] != prefix[i]) {
        return false;
      }
    }
    return true;
  }
}
