package io.routewise.server;

import java.nio.charset.StandardCharsets;
import java.util.regex.Pattern;

/**
 * Masks OpenAI organization and project ids ({@code org-…}, {@code proj_…}) in an upstream's error
 * body: a 429 says "Rate limit reached … in organization org-…", and those ids are the operator's
 * account, not the client's to see (the headers that carry them are not relayed either). So is
 * Anthropic's, a UUID after "org:" ("… rate limit … (org: 80162711-…, model: …)").
 */
final class AccountIds {
  private static final Pattern ID = Pattern.compile("\\b(org-|proj_)[A-Za-z0-9]{16,}");
  private static final Pattern ORG_UUID = Pattern.compile(
      "(?i)\\b(org(?:anization)?(?:[ _]?id)?\"?\\s*[:=]\\s*\"?)[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\\b");

  private AccountIds() {}

  private static final byte[] ERROR_KEY = "\"error\"".getBytes(StandardCharsets.US_ASCII);

  /**
   * A stream's read with its ids masked when it holds an error event (an upstream that fails mid-stream
   * sends {@code data: {"error": …}}, as one small write); null when there is nothing to mask, which
   * is every read of an answer's tokens. Text of the answer itself is masked only in a read that also
   * holds an error.
   */
  static byte[] maskedErrorEvent(byte[] buf, int n, SecretValues secrets) {
    if (ByteSearch.indexOf(buf, n, ERROR_KEY) < 0) {
      return null;
    }
    byte[] read = java.util.Arrays.copyOf(buf, n);
    byte[] out = secrets.masked(masked(read));
    return out == read ? null : out;
  }

  private static boolean containsIgnoringCase(String text, String part) {
    for (int i = 0; i + part.length() <= text.length(); i++) {
      if (text.regionMatches(true, i, part, 0, part.length())) {
        return true;
      }
    }
    return false;
  }

  /** The body with every such id as {@code org-***} / {@code proj_***} / {@code org: ***}; the same array when it has none. */
  static byte[] masked(byte[] body) {
    // Latin-1 maps bytes to chars one to one, so UTF-8 text around the ids comes back byte for byte.
    String text = new String(body, StandardCharsets.ISO_8859_1);
    String masked = text;
    if (text.contains("org-") || text.contains("proj_")) {
      masked = ID.matcher(masked).replaceAll("$1***");
    }
    if (containsIgnoringCase(text, "org")) {
      masked = ORG_UUID.matcher(masked).replaceAll("$1***");
    }
    return masked.equals(text) ? body : masked.getBytes(StandardCharsets.ISO_8859_1);
  }
}
