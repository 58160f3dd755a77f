package io.routewise.config;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.yaml.snakeyaml.error.YAMLException;

/**
 * Reads {@code config.yaml}: SnakeYAML (safe constructor, no arbitrary types), then
 * {@code ${VAR}} / {@code ${VAR:-default}} substitution in every string from the environment, then
 * validation into records. Any problem stops the start with the key's path and the reason.
 */
public final class ConfigLoader {
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(ConfigLoader.class);
  private static final Pattern VAR = Pattern.compile("\\$\\{([A-Za-z_][A-Za-z0-9_]*)(?::-((?:[^}$]|\\$(?!\\{))*))?}");

  private final Map<String, String> env;
  private final boolean unsetIsEmpty;

  public ConfigLoader(Map<String, String> env) {
    this(env, false);
  }

  private ConfigLoader(Map<String, String> env, boolean unsetIsEmpty) {
    this.env = env;
    this.unsetIsEmpty = unsetIsEmpty;
  }

  /**
   * For commands that read a config but call no upstream (calibrate, score, eval): an unset variable
   * (an API key) reads as empty instead of stopping them.
   */
  public static ConfigLoader offline() {
    return offline(System.getenv());
  }

  static ConfigLoader offline(Map<String, String> env) {
    return new ConfigLoader(env, true);
  }

  public static ConfigLoader fromSystemEnv() {
    return new ConfigLoader(System.getenv());
  }

  public RoutewiseConfig load(Path file) {
    String text;
    try {
      text = Files.readString(file);
    } catch (NoSuchFileException e) {
      throw new ConfigException(List.of(file + ": file not found"));
    } catch (java.nio.charset.CharacterCodingException e) {
      throw new ConfigException(List.of(file + ": is not UTF-8 text (save it as UTF-8)"));
    } catch (IOException e) {
      throw new ConfigException(List.of(file + ": cannot read: " + e.getMessage()));
    }
    return parse(text, file.toString());
  }

  public RoutewiseConfig parse(String yamlText, String source) {
    Object raw;
    try {
      LoaderOptions options = new LoaderOptions();
      options.setAllowDuplicateKeys(false); // two upstreams of one name: SnakeYAML would keep the last, silently
      raw = new Yaml(new DecimalNumbers(options)).load(yamlText);
    } catch (org.yaml.snakeyaml.constructor.DuplicateKeyException e) {
      throw new ConfigException(List.of(source + ": " + e.getProblem()
          + (e.getProblemMark() == null ? "" : " (line " + (e.getProblemMark().getLine() + 1) + ")")
          + ": a key may appear once in its mapping (two upstreams need two names)"));
    } catch (org.yaml.snakeyaml.error.MarkedYAMLException e) {
      // SnakeYAML's own message quotes the line, and a literal api_key may be on it: where, not what
      org.yaml.snakeyaml.error.Mark at = e.getProblemMark() != null ? e.getProblemMark() : e.getContextMark();
      throw new ConfigException(List.of(source + ": not valid YAML: " + (e.getContext() == null ? "" : e.getContext() + ", ")
          + withoutText(e.getProblem()) + (at == null ? "" : " (line " + (at.getLine() + 1) + ", column " + (at.getColumn() + 1)
          + ")")));
    } catch (YAMLException e) {
      throw new ConfigException(List.of(source + ": not valid YAML: " + e.getMessage()));
    }
    if (raw == null) {
      raw = Map.of();
    }
    if (!(raw instanceof Map)) {
      throw new ConfigException(List.of(source + ": the top level must be a mapping"));
    }
    ConfigProblems problems = new ConfigProblems();
    @SuppressWarnings("unchecked")
    Map<String, Object> substituted = (Map<String, Object>) substitute(raw, "", problems);
    ConfigNode root = new ConfigNode("", substituted, problems);
    RoutewiseConfig config = read(root);
    root.rejectUnknownKeys();
    problems.throwIfAny();
    return config;
  }

  /**
   * Settings given for a feature that is off: each works only with its switch, so an operator who
   * set one believes in a behaviour they do not have (a cooldown without failover, pins' TTL
   * without pinning). Said at start, not refused: a template may keep them for when it is turned on.
   */
  static List<String> idleKeys(ConfigNode r, RoutingConfig routing) {
    List<String> out = new ArrayList<>();
    if (!routing.failover() && r.has("failover_cooldown_ms")) {
      out.add("routing.failover_cooldown_ms does nothing without routing.failover: true");
    }
    if (routing.passthrough().equals("none") && !routing.passthroughEndpoints().isEmpty()) { // [] is the default
      out.add("routing.passthrough_endpoints does nothing without routing.passthrough (an upstream's name)");
    }
    if (!routing.sessionPinning().enabled()) {
      for (String k : List.of("session_key", "session_ttl_ms", "session_cache_entries")) {
        if (r.has(k)) {
          out.add("routing." + k + " does nothing without routing.session_pinning: true");
        }
      }
    }
    return out;
  }

  /**
   * server.api_keys: a list of keys, or a mapping of client names to keys, whose requests, tokens and
   * spend are then counted per client. Blank entries of a list are dropped, so "${ROUTEWISE_API_KEY:-}"
   * with the variable unset means no auth; a named one left blank is kept, blank, and warned of: its
   * client is refused, and a mapping whose keys are all blank refuses everyone rather than no one.
   */
  private static List<ClientKey> apiKeys(ConfigNode s) {
    if (s.hasMapping("api_keys")) {
      return namedKeys(s.child("api_keys"));
    }
    List<String> keys = s.secretList("api_keys", List.of());
    List<ClientKey> out = new ArrayList<>();
    for (int i = 0; i < keys.size(); i++) {
      if (keys.get(i).isBlank()) {
        continue;
      }
      String why = ConfigNode.tokenProblem(keys.get(i));
      if (why != null) { // a client's key is compared trimmed: this one could never match
        s.problem("api_keys", "entry " + (i + 1) + " " + why);
      } else {
        out.add(new ClientKey(null, Secret.of(keys.get(i))));
      }
    }
    return List.copyOf(out);
  }

  /**
   * server.api_keys as a mapping: each client's {@code key}, or its {@code keys} (several while one is
   * rotated: every one is that client's). A blank entry of {@code keys} (a variable unset, the old key
   * retired) is dropped, as a list's are; a client left with none is warned of and refused.
   */
  private static List<ClientKey> namedKeys(ConfigNode keys) {
    List<ClientKey> out = new ArrayList<>();
    Map<String, String> nameOfKey = new java.util.HashMap<>();
    Map<String, String> pathOfKey = new java.util.HashMap<>();
    Map<String, String> byLower = new java.util.HashMap<>();
    int entry = 0;
    for (String name : keys.keys()) {
      entry++;
      if (!UPSTREAM_NAME.matcher(name).matches()) {
        // not echoed: a name that is no name may be a key written on the wrong side of its colon
        keys.problem(null, "entry " + entry + "'s name is not a usable client name: letters, digits, '_', '-' and '.',"
            + " at most 64 (it is a metric tag, shown on /metrics)");
        keys.readElsewhere(name);
        continue;
      }
      ClientKey.Budget budget = null;
      ClientKey.RateLimit rateLimit = null;
      List<String> models = null;
      List<Secret> given = new ArrayList<>();
      List<String> at = new ArrayList<>(); // where each was written, for problems
      String keyPath;
      boolean wrong = false; // a problem said of its keys: the start stops, no "is empty" warning besides
      if (keys.hasMapping(name)) { // {key: ..., budget: {usd: 50, per: day}}, or {keys: [...], ...}
        ConfigNode client = keys.child(name);
        if (client.has("keys")) {
          if (client.has("key")) {
            client.problem(null, "has both key and keys: write one (keys: [...] when the client has several)");
            wrong = true;
          }
          client.readElsewhere("key");
          keyPath = client.pathOf("keys");
          List<String> list = client.secretList("keys", null);
          wrong |= list == null; // not a list of text: said
          for (int i = 0; list != null && i < list.size(); i++) {
            given.add(Secret.of(list.get(i)));
            at.add(keyPath + "[" + i + "]");
          }
        } else {
          client.readElsewhere("keys");
          keyPath = client.pathOf("key");
          given.add(client.secret("key", null));
          at.add(keyPath);
        }
        if (client.keys().contains("budget") && !client.has("budget")) { // left empty: no limit would be a typo's doing
          client.problem("budget", "is empty: write {usd: <USD a period>, per: hour|day|month}, or leave the key out");
        }
        budget = client.optionalChild("budget").map(ConfigLoader::budget).orElse(null);
        if (client.keys().contains("rate_limit") && !client.has("rate_limit")) {
          client.problem("rate_limit", "is empty: write {requests: <a period>, per: second|minute|hour}, or leave the key out");
        }
        rateLimit = client.optionalChild("rate_limit").map(ConfigLoader::rateLimit).orElse(null);
        models = models(client);
        client.rejectUnknownKeys();
      } else {
        keyPath = keys.pathOf(name);
        given.add(keys.secret(name, ""));
        at.add(keyPath);
      }
      String same = byLower.putIfAbsent(name.toLowerCase(java.util.Locale.ROOT), name);
      if (same != null) {
        keys.problem(name, "differs from client '" + same + "' only in case; name them apart");
        continue;
      }
      List<Secret> usable = new ArrayList<>();
      for (int i = 0; i < given.size(); i++) {
        Secret key = given.get(i);
        if (key.isBlank()) {
          wrong |= keys.problems().has(at.get(i)); // an unset ${VAR}, a number: said, and the start stops
          continue;
        }
        String why = ConfigNode.tokenProblem(key.value());
        String other = nameOfKey.putIfAbsent(key.value(), name);
        String otherAt = pathOfKey.putIfAbsent(key.value(), at.get(i));
        if (why != null) {
          keys.problems().add(at.get(i), why);
          wrong = true;
        } else if (other != null) { // whose requests would they be?
          keys.problems().add(at.get(i), "is the same key as " + otherAt
              + (other.equals(name) ? ": list it once" : ": each client needs its own"));
          wrong = true;
        } else {
          usable.add(key);
        }
      }
      if (wrong) {
        continue;
      }
      if (usable.isEmpty()) {
        LOG.warn("{} is empty: client '{}' has no key, and its requests are refused (401)", keyPath, name);
      }
      out.add(new ClientKey(name, usable, budget, rateLimit, models)); // with none, it matches no request, yet keeps auth on
    }
    return List.copyOf(out);
  }

  /**
   * A named client's {@code models: ["router-*", "gpt-4o-mini"]}: the model names its requests may
   * name, exactly or, ending in {@code *}, by what they start with; null when the key is absent (any).
   */
  private static List<String> models(ConfigNode client) {
    if (!client.keys().contains("models")) {
      client.readElsewhere("models");
      return null;
    }
    List<String> models = client.stringList("models", null);
    if (models == null) {
      return null; // not a list of text: said
    }
    if (models.isEmpty()) { // every request refused would be a typo's doing, or a client better removed
      client.problem("models", "is empty: list the model names the client may use (\"router-*\" for any router), "
          + "or leave the key out for any");
    }
    for (int i = 0; i < models.size(); i++) {
      String m = models.get(i);
      // white space around it: no request names it so (chat refuses it), so the client would be locked out
      if (m.isBlank() || !m.strip().equals(m) || m.indexOf('*') >= 0 && m.indexOf('*') != m.length() - 1) {
        client.problems().add(client.pathOf("models") + "[" + i + "]", "must be a model name, or one ending in * "
            + "for every name it starts with, got '" + m + "'");
      }
    }
    return models;
  }

  /** A named client's {@code budget: {usd: 50, per: day}}. */
  private static ClientKey.Budget budget(ConfigNode b) {
    double usd = b.number("usd", Double.NaN, 0, 1e12);
    if (!b.has("usd")) {
      b.problem("usd", "is required (USD a period, e.g. usd: 50)");
    }
    String per = b.oneOf("per", "day",
        java.util.Arrays.stream(ClientKey.Period.values()).map(ClientKey.Period::key).toList());
    boolean allowUnpriced = b.oneOf("unpriced", "refuse", List.of("refuse", "allow")).equals("allow");
    long uncapped = b.longValue("uncapped_tokens", ClientKey.Budget.UNCAPPED_TOKENS, 1, 10_000_000);
    b.rejectUnknownKeys();
    return Double.isNaN(usd) ? null
        : new ClientKey.Budget(usd, ClientKey.Period.valueOf(per.toUpperCase(Locale.ROOT)), allowUnpriced, uncapped);
  }

  /**
   * SnakeYAML's problem, less the file's text some of them quote: an unquoted value beginning with
   * {@code *} is an alias and one with {@code !} a tag ({@code api_key: *sk-...} was named in full).
   */
  private static String withoutText(String problem) {
    for (String quoting : List.of("found undefined alias", "could not determine a constructor for the tag",
        "found undefined tag handle", "Global tag is not allowed")) {
      if (problem != null && problem.startsWith(quoting)) {
        return quoting + " (an unquoted value that begins with * or !: quote it)";
      }
    }
    return problem;
  }

  /** A named client's {@code rate_limit: {requests: 600, per: minute}}. */
  private static ClientKey.RateLimit rateLimit(ConfigNode r) {
    long requests = r.longValue("requests", 0, 1, 1_000_000_000);
    if (!r.has("requests")) {
      r.problem("requests", "is required (requests a period, e.g. requests: 600)");
    }
    String per = r.oneOf("per", "minute",
        java.util.Arrays.stream(ClientKey.RatePeriod.values()).map(ClientKey.RatePeriod::key).toList());
    r.rejectUnknownKeys();
    return requests < 1 ? null
        : new ClientKey.RateLimit(requests, ClientKey.RatePeriod.valueOf(per.toUpperCase(Locale.ROOT)));
  }

  private RoutewiseConfig read(ConfigNode root) {
    ConfigNode s = root.child("server");
    long maxBody = s.longValue("max_body_bytes", ServerConfig.DEFAULT_MAX_BODY_BYTES, 1, Integer.MAX_VALUE);
    ServerConfig server = new ServerConfig(
        host(s),
        s.integer("port", 6060, 0, 65535),
        maxBody,
        // Blank entries are dropped, so "${ROUTEWISE_API_KEY:-}" with the variable unset means no auth.
        apiKeys(s),
        java.time.Duration.ofMillis(s.longValue("shutdown_grace_ms", ServerConfig.DEFAULT_SHUTDOWN_GRACE_MS, 0, 3_600_000)),
        corsOrigins(s),
        allowedHosts(s),
        s.bool("access_log", false),
        s.longValue("max_buffered_body_bytes", ServerConfig.defaultBufferedBodyBytes(maxBody), 1, Long.MAX_VALUE),
        s.longValue("min_body_bytes_per_second", ServerConfig.DEFAULT_MIN_BODY_BYTES_PER_SECOND, 0, Long.MAX_VALUE),
        s.longValue("max_response_bytes", ServerConfig.DEFAULT_MAX_RESPONSE_BYTES, 1024, Integer.MAX_VALUE - 8),
        ServerConfig.DEFAULT_BODY_GRACE,
        s.integer("max_connections", ServerConfig.DEFAULT_MAX_CONNECTIONS, 0, Integer.MAX_VALUE),
        java.time.Duration.ofMillis(s.longValue("header_timeout_ms", ServerConfig.DEFAULT_HEADER_TIMEOUT_MS,
            0, 3_600_000)),
        java.time.Duration.ofMillis(s.longValue("shutdown_delay_ms", 0, 0, 600_000)),
        java.time.Duration.ofMillis(s.longValue("idle_timeout_ms", ServerConfig.DEFAULT_IDLE_TIMEOUT_MS, 1_000, 3_600_000)),
        s.integer("accept_queue", ServerConfig.DEFAULT_ACCEPT_QUEUE, 1, 65_535));
    if (server.maxBufferedBodyBytes() < server.maxBodyBytes()) {
      s.problem("max_buffered_body_bytes", "is " + server.maxBufferedBodyBytes() + ", below max_body_bytes ("
          + server.maxBodyBytes() + "): a body of the largest size allowed could never be read");
    }
    s.rejectUnknownKeys();

    ConfigNode ups = root.child("upstreams");
    if (!root.has("upstreams")) {
      root.problem("upstreams", "is required (with strong and weak)");
    }
    UpstreamConfig strong = upstream(ups, "strong");
    UpstreamConfig weak = upstream(ups, "weak");
    List<UpstreamConfig> upstreams = upstreams(ups, strong, weak);
    ups.rejectUnknownKeys();

    ConfigNode r = root.child("routing");
    RoutingConfig routing = new RoutingConfig(r.string("router", "random"), r.number("threshold", 0.5, 0.0, 1.0),
        r.integer("scoring_threads", Runtime.getRuntime().availableProcessors(), 0, 1024),
        r.integer("scoring_queue", 256, 1, 100_000),
        r.millis("scoring_timeout_ms", RoutingConfig.DEFAULT_SCORING_TIMEOUT_MS, 1, 600_000),
        r.bool("failover", false),
        r.millis("failover_cooldown_ms", RoutingConfig.DEFAULT_FAILOVER_COOLDOWN_MS, 0, 3_600_000),
        r.oneOf("passthrough", "none", passthroughChoices(upstreams)),
        new SessionPinning(r.bool("session_pinning", false), r.oneOf("session_key", "header", SessionPinning.KEYS),
            r.millis("session_ttl_ms", SessionPinning.DEFAULT_TTL_MS, 1_000, 30L * 86_400_000),
            r.integer("session_cache_entries", SessionPinning.DEFAULT_ENTRIES, 1, 10_000_000)),
        r.oneOf("ladder_rule", RoutingConfig.AUTO_RULE, List.of(RoutingConfig.AUTO_RULE, "threshold", "price_weighted")),
        r.bool("direct_upstreams", false),
        passthroughEndpoints(r),
        tokenMix(r));
    r.rejectUnknownKeys();
    idleKeys(r, routing).forEach(LOG::warn);

    ConfigNode c = root.child("client");
    ClientConfig client = new ClientConfig(
        c.integer("max_idle_connections", 256, 1, 100_000),
        c.millis("keep_alive_ms", 300_000, 1_000, 86_400_000),
        c.integer("http2_stream_window_bytes", ClientConfig.DEFAULT_HTTP2_STREAM_WINDOW_BYTES,
            ClientConfig.MIN_HTTP2_STREAM_WINDOW_BYTES, ClientConfig.MAX_HTTP2_STREAM_WINDOW_BYTES));
    c.rejectUnknownKeys();

    StateConfig state = StateConfig.read(root);

    // Each router's target sits in its settings, but the router never sees it: the catalog skips the key.
    Map<String, TargetConfig> targets = new LinkedHashMap<>();
    ConfigNode routers = root.child("routers");
    for (String name : routers.keys()) {
      if (!routers.hasMapping(name)) {
        continue; // not a mapping: the router catalog reports it, with the routers' other problems
      }
      TargetConfig t = TargetConfig.read(routers.child(name), routing.threshold(), upstreams);
      if (t != null) {
        targets.put(name, t);
      }
    }

    Path modelsDir = Path.of(root.string("models_dir", "models"));
    return new RoutewiseConfig(server, strong, weak, routing, client, modelsDir, root.child("embedding"),
        routers, upstreams, targets, state); // read once: a second read would list its problems twice
  }

  /** Names of upstreams: they appear in headers, JSON and metric tags, so plain words only. */
  private static final Pattern UPSTREAM_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]{0,63}");

  /**
   * Every entry under {@code upstreams:}, in the order written: {@code strong}, {@code weak} and any
   * others, each read like those two.
   */
  private static List<UpstreamConfig> upstreams(ConfigNode ups, UpstreamConfig strong, UpstreamConfig weak) {
    List<UpstreamConfig> out = new ArrayList<>();
    java.util.Map<String, String> byLower = new java.util.HashMap<>();
    for (String name : ups.keys()) {
      String same = byLower.putIfAbsent(name.toLowerCase(java.util.Locale.ROOT), name);
      if (same != null) {
        // two tags in one metric, two lines in a dashboard, upstream-strong and upstream-Strong: a typo, surely
        ups.problem(name, "differs from upstream '" + same + "' only in case; name them apart");
        ups.readElsewhere(name);
      } else if (name.equals("strong")) {
        out.add(strong);
      } else if (name.equals("weak")) {
        out.add(weak);
      } else if (name.equals("none") || !UPSTREAM_NAME.matcher(name).matches()) {
        ups.problem(name, "is not a usable upstream name: letters, digits, '_', '-' and '.', at most 64, not 'none'"
            + " (it appears in headers and metric tags)");
        ups.readElsewhere(name); // said once: not also an unknown key
      } else {
        out.add(upstream(ups, name));
      }
    }
    if (!out.contains(strong)) {
      out.add(0, strong);
    }
    if (!out.contains(weak)) {
      out.add(weak);
    }
    return out;
  }

  /** {@code routing.passthrough_endpoints}: paths below /v1/ as an OpenAI client writes them, lower case. */
  private static List<String> passthroughEndpoints(ConfigNode r) {
    List<String> endpoints = r.stringList("passthrough_endpoints", List.of());
    for (String e : endpoints) {
      if (!e.matches("[a-z0-9_-]+(/[a-z0-9_-]+)*")) {
        r.problem("passthrough_endpoints", "'" + e + "' is not a path below /v1/ such as embeddings or "
            + "audio/transcriptions (lower case, no leading slash)");
      }
    }
    return endpoints;
  }

  /** {@code routing.passthrough}: none, or any upstream's name (strong and weak first, as before). */
  private static List<String> passthroughChoices(List<UpstreamConfig> upstreams) {
    List<String> names = new ArrayList<>(List.of("none", "strong", "weak"));
    upstreams.stream().map(UpstreamConfig::name).filter(n -> !names.contains(n)).forEach(names::add);
    return names;
  }

  /** {@code upstreams.<name>.price}: USD per million input and output tokens, both required; absent = unknown. */
  private static Price price(ConfigNode u) {
    return u.optionalChild("price").map(ConfigLoader::priceOf).orElse(null);
  }

  /**
   * {@code upstreams.<name>.model_prices}: the prices of other models the upstream serves, by model
   * id, each as {@code price:} is written; passthrough traffic naming them is metered at them.
   */
  private static Map<String, Price> modelPrices(ConfigNode u) {
    Map<String, Price> out = new LinkedHashMap<>();
    u.optionalChild("model_prices").ifPresent(m -> m.children().forEach((id, p) -> out.put(id, priceOf(p))));
    return out;
  }

  private static Price priceOf(ConfigNode p) {
    for (String key : List.of("input", "output")) {
      if (!p.has(key)) {
        p.problem(key, "is required (USD per million " + key + " tokens)");
      }
    }
    double input = p.number("input", 0, 0, 1_000_000);
    double cached = p.number("cached_input", input, 0, 1_000_000);
    // a slipped decimal (12.5 for 1.25) would count every cached prompt ten times over; a wrong input is said alone
    if (cached > input && !p.problems().has(p.pathOf("input"))) {
      p.problem("cached_input", "is above input (" + cached + " > " + input + "): prompt tokens served from the "
          + "upstream's cache cost at most what others do");
    }
    // Anthropic's is 1.25 (5 min) or 2 (1 h) times input; no bound but the others'
    double cacheWrite = p.number("cache_write", input, 0, 1_000_000);
    double output = p.number("output", 0, 0, 1_000_000);
    // an audio model's audio tokens (gpt-4o-audio's: 16 and 8 times its text rates)
    Price price = new Price(input, output, cached, cacheWrite, p.number("audio_input", input, 0, 1_000_000),
        p.number("audio_output", output, 0, 1_000_000));
    p.rejectUnknownKeys();
    return price;
  }

  /**
   * {@code routing.token_mix}: input and output tokens of a typical request, in proportion ({@code
   * {input: 3, output: 1}} for long prompts and short answers); default 1 and 1, input + output.
   */
  private static double[] tokenMix(ConfigNode r) {
    Optional<ConfigNode> node = r.optionalChild("token_mix");
    if (node.isEmpty()) {
      return new double[] {1, 1};
    }
    ConfigNode m = node.get();
    double[] mix = {m.number("input", 1, 0, 1_000_000), m.number("output", 1, 0, 1_000_000)};
    if (mix[0] + mix[1] <= 0) {
      r.problem("token_mix", "needs input or output above 0");
    }
    m.rejectUnknownKeys();
    return mix;
  }

  /** {@code upstreams.<name>.router_model}: the trained model id learned routers use for it; absent = by {@code model}. */
  private static String routerModel(ConfigNode u) {
    String id = u.string("router_model", null);
    if (id != null && id.isBlank()) {
      u.problem("router_model", "must not be empty (leave it out to place the upstream by its model)");
      return null;
    }
    return id;
  }

  /**
   * {@code server.cors_origins}: {@code *}, or origins as a browser sends them (scheme://host[:port]):
   * a site's (http, https), or an extension's or a desktop app's page's ({@code chrome-extension://<id>},
   * {@code moz-extension://<uuid>}, {@code app://obsidian.md}), which the 403 also tells to list.
   */
  private static List<String> corsOrigins(ConfigNode s) {
    List<String> out = new ArrayList<>();
    for (String origin : s.stringList("cors_origins", List.of())) {
      if (origin.isBlank()) {
        continue;
      }
      if (!origin.equals("*") && !origin.matches("[A-Za-z][A-Za-z0-9+.-]*://[^/\\s?#]+")) {
        s.problem("cors_origins", "'" + origin + "' is not an origin: expected * or scheme://host[:port], no path");
      } else if (origin.contains("://") && overTopLevelDomain(origin.substring(origin.indexOf("://") + 3).replaceFirst(":\\d*$", ""))) {
        s.problem("cors_origins", "'" + origin + "' takes every site under a top-level domain, an attacker's too;"
            + " list your own domain (https://*.example.com)");
      } else {
        out.add(origin);
      }
    }
    if (out.contains("*") && out.size() > 1) {
      s.problem("cors_origins", "'*' allows every origin; list no others beside it");
    }
    return out;
  }

  /** A wildcard over a whole public top-level domain ({@code *.com}); {@code *.localhost} and the like are no one's. */
  private static boolean overTopLevelDomain(String host) {
    String h = host.toLowerCase(java.util.Locale.ROOT);
    return h.startsWith("*.") && h.indexOf('.', 2) < 0 && !ServerConfig.PRIVATE_HOST_SUFFIXES.contains(h.substring(1));
  }

  /**
   * {@code server.host}: an address (IPv6 with or without brackets) or a host name, no port or scheme. An
   * empty one is refused: Java reads it as the loopback address, where an absent one is 0.0.0.0.
   */
  private static String host(ConfigNode s) {
    String host = s.string("host", "0.0.0.0");
    if (host.isBlank()) {
      s.problem("host", "must not be empty (0.0.0.0: every address of this machine, 127.0.0.1: this machine only)");
    } else if (!host.matches("[A-Za-z0-9_][A-Za-z0-9_.-]*") && !ipv6Literal(host)) {
      s.problem("host", "'" + host + "' is not an address or host name: expected 0.0.0.0, 127.0.0.1, ::, ::1 or a"
          + " host name, no scheme or port (that is server.port)");
    }
    return host;
  }

  /** {@code ::1}, {@code [::1]}, {@code fe80::1%eth0}: an IPv6 address, read as Java reads it, without a DNS lookup. */
  private static boolean ipv6Literal(String host) {
    String h = host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
    int zone = h.indexOf('%');
    if (zone >= 0) {
      if (!h.substring(zone + 1).matches("[A-Za-z0-9_.-]+")) {
        return false;
      }
      h = h.substring(0, zone); // the interface is this machine's, not the config's, to check
    }
    if (h.indexOf(':') < 0 || !h.matches("[0-9A-Fa-f:][0-9A-Fa-f:.]*")) {
      return false;
    }
    try {
      return java.net.InetAddress.getByName(h) != null; // a literal: parsed, never looked up
    } catch (java.net.UnknownHostException e) {
      return false;
    }
  }

  /** {@code server.allowed_hosts}: host names as a {@code Host} header names them, less the port; {@code *.} for any below. */
  private static List<String> allowedHosts(ConfigNode s) {
    List<String> out = new ArrayList<>();
    for (String host : s.stringList("allowed_hosts", List.of())) {
      if (host.isBlank()) {
        continue;
      }
      if (!host.matches("(\\*\\.)?[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?")) {
        s.problem("allowed_hosts", "'" + host + "' is not a host name: expected router.example.com or"
            + " *.example.com, no scheme, port or path");
      } else if (overTopLevelDomain(host)) {
        s.problem("allowed_hosts", "'" + host + "' takes every name under a top-level domain, an attacker's too;"
            + " list your own domain (*.example.com)");
      } else {
        out.add(host);
      }
    }
    return out;
  }

  private static UpstreamConfig upstream(ConfigNode ups, String name) {
    boolean rung = !name.equals("strong") && !name.equals("weak");
    if (rung && !ups.has(name)) { // "mini:" with its settings commented out
      ups.readElsewhere(name);
      ups.problem(name, "is empty: give its base_url and model, or remove it");
    } else if (!ups.has(name)) {
      List<String> others = ups.keys().stream().filter(k -> !k.equals("strong") && !k.equals("weak")).sorted().toList();
      ups.problem(name, "is required (base_url and model; api_key unless the upstream needs none)"
          + (others.isEmpty() ? "" : others.size() == 1
              ? "; '" + others.get(0) + "' is read as another upstream of the ladder: is it meant to be " + name + "?"
              : "; " + others + " are read as other upstreams of the ladder: is one of them meant to be " + name + "?"));
    }
    // missing: said once above, not also as its base_url and model being required
    ConfigNode u = ups.has(name) ? ups.child(name) : ConfigNode.quiet(ups.pathOf(name));
    Secret apiKey = u.secret("api_key", "");
    String keyProblem = apiKey.isBlank() ? null : ConfigNode.tokenProblem(apiKey.value());
    if (keyProblem != null) {
      u.problem("api_key", keyProblem);
    }
    URI baseUrl = u.httpUrl("base_url", null);
    if (baseUrl.getPath() != null && baseUrl.getPath().endsWith("/chat/completions")) {
      u.problem("base_url", "ends in /chat/completions: give the API's base (e.g. .../v1); routewise adds the path");
    }
    UpstreamConfig cfg = new UpstreamConfig(
        name,
        baseUrl,
        apiKey,
        u.requiredString("model"),
        u.millis("connect_timeout_ms", 5_000, 1, 600_000),
        u.millis("timeout_ms", 120_000, 1, 3_600_000),
        upstreamHeaders(u, UpstreamConfig.sendsKey(apiKey)),
        price(u),
        routerModel(u),
        u.bool("stream_usage", false),
        accepts(u),
        modelPrices(u));
    cfg.modelPrices().keySet().stream().filter(id -> id.indexOf('*') >= 0 && (id.indexOf('*') != id.length() - 1
        || id.length() == 1)).forEach(id -> u.problem("model_prices", "has '" + id + "': '*' may only end an id, "
        + "after its prefix (gpt-4o-mini-*: every id that begins gpt-4o-mini-)"));
    if (cfg.modelPrices().containsKey(cfg.model())) { // routed answers are priced by price alone
      u.problem("model_prices", "names " + cfg.model() + ", this upstream's own model: write its price as "
          + "upstreams." + name + ".price, which prices its routed answers too");
    }
    u.rejectUnknownKeys();
    return cfg;
  }

  /**
   * {@code upstreams.<name>.accepts}: what the model takes, {@code text} and any of image, audio and
   * file; every kind when not given. A request whose messages carry a kind an upstream does not take
   * goes to the nearest more capable one that does.
   */
  private static Set<String> accepts(ConfigNode u) {
    if (!u.has("accepts")) {
      u.readElsewhere("accepts");
      return Set.copyOf(UpstreamConfig.MEDIA);
    }
    List<String> given = u.stringList("accepts", List.of("text"));
    Set<String> out = new HashSet<>();
    for (String kind : given) {
      if (!kind.equals("text") && !UpstreamConfig.MEDIA.contains(kind)) {
        u.problem("accepts", "lists '" + kind + "'; it may list text, image, audio and file");
      } else if (!kind.equals("text")) {
        out.add(kind);
      }
    }
    if (!given.contains("text")) {
      u.problem("accepts", "must list text (what a router scores; an upstream takes it besides any media)");
    }
    return out;
  }

  /** Set by routewise itself on every call: framing, the body's type, and the upstream's host. */
  private static final Set<String> RESERVED_HEADERS =
      Set.of("host", "content-length", "content-type", "transfer-encoding", "connection", "te", "upgrade",
          "keep-alive", "proxy-connection", "proxy-authorization", "accept", "accept-encoding", "expect",
          "trailer");

  /**
   * {@code upstreams.<name>.headers}: extra headers for every call to that upstream. Names must be
   * HTTP tokens and values printable ASCII on one line; {@code Authorization} only when {@code api_key} sends none,
   * so there is one place a key comes from. A blank value is not sent, so a header can be left to an
   * environment variable that may be unset.
   */
  private static Map<String, Secret> upstreamHeaders(ConfigNode u, boolean sendsKey) {
    Map<String, Secret> out = new LinkedHashMap<>();
    Optional<ConfigNode> node = u.optionalChild("headers");
    if (node.isEmpty()) {
      return out;
    }
    ConfigNode h = node.get();
    Set<String> seen = new HashSet<>();
    for (String name : h.keys()) {
      Secret value = h.secret(name, "");
      String lower = name.toLowerCase(Locale.ROOT);
      if (!isToken(name)) {
        h.problem(name, "is not a valid header name");
      } else if (RESERVED_HEADERS.contains(lower)) {
        h.problem(name, "is set by routewise and cannot be configured");
      } else if (lower.equals("authorization") && sendsKey) {
        h.problem(name, "conflicts with api_key; set api_key to \"none\" to send your own Authorization");
      } else if (!seen.add(lower)) {
        h.problem(name, "is given twice (header names ignore case)");
      } else if (!value.value().chars().allMatch(c -> c == '\t' || (c >= 0x20 && c <= 0x7e))) {
        // HTTP clients refuse other bytes at call time, and name the value in the error.
        h.problem(name, "must be printable ASCII on a single line");
      } else if (!value.isBlank()) { // blank, e.g. "${OPENAI_ORG_ID:-}" unset: not sent
        out.put(name, value);
      }
    }
    return out;
  }

  private static boolean isToken(String s) {
    if (s.isEmpty()) {
      return false;
    }
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
          || "!#$%&'*+-.^_`|~".indexOf(c) >= 0;
      if (!ok) {
        return false;
      }
    }
    return true;
  }

  private Object substitute(Object node, String path, ConfigProblems problems) {
    return substitute(node, path, problems, java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>()),
        new java.util.IdentityHashMap<>());
  }

  /**
   * @param done each mapping or list already substituted, by identity: an alias is the very object of
   *     its anchor, and copying it at every use expanded 24 anchors of two aliases each (within SnakeYAML's
   *     50) into 2^24 leaves, minutes and gigabytes; reused, an alias costs nothing, and a problem within
   *     it is said once, at its first use
   */
  private Object substitute(Object node, String path, ConfigProblems problems, Set<Object> enclosing,
      Map<Object, Object> done) {
    if (!(node instanceof Map || node instanceof List)) {
      return substituteWithin(node, path, problems, enclosing, done);
    }
    if (done.containsKey(node)) {
      return done.get(node);
    }
    if (!enclosing.add(node)) {
      // an alias inside its own anchor (&s {self: *s}): reading on would never end
      problems.add(path, "contains itself (a YAML alias inside its own anchor)");
      return null;
    }
    try {
      Object out = substituteWithin(node, path, problems, enclosing, done);
      done.put(node, out);
      return out;
    } finally {
      enclosing.remove(node);
    }
  }

  private Object substituteWithin(Object node, String path, ConfigProblems problems, Set<Object> enclosing,
      Map<Object, Object> done) {
    if (node instanceof Map<?, ?> m) {
      Map<String, Object> out = new LinkedHashMap<>();
      m.forEach((k, v) -> {
        String key = String.valueOf(k);
        out.put(key, substitute(v, path.isEmpty() ? key : path + "." + key, problems, enclosing, done));
      });
      return out;
    }
    if (node instanceof List<?> l) {
      List<Object> out = new ArrayList<>();
      for (int i = 0; i < l.size(); i++) {
        out.add(substitute(l.get(i), path + "[" + i + "]", problems, enclosing, done));
      }
      return out;
    }
    if (node instanceof String s && s.contains("${")) {
      String rest = VAR.matcher(s).replaceAll("");
      int bad = rest.indexOf("${");
      if (bad >= 0) { // ${VAR-x}, ${ VAR }, ${VAR:=x}: sent on as typed, to the upstream or as the model name
        int end = rest.indexOf('}', bad);
        String shown = end < 0 || end - bad > 60 ? rest.substring(bad, Math.min(rest.length(), bad + 20)) + "..."
            : rest.substring(bad, end + 1);
        problems.addForText(path, "'" + shown + "' is not ${VAR} or ${VAR:-default}");
        return "";
      }
      Matcher mt = VAR.matcher(s);
      StringBuilder sb = new StringBuilder();
      while (mt.find()) {
        String value = env.get(mt.group(1));
        if (value == null || (value.isEmpty() && mt.group(2) != null)) {
          value = mt.group(2);
        }
        if (value == null && unsetIsEmpty) {
          value = "";
        }
        if (value == null) {
          problems.addForText(path, "environment variable " + mt.group(1) + " is not set (write ${"
              + mt.group(1) + ":-default} to give a default)");
          value = "";
        }
        mt.appendReplacement(sb, Matcher.quoteReplacement(value));
      }
      mt.appendTail(sb);
      return sb.toString();
    }
    return node;
  }

  /**
   * SnakeYAML's safe constructor, but a number YAML 1.1 reads in another base (0x1F, 0b1010, a leading
   * 0 as octal: 025000 is 10752; 1:30 as base 60: 90) is kept as {@link ConfigNode.NonDecimal}, which
   * a number setting refuses and a text setting takes as written ({@code 08080} had been 8080 but
   * {@code 07070} 3640).
   */
  private static final class DecimalNumbers extends SafeConstructor {
    private static final Pattern DECIMAL_INT = Pattern.compile("[-+]?(0|[1-9][0-9_]*)");

    DecimalNumbers(LoaderOptions options) {
      super(options);
      for (org.yaml.snakeyaml.nodes.Tag tag : List.of(org.yaml.snakeyaml.nodes.Tag.INT, org.yaml.snakeyaml.nodes.Tag.FLOAT)) {
        org.yaml.snakeyaml.constructor.Construct yamls = yamlConstructors.get(tag);
        yamlConstructors.put(tag, new org.yaml.snakeyaml.constructor.AbstractConstruct() {
          @Override
          public Object construct(org.yaml.snakeyaml.nodes.Node node) {
            Object n = yamls.construct(node);
            String text = node instanceof org.yaml.snakeyaml.nodes.ScalarNode s ? s.getValue() : null;
            boolean decimal = text == null || (tag.equals(org.yaml.snakeyaml.nodes.Tag.INT)
                ? DECIMAL_INT.matcher(text).matches() : text.indexOf(':') < 0);
            return decimal || !(n instanceof Number num) ? n : new ConfigNode.NonDecimal(text, num);
          }
        });
      }
    }
  }

  /** For tests and tools: a duration in milliseconds. */
  static Duration ms(long ms) {
    return Duration.ofMillis(ms);
  }
}
