package io.routewise.routing;

import java.util.Collection;
import java.util.Comparator;
import java.util.Optional;

/**
 * A router and threshold chosen by a request's model name, RouteLLM's syntax
 * {@code router-<name>-<alpha>}, e.g. {@code router-mf-0.116}; or {@code router-<name>-auto}, which
 * asks for whatever threshold holds that router's target now ({@link TargetController}).
 *
 * Or, where {@code routing.direct_upstreams} allows it, {@code upstream-<name>}: that upstream,
 * no router asked ({@link #direct}).
 *
 * <p>Unlike RouteLLM, the prefix is checked before anything is split, so {@code gpt4} is simply not
 * a route spec, and router names may contain '-' or '_' (matched against the known names).
 *
 * @param router the router's name; {@link #DIRECT} for a direct spec
 * @param threshold the fixed α; NaN when {@code auto}, and for a direct spec
 * @param auto whether the router's target controller sets α
 * @param upstream the upstream's name for a direct spec, else null
 */
public record RouteSpec(String router, double threshold, boolean auto, String upstream) {

  public static final String PREFIX = "router-";
  public static final String AUTO = "auto";
  /** The prefix of a model name that names an upstream rather than a router. */
  public static final String DIRECT_PREFIX = "upstream-";
  /** What a direct spec's decision names as its router (in headers, metrics and the access log). */
  public static final String DIRECT = "direct";

  public RouteSpec {
    if (upstream != null) {
      if (!router.equals(DIRECT) || auto || !Double.isNaN(threshold)) {
        throw new IllegalArgumentException("a direct spec has no router, threshold or target");
      }
    } else if (auto ? !Double.isNaN(threshold) : !(threshold >= 0.0 && threshold <= 1.0)) {
      throw new IllegalArgumentException("threshold must be in [0, 1] (NaN for auto): " + threshold);
    }
  }

  /** A router with a fixed threshold, or with {@code auto}. */
  public RouteSpec(String router, double threshold, boolean auto) {
    this(router, threshold, auto, null);
  }

  /** A fixed threshold. */
  public RouteSpec(String router, double threshold) {
    this(router, threshold, false);
  }

  /** {@code upstream-<name>}: that upstream, without asking a router. */
  public static RouteSpec direct(String upstream) {
    return new RouteSpec(DIRECT, Double.NaN, false, upstream);
  }

  /** Whether this spec names an upstream rather than a router. */
  public boolean isDirect() {
    return upstream != null;
  }

  /** {@code router-<name>-auto}: the router's target sets the threshold. */
  public static RouteSpec auto(String router) {
    return new RouteSpec(router, Double.NaN, true);
  }

  /** The model id a client sends to pick this spec. */
  public String modelId() {
    if (upstream != null) {
      return DIRECT_PREFIX + upstream;
    }
    return PREFIX + router + "-" + (auto ? AUTO : formatThreshold(threshold));
  }

  /** Whether {@code model} asks for a router at all (and so must parse, or be rejected). */
  public static boolean isRouteSpec(String model) {
    return model != null && model.startsWith(PREFIX);
  }

  /**
   * A threshold as written: a plain decimal ("0.5f", "0x1p-1" or " 0.5" are typos, not thresholds),
   * NaN when it is none or lies outside [0, 1]. Read from its digits, not only as the nearest double:
   * 1.0000000000000000001 rounds to 1 but is over it, and 0.99999999999999999 rounds to 1 but is
   * under it, which the threshold keeps (a rate of exactly 1 alone goes strong only at 1).
   */
  static double threshold(String text) {
    if (!DECIMAL.matcher(text).matches()) {
      return Double.NaN;
    }
    int dot = text.indexOf('.');
    String whole = (dot < 0 ? text : text.substring(0, dot)).replaceFirst("^0+", "");
    boolean fractionZero = dot < 0 || text.substring(dot + 1).chars().allMatch(c -> c == '0');
    if (whole.isEmpty()) {
      // Double.parseDouble reads a long run of digits in linear time (BigDecimal, used here before,
      // took quadratic time: a megabyte of nines held a core for seconds)
      return fractionZero ? 0.0 : Math.max(Double.MIN_VALUE, Math.min(Math.nextDown(1.0), Double.parseDouble(text)));
    }
    return whole.equals("1") && fractionZero ? 1.0 : Double.NaN;
  }

  /** A client's text in an error message: its start, when it is long. */
  static String shown(String text) {
    if (text.length() <= 80) {
      return text;
    }
    int end = Character.isHighSurrogate(text.charAt(63)) ? 63 : 64; // not half an emoji: invalid in JSON
    return text.substring(0, end) + "… (" + text.length() + " characters)";
  }

  private static final java.util.regex.Pattern DECIMAL = java.util.regex.Pattern.compile("[0-9]+(\\.[0-9]+)?|\\.[0-9]+");

  /**
   * Parses {@code model} against the loaded routers.
   *
   * @return empty when the model name does not start with {@code router-}
   * @throws InvalidRouteSpecException when it does but names no loaded router or no valid alpha
   */
  public static Optional<RouteSpec> parse(String model, Collection<String> routers) {
    if (!isRouteSpec(model)) {
      nearlyPrefixed(model, PREFIX); // else it would go, silently, to the default router
      return Optional.empty();
    }
    spacedAround(model); // "router-mf-0.5 " named its threshold '0.5 ' as the typo
    String rest = model.substring(PREFIX.length());
    // Longest name first, so a router "mf" cannot shadow a router "mf-large".
    String name = routers.stream()
        .sorted(Comparator.comparingInt(String::length).reversed())
        .filter(r -> rest.startsWith(r + "-"))
        .findFirst()
        .orElseThrow(() -> new InvalidRouteSpecException(
            "Unknown router in model '" + shown(model) + "'. Valid routers: " + String.join(", ", sorted(routers))
                + " (use router-<router>-<threshold>, e.g. router-" + firstOr(routers, "random") + "-0.5)."));
    String alphaText = rest.substring(name.length() + 1);
    if (alphaText.equals(AUTO)) {
      return Optional.of(auto(name)); // whether the router has a target is the routing service's check
    }
    double alpha = threshold(alphaText);
    if (!(alpha >= 0.0 && alpha <= 1.0)) {
      throw new InvalidRouteSpecException("Invalid threshold '" + shown(alphaText) + "' in model '" + shown(model)
          + "': it must be a plain decimal in [0, 1] (0.25, .5, 1), or auto for a router with a target. Valid routers: " + String.join(", ", sorted(routers)) + ".");
    }
    return Optional.of(new RouteSpec(name, alpha));
  }

  /**
   * Parses an {@code upstream-<name>} model name against the configured upstreams' names.
   *
   * @return empty when the model name does not start with {@code upstream-}
   * @throws InvalidRouteSpecException when it does but names no configured upstream
   */
  public static Optional<RouteSpec> parseDirect(String model, Collection<String> upstreams) {
    if (model == null || !model.startsWith(DIRECT_PREFIX)) {
      nearlyPrefixed(model, DIRECT_PREFIX);
      return Optional.empty();
    }
    spacedAround(model);
    String name = model.substring(DIRECT_PREFIX.length());
    if (!upstreams.contains(name)) {
      throw new InvalidRouteSpecException("Unknown upstream in model '" + shown(model) + "'. Upstreams: "
          + String.join(", ", upstreams) + " (use upstream-<name>, e.g. " + DIRECT_PREFIX
          + upstreams.stream().findFirst().orElse("strong") + ").");
    }
    return Optional.of(direct(name));
  }

  /**
   * Refuses a model name that is {@code prefix}'s but for white space around it or the prefix's case
   * ({@code ROUTER-mf-0.5}): passed on, it would be served by the default router, as if the client had
   * not asked for one.
   */
  private static void nearlyPrefixed(String model, String prefix) {
    if (model == null) {
      return;
    }
    if (model.strip().startsWith(prefix)) {
      spacedAround(model);
    }
    String stripped = model.strip();
    if (stripped.regionMatches(true, 0, prefix, 0, prefix.length())) {
      throw new InvalidRouteSpecException("The model '" + shown(model) + "' spells " + prefix + " in another case; send '"
          + shown(prefix + stripped.substring(prefix.length())) + "' (model names are case-sensitive).");
    }
  }

  private static void spacedAround(String model) {
    String stripped = model.strip();
    if (!stripped.equals(model)) {
      throw new InvalidRouteSpecException("The model '" + shown(model) + "' has white space around its name; send '"
          + shown(stripped) + "'.");
    }
  }

  static String formatThreshold(double t) {
    String s = Double.toString(t);
    return s.endsWith(".0") ? s.substring(0, s.length() - 2) : s;
  }

  private static java.util.List<String> sorted(Collection<String> c) {
    return c.stream().sorted().toList();
  }

  private static String firstOr(Collection<String> c, String fallback) {
    return c.isEmpty() ? fallback : sorted(c).get(0);
  }

  /** The model name asked for a router but is not a valid route spec. */
  public static final class InvalidRouteSpecException extends IllegalArgumentException {
    public InvalidRouteSpecException(String message) {
      super(message);
    }
  }
}
