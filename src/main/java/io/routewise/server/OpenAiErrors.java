package io.routewise.server;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

/** Writes OpenAI's error body. */
final class OpenAiErrors {
  private static final ObjectMapper MAPPER = new ObjectMapper();

  private OpenAiErrors() {}

  static byte[] body(String message, String type, String param, String code) {
    ObjectNode root = MAPPER.createObjectNode();
    ObjectNode e = root.putObject("error");
    e.put("message", message);
    e.put("type", type);
    e.put("param", param);
    e.put("code", code);
    try {
      return MAPPER.writeValueAsBytes(root);
    } catch (Exception ex) {
      throw new IllegalStateException(ex);
    }
  }

  static byte[] body(ApiException e) {
    return body(e.getMessage(), e.type(), e.param(), e.code());
  }
}
