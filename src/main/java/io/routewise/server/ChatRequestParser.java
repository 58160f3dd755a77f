package io.routewise.server;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.util.JsonRecyclerPools;
import java.io.IOException;

/**
 * Reads a chat-completions body with Jackson's streaming parser: one pass over the tokens, no tree,
 * no re-serialization. Validates what routing relies on (an object, a non-empty {@code messages}
 * array of objects with a string {@code role}, string-or-parts {@code content}, a string
 * {@code model}, a boolean {@code stream}) and skips everything else untouched.
 */
public final class ChatRequestParser {
  // A shared buffer pool: the default one is per thread, and each request is a new virtual thread,
  // so every parse would allocate fresh ~10 KB buffers.
  static final JsonFactory JSON = JsonFactory.builder()
      // Field names are compared with equals, never ==: interned, each distinct name of a body (a
      // 4 MB body holds 400,000: {"k1":0,"k2":0,...}) went into the JVM's string table, ~20 times a
      // normal body's parse
      .disable(JsonFactory.Feature.INTERN_FIELD_NAMES)
      .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(200)
          // a prompt as long as the body may be (max_body_bytes bounds it), not Jackson's 20 M characters
          .maxStringLength(Integer.MAX_VALUE).build())
      .recyclerPool(JsonRecyclerPools.sharedConcurrentDequePool())
      .build();

  private ChatRequestParser() {}

  public static ChatRequest parse(byte[] body) {
    try (JsonParser p = object(body)) {
      int insertAt = (int) p.currentTokenLocation().getByteOffset() + 1;
      String model = null;
      int modelStart = insertAt;
      int modelEnd = insertAt;
      boolean stream = false;
      boolean sawMessages = false;
      ChatRequest.StreamOptions options = ChatRequest.StreamOptions.ABSENT;
      int optionsStart = -1;
      int optionsEnd = -1;
      String prompt = "";
      java.util.Set<io.routewise.routing.Media> media = java.util.EnumSet.noneOf(io.routewise.routing.Media.class);
      SessionFields session = new SessionFields();
      boolean sawStream = false;
      int choices = 1;
      JsonToken t;
      while ((t = p.nextToken()) == JsonToken.FIELD_NAME) {
        String name = p.currentName();
        JsonToken v = p.nextToken();
        switch (name) {
          case "model" -> {
            model = readModel(p, v, model);
            modelStart = (int) p.currentTokenLocation().getByteOffset();
            modelEnd = endOfString(body, modelStart);
          }
          case "stream" -> {
            if (sawStream) {
              throw twice("stream");
            }
            sawStream = true;
            stream = readStream(p, v);
          }
          case "messages" -> {
            if (sawMessages) { // the router would score one copy and the upstream might answer the other
              throw ApiException.invalidRequest("'messages' appears more than once.", "messages");
            }
            sawMessages = true;
            prompt = readMessages(p, v, media);
          }
          case "stream_options" -> {
            if (options != ChatRequest.StreamOptions.ABSENT) {
              throw ApiException.invalidRequest("'stream_options' appears more than once.", "stream_options");
            }
            int[] range = {(int) p.currentTokenLocation().getByteOffset(), -1};
            options = readStreamOptions(p, v, range);
            optionsStart = range[0];
            optionsEnd = range[1];
          }
          case "n" -> { // a stream of several choices is whole once each has ended
            if (v == JsonToken.VALUE_NUMBER_INT || v == JsonToken.VALUE_NUMBER_FLOAT) {
              choices = (int) Math.clamp(p.getDoubleValue(), 1, 128); // OpenAI's most; the upstream judges the value
            }
            p.skipChildren();
          }
          default -> {
            otherCase(name, "", "model", "messages", "stream", "stream_options");
            if (!session.read(name, p, v)) { // read for session pinning only
              p.skipChildren();
            }
          }
        }
      }
      if (t != JsonToken.END_OBJECT || p.nextToken() != null) {
        throw ApiException.invalidRequest("The request body is not valid JSON: unexpected content after the object.", null);
      }
      if (!sawMessages) {
        throw ApiException.invalidRequest("'messages' is a required property.", "messages");
      }
      return new ChatRequest(body, model, modelStart, modelEnd, stream, prompt, session.user(),
          session.promptCacheKey(), insertAt, options, optionsStart,
          optionsEnd, media.isEmpty() ? java.util.Set.of() : java.util.Set.copyOf(media), choices);
    } catch (IOException e) {
      throw unreadable(e);
    }
  }

  /** A parser of {@code body} (well-formed UTF-8) on its opening brace; else a 400. */
  static JsonParser object(byte[] body) throws IOException {
    requireUtf8(body);
    JsonParser p = JSON.createParser(body);
    if (p.nextToken() != JsonToken.START_OBJECT) {
      p.close();
      throw ApiException.invalidRequest("The request body must be a JSON object.", null);
    }
    return p;
  }

  /** The 400 for a body the parser could not read: not JSON, or cut short. */
  static ApiException unreadable(IOException e) {
    return e instanceof JsonProcessingException json
        ? ApiException.invalidRequest("The request body is not valid JSON: " + readable(json.getOriginalMessage()), null)
        : ApiException.invalidRequest("The request body could not be read: " + e.getMessage(), null);
  }

  /** The {@code model} value, once: which of two would the upstream read? Parsers disagree (first, last, error). */
  static String readModel(JsonParser p, JsonToken v, String seen) throws IOException {
    if (seen != null) {
      throw ApiException.invalidRequest("'model' appears more than once.", "model");
    }
    if (v != JsonToken.VALUE_STRING) {
      throw ApiException.invalidRequest("'model' must be a string.", "model");
    }
    return p.getText();
  }

  /** The {@code stream} flag: a boolean, or null for false. */
  static boolean readStream(JsonParser p, JsonToken v) {
    if (v == JsonToken.VALUE_TRUE) {
      return true;
    }
    if (v == JsonToken.VALUE_FALSE || v == JsonToken.VALUE_NULL) {
      return false;
    }
    throw ApiException.invalidRequest("'stream' must be a boolean.", "stream");
  }

  /**
   * JSON bodies are UTF-8 (RFC 8259): the model is spliced in by byte offset, which other encodings
   * do not give. A UTF-8 byte-order mark is refused too: strict upstream parsers reject it.
   */
  static void requireUtf8(byte[] body) {
    boolean utf8Bom = body.length >= 3 && (body[0] & 0xff) == 0xEF && (body[1] & 0xff) == 0xBB && (body[2] & 0xff) == 0xBF;
    boolean nulInFirstBytes = false;
    for (int i = 0; i < Math.min(4, body.length); i++) {
      nulInFirstBytes |= body[i] == 0;
    }
    boolean utf16Bom = body.length >= 2 && ((body[0] & 0xff) == 0xFE && (body[1] & 0xff) == 0xFF
        || (body[0] & 0xff) == 0xFF && (body[1] & 0xff) == 0xFE);
    if (utf8Bom || nulInFirstBytes || utf16Bom) {
      throw ApiException.invalidRequest("The request body must be UTF-8 JSON without a byte-order mark.", null);
    }
    int bad = invalidUtf8At(body);
    if (bad >= 0) {
      // Jackson reads overlong forms (C0 AF as '/') and code points past U+10FFFF: routewise would
      // score one text while the upstream gets bytes it reads otherwise, or refuses
      throw ApiException.invalidRequest("The request body is not valid UTF-8 (byte " + bad + ").", null);
    }
  }

  private static final java.lang.invoke.VarHandle LONGS =
      java.lang.invoke.MethodHandles.byteArrayViewVarHandle(long[].class, java.nio.ByteOrder.LITTLE_ENDIAN);

  /**
   * Where the first byte that is not well-formed UTF-8 (RFC 3629: no overlong forms, surrogates or
   * code points past U+10FFFF) is, or -1. ASCII, nearly every byte of a request, goes 8 at a time.
   */
  static int invalidUtf8At(byte[] b) {
    int n = b.length;
    int i = 0;
    while (i < n) {
      if (i + 8 <= n && ((long) LONGS.get(b, i) & 0x8080808080808080L) == 0) {
        i += 8;
        continue;
      }
      int c = b[i] & 0xff;
      if (c < 0x80) {
        i++;
      } else if (c < 0xC2) { // a continuation byte where a character starts, or an overlong two-byte form
        return i;
      } else if (c < 0xE0) {
        if (!continues(b, i, 1)) {
          return i;
        }
        i += 2;
      } else if (c < 0xF0) {
        int c1 = i + 1 < n ? b[i + 1] & 0xff : 0;
        if (!continues(b, i, 2) || c == 0xE0 && c1 < 0xA0 || c == 0xED && c1 >= 0xA0) { // overlong; a surrogate
          return i;
        }
        i += 3;
      } else if (c < 0xF5) {
        int c1 = i + 1 < n ? b[i + 1] & 0xff : 0;
        if (!continues(b, i, 3) || c == 0xF0 && c1 < 0x90 || c == 0xF4 && c1 >= 0x90) { // overlong; past U+10FFFF
          return i;
        }
        i += 4;
      } else {
        return i;
      }
    }
    return -1;
  }

  /** Whether the {@code count} bytes after {@code at} are there and all continuation bytes. */
  private static boolean continues(byte[] b, int at, int count) {
    if (at + count >= b.length) {
      return false;
    }
    for (int k = 1; k <= count; k++) {
      if ((b[at + k] & 0xC0) != 0x80) {
        return false;
      }
    }
    return true;
  }

  /**
   * A field the routing reads, given twice: which copy the upstream reads, parsers disagree on (first,
   * last, error), so routewise could decide on one and the upstream answer the other.
   */
  static ApiException twice(String path) {
    return ApiException.invalidRequest("'" + path + "' appears more than once.", path);
  }

  /**
   * A field routing reads, spelled in another case ({@code "Messages"}, {@code "MODEL"}) at {@code path}:
   * Go's JSON decoder (Ollama's OpenAI layer) matches field names in any case, its last copy winning, so
   * the upstream could answer that copy while routewise scored or rewrote the other. Refused, as a
   * second copy in the same case is. ({@link String#equalsIgnoreCase} folds as Go does: U+017F is s.)
   */
  static void otherCase(String name, String path, String... read) {
    String field = inOtherCase(name, read);
    if (field != null) {
      String at = path.isEmpty() ? name : path + "." + name;
      throw ApiException.invalidRequest("'" + at + "' is '" + field + "' in another case, which some upstreams "
          + "(Go's JSON decoder: Ollama) read as '" + field + "'; send the field once, as '" + field + "'.", at);
    }
  }

  /** The one of {@code read} that {@code name} is in another case, or null ({@link #otherCase} refuses it). */
  private static String inOtherCase(String name, String... read) {
    for (String field : read) {
      if (!name.equals(field) && name.equalsIgnoreCase(field)) {
        return field;
      }
    }
    return null;
  }

  /**
   * Returns the last user message's text; validates every message on the way, and adds to
   * {@code media} what any message carries besides text (sent upstream with the rest).
   */
  private static String readMessages(JsonParser p, JsonToken v, java.util.Set<io.routewise.routing.Media> media)
      throws IOException {
    if (v != JsonToken.START_ARRAY) {
      throw ApiException.invalidRequest("'messages' must be an array of message objects.", "messages");
    }
    String lastUser = null;
    int i = 0;
    JsonToken t;
    while ((t = p.nextToken()) != JsonToken.END_ARRAY) {
      String[] roleAndText = readMessage(p, t, "messages", i, media, false);
      String role = roleAndText[0];
      String text = roleAndText[1];
      if (role == null) {
        String path = at("messages", i);
        throw ApiException.invalidRequest("'" + path + ".role' is a required property.", path + ".role");
      }
      if (role.equals("user")) {
        lastUser = text == null ? "" : text;
      }
      i++;
    }
    if (i == 0) {
      throw ApiException.invalidRequest("'messages' must contain at least one message.", "messages", "empty_array");
    }
    return lastUser == null ? "" : lastUser;
  }

  /**
   * A message object's role and text (null where absent); checks both, and that neither comes twice;
   * adds to {@code media} what its content carries besides text. With {@code otherContent}, a
   * content that is neither a string, null nor an array of parts (another kind of item's) is skipped.
   * The message is {@code array[index]}, its path built only for an error. Only a user message's text
   * is read by the callers: a string content after a role other than {@code user} is checked by the
   * parser but not made into a String (its text is null).
   */
  static String[] readMessage(JsonParser p, JsonToken t, String array, int index,
      java.util.Set<io.routewise.routing.Media> media, boolean otherContent) throws IOException {
    if (t != JsonToken.START_OBJECT) {
      String path = at(array, index);
      throw ApiException.invalidRequest("'" + path + "' must be an object.", path);
    }
    String role = null;
    String text = null;
    boolean sawContent = false;
    while (p.nextToken() == JsonToken.FIELD_NAME) {
      String field = p.currentName();
      JsonToken fv = p.nextToken();
      if (field.equals("role")) {
        if (role != null) {
          throw twice(at(array, index) + ".role");
        }
        if (fv != JsonToken.VALUE_STRING) {
          String path = at(array, index);
          throw ApiException.invalidRequest("'" + path + ".role' must be a string.", path + ".role");
        }
        role = p.getText();
      } else if (field.equals("content") && !(otherContent && (fv == JsonToken.START_OBJECT || fv.isScalarValue()
          && fv != JsonToken.VALUE_STRING && fv != JsonToken.VALUE_NULL))) {
        if (sawContent) {
          throw twice(at(array, index) + ".content");
        }
        sawContent = true;
        if (fv == JsonToken.VALUE_STRING && role != null && !role.equals("user")) {
          continue; // not scored: the parser checks the string as it passes it
        }
        text = readContent(p, fv, array, index, media);
      } else if (otherContent && field.equals("output")) { // a tool call's output, fed back: it may hold media
        ResponsesRequestParser.noteOutputMedia(p, fv, media);
      } else {
        if (inOtherCase(field, "role", "content") != null) { // its path built only to refuse it
          otherCase(field, at(array, index), "role", "content");
        }
        p.skipChildren();
      }
    }
    return new String[] {role, text};
  }

  /** The path of {@code array[index]}, for an error. */
  static String at(String array, int index) {
    return array + "[" + index + "]";
  }


  /**
   * What {@code stream_options} says of usage; leaves the parser on the value's last token.
   * {@code range} holds the value's start and is given its end; for {@code include_usage: null} or
   * {@code false}, the range of that value instead, which is where {@code true} goes.
   */
  private static ChatRequest.StreamOptions readStreamOptions(JsonParser p, JsonToken v, int[] range)
      throws IOException {
    if (v == JsonToken.VALUE_NULL) {
      range[1] = range[0] + 4;
      return ChatRequest.StreamOptions.NULL;
    }
    if (v != JsonToken.START_OBJECT) {
      p.skipChildren();
      return ChatRequest.StreamOptions.SAID; // not ours to mend: the upstream says what it makes of it
    }
    ChatRequest.StreamOptions found = ChatRequest.StreamOptions.WITHOUT_USAGE;
    int[] usageNull = null;
    while (p.nextToken() == JsonToken.FIELD_NAME) {
      boolean usage = p.currentName().equals("include_usage");
      otherCase(p.currentName(), "stream_options", "include_usage"); // routewise may add its own: which would Go read?
      JsonToken value = p.nextToken();
      if (usage && found != ChatRequest.StreamOptions.WITHOUT_USAGE) {
        throw ApiException.invalidRequest("'stream_options.include_usage' appears more than once.",
            "stream_options.include_usage");
      }
      if (usage && value == JsonToken.VALUE_NULL) { // written by clients that write every field: not a word
        int at = (int) p.currentTokenLocation().getByteOffset();
        usageNull = new int[] {at, at + 4};
        found = ChatRequest.StreamOptions.USAGE_NULL;
      } else if (usage && value == JsonToken.VALUE_FALSE) { // declined: routewise may still ask, and keep the chunk
        int at = (int) p.currentTokenLocation().getByteOffset();
        usageNull = new int[] {at, at + 5};
        found = ChatRequest.StreamOptions.USAGE_FALSE;
      } else if (usage) {
        found = ChatRequest.StreamOptions.SAID;
      }
      p.skipChildren();
    }
    range[1] = (int) p.currentTokenLocation().getByteOffset() + 1;
    if (usageNull != null) {
      range[0] = usageNull[0];
      range[1] = usageNull[1];
    }
    return found;
  }

  /**
   * A string, null, or an array of parts whose text parts are joined with newlines: the content of
   * {@code array[index]}.
   */
  static String readContent(JsonParser p, JsonToken v, String array, int index,
      java.util.Set<io.routewise.routing.Media> media) throws IOException {
    if (v == JsonToken.VALUE_STRING) {
      return p.getText();
    }
    if (v == JsonToken.VALUE_NULL) {
      return null;
    }
    String path = at(array, index) + ".content"; // a part's errors name it: arrays of parts are rarer
    if (v != JsonToken.START_ARRAY) {
      throw ApiException.invalidRequest("'" + path + "' must be a string or an array of content parts.", path);
    }
    StringBuilder sb = new StringBuilder();
    int j = 0;
    JsonToken t;
    while ((t = p.nextToken()) != JsonToken.END_ARRAY) {
      if (t != JsonToken.START_OBJECT) {
        throw ApiException.invalidRequest("'" + path + "[" + j + "]' must be a content part object.", path + "[" + j + "]");
      }
      String type = null;
      String text = null;
      boolean textNotString = false;
      boolean typeSeen = false;
      boolean textSeen = false;
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        String field = p.currentName();
        JsonToken fv = p.nextToken();
        if (field.equals("type")) {
          if (typeSeen) {
            throw twice(path + "[" + j + "].type");
          }
          typeSeen = true;
          if (fv != JsonToken.VALUE_STRING) { // scored as text, while the upstream refuses it
            String at = path + "[" + j + "].type";
            throw ApiException.invalidRequest("'" + at + "' must be a string.", at);
          }
          type = p.getText();
        } else if (field.equals("text")) {
          if (textSeen) {
            throw twice(path + "[" + j + "].text");
          }
          textSeen = true;
          if (fv == JsonToken.VALUE_STRING) {
            text = p.getText();
          } else {
            textNotString = true;
            p.skipChildren();
          }
        } else {
          otherCase(field, path + "[" + j + "]", "type", "text");
          p.skipChildren();
        }
      }
      boolean textPart = type == null || type.equals("text") || type.equals("input_text");
      io.routewise.routing.Media kind = type == null ? null : io.routewise.routing.Media.ofPartType(type);
      if (kind != null) {
        media.add(kind);
      }
      if (textPart && textNotString) {
        // the upstream refuses it too, after the router scored a prompt without it
        String at = path + "[" + j + "].text";
        throw ApiException.invalidRequest("'" + at + "' must be a string.", at);
      }
      if (text != null && textPart && !text.isEmpty()) { // an empty part adds nothing, not a line
        if (!sb.isEmpty()) {
          sb.append('\n');
        }
        sb.append(text);
      }
      j++;
    }
    return sb.toString();
  }

  /** Offset just past the closing quote of the string starting at {@code quote}. */
  static int endOfString(byte[] b, int quote) {
    int i = quote + 1;
    while (i < b.length) {
      byte c = b[i];
      if (c == '\\') {
        i += 2;
      } else if (c == '"') {
        return i + 1;
      } else {
        i++;
      }
    }
    throw ApiException.invalidRequest("The request body is not valid JSON: unterminated string.", null);
  }

  /** Jackson's message in the client's words (JsonMessages). */
  static String readable(String message) {
    return io.routewise.config.JsonMessages.readable(message);
  }
}