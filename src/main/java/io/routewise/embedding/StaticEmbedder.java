package io.routewise.embedding;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A static sentence embedding: the weighted mean of a distilled table's token vectors
 * ({@link StaticTable}, made by {@code routewise distill}), L2-normalized, over the tokens the
 * table's {@link StaticTable.TokenBudget} reads: every token, or (the shipped table) the first 63
 * and last 63 of a longer prompt, the tokens MiniLM reads and the table was aligned on; the middle
 * of a long prompt is then skipped from space to space, not tokenized, so a decision costs about the
 * same at 4,000 tokens as at 130 (a long stretch with no space, such as base64, is tokenized whole,
 * since both ends stop and start only at a space: a text past 16,128 characters is first cut to its
 * first and last 8,064, as MiniLM's reading cuts it).
 * Tokenized by {@link WordPieceTokenizer} (the ids Hugging Face's tokenizer gives), without [CLS] and
 * [SEP].
 *
 * <p>A decision costs microseconds (tokenizing and adding up to a few hundred rows; ~0.1 µs a
 * token, about what parsing the JSON body it came in costs), so this embedder is not {@link
 * #cpuBound()}: routers over it score on the request thread, with no scoring thread, queue or cache.
 * A text with no token at all embeds as the zero vector.
 *
 * <p>Each token adds its weight times its int8 row to a float sum (the JIT vectorizes this loop; an
 * int sum of the bytes measured five times slower), four rows a pass, scaled once per dimension at
 * the end; in a long text each distinct token is added once, times its count ({@link #COUNT_FROM}).
 *
 * <p>Immutable and safe for concurrent use; each call allocates its result, the token ids (and, for a
 * long text, a count per vocabulary token, 122 KB) and the tokenizer's buffer (two bytes a
 * character). Holds no native resource.
 */
public final class StaticEmbedder implements Embedder {
  private final String id;
  private final String digest;
  private final WordPieceTokenizer tokenizer;
  private final int dimension;
  private final byte[] int8;
  private final float[] float32;
  private final float[] weights;
  // Every token weighs 1 or 0 (the shipped table: a plain mean, 0 for [PAD] and the unused pieces):
  // with the weight-0 rows zero, as a fold's copy makes them, no weight to read or multiply a token.
  private final boolean zeroOrOne;
  // The same for the table's own int8 rows: weights 0 or 1 and every weight-0 row already zero.
  private final boolean plainMean;
  // One per dimension, applied once to the sum.
  private final float[] scales;
  // The table's token budget: the first head and last tail tokens of a longer text; 0 and 0: every token.
  private final StaticTable.TokenBudget budget;
  private final int head;
  private final int tail;

  public StaticEmbedder(String id, String digest, StaticTable table, WordPieceTokenizer tokenizer) {
    this.head = table.tokenBudget().head();
    this.tail = table.tokenBudget().tail();
    this.budget = table.tokenBudget();
    if (tokenizer.vocabSize() != table.vocabSize()) {
      throw new IllegalArgumentException(id + ": the table has " + table.vocabSize() + " tokens, the tokenizer "
          + tokenizer.vocabSize());
    }
    this.id = id;
    this.digest = digest;
    this.tokenizer = tokenizer;
    this.dimension = table.dimension();
    this.int8 = table.int8();
    this.float32 = table.float32();
    this.weights = table.tokenWeights();
    this.scales = table.scales();
    boolean binary = true;
    boolean zeroRows = int8 != null;
    for (int t = 0; t < weights.length; t++) {
      binary &= weights[t] == 1f || weights[t] == 0f;
      for (int d = 0; zeroRows && weights[t] == 0f && d < dimension; d++) {
        zeroRows = int8[t * dimension + d] == 0;
      }
    }
    this.zeroOrOne = binary && int8 != null;
    this.plainMean = binary && zeroRows;
  }

  /**
   * Loads the table in {@code dir} under the id {@code id} (its directory name), with the tokenizer
   * of the model it was distilled from, read from its jar.
   */
  public static StaticEmbedder load(String id, Path dir) throws IOException {
    StaticTable table = StaticTable.read(dir);
    EmbeddingModel model = EmbeddingModel.byId(table.tokenizerModel()).orElseThrow();
    String digest = StaticTable.digestOf(StaticTable.manifestOf(dir));
    return new StaticEmbedder(id, digest, table, WordPieceTokenizer.of(model));
  }

  /** Whether the table is int8 (as {@code distill} writes it), so that it can {@link #fold}. */
  public boolean isInt8() {
    return int8 != null;
  }

  public WordPieceTokenizer tokenizer() {
    return tokenizer;
  }

  @Override
  public float[] embed(String text) {
    return embed(text, null, null);
  }

  /**
   * A linear map of the embedding folded into the table: for a {@code k x dimension} matrix {@code M},
   * {@code M} times each token's (scaled) row, so that {@code M e} of a prompt costs {@code k} bytes a
   * token instead of a {@code k x dimension} product after the sum. A router whose first step is such
   * a product (mf's gap prior: 66 x 256) folds it once at load. Each token's folded bytes are stored
   * right after a copy of its row ({@code width} bytes a token in all): one pass over the tokens adds
   * both, reading one contiguous run of memory a token. Kept apart, the folded rows cost a second
   * loop and a second cache miss a token, which made the fold slower than the product it replaced from
   * ~130 tokens on (BENCHMARKS.md section 7). int8 with one scale per output.
   */
  public record Folded(byte[] rows, float[] scales, int k, int width) {}

  /**
   * Folds {@code matrix} ({@code k x dimension}, row-major) into a copy of this int8 table; {@code
   * dimension + k} bytes a token, rounded up to a multiple of 8.
   */
  public Folded fold(float[] matrix, int k) {
    if (matrix.length != k * dimension) {
      throw new IllegalArgumentException("a " + k + " x " + dimension + " matrix has " + k * dimension + " entries, not "
          + matrix.length);
    }
    if (int8 == null) {
      throw new IllegalStateException(id + " is a float32 table; only an int8 table folds");
    }
    int vocab = weights.length;
    float[][] transposed = new float[dimension][k]; // so each row folds as k-wide axpys (vectorized)
    for (int j = 0; j < k; j++) {
      for (int d = 0; d < dimension; d++) {
        transposed[d][j] = matrix[j * dimension + d] * scales[d];
      }
    }
    float[] folded = new float[vocab * k];
    float[] row = new float[k];
    for (int t = 0; t < vocab; t++) {
      java.util.Arrays.fill(row, 0f);
      for (int d = 0; d < dimension; d++) {
        axpy(int8[t * dimension + d], transposed[d], row);
      }
      System.arraycopy(row, 0, folded, t * k, k);
    }
    float[] max = new float[k];
    for (int i = 0; i < folded.length; i++) {
      max[i % k] = Math.max(max[i % k], Math.abs(folded[i]));
    }
    float[] foldScales = new float[k];
    for (int j = 0; j < k; j++) {
      foldScales[j] = max[j] > 0 ? max[j] / 127f : 1f;
    }
    int width = (dimension + k + 7) & ~7;
    byte[] rows = new byte[vocab * width];
    for (int t = 0; t < vocab; t++) {
      if (zeroOrOne && weights[t] == 0f) {
        continue; // a token no text sums stays zero, so the sum needs no weights (scales unchanged)
      }
      System.arraycopy(int8, t * dimension, rows, t * width, dimension);
      for (int j = 0; j < k; j++) {
        rows[t * width + dimension + j] = (byte) Math.round(folded[t * k + j] / foldScales[j]);
      }
    }
    return new Folded(rows, foldScales, k, width);
  }

  /**
   * {@code y += a * x}, element by element (the same sums, in the same order, as inline). Its own
   * method, each array indexed from 0: written inline in {@link #fold}'s loops (one flat array read at
   * two offsets) C2 left it scalar, and the fold (vocab x dimension x k: 0.5 G products for mf) was
   * the largest part of serve's start.
   */
  private static void axpy(float a, float[] x, float[] y) {
    for (int j = 0; j < y.length; j++) {
      y[j] += a * x[j];
    }
  }

  /** Whether a text's rows are summed without weights: on {@code folded} (or the table's own rows when null). */
  boolean sumsWithoutWeights(Folded folded) {
    return folded != null ? zeroOrOne : plainMean;
  }

  /**
   * The embedding of {@code text} and, when {@code folded} is given, {@code M e} into {@code projected}
   * (length {@code folded.k()}): the same weighted sum over the folded bytes, divided by the same norm.
   * Only below {@link #COUNT_FROM} tokens: past it the product after the sum is cheaper than k more
   * bytes a distinct token, and {@code projected[0]} is set to NaN instead.
   */
  public float[] embed(String text, Folded folded, float[] projected) {
    Ids ids = ids(text);
    int n = ids.n;
    int[] tokens = ids.ids;
    float[] w;
    if (folded != null && n >= COUNT_FROM) {
      projected[0] = Float.NaN;
      folded = null;
    }
    if (n >= COUNT_FROM) {
      int[] counts = new int[n];
      n = distinct(ids, counts);
      w = new float[n];
      for (int i = 0; i < n; i++) {
        w[i] = weights[tokens[i]] * counts[i];
      }
    } else if (sumsWithoutWeights(folded)) {
      w = null;
    } else {
      w = new float[n];
      for (int i = 0; i < n; i++) {
        w[i] = weights[tokens[i]];
      }
    }
    float[] v;
    if (folded != null) {
      v = new float[folded.width()];
      sumInt8(folded.rows(), folded.width(), v, tokens, w, n);
    } else if (int8 != null) {
      v = new float[dimension];
      sumInt8(int8, dimension, v, tokens, w, n);
    } else {
      v = new float[dimension];
      for (int i = 0; i < n; i++) {
        int off = tokens[i] * dimension;
        for (int d = 0; d < dimension; d++) {
          v[d] += w[i] * float32[off + d];
        }
      }
    }
    double sq = 0;
    for (int d = 0; d < dimension; d++) {
      v[d] *= scales[d];
      sq += (double) v[d] * v[d];
    }
    float inv = sq > 0 ? (float) (1.0 / Math.sqrt(sq)) : 0f; // as OnnxEmbedder.normalize
    for (int d = 0; d < dimension; d++) {
      v[d] *= inv;
    }
    if (folded != null) {
      float[] foldScales = folded.scales();
      for (int j = 0; j < folded.k(); j++) {
        projected[j] = v[dimension + j] * foldScales[j] * inv;
      }
      v = java.util.Arrays.copyOf(v, dimension);
    }
    return v;
  }

  /**
   * From this many tokens on, each distinct token's row is added once, times its count: a long text
   * repeats its tokens (at 4,000 tokens of our prompts, 23 % are distinct), and a row costs more to
   * add (256 bytes, often from memory) than a token costs to count. Measured on the row sums alone:
   * even at ~700 tokens, 0.7x-0.8x from 1,300 tokens, 0.72x at 4,000; slower below ~500.
   */
  static final int COUNT_FROM = 512;

  /**
   * Rewrites {@code ids} to its distinct tokens in ascending order and puts each one's count in
   * {@code counts}; returns how many there are. Counted in a vocabulary-sized array and listed from a
   * bitmap of the tokens seen: cheaper than a hash table, and ascending ids read the table's rows
   * front to back, which the memory prefetcher follows (at 4,000 tokens, distinct rows and their sum
   * 49 µs p50 against 93 µs with a hash table in its order; BENCHMARKS.md section 7).
   */
  private int distinct(Ids ids, int[] counts) {
    long[] seen = new long[(weights.length + 63) >>> 6];
    int[] perToken = new int[weights.length]; // int, not char: a huge body can repeat a token 65,536 times
    int[] tokens = ids.ids;
    for (int i = 0; i < ids.n; i++) {
      int t = tokens[i];
      seen[t >>> 6] |= 1L << t;
      perToken[t]++;
    }
    int n = 0;
    for (int word = 0; word < seen.length; word++) {
      for (long bits = seen[word]; bits != 0; bits &= bits - 1) {
        int t = word << 6 | Long.numberOfTrailingZeros(bits);
        tokens[n] = t;
        counts[n++] = perToken[t];
      }
    }
    return n;
  }

  /**
   * {@code v += sum of w[i] * row(tokens[i])} over rows of {@code dim} bytes, four rows a pass: {@code v} is loaded and stored once
   * for four rows instead of once a row (0.67x the time at ~330 tokens, 0.72x at 4,000, SumAB). {@code w} null: every
   * weight 1, the weightless loop below.
   */
  private static void sumInt8(byte[] int8, int dim, float[] v, int[] tokens, float[] w, int n) {
    if (w == null) {
      sumInt8(int8, dim, v, tokens, n);
      return;
    }
    int i = 0;
    for (; i + 3 < n; i += 4) {
      int a = tokens[i] * dim;
      int b = tokens[i + 1] * dim;
      int c = tokens[i + 2] * dim;
      int e = tokens[i + 3] * dim;
      float wa = w[i];
      float wb = w[i + 1];
      float wc = w[i + 2];
      float we = w[i + 3];
      for (int d = 0; d < dim; d++) {
        v[d] += wa * int8[a + d] + wb * int8[b + d] + wc * int8[c + d] + we * int8[e + d];
      }
    }
    for (; i < n; i++) {
      int a = tokens[i] * dim;
      float wa = w[i];
      for (int d = 0; d < dim; d++) {
        v[d] += wa * int8[a + d];
      }
    }
  }

  /**
   * As the weighted sum with every weight 1, in the same order, so the same floats: a quarter fewer
   * operations a byte, and no weight to load a token (a 120 KB array, mostly cold inside the proxy).
   */
  private static void sumInt8(byte[] int8, int dim, float[] v, int[] tokens, int n) {
    int i = 0;
    for (; i + 3 < n; i += 4) {
      int a = tokens[i] * dim;
      int b = tokens[i + 1] * dim;
      int c = tokens[i + 2] * dim;
      int e = tokens[i + 3] * dim;
      for (int d = 0; d < dim; d++) {
        v[d] += (float) int8[a + d] + int8[b + d] + int8[c + d] + int8[e + d];
      }
    }
    for (; i < n; i++) {
      int a = tokens[i] * dim;
      for (int d = 0; d < dim; d++) {
        v[d] += int8[a + d];
      }
    }
  }

  /**
   * The ids the sum reads: every token of {@code text}, or with a budget its first {@link #head} and
   * last {@link #tail} tokens when it has more, read without tokenizing the middle: the head until
   * it has {@code head} tokens, the tail from a space a few characters a token before the end (wider
   * until it gives {@code tail} tokens, or reaches the head's end, where the two halves are the whole
   * text). The same ids as tokenizing everything and cutting, for a text within the character bound
   * ({@link Truncation#trimText}); past it, those of its first and last characters.
   */
  private Ids ids(String text) {
    if (head + tail == 0) {
      Ids ids = new Ids(text.length() / 3 + 16); // ~3.5 characters a token in our prompts: rarely regrown
      tokenizer.tokenize(text, ids);
      return ids;
    }
    // A text far longer than its budget could span is first cut by characters, as MiniLM's reading
    // cuts it (64 a token each side: 8,064 for 63 + 63): a long stretch without a space, where
    // both ends can only stop at a space, then costs what 16,000 characters do, not its length.
    text = (tail > 0 ? Truncation.HEAD_TAIL : Truncation.HEAD).trimText(text, head + tail);
    Ids ids = new Ids(Math.min(text.length() / 3, head + tail) + 16);
    ids.limit = head;
    int stop = tokenizer.tokenize(text, 0, ids);
    if (stop < text.length()) {
      Ids end = new Ids(Math.min(text.length() / 3, 2 * tail) + 16);
      int from = stop;
      for (long window = (long) TAIL_CHARS_A_TOKEN * tail; tail > 0; window *= 2) {
        from = text.length() - window <= stop ? stop : tokenizer.spaceAtOrAfter(text, (int) (text.length() - window));
        end.n = 0;
        tokenizer.tokenize(text, from, end);
        if (from == stop || end.n >= tail) {
          break;
        }
      }
      // From the head's end: the two are the whole text. From further on: the end's last tail.
      for (int i = from > stop ? end.n - tail : 0; i < end.n; i++) {
        ids.accept(end.ids[i]);
      }
    }
    if (ids.n > head + tail) { // a run of text longer than the budget, or head and end together
      System.arraycopy(ids.ids, ids.n - tail, ids.ids, head, tail);
      ids.n = head + tail;
    }
    return ids;
  }

  /** The ids the sum reads, in order (tests). */
  int[] tokenIds(String text) {
    Ids ids = ids(text);
    return java.util.Arrays.copyOf(ids.ids, ids.n);
  }

  /** Characters a token the tail's first window allows (our prompts: ~3.5), so it rarely widens. */
  private static final int TAIL_CHARS_A_TOKEN = 5;

  /** The token ids of one text, in order. */
  private static final class Ids implements WordPieceTokenizer.TokenSink {
    int[] ids;
    int n;
    int limit = Integer.MAX_VALUE;

    Ids(int capacity) {
      ids = new int[capacity];
    }

    @Override
    public boolean full() {
      return n >= limit;
    }

    @Override
    public void accept(int id) {
      if (n == ids.length) {
        ids = java.util.Arrays.copyOf(ids, n * 2);
      }
      ids[n++] = id;
    }
  }

  /**
   * Microseconds (linear in the tokens read; with a budget, a long text is cut by characters first,
   * ~2 ms at most): scored on the request thread.
   */
  @Override
  public boolean cpuBound() {
    return false;
  }

  @Override
  public int dimension() {
    return dimension;
  }

  @Override
  public String inputRule() {
    return budget.describe();
  }

  @Override
  public String modelId() {
    return id;
  }

  @Override
  public String fingerprint() {
    return digest;
  }
}
