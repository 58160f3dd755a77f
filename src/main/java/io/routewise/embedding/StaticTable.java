package io.routewise.embedding;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * A distilled static embedding on disk: one vector per token of a tokenizer's vocabulary, a weight
 * per token, and a manifest saying how they were made ({@code routewise distill}). The directory
 * holds, like a router's model directory, a {@code manifest.json} and raw little-endian files:
 *
 * <pre>
 * {
 *   "format_version": 2, "kind": "static_embedding",          (1: no token_budget, every token read)
 *   "dimension": 256, "vocab_size": 30522,
 *   "tokenizer": {"model": "all-minilm-l6-v2-q", "resource": "...-tokenizer.json", "sha256": "..."},
 *   "weights": {"vectors": {"file": "vectors.i8", "dtype": "int8", "shape": [30522, 256]},
 *               "scales": {"file": "scales.f32", "dtype": "float32", "shape": [256]},
 *               "token_weights": {"file": "token_weights.f32", "dtype": "float32", "shape": [30522]}},
 *   "token_budget": {"head": 63, "tail": 63},
 *   "digest": "sha256 of the three files, in that order, then the budget's head and tail (int32 LE; none without one)",
 *   "recipe": {...how the vectors and weights were made, for people}
 * }
 * </pre>
 *
 * A token's vector is {@code scales[d] * vectors[t][d]} (int8, one scale per dimension; or float32
 * vectors with unit scales), and a text's embedding is {@code normalize(sum over the tokens it reads of
 * token_weights[t] * vector[t])} ({@link StaticEmbedder}); without {@code token_budget} it reads every
 * token. One scale per dimension, rather than per
 * token, is applied once to a prompt's sum instead of once per token.
 *
 * <p>Immutable once built; the arrays are not copied, callers must not change them.
 */
public final class StaticTable {
  public static final String KIND = "static_embedding";
  /**
   * The manifest's format: 2 for a table with a {@code token_budget}, 1 for one without (every
   * token, as before budgets), so a build that knows only 1 refuses a budgeted table by its version
   * instead of reading every token or calling it damaged.
   */
  public static final int FORMAT_VERSION = 2;
  private static final int FORMAT_EVERY_TOKEN = 1;
  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  private final int vocab;
  private final int dimension;
  private final byte[] int8;
  private final float[] float32;
  private final float[] scales;
  private final float[] tokenWeights;
  private final String tokenizerModel;
  private final TokenBudget budget;

  /**
   * Which tokens of a text the table sums: its first {@code head} and last {@code tail} when it has
   * more than {@code head + tail}, every token when both are 0. Part of the table (its manifest and
   * digest), since a router trained on one reading is not trained on another.
   */
  public record TokenBudget(int head, int tail) {
    public static final TokenBudget ALL = new TokenBudget(0, 0);

    public TokenBudget {
      if (head < 0 || tail < 0) {
        throw new IllegalArgumentException("a token budget needs head and tail >= 0, got " + head + " and " + tail);
      }
    }

    /** {@code max} tokens split as MiniLM's head-and-tail truncation splits its body: the odd one to the head. */
    public static TokenBudget headAndTail(int max) {
      return new TokenBudget((max + 1) / 2, max / 2);
    }

    public boolean all() {
      return head + tail == 0;
    }

    /** {@code ids} as the table reads them: itself when it fits, else its first head and last tail. */
    public int[] cut(int[] ids) {
      if (all() || ids.length <= head + tail) {
        return ids;
      }
      int[] kept = java.util.Arrays.copyOf(ids, head + tail);
      System.arraycopy(ids, ids.length - tail, kept, head, tail);
      return kept;
    }

    /** In words, for manifests and logs. */
    public String describe() {
      return all() ? "all tokens" : "first " + head + " and last " + tail + " tokens";
    }
  }

  private StaticTable(int vocab, int dimension, byte[] int8, float[] float32, float[] scales, float[] tokenWeights,
      String tokenizerModel, TokenBudget budget) {
    this.vocab = vocab;
    this.dimension = dimension;
    this.int8 = int8;
    this.float32 = float32;
    this.scales = scales;
    this.tokenWeights = tokenWeights;
    this.tokenizerModel = tokenizerModel;
    this.budget = budget;
  }

  /** This table reading {@code budget} of a text's tokens. */
  public StaticTable withTokenBudget(TokenBudget budget) {
    return new StaticTable(vocab, dimension, int8, float32, scales, tokenWeights, tokenizerModel, budget);
  }

  /** Which of a text's tokens it sums. */
  public TokenBudget tokenBudget() {
    return budget;
  }

  /** Float32 vectors ({@code vocab x dimension}, row-major) with a weight per token. */
  public static StaticTable ofFloats(int vocab, int dimension, float[] vectors, float[] tokenWeights,
      String tokenizerModel) {
    check(vocab, dimension, vectors.length, tokenWeights.length);
    float[] ones = new float[dimension];
    java.util.Arrays.fill(ones, 1f);
    return new StaticTable(vocab, dimension, null, vectors, ones, tokenWeights, tokenizerModel, TokenBudget.ALL);
  }

  /** Int8 vectors with one scale per dimension, and a weight per token. */
  public static StaticTable ofInt8(int vocab, int dimension, byte[] vectors, float[] scales, float[] tokenWeights,
      String tokenizerModel) {
    check(vocab, dimension, vectors.length, tokenWeights.length);
    if (scales.length != dimension) {
      throw new IllegalArgumentException("one scale per dimension expected: " + scales.length + " for " + dimension);
    }
    return new StaticTable(vocab, dimension, vectors, null, scales, tokenWeights, tokenizerModel, TokenBudget.ALL);
  }

  private static void check(int vocab, int dimension, int values, int weights) {
    if (vocab <= 0 || dimension <= 0 || (long) vocab * dimension != values || weights != vocab) {
      throw new IllegalArgumentException("inconsistent static table: " + vocab + " x " + dimension + ", " + values
          + " values, " + weights + " token weights");
    }
  }

  /**
   * Symmetric int8, one scale per dimension: the largest magnitude of a dimension over the tokens
   * that count (weight not 0) becomes 127, values rounded to nearest (and clipped, for tokens of
   * weight 0, which no text sums). A dimension that is 0 everywhere keeps a zero scale.
   */
  public StaticTable quantized() {
    if (int8 != null) {
      return this;
    }
    float[] s = new float[dimension];
    for (int t = 0; t < vocab; t++) {
      if (tokenWeights[t] != 0) {
        for (int d = 0; d < dimension; d++) {
          s[d] = Math.max(s[d], Math.abs(float32[t * dimension + d]));
        }
      }
    }
    float[] inv = new float[dimension];
    for (int d = 0; d < dimension; d++) {
      inv[d] = s[d] > 0 ? 127f / s[d] : 0f;
      s[d] /= 127f;
    }
    byte[] q = new byte[vocab * dimension];
    for (int t = 0; t < vocab; t++) {
      for (int d = 0; d < dimension; d++) {
        q[t * dimension + d] = (byte) Math.max(-127, Math.min(127, Math.round(float32[t * dimension + d] * inv[d])));
      }
    }
    return new StaticTable(vocab, dimension, q, null, s, tokenWeights, tokenizerModel, budget);
  }

  public int vocabSize() {
    return vocab;
  }

  public int dimension() {
    return dimension;
  }

  public boolean isInt8() {
    return int8 != null;
  }

  /** The int8 vectors (null for a float32 table). */
  byte[] int8() {
    return int8;
  }

  /** The float32 vectors (null for an int8 table). */
  float[] float32() {
    return float32;
  }

  float[] scales() {
    return scales;
  }

  public float[] tokenWeights() {
    return tokenWeights;
  }

  /** The embedding model whose tokenizer gives this table's token ids. */
  public String tokenizerModel() {
    return tokenizerModel;
  }

  /** Token {@code t}'s vector as stored (dequantized), without its weight. */
  public float[] vector(int t) {
    float[] v = new float[dimension];
    for (int d = 0; d < dimension; d++) {
      v[d] = int8 != null ? scales[d] * int8[t * dimension + d] : float32[t * dimension + d];
    }
    return v;
  }

  /**
   * Writes the table into {@code dir}: the weight files and a manifest with their digest, the
   * tokenizer's identity and {@code recipe} (free-form, for people). Deterministic: the same table
   * and recipe give the same bytes.
   */
  public void write(Path dir, JsonNode recipe) throws IOException {
    Files.createDirectories(dir);
    EmbeddingModel model = EmbeddingModel.byId(tokenizerModel).orElseThrow();
    byte[] vectors = int8 != null ? int8.clone() : floats(float32);
    byte[] scaleBytes = floats(scales);
    byte[] weightBytes = floats(tokenWeights);
    String vectorsFile = int8 != null ? "vectors.i8" : "vectors.f32";
    Files.write(dir.resolve(vectorsFile), vectors);
    Files.write(dir.resolve("scales.f32"), scaleBytes);
    Files.write(dir.resolve("token_weights.f32"), weightBytes);
    ObjectNode m = JSON.createObjectNode();
    m.put("format_version", budget.all() ? FORMAT_EVERY_TOKEN : FORMAT_VERSION);
    m.put("kind", KIND);
    m.put("dimension", dimension);
    m.put("vocab_size", vocab);
    ObjectNode tok = m.putObject("tokenizer");
    tok.put("model", tokenizerModel);
    tok.put("resource", model.tokenizerResource());
    tok.put("sha256", sha256(resourceBytes(model.tokenizerResource())));
    ObjectNode w = m.putObject("weights");
    file(w, "vectors", vectorsFile, int8 != null ? "int8" : "float32", vocab, dimension);
    file(w, "scales", "scales.f32", "float32", dimension);
    file(w, "token_weights", "token_weights.f32", "float32", vocab);
    if (!budget.all()) {
      m.putObject("token_budget").put("head", budget.head()).put("tail", budget.tail());
    }
    m.put("digest", digest(vectors, scaleBytes, weightBytes, budgetBytes(budget)));
    m.set("recipe", recipe);
    JSON.writeValue(dir.resolve("manifest.json").toFile(), m);
  }

  private static void file(ObjectNode weights, String name, String file, String dtype, int... shape) {
    ObjectNode f = weights.putObject(name);
    f.put("file", file);
    f.put("dtype", dtype);
    var s = f.putArray("shape");
    for (int x : shape) {
      s.add(x);
    }
  }

  /** A table directory's manifest, checked for its kind and version; null when {@code dir} holds none. */
  public static JsonNode manifestOf(Path dir) throws IOException {
    Path m = dir.resolve("manifest.json");
    if (!Files.isRegularFile(m)) {
      return null;
    }
    JsonNode node;
    try {
      node = JSON.readTree(m.toFile());
    } catch (IOException e) {
      throw new IOException(m + ": not valid JSON: " + e.getMessage(), e);
    }
    return node != null && KIND.equals(node.path("kind").asText()) ? node : null;
  }

  /**
   * Reads the table in {@code dir}, checking the manifest, the file sizes, the digest and that the
   * tokenizer on the classpath is the one the table was made with.
   *
   * @throws IOException naming the file and what is wrong
   */
  public static StaticTable read(Path dir) throws IOException {
    Path mf = dir.resolve("manifest.json");
    if (!Files.isRegularFile(mf)) {
      throw new NoSuchFileException(mf + ": missing (not a static embedding directory; make one with 'routewise distill')");
    }
    JsonNode m = JSON.readTree(mf.toFile());
    if (m == null || !KIND.equals(m.path("kind").asText())) {
      throw new IOException(mf + ": kind must be '" + KIND + "'");
    }
    int version = m.path("format_version").asInt(-1);
    if (version != FORMAT_VERSION && version != FORMAT_EVERY_TOKEN) {
      throw new IOException(mf + ": format_version " + m.path("format_version") + " is not supported (expected "
          + FORMAT_EVERY_TOKEN + " or " + FORMAT_VERSION + ")");
    }
    int vocab = m.path("vocab_size").asInt(-1);
    int dim = m.path("dimension").asInt(-1);
    if (vocab <= 0 || dim <= 0) {
      throw new IOException(mf + ": vocab_size and dimension must be positive");
    }
    String tokModel = m.path("tokenizer").path("model").asText();
    EmbeddingModel model = EmbeddingModel.byId(tokModel).orElseThrow(() -> new IOException(mf
        + ": tokenizer.model '" + tokModel + "' is not a known embedding model (" + EmbeddingModel.ids() + ")"));
    String tokSha = sha256(resourceBytes(model.tokenizerResource()));
    if (!tokSha.equals(m.path("tokenizer").path("sha256").asText())) {
      throw new IOException(mf + ": made with another " + model.tokenizerResource() + " (sha256 "
          + m.path("tokenizer").path("sha256").asText() + ") than the one on the classpath (" + tokSha + ")");
    }
    JsonNode w = m.path("weights");
    String dtype = w.path("vectors").path("dtype").asText();
    if (!dtype.equals("int8") && !dtype.equals("float32")) {
      throw new IOException(mf + ": weights.vectors.dtype must be int8 or float32, got '" + dtype + "'");
    }
    byte[] vectors = bytes(dir, mf, w, "vectors", (long) vocab * dim * (dtype.equals("int8") ? 1 : 4));
    byte[] scaleBytes = bytes(dir, mf, w, "scales", dim * 4L);
    byte[] weightBytes = bytes(dir, mf, w, "token_weights", vocab * 4L);
    TokenBudget budget = TokenBudget.ALL;
    JsonNode b = m.path("token_budget");
    if (b.isMissingNode() != (version == FORMAT_EVERY_TOKEN)) {
      throw new IOException(mf + ": format_version " + version + (version == FORMAT_EVERY_TOKEN
          ? " has no token_budget, but one is given" : " needs a token_budget"));
    }
    if (!b.isMissingNode()) {
      if (!b.path("head").isInt() || !b.path("tail").isInt() || b.path("head").asInt() < 0 || b.path("tail").asInt() < 0) {
        throw new IOException(mf + ": token_budget needs head and tail, whole numbers >= 0, got " + b);
      }
      budget = new TokenBudget(b.path("head").asInt(), b.path("tail").asInt());
    }
    String digest = digest(vectors, scaleBytes, weightBytes, budgetBytes(budget));
    if (!digest.equals(m.path("digest").asText())) {
      throw new IOException(mf + ": digest " + m.path("digest").asText() + " does not match the files (" + digest
          + "): the table was changed or damaged");
    }
    float[] weights = finite(toFloats(weightBytes), mf, "token_weights");
    float[] scales = finite(toFloats(scaleBytes), mf, "scales");
    return dtype.equals("int8")
        ? new StaticTable(vocab, dim, vectors, null, scales, weights, tokModel, budget)
        : new StaticTable(vocab, dim, null, finite(toFloats(vectors), mf, "vectors"), scales, weights, tokModel, budget);
  }

  /** The digest guards against damage, not against a table written with a NaN, which every prompt would carry. */
  private static float[] finite(float[] values, Path mf, String name) throws IOException {
    for (int i = 0; i < values.length; i++) {
      if (!Float.isFinite(values[i])) {
        throw new IOException(mf + ": " + name + " value " + i + " is " + values[i] + "; a table's values must be finite");
      }
    }
    return values;
  }

  private static byte[] bytes(Path dir, Path mf, JsonNode weights, String name, long expected) throws IOException {
    JsonNode f = weights.path(name);
    if (!f.path("file").isTextual()) {
      throw new IOException(mf + ": weights." + name + " is missing");
    }
    Path p = dir.resolve(f.path("file").asText()).normalize();
    if (!p.startsWith(dir.normalize())) {
      throw new IOException(mf + ": weights." + name + " points outside the directory");
    }
    if (!Files.isRegularFile(p)) {
      throw new NoSuchFileException(p + ": file missing");
    }
    if (Files.size(p) != expected) {
      throw new IOException(p + ": has " + Files.size(p) + " bytes, expected " + expected);
    }
    return Files.readAllBytes(p);
  }

  /** The manifest's digest of a table directory, without reading its vectors. */
  public static String digestOf(JsonNode manifest) {
    return manifest.path("digest").asText();
  }

  static String digest(byte[]... parts) {
    try {
      MessageDigest d = MessageDigest.getInstance("SHA-256");
      for (byte[] p : parts) {
        d.update(p);
      }
      return HexFormat.of().formatHex(d.digest());
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * The budget's part of the digest: nothing for every token (so a table without one keeps the
   * digest it always had), else its two numbers.
   */
  private static byte[] budgetBytes(TokenBudget budget) {
    return budget.all() ? new byte[0]
        : ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putInt(budget.head()).putInt(budget.tail()).array();
  }

  static String sha256(byte[] bytes) {
    return digest(bytes);
  }

  static byte[] resourceBytes(String resource) throws IOException {
    try (var in = StaticTable.class.getClassLoader().getResourceAsStream(resource)) {
      if (in == null) {
        throw new IOException("resource " + resource + " is not on the classpath");
      }
      return in.readAllBytes();
    }
  }

  static byte[] floats(float[] values) {
    ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    for (float v : values) {
      b.putFloat(v);
    }
    return b.array();
  }

  static float[] toFloats(byte[] bytes) {
    float[] out = new float[bytes.length / 4];
    ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(out);
    return out;
  }
}
