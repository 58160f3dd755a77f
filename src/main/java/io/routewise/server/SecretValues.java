package io.routewise.server;

import io.routewise.config.UpstreamConfig;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * The operator's secrets that an upstream may repeat: each upstream's {@code api_key}, its
 * {@code headers:} values that carry a credential, and its {@code base_url}'s query values that do
 * ({@code ?key=}, Azure Functions' {@code ?code=}, a SAS {@code sig=}). An upstream (a debugging proxy, a gateway's error
 * page) that echoes the request's headers would otherwise hand routewise's key to the client, in the
 * error it relays, and to the log, in the line that quotes it. Masked as {@code ***}, like the
 * account ids ({@link AccountIds}), wherever an upstream's text reaches a client or the log.
 */
final class SecretValues {
  /** Shorter values are not looked for: no real key is this short, and masking "k" would mangle every body. */
  static final int MIN_LENGTH = 8;
  static final SecretValues NONE = new SecretValues(List.of());
  private static final byte[] MASK = "***".getBytes(StandardCharsets.US_ASCII);

  /** Longest first, so a key that contains another is masked whole. */
  private final byte[][] values;
  private final String[] texts;
  /** Those of them masked in an answer, not only in an error ({@link #inAnswers}). */
  private final SecretValues inAnswers;

  SecretValues(Collection<String> secrets) {
    this(secrets, false);
  }

  private SecretValues(Collection<String> secrets, boolean answersOnly) {
    Set<String> distinct = new LinkedHashSet<>();
    for (String s : secrets) {
      if (s != null && s.length() >= MIN_LENGTH && !s.isBlank() && (!answersOnly || s.length() >= MIN_IN_ANSWERS)) {
        distinct.add(s);
      }
    }
    List<String> sorted = new ArrayList<>(distinct);
    sorted.sort(Comparator.comparingInt(String::length).reversed());
    this.texts = sorted.toArray(String[]::new);
    this.values = sorted.stream().map(s -> s.getBytes(StandardCharsets.UTF_8)).toArray(byte[][]::new);
    this.inAnswers = answersOnly ? this : new SecretValues(sorted, true);
  }

  /** Shorter keys are not looked for in answers (see {@link #inAnswers()}). */
  static final int MIN_IN_ANSWERS = 16;

  /**
   * The secrets long enough to be generated (16 characters or more: every provider's key), those
   * masked in a 200's answer and stream, where a model may write any word. A local server's
   * placeholder key ({@code lm-studio}, {@code not-needed}, {@code password}) is masked in errors and
   * the log only: in answers it masked the model's own use of the word (a review).
   */
  SecretValues inAnswers() {
    return inAnswers;
  }

  /** The keys and credential headers of {@code upstreams}. */
  static SecretValues of(Collection<UpstreamConfig> upstreams) {
    List<String> secrets = new ArrayList<>();
    for (UpstreamConfig u : upstreams) {
      secrets.add(u.apiKey().value());
      u.headers().forEach((name, value) -> {
        if (credential(name)) {
          secrets.add(value.value());
        }
      });
      String query = u.baseUrl().getRawQuery();
      for (String pair : query == null ? new String[0] : query.split("&")) {
        int eq = pair.indexOf('=');
        String name = eq < 0 ? pair : pair.substring(0, eq);
        if (eq > 0 && (credential(name) || name.equalsIgnoreCase("code") || name.equalsIgnoreCase("sig"))) {
          String raw = pair.substring(eq + 1);
          secrets.add(raw); // as sent, and as an upstream that decodes it would echo it
          secrets.add(java.net.URLDecoder.decode(raw, StandardCharsets.UTF_8));
        }
      }
    }
    return new SecretValues(secrets);
  }

  /** A header whose value is a credential (Azure's {@code api-key}, {@code x-api-key}, a token): not a version or an id. */
  private static boolean credential(String header) {
    String h = header.toLowerCase(Locale.ROOT);
    return h.contains("key") || h.contains("auth") || h.contains("token") || h.contains("secret");
  }

  /** {@code body} with every secret as {@code ***}; the same array when it holds none. */
  byte[] masked(byte[] body) {
    byte[] out = body;
    for (byte[] secret : values) {
      int at = ByteSearch.indexOf(out, 0, out.length, secret);
      if (at < 0) {
        continue;
      }
      java.io.ByteArrayOutputStream masked = new java.io.ByteArrayOutputStream(out.length);
      int from = 0;
      while (at >= 0) {
        masked.write(out, from, at - from);
        masked.write(MASK, 0, MASK.length);
        from = at + secret.length;
        at = ByteSearch.indexOf(out, from, out.length, secret);
      }
      masked.write(out, from, out.length - from);
      out = masked.toByteArray();
    }
    return out;
  }

  /** {@code bytes[0, n)} with every secret as {@code ***}; null when it holds none (nearly every read of a stream). */
  byte[] maskedOrNull(byte[] bytes, int n) {
    for (byte[] secret : values) {
      if (ByteSearch.indexOf(bytes, 0, n, secret) >= 0) {
        return masked(java.util.Arrays.copyOf(bytes, n));
      }
    }
    return null;
  }

  /** {@code text} with every secret as {@code ***}. */
  String masked(String text) {
    String out = text;
    for (String secret : texts) {
      if (out.contains(secret)) {
        out = out.replace(secret, "***");
      }
    }
    return out;
  }

  boolean isEmpty() {
    return values.length == 0;
  }
}
