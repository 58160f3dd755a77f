package io.routewise.config;

import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * A YAML mapping with its key path, read by typed getters that record problems instead of throwing,
 * so a start reports every wrong key at once ({@link ConfigProblems}). Each getter marks its key as
 * known; {@link #rejectUnknownKeys()} then reports the rest, so typos do not pass silently.
 *
 * <p>Strings have already had {@code ${VAR}} / {@code ${VAR:-default}} substituted
 * ({@link ConfigLoader}); numbers may arrive as strings for that reason and are parsed.
 */
public final class ConfigNode {
  private final String path;
  private final Map<String, Object> values;
  private final ConfigProblems problems;
  private final Set<String> known = new HashSet<>();

  public ConfigNode(String path, Map<String, Object> values, ConfigProblems problems) {
    this.path = path;
    this.values = values == null ? Map.of() : values;
    this.problems = problems;
  }

  public static ConfigNode empty(String path, ConfigProblems problems) {
    return new ConfigNode(path, Map.of(), problems);
  }

  /**
   * The same mapping, recording its problems in {@code other}. Router settings are parsed with the
   * loader's problems but validated later by the catalog, which reports into its own.
   */
  public ConfigNode reportingTo(ConfigProblems other) {
    return new ConfigNode(path, values, other);
  }

  public String path() {
    return path;
  }

  public ConfigProblems problems() {
    return problems;
  }

  public boolean has(String key) {
    return values.containsKey(key) && values.get(key) != null;
  }

  public Set<String> keys() {
    return Collections.unmodifiableSet(values.keySet());
  }

  public String pathOf(String key) {
    return path.isEmpty() ? key : path + "." + key;
  }

  /** A nested mapping; missing gives an empty node, a non-mapping is a problem. */
  @SuppressWarnings("unchecked")
  public ConfigNode child(String key) {
    known.add(key);
    Object v = values.get(key);
    if (v == null) {
      return empty(pathOf(key), problems);
    }
    if (!(v instanceof Map)) {
      problems.add(pathOf(key), "must be a mapping, got " + describe(pathOf(key), v));
      return quiet(pathOf(key)); // price: 8 is one problem, not also its input and output being required
    }
    return new ConfigNode(pathOf(key), stringKeys((Map<Object, Object>) v), problems);
  }

  /** An empty node whose problems go nowhere: what stands for a key already reported missing or misshapen. */
  public static ConfigNode quiet(String path) {
    return empty(path, new ConfigProblems());
  }

  /** Whether {@code key} holds a mapping (without reporting anything when it does not). */
  public boolean hasMapping(String key) {
    return values.get(key) instanceof Map;
  }

  public Optional<ConfigNode> optionalChild(String key) {
    known.add(key);
    return has(key) ? Optional.of(child(key)) : Optional.empty();
  }

  /** The raw children of a mapping whose keys are names (e.g. {@code routers:}). */
  public Map<String, ConfigNode> children() {
    Map<String, ConfigNode> out = new LinkedHashMap<>();
    for (String k : values.keySet()) {
      out.put(k, child(k));
    }
    return out;
  }

  public String string(String key, String fallback) {
    known.add(key);
    Object v = values.get(key);
    if (v == null) {
      if (fallback != null) { // a setting with a default (router:, host:): empty is no more its default than port: is
        emptyValue(key);
      }
      return fallback;
    }
    if (v instanceof Map || v instanceof List) {
      problems.add(pathOf(key), "must be a string, got " + describe(pathOf(key), v));
      return fallback;
    }
    return String.valueOf(v);
  }

  public String requiredString(String key) {
    String s = string(key, null);
    if (s == null || s.isBlank()) {
      if (!values.containsKey(key) || values.get(key) == null) {
        problems.add(pathOf(key), "is required");
      } else {
        problems.add(pathOf(key), "must not be empty");
      }
      return "";
    }
    return s;
  }

  /**
   * A secret: required, never echoed in problems. Text only: YAML reads an unquoted 0777 as the
   * number 511, 1_000 as 1000 and 1.50 as 1.5, so a key written so would be sent changed.
   */
  public Secret secret(String key, String fallback) {
    Object raw = values.get(key);
    if (raw != null && !(raw instanceof String) && !(raw instanceof Map) && !(raw instanceof List)) {
      known.add(key);
      problems.add(pathOf(key), unquoted(raw));
      return Secret.of("");
    }
    known.add(key);
    String s = raw == null ? fallback : string(key, fallback); // api_key: left empty is no key, as "" is
    if (s == null) {
      problems.add(pathOf(key), "is required");
      return Secret.of("");
    }
    return Secret.of(s);
  }

  /**
   * A number YAML read in another base than ten (0x1F, 0b1010, 025000 as octal, 1:30 as base 60): its
   * text as written, and what YAML made of it. A number setting refuses it; text takes it as written.
   */
  public record NonDecimal(String text, Number value) {
    @Override
    public String toString() {
      return text;
    }
  }

  /** The problem of a number setting given {@code v}, YAML's number in another base; null when it is not one. */
  private static String nonDecimal(Object v) {
    return v instanceof NonDecimal n ? "must be written in decimal, got '" + n.text() + "' (YAML reads it as "
        + n.value() + ": a leading 0 is octal, 0x hex, 0b binary, a colon base 60)" : null;
  }

  public int integer(String key, int fallback, int min, int max) {
    return (int) longValue(key, fallback, min, max);
  }

  public long longValue(String key, long fallback, long min, long max) {
    known.add(key);
    Object v = values.get(key);
    if (v == null) {
      emptyValue(key);
      return fallback;
    }
    if (nonDecimal(v) != null) {
      problems.add(pathOf(key), nonDecimal(v));
      return fallback;
    }
    long n;
    try {
      if (v instanceof Number num && (num instanceof Integer || num instanceof Long)) {
        n = num.longValue();
      } else {
        n = Long.parseLong(String.valueOf(v).trim());
      }
    } catch (NumberFormatException e) {
      problems.add(pathOf(key), "must be an integer, got " + describe(pathOf(key), v));
      return fallback;
    }
    if (n < min || n > max) {
      problems.add(pathOf(key), "must be between " + min + " and " + max + ", got " + n);
      return fallback;
    }
    return n;
  }

  /** A number as written in decimal, with an exponent or not (a quoted value, or one from the environment). */
  private static final java.util.regex.Pattern DECIMAL =
      java.util.regex.Pattern.compile("[-+]?(\\d+(\\.\\d*)?|\\.\\d+)([eE][-+]?\\d+)?");

  public double number(String key, double fallback, double min, double max) {
    known.add(key);
    Object v = values.get(key);
    if (v == null) {
      emptyValue(key);
      return fallback;
    }
    if (nonDecimal(v) != null) {
      problems.add(pathOf(key), nonDecimal(v));
      return fallback;
    }
    double d;
    try {
      String text = String.valueOf(v).trim();
      if (!(v instanceof Number) && !DECIMAL.matcher(text).matches()) {
        throw new NumberFormatException(text); // Java's own literals (0.5f, 1d, 0x1p1) are no number a reader sees
      }
      d = v instanceof Number num ? num.doubleValue() : Double.parseDouble(text);
    } catch (NumberFormatException e) {
      problems.add(pathOf(key), "must be a number, got " + describe(pathOf(key), v));
      return fallback;
    }
    if (!(d >= min && d <= max)) {
      problems.add(pathOf(key), "must be in [" + fmt(min) + ", " + fmt(max) + "], got " + fmt(d));
      return fallback;
    }
    return d;
  }

  public boolean bool(String key, boolean fallback) {
    known.add(key);
    Object v = values.get(key);
    if (v == null) {
      emptyValue(key);
      return fallback;
    }
    if (v instanceof Boolean b) {
      return b;
    }
    String s = String.valueOf(v).trim().toLowerCase();
    if (s.equals("true") || s.equals("false")) {
      return Boolean.parseBoolean(s);
    }
    problems.add(pathOf(key), "must be true or false, got " + describe(pathOf(key), v));
    return fallback;
  }

  /**
   * A number, switch or choice written with no value ({@code port:}, {@code per:}, {@code threshold: ~})
   * is a problem, not its default: left empty to fill in later, it served on the default without a word
   * (a budget per day, not the hour meant). Leaving the key out still takes the default.
   */
  private void emptyValue(String key) {
    if (values.containsKey(key) && values.get(key) == null) {
      problems.addForText(pathOf(key), "has no value: give one, or leave the key out for its default"); // said once
    }
  }

  public Duration millis(String key, long fallbackMillis, long minMillis, long maxMillis) {
    return Duration.ofMillis(longValue(key, fallbackMillis, minMillis, maxMillis));
  }

  /**
   * Why {@code key} cannot be sent as a bearer token, or null: a token is visible ASCII without
   * spaces (RFC 6750). A trailing newline from a secret file or a non-ASCII dash pasted from a page
   * passed the start and then failed every request (a 500, or a 401 for every client).
   */
  public static String tokenProblem(String key) {
    for (int i = 0; i < key.length(); i++) {
      char c = key.charAt(i);
      if (c < 0x21 || c > 0x7e) {
        return "must be visible ASCII without spaces or line breaks (character " + (i + 1) + " of " + key.length()
            + " is " + (c == '\n' ? "a line break" : c == '\r' ? "a carriage return" : c == ' ' ? "a space"
            : String.format("U+%04X", (int) c)) + ")";
      }
    }
    return null;
  }

  /** An absolute http(s) URL, without a trailing slash. */
  public URI httpUrl(String key, String fallback) {
    String s = string(key, fallback);
    if (s == null || s.isBlank()) {
      problems.add(pathOf(key), "is required (an http:// or https:// URL)");
      return URI.create("http://invalid");
    }
    try {
      URI u = new URI(s.trim());
      if (u.getScheme() == null || !(u.getScheme().equals("http") || u.getScheme().equals("https"))
          || u.getHost() == null) {
        problems.add(pathOf(key), "must be an http:// or https:// URL with a host, got '" + redacted(s) + "'");
        return URI.create("http://invalid");
      }
      if (u.getPort() == 0 || u.getPort() > 65535) {
        problems.add(pathOf(key), "has port " + u.getPort() + ", outside 1-65535: '" + redacted(s) + "'");
        return URI.create("http://invalid");
      }
      String str = u.toString();
      return URI.create(str.endsWith("/") ? str.substring(0, str.length() - 1) : str);
    } catch (Exception e) {
      problems.add(pathOf(key), "is not a valid URL: '" + redacted(s) + "'");
      return URI.create("http://invalid");
    }
  }

  /** A URL as a problem may show it: a password before '@' and a query (a key, often) hidden. */
  static String redacted(String url) {
    return url.replaceAll("//[^/@\\s]*@", "//***@").replaceAll("\\?.*", "?***");
  }

  public String oneOf(String key, String fallback, List<String> allowed) {
    if (fallback == null) { // with one, string says it
      emptyValue(key);
    }
    String s = string(key, fallback);
    if (s != null && !allowed.contains(s)) {
      problems.add(pathOf(key), "must be one of " + allowed + ", got '" + s + "'");
      return fallback;
    }
    return s;
  }

  /** A list of secrets (keys): each entry text, for the reason {@link #secret} gives. */
  public List<String> secretList(String key, List<String> fallback) {
    Object v = values.get(key);
    boolean unquoted = false;
    if (v instanceof List<?> list) {
      for (int i = 0; i < list.size(); i++) { // every one: the start lists every problem
        Object o = list.get(i);
        if (o != null && !(o instanceof String) && !(o instanceof Map) && !(o instanceof List)) {
          problems.add(pathOf(key) + "[" + i + "]", unquoted(o));
          unquoted = true;
        }
      }
    }
    if (unquoted) {
      known.add(key);
      return fallback;
    }
    return stringList(key, fallback);
  }

  public List<String> stringList(String key, List<String> fallback) {
    known.add(key);
    Object v = values.get(key);
    if (v == null) {
      return fallback;
    }
    if (!(v instanceof List<?> list)) {
      problems.add(pathOf(key), "must be a list, got " + describe(pathOf(key), v));
      return fallback;
    }
    List<String> out = new ArrayList<>();
    for (int i = 0; i < list.size(); i++) {
      Object o = list.get(i);
      if (o instanceof Map || o instanceof List || o == null) { // a key of "{a=b}" was taken as it printed
        problems.add(pathOf(key) + "[" + i + "]", "must be a string, got " + (o == null ? "nothing" : describe(pathOf(key), o)));
        return fallback;
      }
      out.add(String.valueOf(o));
    }
    return List.copyOf(out);
  }

  /** Marks {@code key} as read elsewhere, so {@link #rejectUnknownKeys()} lets it pass. */
  public void readElsewhere(String key) {
    known.add(key);
  }

  /** Records a problem for every key no getter asked for. Call after reading the node. */
  public void rejectUnknownKeys() {
    for (String k : values.keySet()) {
      if (!known.contains(k)) {
        List<String> expected = known.stream().sorted().toList();
        problems.add(pathOf(k), "unknown key" + (expected.isEmpty() ? "" : " (expected one of " + expected + ")"));
      }
    }
  }

  /** Records a problem against this node or one of its keys. */
  public void problem(String key, String reason) {
    problems.add(key == null ? path : pathOf(key), reason);
  }

  /** The problem of a secret YAML read as another type; its value is not shown (it is a key, changed). */
  private static String unquoted(Object v) {
    if (v instanceof Boolean) {
      return "must be text, and YAML read it as true or false: quote it (unquoted, yes, no, on and off are too)";
    }
    String kind = v instanceof Number || v instanceof NonDecimal ? "a number" : "a " + v.getClass().getSimpleName();
    return "must be text, and YAML read it as " + kind + ": quote it (unquoted, 0777 is the number 511 and 1_000 is 1000)";
  }

  /**
   * What was found at {@code path}, for a problem; a value under a name that holds credentials (a key,
   * a token, headers) is not shown: "${ROUTEWISE_API_KEY}" where a list belongs put the key itself in
   * the start-up error, and from there in whatever collects the logs.
   */
  private static String describe(String path, Object v) {
    if (v instanceof Map) {
      return "a mapping";
    }
    if (v instanceof List) {
      return "a list";
    }
    if (mayHoldCredential(path)) {
      String type = v instanceof String ? "string" : v.getClass().getSimpleName().toLowerCase(java.util.Locale.ROOT);
      return ("aeiou".indexOf(type.charAt(0)) >= 0 ? "an " : "a ") + type + " (not shown: it may be a credential)";
    }
    return "'" + v + "'";
  }

  /**
   * Whether a value at {@code path} may be a credential: one of its names ends in key, keys, token,
   * secret or password (api_key, apiKey, access_token...), is headers or has auth in it, less a client's
   * limits under api_keys. Names, not the path's text: max_tokens, token_mix and key_prefix are shown.
   */
  private static boolean mayHoldCredential(String path) {
    String p = path.toLowerCase(java.util.Locale.ROOT);
    if (p.matches("(.*\\.)?api_keys\\.[^.]+\\.(budget|rate_limit|models)([.\\[].*)?")) {
      return false; // a client's budget, rate limit and models are no secret
    }
    for (String name : p.split("[.\\[]")) {
      if (name.matches(".*(key|keys|token|secret|password)") || name.equals("headers") || name.contains("auth")) {
        return true;
      }
    }
    return false;
  }

  private static String fmt(double d) {
    return d == Math.rint(d) && Math.abs(d) < 1e15 ? Long.toString((long) d) : Double.toString(d);
  }

  private static Map<String, Object> stringKeys(Map<Object, Object> m) {
    Map<String, Object> out = new LinkedHashMap<>();
    m.forEach((k, v) -> out.put(String.valueOf(k), v));
    return out;
  }
}
