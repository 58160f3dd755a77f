package io.routewise.server;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import io.routewise.routing.Media;
import io.routewise.upstream.RoutedApi;
import java.io.IOException;

/**
 * Reads a Responses API body ({@code POST /v1/responses}) as {@link ChatRequestParser} reads a chat
 * one: one pass, no tree, every byte but the model's value sent on as it came. The prompt a router
 * scores is the last user message of {@code input} (all of it when {@code input} is a string); like
 * chat's system messages, {@code instructions} is not scored. Checked: what routing reads ({@code
 * model}, {@code stream}, {@code input}'s items and their content, {@code previous_response_id});
 * the rest is the upstream's to judge.
 */
final class ResponsesRequestParser {
  private ResponsesRequestParser() {}

  static ChatRequest parse(byte[] body) {
    try (JsonParser p = ChatRequestParser.object(body)) {
      int insertAt = (int) p.currentTokenLocation().getByteOffset() + 1;
      String model = null;
      int modelStart = insertAt;
      int modelEnd = insertAt;
      boolean stream = false;
      String prompt = "";
      java.util.Set<Media> media = java.util.EnumSet.noneOf(Media.class);
      SessionFields session = new SessionFields();
      String previous = null;
      boolean conversation = false;
      boolean background = false;
      java.util.Set<String> seen = new java.util.HashSet<>(); // of the fields below that routing reads
      JsonToken t;
      while ((t = p.nextToken()) == JsonToken.FIELD_NAME) {
        String name = p.currentName();
        JsonToken v = p.nextToken();
        switch (name) {
          case "model" -> {
            model = ChatRequestParser.readModel(p, v, model);
            modelStart = (int) p.currentTokenLocation().getByteOffset();
            modelEnd = ChatRequestParser.endOfString(body, modelStart);
          }
          case "stream", "input", "previous_response_id", "conversation", "background" -> {
            if (!seen.add(name)) { // the router would read one copy and the upstream perhaps the other
              throw ChatRequestParser.twice(name);
            }
            switch (name) {
              case "stream" -> stream = ChatRequestParser.readStream(p, v);
              case "input" -> prompt = readInput(p, v, media);
              case "previous_response_id" -> previous = readPrevious(p, v);
              case "background" -> {
                background = v == JsonToken.VALUE_TRUE; // any other value: the upstream's to judge
                p.skipChildren();
              }
              default -> {
                conversation = v != JsonToken.VALUE_NULL;
                p.skipChildren();
              }
            }
          }
          default -> {
            ChatRequestParser.otherCase(name, "", "model", "stream", "input", "previous_response_id", "conversation",
                "background");
            if (!session.read(name, p, v)) {
              p.skipChildren();
            }
          }
        }
      }
      if (t != JsonToken.END_OBJECT || p.nextToken() != null) {
        throw ApiException.invalidRequest("The request body is not valid JSON: unexpected content after the object.", null);
      }
      return new ChatRequest(body, model, modelStart, modelEnd, stream, prompt, session.user(),
          session.promptCacheKey(), insertAt,
          ChatRequest.StreamOptions.ABSENT, -1, -1, media.isEmpty() ? java.util.Set.of() : java.util.Set.copyOf(media),
          RoutedApi.RESPONSES, previous, conversation, background, 1);
    } catch (IOException e) {
      throw ChatRequestParser.unreadable(e);
    }
  }

  private static String readPrevious(JsonParser p, JsonToken v) throws IOException {
    if (v == JsonToken.VALUE_NULL) {
      return null;
    }
    if (v != JsonToken.VALUE_STRING) { // where it is stored decides where the request goes
      throw ApiException.invalidRequest("'previous_response_id' must be a string.", "previous_response_id");
    }
    return p.getText();
  }

  /**
   * {@code input}'s prompt: a string as it is; from an array of items, the last user message's
   * text (its {@code content} a string or parts, as chat's). Items of other kinds (function call
   * outputs, reasoning, references) are skipped; media in any item's content is noted.
   */
  private static String readInput(JsonParser p, JsonToken v, java.util.Set<Media> media) throws IOException {
    if (v == JsonToken.VALUE_STRING) {
      return p.getText();
    }
    if (v == JsonToken.VALUE_NULL) {
      return "";
    }
    if (v != JsonToken.START_ARRAY) {
      throw ApiException.invalidRequest("'input' must be a string or an array of input items.", "input");
    }
    String lastUser = null;
    int i = 0;
    JsonToken t;
    while ((t = p.nextToken()) != JsonToken.END_ARRAY) {
      // another kind of item's content (none has one now) is the upstream's to judge
      String[] roleAndText = ChatRequestParser.readMessage(p, t, "input", i, media, true);
      if ("user".equals(roleAndText[0])) {
        lastUser = roleAndText[1] == null ? "" : roleAndText[1];
      }
      i++;
    }
    return lastUser == null ? "" : lastUser;
  }

  /**
   * Notes the media in a tool call's {@code output} fed back in {@code input}: a function or custom
   * tool call's parts ({@code input_image}, {@code input_file}), a computer call's screenshot. Its
   * text is not the user's, so not scored; its shape is the upstream's to judge (nothing refused here).
   */
  static void noteOutputMedia(JsonParser p, JsonToken v, java.util.Set<Media> media) throws IOException {
    if (v == JsonToken.START_OBJECT) {
      notePartMedia(p, media);
    } else if (v == JsonToken.START_ARRAY) {
      JsonToken t;
      while ((t = p.nextToken()) != JsonToken.END_ARRAY) {
        if (t == JsonToken.START_OBJECT) {
          notePartMedia(p, media);
        } else {
          p.skipChildren();
        }
      }
    } else {
      p.skipChildren();
    }
  }

  /** The media kind of the part object the parser has just entered, by its {@code type}; leaves it at the part's end. */
  private static void notePartMedia(JsonParser p, java.util.Set<Media> media) throws IOException {
    while (p.nextToken() == JsonToken.FIELD_NAME) {
      String field = p.currentName();
      JsonToken fv = p.nextToken();
      if (field.equals("type") && fv == JsonToken.VALUE_STRING) {
        String type = p.getText();
        Media kind = type.equals("computer_screenshot") ? Media.IMAGE : Media.ofPartType(type);
        if (kind != null) {
          media.add(kind);
        }
      } else {
        p.skipChildren();
      }
    }
  }

  /**
   * Whether a body for {@code /v1/route} is a Responses request: an object with {@code input} and
   * without {@code messages} (else it is read as chat, whose errors it gets).
   */
  static boolean isResponsesBody(byte[] body) {
    boolean input = false;
    try (JsonParser p = ChatRequestParser.JSON.createParser(body)) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        return false;
      }
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        String name = p.currentName();
        p.nextToken();
        if (name.equals("messages")) {
          return false;
        }
        input |= name.equals("input");
        p.skipChildren();
      }
    } catch (IOException | RuntimeException notJson) {
      return false; // the chat parser says what is wrong with it
    }
    return input;
  }

  /**
   * A whole Responses answer's {@code id} (a top-level string beside {@code "object":"response"}),
   * which a later request may continue from; null for another body.
   */
  static String responseId(byte[] body) {
    try (JsonParser p = ChatRequestParser.JSON.createParser(body)) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        return null;
      }
      String id = null;
      boolean response = false;
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        String name = p.currentName();
        JsonToken v = p.nextToken();
        if (name.equals("id") && v == JsonToken.VALUE_STRING) {
          id = p.getText();
        } else if (name.equals("object") && v == JsonToken.VALUE_STRING) {
          response = p.getText().equals("response");
        } else {
          p.skipChildren();
        }
        if (id != null && response) {
          return id;
        }
      }
    } catch (IOException | RuntimeException notJson) {
      // no id to remember
    }
    return null;
  }
}
