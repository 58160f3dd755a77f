package io.routewise.server;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;

/**
 * What a request body says of its cost before it is answered, for a client budget's hold: its
 * prompt tokens, roughly, and the output tokens it caps itself at. Read only for clients with a
 * budget.
 */
final class CostEstimate {
  private CostEstimate() {}

  /** Bytes of text per prompt token, roughly (English; JSON's quotes and keys count as text). */
  static final int BYTES_PER_TOKEN = 4;
  /**
   * Tokens one embedded file (an image, audio, a PDF as base64) is taken as: a high-detail image is
   * about 800 to 1,100 on gpt-4o. Counted by its bytes, a 2 MB image read as 500,000 tokens.
   */
  static final long TOKENS_PER_FILE = 1_000;
  /** A run of base64 this long is an embedded file, not text (prose and code have spaces and punctuation). */
  static final int FILE_RUN = 1_024;

  /** The prompt tokens of {@code body}: its bytes a token per 4, each run of base64 a file's. */
  static long promptTokens(byte[] body) {
    long textBytes = 0;
    long files = 0;
    int run = 0;
    for (byte b : body) {
      if (base64(b)) {
        run++;
        continue;
      }
      if (run >= FILE_RUN) {
        files++;
      } else {
        textBytes += run;
      }
      run = 0;
      textBytes++;
    }
    if (run >= FILE_RUN) {
      files++;
    } else {
      textBytes += run;
    }
    return textBytes / BYTES_PER_TOKEN + files * TOKENS_PER_FILE;
  }

  /** Base64's alphabet, and the backslash of a JSON-escaped slash ({@code \/}). */
  private static boolean base64(byte b) {
    return b >= 'A' && b <= 'Z' || b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '+' || b == '/' || b == '='
        || b == '\\';
  }

  /**
   * The output tokens {@code body} caps its answer at ({@code max_completion_tokens}, {@code
   * max_tokens}, or the Responses API's {@code max_output_tokens}; the least of those it sets), or
   * -1 when it sets none (or the body is not a JSON object: the parser refuses it first).
   */
  static long maxOutputTokens(byte[] body) {
    long cap = -1;
    try (JsonParser p = ChatRequestParser.JSON.createParser(body)) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        return -1;
      }
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        String name = p.currentName();
        JsonToken v = p.nextToken();
        if (v == JsonToken.VALUE_NUMBER_INT && (name.equals("max_completion_tokens") || name.equals("max_tokens")
            || name.equals("max_output_tokens"))) {
          long n = p.getLongValue();
          if (n > 0) {
            cap = cap < 0 ? n : Math.min(cap, n);
          }
        }
        p.skipChildren();
      }
    } catch (IOException | RuntimeException notJson) {
      // what was read stands
    }
    return cap;
  }
}
