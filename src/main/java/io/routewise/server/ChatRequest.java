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
 * @param objectStart offset just past the body's opening '{'
 * @param streamOptions whether the body has a {@code stream_options} field (any value)
 */
public record ChatRequest(byte[] body, String model, int modelStart, int modelEnd, boolean stream, String prompt,
    String user, int objectStart, boolean streamOptions) {

  private static final byte[] STREAM_USAGE = "\"stream_options\":{\"include_usage\":true},"
      .getBytes(StandardCharsets.UTF_8);
  private static final byte[] NOTHING = new byte[0];

  /** The body with {@code model} replaced by {@code upstreamModel}; nothing else changes. One copy. */
  public byte[] withModel(String upstreamModel) {
    return forUpstream(upstreamModel, false);
  }

  /**
   * {@link #withModel}, and with {@code askUsage} (for a stream whose client set no {@code
   * stream_options}) {@code "stream_options":{"include_usage":true}} added as the object's first field.
   */
  public byte[] forUpstream(String upstreamModel, boolean askUsage) {
    byte[] value = model == null ? ("\"model\":" + quote(upstreamModel) + ",").getBytes(StandardCharsets.UTF_8)
        : quote(upstreamModel).getBytes(StandardCharsets.UTF_8);
    byte[] added = askUsage ? STREAM_USAGE : NOTHING;
    int tail = body.length - modelEnd;
    byte[] out = new byte[modelStart + added.length + value.length + tail];
    System.arraycopy(body, 0, out, 0, objectStart);
    System.arraycopy(added, 0, out, objectStart, added.length);
    System.arraycopy(body, objectStart, out, objectStart + added.length, modelStart - objectStart);
    System.arraycopy(value, 0, out, modelStart + added.length, value.length);
    System.arraycopy(body, modelEnd, out, modelStart + added.length + value.length, tail);
    return out;
  }

  /** A stream whose client did not say whether it wants usage: routewise may ask for it (stream_usage). */
  public boolean streamWithoutOptions() {
    return stream && !streamOptions;
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
