package io.routewise.server;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.util.Optional;

/** Token counts from a response's top-level {@code usage} object, read by streaming. */
record Usage(long prompt, long completion) {
  private static final JsonFactory JSON = ChatRequestParser.JSON;

  static Optional<Usage> fromJson(byte[] body) {
    return fromJson(body, 0, body.length);
  }

  static Optional<Usage> fromJson(byte[] body, int off, int len) {
    try (JsonParser p = JSON.createParser(body, off, len)) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        return Optional.empty();
      }
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        String name = p.currentName();
        JsonToken v = p.nextToken();
        if (name.equals("usage") && v == JsonToken.START_OBJECT) {
          long prompt = 0;
          long completion = 0;
          while (p.nextToken() == JsonToken.FIELD_NAME) {
            String f = p.currentName();
            JsonToken fv = p.nextToken();
            if (f.equals("prompt_tokens") && fv == JsonToken.VALUE_NUMBER_INT) {
              prompt = p.getLongValue();
            } else if (f.equals("completion_tokens") && fv == JsonToken.VALUE_NUMBER_INT) {
              completion = p.getLongValue();
            } else {
              p.skipChildren();
            }
          }
          return Optional.of(new Usage(prompt, completion));
        }
        p.skipChildren();
      }
    } catch (Exception malformed) {
      // judged by isJsonObject, asked only of answers without usage
    }
    return Optional.empty();
  }

  /** Whether {@code body} is one whole JSON object: what a chat completion is. */
  static boolean isJsonObject(byte[] body) {
    try (JsonParser p = JSON.createParser(body)) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        return false;
      }
      p.skipChildren();
      return p.nextToken() == null;
    } catch (Exception malformed) {
      return false;
    }
  }
}
