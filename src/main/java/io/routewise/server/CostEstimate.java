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
   * Tokens one embedded file (an image, a PDF as base64; audio is counted by its length) is taken as:
   * a high-detail image is about 800 to 1,100 on gpt-4o. Counted by its bytes, a 2 MB image read as
   * 500,000 tokens.
   */
  static final long TOKENS_PER_FILE = 1_000;
  /** A run of base64 this long is an embedded file, not text (prose and code have spaces and punctuation). */
  static final int FILE_RUN = 1_024;

  /**
   * The prompt tokens of {@code body}: its ASCII a token per 4 bytes, each other character a token
   * (CJK runs near one a character; its 3 bytes over 4 had held a third too little), and each
   * embedded file a file's: a run of base64 of {@link #FILE_RUN} or more after a data URL's {@code
   * base64,} or as a {@code "data"} / {@code "file_data"} value (audio, a file); a WAV or MP3 file
   * {@link AudioLength#TOKENS_PER_SECOND} a second it plays. Base64-looking text
   * elsewhere (a DNA sequence, a hex dump) is text. A JSON-escaped slash ({@code \/}) is part of a
   * run; any other escape ends one.
   */
  static long promptTokens(byte[] body) {
    long asciiBytes = 0;
    long wideChars = 0;
    long fileTokens = 0;
    int runStart = -1;
    for (int i = 0; i <= body.length; i++) {
      byte b = i < body.length ? body[i] : 0;
      if (i < body.length && base64(b)) {
        runStart = runStart < 0 ? i : runStart;
        continue;
      }
      if (i + 1 < body.length && b == '\\' && body[i + 1] == '/') {
        runStart = runStart < 0 ? i : runStart;
        i++;
        continue;
      }
      if (runStart >= 0) {
        int run = i - runStart;
        if (run >= FILE_RUN && fileAt(body, runStart)) {
          double seconds = AudioLength.seconds(body, runStart, i);
          fileTokens += Double.isNaN(seconds) ? TOKENS_PER_FILE
              : (long) Math.ceil(Math.min(seconds, 1e9) * AudioLength.TOKENS_PER_SECOND);
        } else {
          asciiBytes += run;
        }
        runStart = -1;
      }
      if (i == body.length) {
        break;
      }
      if (b >= 0) {
        asciiBytes++;
      } else if ((b & 0xC0) == 0xC0) { // a multi-byte character's first byte (the rest are 10xxxxxx)
        wideChars++;
      }
    }
    return asciiBytes / BYTES_PER_TOKEN + wideChars + fileTokens;
  }

  private static final byte[] ESCAPE = "\\u".getBytes(java.nio.charset.StandardCharsets.US_ASCII);

  /** Whether {@code body} carries an audio part (chat's {@code input_audio}): its hold prices the prompt as audio. */
  static boolean carriesAudio(byte[] body) {
    return names(body, "input_audio");
  }

  /**
   * Whether {@code body} asks the upstream to cache its prompt (Anthropic's {@code cache_control}, as
   * OpenRouter and LiteLLM pass it on): its hold prices the prompt at the cache-write rate.
   */
  static boolean asksCacheWrite(byte[] body) {
    return names(body, "cache_control");
  }

  /** Whether {@code body} has {@code name} as a key or a string value (a part's {@code type}), escaped or not. */
  private static boolean names(byte[] body, String name) {
    if (ByteSearch.indexOf(body, body.length, ("\"" + name + "\"").getBytes(java.nio.charset.StandardCharsets.US_ASCII)) >= 0) {
      return true;
    }
    if (ByteSearch.indexOf(body, body.length, ESCAPE) < 0) {
      return false;
    }
    // an escaped name ("input\u005faudio") is the name to the upstream's decoder: it is read as JSON
    try (JsonParser p = ChatRequestParser.JSON.createParser(body)) {
      for (JsonToken t = p.nextToken(); t != null; t = p.nextToken()) {
        if ((t == JsonToken.FIELD_NAME || t == JsonToken.VALUE_STRING) && p.getTextLength() == name.length()
            && p.getText().equals(name)) {
          return true;
        }
      }
    } catch (IOException | RuntimeException notJson) {
      // what was read stands
    }
    return false;
  }

  private static final byte[] DATA_URL = "base64,".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
  private static final byte[] DATA_KEY = "data\"".getBytes(java.nio.charset.StandardCharsets.US_ASCII);

  /** Whether a run beginning at {@code start} is a file's: after {@code base64,}, or a {@code "...data":"} value. */
  private static boolean fileAt(byte[] body, int start) {
    if (endsAt(body, start, DATA_URL)) {
      return true;
    }
    int k = start - 1;
    if (k < 0 || body[k] != '"') {
      return false;
    }
    k = skipSpaceBack(body, k - 1);
    if (k < 0 || body[k] != ':') {
      return false;
    }
    k = skipSpaceBack(body, k - 1);
    return endsAt(body, k + 1, DATA_KEY);
  }

  private static int skipSpaceBack(byte[] body, int k) {
    while (k >= 0 && (body[k] == ' ' || body[k] == '\n' || body[k] == '\r' || body[k] == '\t')) {
      k--;
    }
    return k;
  }

  /** Whether {@code body} holds {@code what} just before {@code end}. */
  private static boolean endsAt(byte[] body, int end, byte[] what) {
    if (end < what.length) {
      return false;
    }
    for (int j = 0; j < what.length; j++) {
      if (body[end - what.length + j] != what[j]) {
        return false;
      }
    }
    return true;
  }

  private static boolean base64(byte b) {
    return b >= 'A' && b <= 'Z' || b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '+' || b == '/' || b == '=';
  }

  /** What a body asks of the answer: its cap on output tokens (-1: none) and how many choices ({@code n}). */
  /** @param audio whether it asks for audio back ({@code modalities} naming it, or an {@code audio} object) */
  record Output(long maxTokens, int choices, boolean audio) {}

  /**
   * The output tokens {@code body} caps its answer at ({@code max_completion_tokens}, {@code
   * max_tokens}, or the Responses API's {@code max_output_tokens}; the greatest of those it sets, or
   * -1 when it sets none: an upstream reads one of them, not the least (vLLM and SGLang take {@code
   * max_completion_tokens} over {@code max_tokens}, a JSON parser the last of a key given twice), and
   * a hold below what it may generate lets a burst pass the budget), and its {@code n} (1 unless a
   * positive integer; the greatest given). Names count in any case, as Go's JSON decoder reads them. A body that is not a JSON object has none (the parser refuses it first).
   */
  static Output output(byte[] body) {
    long cap = -1;
    int choices = 1;
    boolean audio = false;
    try (JsonParser p = ChatRequestParser.JSON.createParser(body)) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        return new Output(-1, 1, false);
      }
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        String name = p.currentName();
        JsonToken v = p.nextToken();
        // in any case, the greatest given: Go's JSON decoder (Ollama's) reads "Max_Tokens" as max_tokens, its last copy winning
        if (v == JsonToken.VALUE_NUMBER_INT && (name.equalsIgnoreCase("max_completion_tokens")
            || name.equalsIgnoreCase("max_tokens") || name.equalsIgnoreCase("max_output_tokens"))) {
          long n = p.getLongValue();
          if (n > 0) {
            cap = Math.max(cap, n);
          }
        } else if (v == JsonToken.VALUE_NUMBER_INT && name.equalsIgnoreCase("n")) {
          choices = Math.max(choices, (int) Math.clamp(p.getLongValue(), 1, 128)); // OpenAI's most
        } else if (name.equalsIgnoreCase("audio") && v == JsonToken.START_OBJECT) {
          audio = true;
        } else if (name.equalsIgnoreCase("modalities") && v == JsonToken.START_ARRAY) {
          while (p.nextToken() != JsonToken.END_ARRAY) {
            audio |= p.currentToken() == JsonToken.VALUE_STRING && p.getText().equalsIgnoreCase("audio");
            p.skipChildren();
          }
          continue;
        }
        p.skipChildren();
      }
    } catch (IOException | RuntimeException notJson) {
      // what was read stands
    }
    return new Output(cap, choices, audio);
  }
}
