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

  /** The body with {@code model} replaced by {@code upstreamModel}; nothing else changes. */
  public byte[] withModel(String upstreamModel) {
    return forUpstream(upstreamModel, false).toBytes();
  }

  /**
   * The body for the upstream, as slices of the client's bytes (no copy of the whole): {@code model}
   * replaced by {@code upstreamModel}, and with {@code askUsage} (for a stream whose client set no
   * {@code stream_options}) {@code "stream_options":{"include_usage":true}} added as the object's
   * first field.
   */
  public io.routewise.upstream.Spliced forUpstream(String upstreamModel, boolean askUsage) {
    byte[] value = model == null ? ("\"model\":" + quote(upstreamModel) + ",").getBytes(StandardCharsets.UTF_8)
        : quote(upstreamModel).getBytes(StandardCharsets.UTF_8);
    byte[] added = askUsage ? STREAM_USAGE : NOTHING;
    return io.routewise.upstream.Spliced.builder(5).add(body, 0, objectStart).add(added, 0, added.length)
        .add(body, objectStart, modelStart - objectStart).add(value, 0, value.length)
        .add(body, modelEnd, body.length - modelEnd).build();
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
