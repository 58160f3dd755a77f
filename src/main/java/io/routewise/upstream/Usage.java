package io.routewise.upstream;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.util.JsonRecyclerPools;
import java.util.Optional;

/**
 * Token counts from a response's top-level {@code usage} object, read by streaming: its prompt and
 * completion tokens, and of the prompt's those answered from the upstream's prompt cache
 * ({@code prompt_tokens_details.cached_tokens}, OpenAI's and vLLM's; DeepSeek's top-level {@code
 * prompt_cache_hit_tokens}), which cost less, and those written to it ({@code
 * prompt_tokens_details.cache_write_tokens}, OpenRouter's for Anthropic's models), which cost more, and
 * of the prompt's and the completion's those that are audio ({@code audio_tokens} in their details), which
 * an audio model bills apart. A Responses answer names them {@code input_tokens},
 * {@code output_tokens} and {@code input_tokens_details.cached_tokens}; its stream's last event holds
 * the answer as {@code response}. Groq's stream gives it inside {@code x_groq}. Reasoning tokens an
 * answer reports beside its completion tokens (its total counting them apart) are completion tokens.
 */
public record Usage(long prompt, long completion, long cachedPrompt, long cacheWrittenPrompt, long audioPrompt,
    long audioCompletion) {
  // as the request parser's: a pool shared by every thread (each request is a new virtual thread), names
  // compared with equals, not interned; a string as long as an answer may be (Jackson's 20 M characters
  // would leave a long answer's usage unread)
  private static final JsonFactory JSON = JsonFactory.builder().disable(JsonFactory.Feature.INTERN_FIELD_NAMES)
      .streamReadConstraints(com.fasterxml.jackson.core.StreamReadConstraints.builder().maxNestingDepth(200)
          .maxStringLength(Integer.MAX_VALUE).build())
      .recyclerPool(JsonRecyclerPools.sharedConcurrentDequePool()).build();

  /** An upstream's negative count is no tokens (it would take spend and the token counters backwards). */
  public Usage {
    prompt = Math.max(0, prompt);
    completion = Math.max(0, completion);
    cachedPrompt = Math.clamp(cachedPrompt, 0, prompt);
    cacheWrittenPrompt = Math.clamp(cacheWrittenPrompt, 0, prompt - cachedPrompt);
    // where counts overlap (cached audio), the cached count stands and only the rest of the audio is audio:
    // usage does not say how they split
    audioPrompt = Math.clamp(audioPrompt, 0, prompt - cachedPrompt - cacheWrittenPrompt);
    audioCompletion = Math.clamp(audioCompletion, 0, completion);
  }

  public Usage(long prompt, long completion, long cachedPrompt) {
    this(prompt, completion, cachedPrompt, 0, 0, 0);
  }

  public Usage(long prompt, long completion) {
    this(prompt, completion, 0);
  }

  /**
   * What this answer cost at {@code price}: each part of the prompt at its rate (read from the cache,
   * written to it, audio, the rest), the completion's audio and the rest at theirs.
   */
  public double cost(io.routewise.config.Price price) {
    long plainPrompt = prompt - cachedPrompt - cacheWrittenPrompt - audioPrompt;
    return (plainPrompt * price.input() + cachedPrompt * price.cachedInput() + cacheWrittenPrompt * price.cacheWrite()
        + audioPrompt * price.audioInput() + (completion - audioCompletion) * price.output()
        + audioCompletion * price.audioOutput()) / 1_000_000.0;
  }

  public static Optional<Usage> fromJson(byte[] body) {
    return fromJson(body, 0, body.length);
  }

  public static Optional<Usage> fromJson(byte[] body, int off, int len) {
    try (JsonParser p = JSON.createParser(body, off, len)) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        return Optional.empty();
      }
      return inObject(p, true);
    } catch (Exception malformed) {
      // judged by looksLikeJson, asked only of answers without usage
    }
    return Optional.empty();
  }

  /** The usage of the object the parser is in; with {@code top}, also of a {@code response} object in it. */
  private static Optional<Usage> inObject(JsonParser p, boolean top) throws java.io.IOException {
    Optional<Usage> groq = Optional.empty();
    while (p.nextToken() == JsonToken.FIELD_NAME) {
      String name = p.currentName();
      JsonToken v = p.nextToken();
      if (name.equals("usage") && v == JsonToken.START_OBJECT) {
        return Optional.ofNullable(read(p));
      }
      if (top && name.equals("response") && v == JsonToken.START_OBJECT) {
        Optional<Usage> u = inObject(p, false);
        if (u.isPresent()) {
          return u;
        }
      } else if (top && name.equals("x_groq") && v == JsonToken.START_OBJECT) {
        // Groq's stream puts its usage there, on the last chunk, when the client did not ask for include_usage
        groq = inObject(p, false);
        if (groq.isPresent()) {
          while (p.nextToken() == JsonToken.FIELD_NAME) { // the rest of x_groq
            p.nextToken();
            p.skipChildren();
          }
        }
      } else {
        p.skipChildren();
      }
    }
    return groq; // a top-level usage, where a chunk has both, wins
  }

  /** The usage object the parser has just entered (its START_OBJECT read); empty when it holds no count ({@link #read}). */
  public static Optional<Usage> fromObject(JsonParser p) throws java.io.IOException {
    return Optional.ofNullable(read(p));
  }

  /**
   * The most tokens one count may be: no answer nears it (a 10 M context), and one past it is an
   * upstream's bug that would add its cost (9.2e18 tokens: 1e14 USD) to a counter that never goes back.
   */
  static final long MAX_COUNT = 1_000_000_000L;

  /** A count {@link #read} could not take: present, but not a whole number in [0, MAX_COUNT] (negatives are none). */
  private static final long UNREADABLE = -2;

  /**
   * Chat's names (index 0) win over the Responses API's (index 1) where an answer has both. Counts
   * are read as whole numbers however written ({@code 1000}, {@code 1000.0}, {@code "1000"}); null
   * when the object has no prompt, completion or total count, or a count that cannot be read (a
   * fraction, a word, past {@link #MAX_COUNT}): the answer is then unmetered, counted as such, not
   * metered at 0 tokens.
   */
  private static Usage read(JsonParser p) throws java.io.IOException {
    long[] prompt = {-1, -1};
    long[] completion = {-1, -1};
    long[] cached = {-1, -1};
    long[] written = {-1, -1};
    long[] audioIn = {-1, -1};
    long[] audioOut = {-1, -1};
    long[] reasoning = {-1, -1};
    long total = -1;
    long cacheHit = -1; // DeepSeek's prompt_cache_hit_tokens, its only count of cached prompt tokens
    boolean unreadable = false;
    while (p.nextToken() == JsonToken.FIELD_NAME) {
      String f = p.currentName();
      JsonToken fv = p.nextToken();
      int names = f.startsWith("input_") || f.startsWith("output_") ? 1 : 0;
      if (f.equals("prompt_tokens") || f.equals("input_tokens")) {
        unreadable |= (prompt[names] = count(p, fv)) == UNREADABLE;
      } else if (f.equals("completion_tokens") || f.equals("output_tokens")) {
        unreadable |= (completion[names] = count(p, fv)) == UNREADABLE;
      } else if (f.equals("total_tokens")) {
        unreadable |= (total = count(p, fv)) == UNREADABLE;
      } else if (f.equals("prompt_cache_hit_tokens")) {
        unreadable |= (cacheHit = count(p, fv)) == UNREADABLE;
      } else if ((f.equals("prompt_tokens_details") || f.equals("input_tokens_details")
          || f.equals("completion_tokens_details") || f.equals("output_tokens_details")) && fv == JsonToken.START_OBJECT) {
        boolean ofPrompt = f.startsWith("prompt_") || f.startsWith("input_");
        while (p.nextToken() == JsonToken.FIELD_NAME) {
          String d = p.currentName();
          JsonToken dv = p.nextToken();
          long[] into = ofPrompt && d.equals("cached_tokens") ? cached
              : ofPrompt && d.equals("cache_write_tokens") ? written
              : d.equals("audio_tokens") ? (ofPrompt ? audioIn : audioOut)
              : !ofPrompt && d.equals("reasoning_tokens") ? reasoning : null;
          if (into == null || dv == JsonToken.VALUE_NULL) {
            p.skipChildren();
          } else {
            unreadable |= (into[names] = count(p, dv)) == UNREADABLE;
          }
        }
      } else {
        p.skipChildren();
      }
    }
    if (unreadable || prompt[0] < 0 && prompt[1] < 0 && completion[0] < 0 && completion[1] < 0 && total < 0) {
      return null;
    }
    long in = either(prompt);
    long out = either(completion);
    long thought = either(reasoning);
    if (thought > 0 && total == in + out + thought) {
      // reasoning reported beside the completion, not inside it (xAI's, Gemini's thoughts): its total says so,
      // and it is billed as output (OpenAI's completion_tokens holds its reasoning: there total is in + out)
      out += thought;
    }
    long cachedIn = cached[0] >= 0 || cached[1] >= 0 ? either(cached) : Math.max(0, cacheHit);
    return new Usage(in, out, cachedIn, either(written), either(audioIn), either(audioOut));
  }

  /**
   * The count the parser is at: a whole number however written, a negative one none (-1); null is
   * none; {@link #UNREADABLE} for anything else.
   */
  private static long count(JsonParser p, JsonToken value) throws java.io.IOException {
    if (value == JsonToken.VALUE_NUMBER_INT && p.getNumberType() != JsonParser.NumberType.BIG_INTEGER) {
      long n = p.getLongValue(); // the usual count, read without a BigDecimal
      return n < 0 ? -1 : n > MAX_COUNT ? UNREADABLE : n;
    }
    java.math.BigDecimal n;
    switch (value) {
      case VALUE_NULL:
        return -1;
      case VALUE_NUMBER_INT:
      case VALUE_NUMBER_FLOAT:
        n = p.getDecimalValue();
        break;
      case VALUE_STRING:
        try {
          n = new java.math.BigDecimal(p.getText().strip());
        } catch (NumberFormatException word) {
          return UNREADABLE;
        }
        break;
      default:
        p.skipChildren();
        return UNREADABLE;
    }
    if (n.signum() < 0) {
      return -1; // an upstream's negative count is none, as before
    }
    if (n.compareTo(java.math.BigDecimal.valueOf(MAX_COUNT)) > 0 || n.stripTrailingZeros().scale() > 0) {
      return UNREADABLE;
    }
    return n.longValueExact();
  }

  private static long either(long[] counts) {
    return counts[0] >= 0 ? counts[0] : Math.max(0, counts[1]);
  }

  /**
   * Whether {@code body} has the shape of one JSON object, what a chat completion is: its first and
   * last bytes other than white space (and a BOM) are braces, and its braces and brackets outside
   * strings close in order (a body cut off after an inner brace does not). Not a parse: invalid UTF-8
   * inside a string, which some clients read through, is the upstream's to answer for. A body shaped as
   * server-sent events (an upstream that streams under another content type) passes too.
   */
  public static boolean looksLikeJson(byte[] body) {
    int from = body.length >= 3 && (body[0] & 0xff) == 0xEF && (body[1] & 0xff) == 0xBB && (body[2] & 0xff) == 0xBF ? 3 : 0;
    while (from < body.length && isSpace(body[from])) {
      from++;
    }
    int to = body.length - 1;
    while (to >= from && isSpace(body[to])) {
      to--;
    }
    if (from > to) {
      return false;
    }
    if (body[from] == '{') {
      return body[to] == '}' && closes(body, from, to + 1);
    }
    return startsWith(body, from, "data:") || startsWith(body, from, "event:") || body[from] == ':';
  }

  /** Whether the brackets of {@code body[from, to)} outside strings close in order, the first one last. */
  private static boolean closes(byte[] body, int from, int to) {
    byte[] open = new byte[64];
    int depth = 0;
    boolean inString = false;
    for (int i = from; i < to; i++) {
      byte b = body[i];
      if (inString) {
        if (b == '\\') {
          i++; // the escaped byte, a quote included
        } else if (b == '"') {
          inString = false;
        }
      } else if (b == '"') {
        inString = true;
      } else if (b == '{' || b == '[') {
        if (depth == open.length) {
          open = java.util.Arrays.copyOf(open, depth * 2);
        }
        open[depth++] = b;
      } else if (b == '}' || b == ']') {
        if (depth == 0 || open[depth - 1] != (b == '}' ? '{' : '[')) {
          return false;
        }
        depth--;
        if (depth == 0 && i != to - 1) {
          return false; // the first object closed before the end: a second value follows
        }
      }
    }
    return depth == 0 && !inString;
  }

  private static boolean isSpace(byte b) {
    return b == ' ' || b == '\n' || b == '\r' || b == '\t';
  }

  private static boolean startsWith(byte[] body, int at, String prefix) {
    if (body.length - at < prefix.length()) {
      return false;
    }
    for (int i = 0; i < prefix.length(); i++) {
      if (body[at + i] != prefix.charAt(i)) {
        return false;
      }
    }
    return true;
  }
}
