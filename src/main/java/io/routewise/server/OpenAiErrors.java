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

  /**
   * The message of an upstream's answer that is an error object rather than a completion (a top-level
   * {@code error} and no {@code choices}): its {@code error.message}, or the error itself when that
   * is not an object with one; null for any other body.
   */
  static String errorInAnswer(byte[] body) {
    com.fasterxml.jackson.databind.JsonNode root;
    try {
      root = MAPPER.readTree(body);
    } catch (java.io.IOException | RuntimeException e) {
      return null;
    }
    if (root == null || !root.isObject() || !root.has("error") || root.has("choices") || root.get("error").isNull()) {
      return null;
    }
    com.fasterxml.jackson.databind.JsonNode error = root.get("error");
    String said = error.path("message").isTextual() ? error.path("message").asText()
        : error.isTextual() ? error.asText() : error.toString();
    return said.length() <= 300 ? said : said.substring(0, 300) + "…";
  }

  static byte[] body(ApiException e) {
    return body(e.getMessage(), e.type(), e.param(), e.code());
  }
}
