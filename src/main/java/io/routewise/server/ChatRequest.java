package io.routewise.server;

import java.nio.charset.StandardCharsets;

/**
 * What routing needs from a chat-completions body, read without building a tree: the model, the
 * stream flag, the last user message's text, and where the model value sits in the original bytes
 * so that forwarding can replace just that value and leave every other byte as the client sent it.
 *
 * @param body the client's bytes
 * @param model the requested model, or null when absent
 * @param modelStart offset of the model value's opening quote, or of the insertion point after '{'
 * @param modelEnd offset just past the model value's closing quote (== modelStart when absent)
 * @param stream the {@code stream} flag
 * @param prompt text of the last user message ("" when there is none)
 * @param user the body's {@code user} field when it is a string, else null (a session key for pinning)
 */
public record ChatRequest(byte[] body, String model, int modelStart, int modelEnd, boolean stream, String prompt,
    String user) {

  /** The body with {@code model} replaced by {@code upstreamModel}; nothing else changes. One copy. */
  public byte[] withModel(String upstreamModel) {
    byte[] value = model == null ? ("\"model\":" + quote(upstreamModel) + ",").getBytes(StandardCharsets.UTF_8)
        : quote(upstreamModel).getBytes(StandardCharsets.UTF_8);
    int tail = body.length - modelEnd;
    byte[] out = new byte[modelStart + value.length + tail];
    System.arraycopy(body, 0, out, 0, modelStart);
    System.arraycopy(value, 0, out, modelStart, value.length);
    System.arraycopy(body, modelEnd, out, modelStart + value.length, tail);
    return out;
  }

  private static String quote(String s) {
    StringBuilder sb = new StringBuilder(s.length() + 2).append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> sb.append("\\\"");
        case '\\' -> sb.append("\\\\");
        default -> {
          if (c < 0x20) {
            sb.append(String.format("\\u%04x", (int) c));
          } else {
            sb.append(c);
          }
        }
      }
    }
    return sb.append('"').toString();
  }
}
