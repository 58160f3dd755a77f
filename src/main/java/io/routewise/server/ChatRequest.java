package io.routewise.server;

import java.nio.charset.StandardCharsets;

/**
 * What routing needs from a chat-completions or Responses body, read without building a tree: the
 * model, the stream flag, the last user message's text, and where the model value sits in the
 * original bytes so that forwarding can replace just that value and leave every other byte as the
 * client sent it.
 *
 * @param body the client's bytes
 * @param model the requested model, or null when absent
 * @param modelStart offset of the model value's opening quote, or of the insertion point after '{'
 * @param modelEnd offset just past the model value's closing quote (== modelStart when absent)
 * @param stream the {@code stream} flag
 * @param prompt text of the last user message ("" when there is none)
 * @param user the end user the body names, a session key for pinning: its {@code user} when that is a
 *     non-blank string, else its {@code safety_identifier} when a string, else null
 * @param promptCacheKey the body's {@code prompt_cache_key} when it is a string, else null (a session key)
 * @param objectStart offset just past the body's opening '{'
 * @param options what the body's {@code stream_options} says of usage
 * @param optionsStart offset of the {@code stream_options} value (-1 when absent), or of its {@code
 *     include_usage}'s null
 * @param optionsEnd offset just past it
 * @param media what any message carries besides text (image, audio, file parts)
 * @param api the endpoint the body was sent to, and goes to upstream
 * @param previousResponseId a Responses body's {@code previous_response_id}: the stored response it
 *     continues, which only the upstream that answered it holds; else null
 * @param conversation whether a Responses body names a {@code conversation}, stored where it was
 *     created (the passthrough upstream)
 * @param background whether a Responses body asks {@code background: true}: the response goes on
 *     upstream whatever becomes of its answer here, and its usage may come only with a later poll
 * @param choices a chat body's {@code n}, the choices asked for (1 unless an integer above 1; at most 128)
 */
public record ChatRequest(byte[] body, String model, int modelStart, int modelEnd, boolean stream, String prompt,
    String user, String promptCacheKey, int objectStart, StreamOptions options, int optionsStart, int optionsEnd,
    java.util.Set<io.routewise.routing.Media> media, io.routewise.upstream.RoutedApi api, String previousResponseId,
    boolean conversation, boolean background, int choices) {

  /** A chat-completions body. */
  public ChatRequest(byte[] body, String model, int modelStart, int modelEnd, boolean stream, String prompt,
      String user, String promptCacheKey, int objectStart, StreamOptions options, int optionsStart, int optionsEnd,
      java.util.Set<io.routewise.routing.Media> media, int choices) {
    this(body, model, modelStart, modelEnd, stream, prompt, user, promptCacheKey, objectStart, options, optionsStart, optionsEnd, media,
        io.routewise.upstream.RoutedApi.CHAT_COMPLETIONS, null, false, false, choices);
  }

  /** What the router is asked about: the last user message's text, and the media any message carries. */
  public io.routewise.routing.Prompt routingPrompt() {
    return new io.routewise.routing.Prompt(prompt, media);
  }

  /** What a client's {@code stream_options} says of {@code include_usage}. */
  public enum StreamOptions {
    /** No {@code stream_options}. */
    ABSENT,
    /** {@code null}, as clients that write every field send it. */
    NULL,
    /** An object without {@code include_usage} ({@code {}}, or only other options). */
    WITHOUT_USAGE,
    /** {@code include_usage: null}; the options range is then that null's. */
    USAGE_NULL,
    /**
     * {@code include_usage: false}; the options range is then that false's. The client wants no usage
     * chunk, which it does not get; the upstream may still be asked for one (stream_usage), to count.
     */
    USAGE_FALSE,
    /** {@code include_usage: true} (or another value), or options that are not an object: the client's word, left as it is. */
    SAID
  }

  private static final byte[] STREAM_USAGE = "\"stream_options\":{\"include_usage\":true},"
      .getBytes(StandardCharsets.UTF_8);
  private static final byte[] USAGE_OBJECT = "{\"include_usage\":true}".getBytes(StandardCharsets.UTF_8);
  private static final byte[] USAGE_FIELD = "\"include_usage\":true".getBytes(StandardCharsets.UTF_8);
  private static final byte[] USAGE_FIELD_AND_COMMA = "\"include_usage\":true,".getBytes(StandardCharsets.UTF_8);
  private static final byte[] TRUE = "true".getBytes(StandardCharsets.UTF_8);
  private static final byte[] NOTHING = new byte[0];

  /** The body with {@code model} replaced by {@code upstreamModel}; nothing else changes. */
  public byte[] withModel(String upstreamModel) {
    return forUpstream(upstreamModel, false).toBytes();
  }

  /**
   * The body for the upstream, as slices of the client's bytes (no copy of the whole): {@code model}
   * replaced by {@code upstreamModel}, and with {@code askUsage} (for a chat stream whose client did
   * not ask for usage) {@code include_usage: true} asked for: {@code
   * "stream_options":{"include_usage":true}} added as the object's first field, or put in place of
   * a {@code null}, or added to the client's own options object, or {@code true} in place of its
   * {@code include_usage: null} or {@code false}.
   */
  public io.routewise.upstream.Spliced forUpstream(String upstreamModel, boolean askUsage) {
    byte[] value = model == null ? ("\"model\":" + quote(upstreamModel) + ",").getBytes(StandardCharsets.UTF_8)
        : quote(upstreamModel).getBytes(StandardCharsets.UTF_8);
    if (!askUsage || options == StreamOptions.SAID || api != io.routewise.upstream.RoutedApi.CHAT_COMPLETIONS) {
      return splice(objectStart, objectStart, NOTHING, modelStart, modelEnd, value);
    }
    return switch (options) {
      case ABSENT -> splice(objectStart, objectStart, STREAM_USAGE, modelStart, modelEnd, value);
      case NULL -> splice(optionsStart, optionsEnd, USAGE_OBJECT, modelStart, modelEnd, value);
      case USAGE_NULL, USAGE_FALSE -> splice(optionsStart, optionsEnd, TRUE, modelStart, modelEnd, value);
      default -> { // after the options object's '{', before its first field if it has one
        boolean empty = firstNonSpace(optionsStart + 1) == '}';
        yield splice(optionsStart + 1, optionsStart + 1, empty ? USAGE_FIELD : USAGE_FIELD_AND_COMMA, modelStart,
            modelEnd, value);
      }
    };
  }

  /** The body with two ranges replaced, {@code [aStart, aEnd)} by {@code a} and {@code [bStart, bEnd)} by {@code b}; a first at equal starts. */
  private io.routewise.upstream.Spliced splice(int aStart, int aEnd, byte[] a, int bStart, int bEnd, byte[] b) {
    if (bStart < aStart) {
      return splice(bStart, bEnd, b, aStart, aEnd, a);
    }
    return io.routewise.upstream.Spliced.builder(5).add(body, 0, aStart).add(a, 0, a.length)
        .add(body, aEnd, bStart - aEnd).add(b, 0, b.length).add(body, bEnd, body.length - bEnd).build();
  }

  private byte firstNonSpace(int from) {
    int i = from;
    while (i < body.length && (body[i] == ' ' || body[i] == '\t' || body[i] == '\n' || body[i] == '\r')) {
      i++;
    }
    return i < body.length ? body[i] : 0;
  }

  /**
   * A chat stream whose client did not ask for usage (no {@code stream_options}, a {@code null},
   * options without {@code include_usage}, or with it null or false): routewise may ask for it
   * (stream_usage) and keep the chunk from the client. A Responses stream always ends with its usage.
   */
  public boolean streamWithoutUsage() {
    return stream && api == io.routewise.upstream.RoutedApi.CHAT_COMPLETIONS && options != StreamOptions.SAID;
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
