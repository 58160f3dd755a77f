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

  /**
   * The prompt tokens of {@code body}: its bytes a token per 4, each run of base64 a file's. A
   * JSON-escaped slash ({@code \/}) is part of a run; any other escape ends one, so text escaped to
   * ASCII ({@code \u4f60\u597d}, as Python's {@code json.dumps} writes CJK) stays text.
   */
  static long promptTokens(byte[] body) {
    long textBytes = 0;
    long files = 0;
    int run = 0;
    for (int i = 0; i < body.length; i++) {
      byte b = body[i];
      if (base64(b)) {
        run++;
        continue;
      }
      if (b == '\\' && i + 1 < body.length && body[i + 1] == '/') {
        run += 2;
        i++;
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

  private static boolean base64(byte b) {
    return b >= 'A' && b <= 'Z' || b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '+' || b == '/' || b == '=';
  }

  /** What a body asks of the answer: its cap on output tokens (-1: none) and how many choices ({@code n}). */
  record Output(long maxTokens, int choices) {}

  /**
   * The output tokens {@code body} caps its answer at ({@code max_completion_tokens}, {@code
   * max_tokens}, or the Responses API's {@code max_output_tokens}; the least of those it sets, or -1
   * when it sets none), and its {@code n} (1 unless a positive integer). A body that is not a JSON
   * object has none (the parser refuses it first).
   */
  static Output output(byte[] body) {
    long cap = -1;
    int choices = 1;
    try (JsonParser p = ChatRequestParser.JSON.createParser(body)) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        return new Output(-1, 1);
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
        } else if (v == JsonToken.VALUE_NUMBER_INT && name.equals("n")) {
          choices = (int) Math.clamp(p.getLongValue(), 1, 128); // OpenAI's most
        }
        p.skipChildren();
      }
    } catch (IOException | RuntimeException notJson) {
      // what was read stands
    }
    return new Output(cap, choices);
  }
}
