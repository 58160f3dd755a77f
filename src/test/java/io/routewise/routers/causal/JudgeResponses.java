package io.routewise.routers.causal;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Hand-written chat-completion bodies, as a judge endpoint would answer. */
final class JudgeResponses {
  private static final ObjectMapper MAPPER = new ObjectMapper();

  /** One generated token with its alternatives (token → probability). */
  record Tok(String token, Map<String, Double> top) {
    static Tok of(String token) {
      return new Tok(token, Map.of(token, 1.0));
    }

    static Tok of(String token, Object... alternatives) {
      Map<String, Double> top = new LinkedHashMap<>();
      for (int i = 0; i < alternatives.length; i += 2) {
        top.put((String) alternatives[i], ((Number) alternatives[i + 1]).doubleValue());
      }
      return new Tok(token, top);
    }
  }

  private JudgeResponses() {}

  static String withLogprobs(List<Tok> tokens) {
    ObjectNode root = base(String.join("", tokens.stream().map(Tok::token).toList()));
    ArrayNode content = ((ObjectNode) root.path("choices").path(0)).putObject("logprobs").putArray("content");
    for (Tok t : tokens) {
      ObjectNode n = content.addObject();
      n.put("token", t.token());
      n.put("logprob", Math.log(t.top().getOrDefault(t.token(), 1.0)));
      ArrayNode top = n.putArray("top_logprobs");
      t.top().forEach((tok, p) -> top.addObject().put("token", tok).put("logprob", Math.log(p)));
    }
    return root.toString();
  }

  static String textOnly(String text) {
    return base(text).toString();
  }

  private static ObjectNode base(String text) {
    ObjectNode root = MAPPER.createObjectNode();
    root.put("id", "chatcmpl-test").put("object", "chat.completion").put("model", "judge");
    ObjectNode choice = root.putArray("choices").addObject();
    choice.put("index", 0).put("finish_reason", "stop");
    choice.putObject("message").put("role", "assistant").put("content", text);
    return root;
  }
}
