package io.routewise.routers;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.routewise.embedding.Embedder;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/**
 * A trained router's directory: {@code manifest.json} plus weight files of raw little-endian float32
 * values, row-major, no header (their shapes are in the manifest). Format version 1:
 *
 * <pre>
 * {
 *   "format_version": 1,
 *   "kind": "mf" | "sw_ranking" | "bert",
 *   "embedding": {"model": "all-minilm-l6-v2-q", "dimension": 384, "max_tokens": 128, "truncation": "head_tail"},
 *                                                  // a static table: {"model": "minilm-l6-static", "dimension": 256,
 *                                                  //                  "fingerprint": "<the table's digest>"}
 *   "models": ["gpt-4o-2024-05-13", ...],          // model ids, in the weights' row order
 *   "default_strong": "...", "default_weak": "...",
 *   "weights": {"NAME": {"file": "NAME.f32", "shape": [rows, cols]}, ...},
 *   "training": {"data": [{"file", "sha256", "prompts"}], "seed", "holdout", ...hyperparameters},
 *   "heldout": {...metrics on the held-out prompts}
 * }
 * </pre>
 *
 * Every check throws {@link IOException} whose message names the file and what is wrong, so a bad
 * directory stops the start with a clear config problem.
 */
public final class ModelDir {
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(ModelDir.class);
  public static final int FORMAT_VERSION = 1;
  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  private final Path dir;
  private final JsonNode manifest;
  /** Upstreams whose placement by {@link #byModel} was logged: once each, however often it is asked. */
  private final java.util.Set<String> loggedPlacements = java.util.concurrent.ConcurrentHashMap.newKeySet();

  private ModelDir(Path dir, JsonNode manifest) {
    this.dir = dir;
    this.manifest = manifest;
  }

  /** Reads and checks the manifest of a {@code kind} directory. */
  public static ModelDir open(Path dir, String kind) throws IOException {
    Path m = dir.resolve("manifest.json");
    if (!Files.isDirectory(dir)) {
      throw new NoSuchFileException(dir + ": model directory not found (train one with 'routewise train', or set model_dir)");
    }
    JsonNode node;
    try {
      node = JSON.readTree(m.toFile());
    } catch (NoSuchFileException | java.io.FileNotFoundException e) {
      if (Files.exists(m) && !Files.isReadable(m)) { // FileNotFoundException says "Permission denied" too
        throw new java.nio.file.AccessDeniedException(m + ": not readable by this user (its permissions)");
      }
      throw new NoSuchFileException(m + ": missing (not a model directory?)");
    } catch (IOException e) {
      throw new IOException(m + ": not valid JSON: " + e.getMessage(), e);
    }
    if (node == null || !node.isObject()) {
      throw new IOException(m + ": must be a JSON object");
    }
    // the kind first: a static table's or another router's directory is the wrong directory, not an old one
    if (!kind.equals(node.path("kind").asText())) {
      throw new IOException(m + ": kind is '" + node.path("kind").asText() + "', expected '" + kind + "' (not a "
          + kind + " model directory)");
    }
    int version = node.path("format_version").asInt(-1);
    if (version != FORMAT_VERSION) {
      throw new IOException(m + ": format_version " + node.path("format_version") + " is not supported (expected "
          + FORMAT_VERSION + ")");
    }
    if (!node.path("models").isArray() || node.path("models").isEmpty()) {
      throw new IOException(m + ": \"models\" must be a non-empty list of model ids");
    }
    if (!node.path("embedding").path("model").isTextual() || !node.path("embedding").path("dimension").isInt()) {
      throw new IOException(m + ": \"embedding\" must give \"model\" and \"dimension\"");
    }
    return new ModelDir(dir, node);
  }

  /** Opens a router's directory: its {@code model_dir} setting, else {@code <models_dir>/<name>}. */
  public static ModelDir forRouter(RouterContext ctx, String name, String kind) throws IOException {
    return open(dirFor(ctx.settings(), ctx.modelsDir(), name), kind);
  }

  /** A router's directory: its {@code model_dir} setting, else {@code <models_dir>/<name>}. */
  public static Path dirFor(io.routewise.config.ConfigNode settings, Path modelsDir, String name) {
    return Path.of(settings.string("model_dir", modelsDir.resolve(name).toString()));
  }

  /**
   * The trained model id standing for the strong (or weak) upstream: the {@code strong_model}
   * ({@code weak_model}) setting, else the upstream's {@code router_model}, else its {@code model}
   * when this directory can place it ({@link #byModel}), else the manifest's {@code default_strong}
   * ({@code default_weak}).
   */
  public String upstreamModel(RouterContext ctx, boolean strong) throws IOException {
    String key = strong ? "strong_model" : "weak_model";
    String setting = ctx.settings().string(key, null);
    var upstream = strong ? ctx.strong() : ctx.weak();
    List<String> models = placeableModels();
    if (setting != null) {
      if (!models.contains(setting)) {
        throw new IOException(ctx.settings().pathOf(key) + " '" + setting + "' is not a model of " + dir
            + didYouMean(setting, models) + "; it knows: " + String.join(", ", models.stream().sorted().toList()));
      }
      return setting;
    }
    if (upstream != null && upstream.routerModel() != null) {
      return known(upstream);
    }
    if (upstream != null) {
      java.util.Optional<String> named = byModel(upstream, models);
      if (named.isPresent()) {
        return named.get();
      }
    }
    String field = strong ? "default_strong" : "default_weak";
    String fallback = text(field, null);
    if (fallback == null || !models.contains(fallback)) {
      throw new IOException(dir.resolve("manifest.json") + ": " + field + " is missing or unknown; set "
          + ctx.settings().pathOf(key));
    }
    if (upstream != null && !upstream.model().isBlank() && loggedPlacements.add(upstream.name())) {
      // said, since the router then scores another model than the one called; on a ladder it also sets
      // where the other upstreams stand against this one
      String text = "upstreams." + upstream.name() + ": '" + upstream.model() + "' names no model of " + dir
          + "; it stands for its " + field + " " + fallback
          + " (set router_model on the upstream, or " + ctx.settings().pathOf(key) + ", to place it)";
      if (ctx.upstreams().size() > 2) {
        LOG.warn(text);
      } else {
        LOG.info(text);
      }
    }
    return fallback;
  }

  /**
   * The trained model id standing for each upstream, in the context's ladder order: strong and weak
   * as {@link #upstreamModel} places them (their defaults unchanged), every other upstream by its
   * {@code router_model}, else by its {@code model} ({@link #byModel}). An upstream placed by neither is an error that
   * names each such upstream and lists every id this directory knows, so the fix is one key away.
   */
  public java.util.Map<String, String> placeUpstreams(RouterContext ctx) throws IOException {
    java.util.Map<String, String> placed = new java.util.LinkedHashMap<>();
    List<String> unplaced = new ArrayList<>();
    List<String> models = placeableModels();
    for (var u : ctx.upstreams()) {
      if (u.name().equals("strong") || u.name().equals("weak")) {
        placed.put(u.name(), upstreamModel(ctx, u.name().equals("strong")));
      } else if (u.routerModel() != null) {
        placed.put(u.name(), known(u));
      } else {
        java.util.Optional<String> named = byModel(u, models);
        if (named.isPresent()) {
          placed.put(u.name(), named.get());
        } else {
          List<String> near = nearIds(u.model(), models);
          if (near.isEmpty()) {
            near = closeIds(u.model(), models);
          }
          unplaced.add("upstreams." + u.name() + " (model '" + u.model() + "'"
              + (near.isEmpty() ? "" : "; ids like it: " + String.join(", ", near)) + ")");
        }
      }
    }
    if (!unplaced.isEmpty()) {
      throw new IOException("cannot place " + String.join(", ", unplaced) + " among the " + models.size()
          + " models of " + dir + "; set router_model on " + (unplaced.size() == 1 ? "it" : "each")
          + " to one of: " + String.join(", ", models.stream().sorted().toList()));
    }
    return placed;
  }

  /**
   * The trained id {@code model} is placed on as {@code serve} places an upstream's {@code model}
   * ({@link #byModel}: the id, its spelling, its snapshots, a serving stack's name), without the
   * manifest's default: what {@code routewise label} writes an upstream's outcomes under, so that
   * {@code train mf --from} adapts the very row serve routes with (an operator trial found labels of
   * {@code qwen2.5:7b} trained as a new model beside the qwen2.5-7b-instruct serve used), and a model
   * this directory never saw is not mixed into another's row.
   */
  public java.util.Optional<String> trainedId(String model) throws IOException {
    return placeAmong(model, placeableModels(), preferredSnapshots());
  }

  /**
   * As {@link #trainedId}, among any list of model ids (an outcomes file's, for one): the id itself,
   * its spelling as the data writes ids, one of its snapshots ({@code preferred} first, else the
   * newest), a serving stack's name for it.
   */
  public static java.util.Optional<String> placeAmong(String model, List<String> models, List<String> preferred) {
    if (models.contains(model)) {
      return java.util.Optional.of(model);
    }
    java.util.Optional<String> found = canonicalMatch(model, models);
    if (found.isEmpty()) {
      found = snapshotChoice(model, models, preferred);
    }
    return found.isPresent() ? found : servedNameMatch(model, models, preferred);
  }

  /**
   * The trained id an upstream's {@code model} names, when it names one: the id itself; else its form
   * as the training data writes model ids (lower case, no provider prefix: {@code
   * openai/GPT-4o-mini} is {@code gpt-4o-mini}); else that form's one dated snapshot ({@code
   * gpt-4o-mini} is {@code gpt-4o-mini-2024-07-18}; a provider's alias may point at a snapshot that
   * was not trained, as gpt-4's at 0613 where the data has 0314, so the nearest is taken); else, when
   * several snapshots share the name, as gpt-4o's do, {@link #snapshotChoice}'s. A placement other than
   * the id itself is logged, at WARN for strong and weak placed elsewhere than the manifest's default,
   * where such a name fell back to before.
   */
  private java.util.Optional<String> byModel(io.routewise.config.UpstreamConfig upstream, List<String> models)
      throws IOException {
    String model = upstream.model();
    if (models.contains(model)) {
      return java.util.Optional.of(model);
    }
    java.util.Optional<String> found = trainedId(model);
    List<String> among = canonicalMatch(model, models).isPresent() ? List.of() : snapshotsOf(model, models);
    found.filter(id -> loggedPlacements.add(upstream.name())).ifPresent(id -> {
      PlacementNote note = placementNote(upstream.name(), model, dir.getFileName().toString(), id, among,
          text("default_" + upstream.name(), null));
      if (note.warning()) {
        LOG.warn(note.text());
      } else {
        LOG.info(note.text());
      }
    });
    return found;
  }

  /** A start-log line for an upstream placed other than by its exact id, and whether it is a warning. */
  record PlacementNote(boolean warning, String text) {}

  /**
   * Strong and weak placed by spelling or snapshot warn: before this placement such a name took the
   * manifest's default, so the same config now routes on another model.
   */
  static PlacementNote placementNote(String upstream, String model, String dirName, String id, List<String> among,
      String manifestDefault) {
    // strong or weak placed on its manifest default is placed as before this placement existed: no warning
    boolean changed = (upstream.equals("strong") || upstream.equals("weak")) && !id.equals(manifestDefault);
    return new PlacementNote(changed, "upstreams." + upstream + ": model '" + model + "' placed on " + dirName
        + "'s trained model '" + id + "'" + (among.size() > 1 ? ", of its snapshots " + String.join(", ", among) : "")
        + " (set router_model to choose another"
        + (changed ? "; routewise before this placement used the manifest's default_" + upstream + ")" : ")"));
  }

  /**
   * The manifest's default strong and weak ids: the snapshots the shipped pair was measured with, so a
   * name several snapshots share takes these first ({@link #snapshotChoice}).
   */
  private List<String> preferredSnapshots() {
    List<String> out = new ArrayList<>();
    for (String field : List.of("default_strong", "default_weak")) {
      String id = text(field, null);
      if (id != null) {
        out.add(id);
      }
    }
    return out;
  }

  /**
   * The trained snapshot standing for a name several dated snapshots share (a provider's undated alias,
   * {@code gpt-4o}, whose data has 2024-05-13 and 2024-08-06): one of {@code preferred} when it is
   * among them (the manifest's defaults, so {@code gpt-4o} is the snapshot the two-model figures were
   * measured with, on every rung), else the newest. A name ending in {@code -latest} ({@code
   * claude-3-5-sonnet-latest}) is the name itself when trained, else its newest snapshot. Empty when no
   * snapshot of the name was trained; a name {@link #canonicalMatch} places is not asked here.
   */
  static java.util.Optional<String> snapshotChoice(String model, List<String> models, List<String> preferred) {
    String name = dataName(model);
    boolean latest = name.endsWith("-latest");
    if (latest) {
      String base = model.substring(0, model.length() - "-latest".length());
      java.util.Optional<String> exact = canonicalMatch(base, models);
      return exact.isPresent() ? exact
          : snapshotsOf(base, models).stream().max(java.util.Comparator.comparing(ModelDir::snapshotDate));
    }
    List<String> snapshots = snapshotsOf(model, models);
    if (snapshots.isEmpty()) {
      return java.util.Optional.empty();
    }
    for (String id : preferred) {
      if (snapshots.contains(id)) {
        return java.util.Optional.of(id);
      }
    }
    return snapshots.stream().max(java.util.Comparator.comparing(ModelDir::snapshotDate));
  }

  /** What serving stacks add to a name for the chat model they serve: a provider's tier, a quantization. */
  private static final java.util.regex.Pattern SERVING_SUFFIX = java.util.regex.Pattern.compile(
      "(-(turbo|versatile|instant|fp8|fp16|bf16|int4|int8|awq|gptq|gguf|q[2-8](_[a-z0-9]+)*))+$");
  /** A letter followed by a digit where a family name meets its version ({@code llama3.1}, {@code gemma2}). */
  private static final java.util.regex.Pattern FAMILY_VERSION = java.util.regex.Pattern.compile("^([a-z]+)(\\d)");
  /** An id's version suffix ({@code -v0.3}), and the name before it. */
  private static final java.util.regex.Pattern VERSION_SUFFIX = java.util.regex.Pattern.compile("^(.*)-v(\\d+(\\.\\d+)*)$");

  /**
   * The trained id a serving stack's name for a model stands for, when the data spells it otherwise:
   * Hugging Face's {@code Meta-Llama-3.1-8B} (the base model), Together's {@code
   * Meta-Llama-3.1-70B-Instruct-Turbo}, Groq's {@code llama-3.1-70b-versatile}, Ollama's {@code
   * llama3.1:70b} and {@code gemma2:9b}, OpenRouter's {@code claude-3.5-sonnet}. The name is read
   * without a {@code meta-} before {@code llama}, with a dash between family and version and with
   * dashes for a version's dots. A name that says it is a served chat model (an Ollama tag, a serving
   * suffix such as {@code -Turbo}, {@code -versatile}, {@code -q4_K_M}) is placed only on a chat-tuned
   * id ({@code -instruct}, {@code -it}, {@code -chat}, the newest {@code -vN} of one: {@code mistral:7b}
   * is mistral-7b-instruct-v0.3), never on a base model; any other name only on the id it reads as
   * (a base model's name on the base model, not on its instruct sibling), its newest {@code -vN}, or
   * its snapshots ({@link #snapshotChoice}). Asked only when the exact id, its spelling and its
   * snapshots placed nothing; empty when no reading is trained, which stops the start (review: an
   * instruct id taken for a base name routed on the wrong model, and the other way round).
   */
  static java.util.Optional<String> servedNameMatch(String model, List<String> models, List<String> preferred) {
    String name = dataName(model);
    boolean ollama = name.contains(":");
    // "-hf": Hugging Face's format of Meta's weights, the same model (Llama-2-70b-hf, Llama-2-70b-chat-hf)
    name = name.replaceFirst(":latest$", "").replace(':', '-').replaceFirst("-hf$", "");
    String bare = SERVING_SUFFIX.matcher(name).replaceFirst("");
    boolean chat = ollama || !bare.equals(name);
    java.util.Map<String, String> byLower = new java.util.LinkedHashMap<>();
    models.forEach(m -> byLower.putIfAbsent(m.toLowerCase(java.util.Locale.ROOT), m));
    java.util.LinkedHashSet<String> readings = new java.util.LinkedHashSet<>();
    String noMeta = bare.startsWith("meta-llama") ? bare.substring("meta-".length()) : bare;
    for (String x : List.of(bare, noMeta)) {
      String dashed = FAMILY_VERSION.matcher(x).replaceFirst("$1-$2");
      for (String y : List.of(x, dashed)) {
        readings.add(y);
        readings.add(y.replaceAll("(\\d)\\.(\\d)", "$1-$2"));
      }
    }
    for (String r : readings) {
      List<String> candidates = !chat ? List.of(r)
          : r.matches(".*-(instruct|it|chat)$") ? List.of(r) : List.of(r + "-instruct", r + "-it", r + "-chat");
      for (String candidate : candidates) {
        if (byLower.containsKey(candidate)) {
          return java.util.Optional.of(byLower.get(candidate));
        }
      }
      java.util.Optional<String> versioned = models.stream().filter(m -> {
        java.util.regex.Matcher v = VERSION_SUFFIX.matcher(m.toLowerCase(java.util.Locale.ROOT));
        return v.matches() && candidates.contains(v.group(1));
      }).max(java.util.Comparator.comparing(ModelDir::versionKey));
      if (versioned.isPresent()) {
        return versioned;
      }
      if (!chat) {
        java.util.Optional<String> snapshot = snapshotChoice(r, models, preferred);
        if (snapshot.isPresent()) {
          return snapshot;
        }
      }
    }
    return java.util.Optional.empty();
  }

  /** A {@code -vN.M} suffix as a sortable key: each part zero-padded. */
  private static String versionKey(String id) {
    java.util.regex.Matcher v = VERSION_SUFFIX.matcher(id.toLowerCase(java.util.Locale.ROOT));
    if (!v.matches()) {
      return "";
    }
    StringBuilder key = new StringBuilder();
    for (String part : v.group(2).split("\\.")) {
      key.append(String.format(java.util.Locale.ROOT, "%09d", Long.parseLong(part.length() > 9 ? part.substring(0, 9) : part)));
    }
    return key.toString();
  }

  /** The trained ids that are {@code model}'s name (as the data spells ids) followed by a snapshot date. */
  static List<String> snapshotsOf(String model, List<String> models) {
    String name = dataName(model);
    if (name.isEmpty()) {
      return List.of();
    }
    return models.stream().filter(m -> {
      String lower = m.toLowerCase(java.util.Locale.ROOT);
      return lower.startsWith(name + "-") && SNAPSHOT.matcher(lower.substring(name.length() + 1)).matches();
    }).sorted().toList();
  }

  /**
   * A snapshot id's date as yyyymmdd for ordering: the last dash-separated date in it; an MMDD date
   * (OpenAI's older ids) has no year and orders before every dated one.
   */
  static String snapshotDate(String id) {
    java.util.regex.Matcher m = SNAPSHOT_DATE.matcher(id);
    if (!m.find()) {
      return "";
    }
    return m.group(1) != null ? m.group(1) + m.group(2) + m.group(3) : "0000" + m.group(4);
  }

  /** {@code model} as the training data writes ids: no provider prefix ({@code openai/}), lower case. */
  private static String dataName(String model) {
    return model.substring(model.lastIndexOf('/') + 1).toLowerCase(java.util.Locale.ROOT);
  }

  /** A snapshot date: YYYY-MM-DD, YYYYMMDD, or MMDD as OpenAI's older ids write it. */
  private static final java.util.regex.Pattern SNAPSHOT = java.util.regex.Pattern.compile(
      "20\\d\\d-(0[1-9]|1[0-2])-(0[1-9]|[12]\\d|3[01])|(20\\d\\d)?(0[1-9]|1[0-2])(0[1-9]|[12]\\d|3[01])");

  private static final java.util.regex.Pattern SNAPSHOT_DATE =
      java.util.regex.Pattern.compile("(20\\d\\d)-?(\\d\\d)-?(\\d\\d)$|(\\d{4})$");

  /** {@link #byModel}'s rule past the exact id, for {@code model} among {@code models}; case ignored on both sides. */
  static java.util.Optional<String> canonicalMatch(String model, List<String> models) {
    String name = dataName(model);
    if (name.isEmpty()) {
      return java.util.Optional.empty();
    }
    List<String> same = models.stream().filter(m -> m.toLowerCase(java.util.Locale.ROOT).equals(name)).toList();
    if (!same.isEmpty()) {
      return same.size() == 1 ? java.util.Optional.of(same.get(0)) : java.util.Optional.empty();
    }
    List<String> snapshots = snapshotsOf(name, models);
    return snapshots.size() == 1 ? java.util.Optional.of(snapshots.get(0)) : java.util.Optional.empty();
  }

  /**
   * Trained ids that begin with {@code model}'s name as the data spells it (at most 8; its snapshots
   * first), so an unplaceable upstream's fix is found at once.
   */
  static List<String> nearIds(String model, List<String> models) {
    String name = dataName(model);
    if (name.isEmpty()) {
      return List.of();
    }
    List<String> snapshots = snapshotsOf(name, models).stream().limit(8).toList();
    return !snapshots.isEmpty() ? snapshots : models.stream()
        .filter(m -> m.toLowerCase(java.util.Locale.ROOT).startsWith(name)).sorted().limit(8).toList();
  }

  /** "; did you mean x?" for a typo of a trained id, else "". */
  private static String didYouMean(String wanted, List<String> models) {
    List<String> close = closeIds(wanted, models);
    return close.isEmpty() ? "" : "; did you mean " + String.join(" or ", close) + "?";
  }

  /**
   * The trained ids fewest edits from {@code wanted}, when that is only a few (a typo: a letter left
   * out, a date mistyped); at most 3, sorted.
   */
  public static List<String> closeIds(String wanted, List<String> models) {
    String w = wanted.toLowerCase(java.util.Locale.ROOT);
    int most = Math.max(2, w.length() / 6);
    int[] edits = models.stream().mapToInt(m -> edits(w, m.toLowerCase(java.util.Locale.ROOT), most)).toArray();
    int fewest = java.util.Arrays.stream(edits).min().orElse(most + 1);
    List<String> close = new ArrayList<>();
    for (int i = 0; i < edits.length && fewest <= most; i++) {
      if (edits[i] == fewest) {
        close.add(models.get(i));
      }
    }
    return close.stream().sorted().limit(3).toList();
  }

  /** Levenshtein distance of {@code a} and {@code b}, or {@code most + 1} once it must exceed {@code most}. */
  private static int edits(String a, String b, int most) {
    if (Math.abs(a.length() - b.length()) > most) {
      return most + 1;
    }
    int[] prev = new int[b.length() + 1];
    int[] cur = new int[b.length() + 1];
    for (int j = 0; j <= b.length(); j++) {
      prev[j] = j;
    }
    for (int i = 1; i <= a.length(); i++) {
      cur[0] = i;
      int rowMin = cur[0];
      for (int j = 1; j <= b.length(); j++) {
        int sub = prev[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
        cur[j] = Math.min(sub, Math.min(prev[j], cur[j - 1]) + 1);
        rowMin = Math.min(rowMin, cur[j]);
      }
      if (rowMin > most) {
        return most + 1;
      }
      int[] t = prev;
      prev = cur;
      cur = t;
    }
    return Math.min(prev[b.length()], most + 1);
  }

  /** An upstream's {@code router_model}, which must be one of this directory's models. */
  private String known(io.routewise.config.UpstreamConfig upstream) throws IOException {
    List<String> models = placeableModels();
    if (!models.contains(upstream.routerModel())) {
      throw new IOException("upstreams." + upstream.name() + ".router_model '" + upstream.routerModel()
          + "' is not a model of " + dir + didYouMean(upstream.routerModel(), models) + "; it knows: "
          + String.join(", ", models.stream().sorted().toList()));
    }
    return upstream.routerModel();
  }

  public Path dir() {
    return dir;
  }

  public JsonNode manifest() {
    return manifest;
  }

  public String embeddingModel() {
    return manifest.path("embedding").path("model").asText();
  }

  public int embeddingDimension() {
    return manifest.path("embedding").path("dimension").asInt();
  }

  /**
   * The shared embedder this router uses: its {@code embedding_model} setting, else the configured
   * default ({@code embedding.model}). It must be the embedding the weights were trained on (the
   * manifest's {@code embedding.model}, and for a distilled table the same table, by digest), else the
   * router fails to load, saying how to fix it.
   */
  public Embedder embedder(RouterContext ctx) throws IOException {
    String setting = ctx.settings().string("embedding_model", null);
    String wanted = setting != null ? setting : ctx.embedders().defaultModelId();
    if (!wanted.equals(embeddingModel())) {
      throw new IOException(dir + " was trained on the embedding '" + embeddingModel() + "', but this router is set"
          + " to use '" + wanted + "' (" + (setting != null ? ctx.settings().pathOf("embedding_model")
          : "embedding.model") + "); retrain it with 'routewise train " + manifest.path("kind").asText("mf").replace("sw_ranking", "sw")
          + " --embedding-model " + wanted + "', or use the embedding it was trained on: "
          + ctx.settings().pathOf("embedding_model") + ": " + embeddingModel() + " in a config, --embedding-model "
          + embeddingModel() + " on the command line");
    }
    Embedder embedder;
    try {
      embedder = ctx.embedders().get(wanted);
    } catch (IllegalArgumentException | java.io.UncheckedIOException e) {
      throw new IOException(e.getMessage(), e);
    }
    checkEmbedder(embedder);
    return embedder;
  }

  /**
   * Fails unless the embedder gives vectors of the size the weights were trained on and, when the
   * manifest records the exact vectors ({@code embedding.fingerprint}, a distilled table's digest),
   * those same vectors.
   */
  public void checkEmbedder(Embedder embedder) throws IOException {
    if (embedder.dimension() != embeddingDimension()) {
      throw new IOException(dir.resolve("manifest.json") + ": embedding dimension " + embeddingDimension()
          + " does not match the embedder '" + embedder.modelId() + "' (" + embedder.dimension() + ")");
    }
    String trained = manifest.path("embedding").path("fingerprint").asText(null);
    if (trained != null && !trained.equals(embedder.fingerprint())) {
      throw new IOException(dir.resolve("manifest.json") + ": trained on the table '" + embedder.modelId()
          + "' with digest " + trained + ", but that table now has digest " + embedder.fingerprint()
          + " (it was distilled again or changed); retrain the router on it, or restore the table it was trained on");
    }
    inputRuleMismatch(embedder).ifPresent(LOG::warn);
  }

  /**
   * A warning when the embedder cuts prompts differently from the embeddings this model was trained
   * on (e.g. {@code embedding.max_tokens} changed): it still routes, but not as measured.
   */
  public java.util.Optional<String> inputRuleMismatch(Embedder embedder) {
    JsonNode e = manifest.path("embedding");
    String actual = embedder.inputRule();
    if (actual == null || !e.path("max_tokens").isInt() || !e.path("truncation").isTextual()) {
      return java.util.Optional.empty();
    }
    String trained = io.routewise.embedding.OnnxEmbedder.rule(e.path("max_tokens").asInt(), e.path("truncation").asText());
    return trained.equals(actual) ? java.util.Optional.empty() : java.util.Optional.of(dir + " was trained on embeddings of "
        + trained + " but the embedder now uses " + actual + " (embedding: in the config); routing quality will differ"
        + " from the model's measured figures");
  }

  public List<String> models() {
    List<String> out = new ArrayList<>();
    manifest.path("models").forEach(n -> out.add(n.asText()));
    return out;
  }

  /**
   * The models an upstream may be placed on: all but the manifest's {@code untrained_models}
   * (those that occurred only in held-out rows, whose vectors no training touched).
   */
  public List<String> placeableModels() {
    java.util.Set<String> untrained = new java.util.HashSet<>();
    manifest.path("untrained_models").forEach(n -> untrained.add(n.asText()));
    List<String> out = models();
    out.removeIf(untrained::contains);
    return out;
  }

  /**
   * The manifest's {@code "length": {mean, std}} as a {@link LengthScale}: a finite mean and a finite
   * std above 0 (an infinite std reads every prompt as of the mean length), else an error naming the file.
   */
  public LengthScale lengthScale() throws IOException {
    JsonNode len = manifest.path("length");
    double mean = len.path("mean").asDouble();
    double std = len.path("std").asDouble();
    if (!len.path("mean").isNumber() || !len.path("std").isNumber() || !Double.isFinite(mean) || !(std > 0)
        || !Double.isFinite(std)) {
      throw new IOException(dir.resolve("manifest.json") + ": \"length\" must give a finite number \"mean\" and a"
          + " finite positive \"std\", got " + len);
    }
    return new LengthScale(mean, std);
  }

  /**
   * A prior's weight from the manifest ({@code length_prior}, {@code gap_prior}): 0 where absent, else
   * a number in [0, 10], the range of the router setting of the same name that overrides it (a
   * negative one would favour the weaker model).
   */
  public double prior(String key) throws IOException {
    JsonNode v = manifest.path(key);
    if (v.isMissingNode()) {
      return 0;
    }
    if (!v.isNumber() || !(v.asDouble() >= 0 && v.asDouble() <= 10)) {
      throw new IOException(dir.resolve("manifest.json") + ": \"" + key + "\" must be a number in [0, 10], got " + v);
    }
    return v.asDouble();
  }

  public String text(String field, String fallback) {
    return manifest.path(field).isTextual() ? manifest.path(field).asText() : fallback;
  }

  /** Reads weight {@code name}, checking that its shape is as expected and the file has that many floats. */
  public float[] weights(String name, int... expectedShape) throws IOException {
    Path m = dir.resolve("manifest.json");
    JsonNode w = manifest.path("weights").path(name);
    if (!w.isObject() || !w.path("file").isTextual()) {
      throw new IOException(m + ": weights." + name + " is missing");
    }
    JsonNode shape = w.path("shape");
    long count = 1;
    for (int i = 0; i < expectedShape.length; i++) {
      if (shape.size() != expectedShape.length || shape.get(i).asLong() != expectedShape[i]) {
        throw new IOException(m + ": weights." + name + " has shape " + shape + ", expected "
            + java.util.Arrays.toString(expectedShape));
      }
      count *= expectedShape[i];
    }
    Path f = dir.resolve(w.path("file").asText()).normalize();
    if (!f.startsWith(dir.normalize())) {
      throw new IOException(m + ": weights." + name + " points outside the model directory");
    }
    if (!Files.isRegularFile(f)) {
      throw new NoSuchFileException(f + ": weights file missing");
    }
    if (Files.size(f) != count * 4) {
      throw new IOException(f + ": has " + Files.size(f) + " bytes, expected " + count * 4 + " (" + count
          + " float32 values)");
    }
    float[] values = readFloats(f, (int) count);
    for (int i = 0; i < values.length; i++) {
      if (!Float.isFinite(values[i])) {
        // one NaN in a model bias made every decision NaN (the gap prior sums over all models)
        throw new IOException(f + ": value " + i + " is " + values[i] + "; weights must be finite (retrain the model)");
      }
    }
    return values;
  }

  /**
   * The row of the trained model standing for each rung of {@code ladder}, top first, from the
   * placement made at start ({@code placed}: upstream name to row).
   *
   * @throws io.routewise.routing.RouterException {@code unplaced_upstream} for a rung with no row
   *     (an upstream added to the ladder after the router placed its own)
   */
  public static int[] ladderRows(io.routewise.routing.Ladder ladder, java.util.Map<String, Integer> placed, String router)
      throws io.routewise.routing.RouterException {
    int[] rows = new int[ladder.size()];
    for (int i = 0; i < rows.length; i++) {
      Integer row = placed.get(ladder.rung(i).upstream());
      if (row == null) {
        throw new io.routewise.routing.RouterException("unplaced_upstream",
            router + " has no model for upstream '" + ladder.rung(i).upstream() + "'");
      }
      rows[i] = row;
    }
    return rows;
  }

  public static float[] readFloats(Path f, int count) throws IOException {
    float[] out = new float[count];
    try (InputStream in = Files.newInputStream(f)) {
      byte[] buf = new byte[1 << 16];
      int idx = 0;
      ByteBuffer bb = ByteBuffer.allocate(buf.length + 4).order(ByteOrder.LITTLE_ENDIAN);
      int r;
      while ((r = in.read(buf)) > 0) {
        bb.put(buf, 0, r);
        bb.flip();
        while (bb.remaining() >= 4 && idx < count) {
          out[idx++] = bb.getFloat();
        }
        bb.compact();
      }
    }
    return out;
  }

  /**
   * Writes little-endian floats. A non-finite value is refused, as loading would refuse it: a
   * training run that diverged (a learning rate too high, an infinite score) fails here, before it
   * replaces a model, instead of writing one that cannot serve.
   */
  public static void writeFloats(Path f, float[] values) throws IOException {
    ByteBuffer bb = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < values.length; i++) {
      if (!Float.isFinite(values[i])) {
        throw new IOException("training diverged: " + f.getFileName() + " value " + i + " is " + values[i]
            + "; nothing was written (check the data for infinite scores, or lower --lr)");
      }
      bb.putFloat(values[i]);
    }
    Files.write(f, bb.array());
  }

  public static ObjectNode newManifest(String kind) {
    ObjectNode m = JSON.createObjectNode();
    m.put("format_version", FORMAT_VERSION);
    m.put("kind", kind);
    return m;
  }

  public static ObjectMapper json() {
    return JSON;
  }

  public static void writeManifest(Path dir, ObjectNode manifest) throws IOException {
    Files.createDirectories(dir);
    JSON.writeValue(dir.resolve("manifest.json").toFile(), manifest);
  }

  public static String sha256(Path file) throws IOException {
    try {
      MessageDigest d = MessageDigest.getInstance("SHA-256");
      try (InputStream in = Files.newInputStream(file)) {
        byte[] buf = new byte[1 << 16];
        int r;
        while ((r = in.read(buf)) > 0) {
          d.update(buf, 0, r);
        }
      }
      return HexFormat.of().formatHex(d.digest());
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
