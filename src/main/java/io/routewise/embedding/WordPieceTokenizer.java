package io.routewise.embedding;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.text.Normalizer;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * BERT's uncased WordPiece tokenizer in plain Java, read from a Hugging Face {@code tokenizer.json}.
 * It gives the ids Hugging Face tokenizers gives (DJL runs that through JNI) for the one pipeline
 * MiniLM's file describes, and refuses any other file:
 *
 * <ul>
 *   <li>special tokens ({@code added_tokens}, not normalized) are cut out of the raw text first;
 *   <li>{@code BertNormalizer}: control characters dropped, whitespace made a space, a space put
 *       around each CJK ideograph, NFD with non-spacing marks dropped, lower case;
 *   <li>{@code BertPreTokenizer}: split on spaces, each punctuation character a word of its own;
 *   <li>{@code WordPiece}: greedy longest match, {@code ##} continuations, a word with no match (or
 *       longer than {@code max_input_chars_per_word}) is one {@code [UNK]}.
 * </ul>
 *
 * <p>Why not DJL's tokenizer: an {@code Encoding} through JNI cost ~200 µs for a 100-token prompt
 * and ~12 ms at 4,000 tokens on our box (BENCHMARKS.md, static embedding), which is 10-50 times the
 * whole static decision. Here a text is tokenized in one pass, allocating only its characters'
 * copy and a few small buffers, wherever each character normalizes to one known character (ASCII, Latin, Greek, Cyrillic, punctuation, CJK...),
 * by per-character tables computed at class load; each word is looked up whole first and only unknown
 * words are split. A run of text between spaces with any other character is normalized into a new
 * string first. {@code WordPieceTokenizerTest} checks the ids against DJL on every prompt of
 * {@code ../shared/data} and on every code point of the Basic Multilingual Plane.
 *
 * <p>Immutable and safe for concurrent use.
 */
public final class WordPieceTokenizer {

  /** Receives token ids in order. */
  @FunctionalInterface
  public interface TokenSink {
    void accept(int id);

    /**
     * Whether the sink has the tokens it wants: tokenizing stops at the end of the run of text
     * between spaces in which this became true (so the sink may get a few more).
     */
    default boolean full() {
      return false;
    }
  }

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final long SEED_WORD = 0x51_7c_c1_b7_27_22_0a_95L;
  private static final long SEED_CONTINUATION = 0x2b_8f_3e_5a_c4_11_97_d3L;
  private static final long MUL = 0x100000001b3L;

  // What a character of the raw text is once normalized, for every char of the Basic Multilingual
  // Plane: most normalize to one character (lower case, accent stripped) of a known class, and are
  // word-pieced straight from the raw text. SLOW marks the rest (controls and format characters the
  // normalizer drops, lone combining marks, Hangul and other multi-character decompositions,
  // surrogates): a run with one is normalized into a new string first.
  private static final byte WORD = 0;
  private static final byte SPACE = 1;
  private static final byte PUNCT = 2;
  private static final byte SLOW = 3;
  private static final byte[] CLASS = new byte[65536];
  private static final char[] MAP = new char[65536];
  /** The class of a character of normalized text (SLOW: a surrogate, classified by its code point). */
  private static final byte[] NORMALIZED = new byte[65536];

  private final String[] vocab;
  private final int unkId;
  private final int clsId;
  private final int sepId;
  private final int maxInputChars;
  // Special tokens matched in the raw text, longest first.
  private final String[] added;
  private final int[] addedIds;
  private final String addedFirstChars;
  // Open-addressing table over the vocabulary: word-initial pieces and ## continuations told apart
  // by the hash seed. One long a slot, the piece's hash above ID_BITS and its id below (0: empty), so
  // a lookup touches one cache line of a 512 KB table and nothing else: a piece is known by its
  // mixed 64-bit hash's upper 47 bits. No two pieces of the vocabulary share them (checked at load); a
  // text's word that does (one chance in ~10^14 a lookup) would read as that piece.
  private static final int ID_BITS = 17;
  private static final long ID_MASK = (1L << ID_BITS) - 1;
  private final long[] table;
  private final int mask;
  private final int maxPieceChars;

  private WordPieceTokenizer(String[] vocab, int unkId, int clsId, int sepId, int maxInputChars, String[] added,
      int[] addedIds) {
    this.vocab = vocab;
    this.unkId = unkId;
    this.clsId = clsId;
    this.sepId = sepId;
    this.maxInputChars = maxInputChars;
    this.added = added;
    this.addedIds = addedIds;
    StringBuilder first = new StringBuilder();
    for (String a : added) {
      if (first.indexOf(a.substring(0, 1)) < 0) {
        first.append(a.charAt(0));
      }
    }
    this.addedFirstChars = first.toString();
    if (vocab.length > ID_MASK) {
      throw new IllegalArgumentException("vocabulary too large: " + vocab.length + " tokens");
    }
    int capacity = Integer.highestOneBit(Math.max(16, vocab.length * 2) - 1) << 1;
    this.table = new long[capacity];
    this.mask = capacity - 1;
    int longest = 0;
    for (int id = 0; id < vocab.length; id++) {
      String piece = vocab[id];
      if (piece == null || piece.isEmpty()) {
        continue;
      }
      boolean continuation = piece.startsWith("##") && piece.length() > 2;
      int from = continuation ? 2 : 0;
      long h = continuation ? SEED_CONTINUATION : SEED_WORD;
      for (int i = from; i < piece.length(); i++) {
        h = h * MUL + piece.charAt(i);
      }
      int length = piece.length() - from;
      if (length > 255) {
        continue; // longer than any word WordPiece splits (max_input_chars_per_word)
      }
      longest = Math.max(longest, length);
      h = mix(h);
      if (findMixed(h) >= 0) {
        throw new IllegalArgumentException("vocabulary pieces '" + piece + "' and '" + vocab[findMixed(h)] + "' share a hash");
      }
      long entry = (h & ~ID_MASK) | id;
      if (entry == 0) {
        throw new IllegalArgumentException("vocabulary piece '" + piece + "' hashes to the empty slot");
      }
      int slot = (int) h & mask;
      while (table[slot] != 0) {
        slot = (slot + 1) & mask;
      }
      table[slot] = entry;
    }
    this.maxPieceChars = longest;
  }

  /** Reads a {@code tokenizer.json}; throws if it describes another pipeline than this class runs. */
  public static WordPieceTokenizer load(Path tokenizerJson) {
    try (InputStream in = Files.newInputStream(tokenizerJson)) {
      return read(JSON.readTree(in), tokenizerJson.toString());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read tokenizer " + tokenizerJson + ": " + e.getMessage(), e);
    }
  }

  /**
   * The tokenizer of a shipped embedding model, read from its jar: nothing is written to disk, so
   * nothing there can be swapped before it is read back.
   */
  public static WordPieceTokenizer of(EmbeddingModel model) {
    String resource = model.tokenizerResource();
    try (InputStream in = WordPieceTokenizer.class.getClassLoader().getResourceAsStream(resource)) {
      if (in == null) {
        throw new IOException("resource " + resource + " is not on the classpath (is its langchain4j-embeddings jar missing?)");
      }
      return read(JSON.readTree(in), resource);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read tokenizer " + resource + ": " + e.getMessage(), e);
    }
  }

  static WordPieceTokenizer read(JsonNode t, String source) {
    List<String> problems = new ArrayList<>();
    JsonNode norm = t.path("normalizer");
    if (!"BertNormalizer".equals(norm.path("type").asText()) || !norm.path("lowercase").asBoolean(false)
        || !norm.path("clean_text").asBoolean(false) || !norm.path("handle_chinese_chars").asBoolean(false)
        || !(norm.path("strip_accents").isNull() || norm.path("strip_accents").asBoolean(false))) {
      problems.add("normalizer must be BertNormalizer with clean_text, handle_chinese_chars and lowercase, accents"
          + " stripped; got " + norm);
    }
    if (!"BertPreTokenizer".equals(t.path("pre_tokenizer").path("type").asText())) {
      problems.add("pre_tokenizer must be BertPreTokenizer; got " + t.path("pre_tokenizer"));
    }
    JsonNode model = t.path("model");
    if (!"WordPiece".equals(model.path("type").asText()) || !"##".equals(model.path("continuing_subword_prefix").asText())
        || !model.path("vocab").isObject()) {
      problems.add("model must be WordPiece with the ## prefix and a vocab");
    }
    JsonNode single = t.path("post_processor").path("single");
    boolean clsASep = "TemplateProcessing".equals(t.path("post_processor").path("type").asText()) && single.size() == 3
        && "[CLS]".equals(single.get(0).path("SpecialToken").path("id").asText())
        && "A".equals(single.get(1).path("Sequence").path("id").asText())
        && "[SEP]".equals(single.get(2).path("SpecialToken").path("id").asText());
    if (!clsASep) {
      problems.add("post_processor must be TemplateProcessing [CLS] A [SEP]; got " + t.path("post_processor"));
    }
    if (!problems.isEmpty()) {
      throw new IllegalArgumentException(source + ": not a BERT uncased WordPiece tokenizer: " + String.join("; ", problems));
    }
    int size = 0;
    for (Iterator<Map.Entry<String, JsonNode>> it = model.path("vocab").fields(); it.hasNext(); ) {
      size = Math.max(size, it.next().getValue().asInt() + 1);
    }
    String[] vocab = new String[size];
    for (Iterator<Map.Entry<String, JsonNode>> it = model.path("vocab").fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      vocab[e.getValue().asInt()] = e.getKey();
    }
    List<String> added = new ArrayList<>();
    List<Integer> addedIds = new ArrayList<>();
    for (JsonNode a : t.path("added_tokens")) {
      if (a.path("normalized").asBoolean(false) || a.path("single_word").asBoolean(false)
          || a.path("lstrip").asBoolean(false) || a.path("rstrip").asBoolean(false) || a.path("content").asText().isEmpty()
          // a text's ids split at its spaces (tokenize from a space) only if no special token holds one
          || a.path("content").asText().codePoints().anyMatch(WordPieceTokenizer::isWhitespace)) {
        throw new IllegalArgumentException(source + ": added token " + a + " is not a plain special token");
      }
      added.add(a.path("content").asText());
      addedIds.add(a.path("id").asInt());
    }
    // Longest first, so at one position the longest special token wins (leftmost-longest).
    Integer[] order = new Integer[added.size()];
    for (int i = 0; i < order.length; i++) {
      order[i] = i;
    }
    java.util.Arrays.sort(order, (a, b) -> added.get(b).length() - added.get(a).length());
    String[] addedSorted = new String[order.length];
    int[] idsSorted = new int[order.length];
    for (int i = 0; i < order.length; i++) {
      addedSorted[i] = added.get(order[i]);
      idsSorted[i] = addedIds.get(order[i]);
    }
    String unk = model.path("unk_token").asText("[UNK]");
    int unkId = idOf(vocab, unk, source);
    int clsId = idOf(vocab, "[CLS]", source);
    int sepId = idOf(vocab, "[SEP]", source);
    return new WordPieceTokenizer(vocab, unkId, clsId, sepId, model.path("max_input_chars_per_word").asInt(100),
        addedSorted, idsSorted);
  }

  private static int idOf(String[] vocab, String token, String source) {
    for (int i = 0; i < vocab.length; i++) {
      if (token.equals(vocab[i])) {
        return i;
      }
    }
    throw new IllegalArgumentException(source + ": the vocabulary has no " + token);
  }

  public int vocabSize() {
    return vocab.length;
  }

  /** The token text of {@code id} ({@code ##} continuations keep their prefix). */
  public String token(int id) {
    return vocab[id];
  }

  public int clsId() {
    return clsId;
  }

  public int sepId() {
    return sepId;
  }

  public int unkId() {
    return unkId;
  }

  /** Token ids as the model sees them, {@code [CLS] ... [SEP]}, whatever the length. */
  public int[] ids(String text) {
    int[] buf = new int[16];
    int[] n = {0};
    int[][] holder = {buf};
    TokenSink add = id -> {
      if (n[0] == holder[0].length) {
        holder[0] = java.util.Arrays.copyOf(holder[0], holder[0].length * 2);
      }
      holder[0][n[0]++] = id;
    };
    add.accept(clsId);
    tokenize(text, add);
    add.accept(sepId);
    return java.util.Arrays.copyOf(holder[0], n[0]);
  }

  /** Number of tokens {@code text} gives without {@code [CLS]} and {@code [SEP]}. */
  public int count(String text) {
    int[] n = {0};
    tokenize(text, id -> n[0]++);
    return n[0];
  }

  /** Sends the ids of {@code text}, without {@code [CLS]} and {@code [SEP]}, to {@code sink} in order. */
  public void tokenize(String text, TokenSink sink) {
    tokenize(text, 0, sink);
  }

  /**
   * Sends the ids of {@code text[from, end)} to {@code sink} in order, until the sink is {@link
   * TokenSink#full full}; returns where it stopped ({@code text.length()} when it read to the end).
   * {@code from} must be 0, a whitespace character ({@link #spaceAtOrAfter}) or where an earlier call
   * stopped (the end of a run, or just after a special token): there the text's ids split exactly,
   * so {@code text[from, end)}'s ids are the last ones of the whole text's (no word and no special
   * token spans a space), which is how a text's tail is read without its middle. Not checked: from
   * inside a word the ids are silently those of a shorter text.
   */
  public int tokenize(String text, int from, TokenSink sink) {
    int segment = from;
    int i = nextAdded(text, from);
    while (i >= 0) {
      int matched = addedAt(text, i);
      if (matched >= 0) {
        int stop = segment(text, segment, i, sink);
        if (stop < i) {
          return stop;
        }
        sink.accept(addedIds[matched]);
        i += added[matched].length();
        segment = i;
        if (sink.full()) {
          return i;
        }
      } else {
        i++;
      }
      i = nextAdded(text, i);
    }
    return segment(text, segment, text.length(), sink);
  }

  /** The first whitespace character of {@code text} at or after {@code at}, or {@code text.length()}. */
  public int spaceAtOrAfter(String text, int at) {
    for (int i = Math.max(0, at); i < text.length(); i++) {
      if (CLASS[text.charAt(i)] == SPACE) {
        return i;
      }
    }
    return text.length();
  }

  /** The next position at or after {@code from} where a special token could start, or -1. */
  private int nextAdded(String text, int from) {
    int next = -1;
    for (int k = 0; k < addedFirstChars.length(); k++) {
      int at = text.indexOf(addedFirstChars.charAt(k), from);
      if (at >= 0 && (next < 0 || at < next)) {
        next = at;
      }
    }
    return next;
  }

  private int addedAt(String text, int i) {
    for (int k = 0; k < added.length; k++) {
      if (text.startsWith(added[k], i)) {
        return k;
      }
    }
    return -1;
  }

  /**
   * Normalizes, pre-tokenizes and word-pieces {@code text[from, to)} (no special token inside) in one
   * pass over its characters: each run between spaces is read straight from the raw text, each
   * character normalized by MAP and classed by CLASS, and each word hashed as it is read and looked
   * up at its end. Its ids wait in {@code run} until the run ends, because one character that does
   * not normalize to one known character (SLOW) makes the whole run go through {@link #normalize}
   * and {@link #words} instead (the ids read so far are dropped). Two passes, normalizing into a
   * buffer and then word-piecing it, cost ~15 % more (5.6-5.8 against 4.8-5.4 µs a prompt of the
   * proxy kit's mix). The normalizer works character by character (NFD reorders only combining
   * marks, never across a space), so run by run gives what the whole text would; and a plain
   * character's CLASS is the class of its MAP in normalized text ({@link #plainClassMismatch}).
   */
  private int segment(String text, int from, int to, TokenSink sink) {
    char[] raw = new char[to - from]; // one bulk copy: String.charAt per character cost a fifth of the time
    text.getChars(from, to, raw, 0);
    int n = raw.length;
    RunIds run = new RunIds();
    int i = 0;
    while (i < n) {
      if (CLASS[raw[i]] == SPACE) {
        i++;
        continue;
      }
      int runStart = i;
      int wordStart = -1;
      long h = SEED_WORD;
      boolean slow = false;
      for (; i < n; i++) {
        char c = raw[i];
        byte k = CLASS[c];
        if (k == WORD) {
          if (wordStart < 0) {
            wordStart = i;
            h = SEED_WORD;
          }
          h = h * MUL + MAP[c];
          continue;
        }
        if (k == SPACE) {
          break;
        }
        if (k == SLOW) {
          slow = true;
          break;
        }
        if (wordStart >= 0) { // PUNCT: it ends a word and is a word of its own
          plainWord(raw, wordStart, i, h, run);
          wordStart = -1;
        }
        int id = find(SEED_WORD * MUL + MAP[c]);
        run.accept(id >= 0 ? id : unkId);
      }
      if (slow) {
        while (i < n && CLASS[raw[i]] != SPACE) {
          i++;
        }
        run.n = 0;
        String normalized = normalize(text, from + runStart, from + i);
        words(normalized.toCharArray(), normalized.length(), sink);
      } else {
        if (wordStart >= 0) {
          plainWord(raw, wordStart, i, h, run);
        }
        run.flush(sink);
      }
      if (sink.full()) {
        return from + i;
      }
    }
    return to;
  }

  /** A word of plain characters {@code raw[start, end)}, hashed as normalized: its ids into {@code sink}. */
  private void plainWord(char[] raw, int start, int end, long h, TokenSink sink) {
    int id = end - start <= maxInputChars ? find(h) : -1;
    if (id >= 0) {
      sink.accept(id);
      return;
    }
    char[] mapped = new char[end - start]; // only a word to split (or too long) needs its characters
    for (int j = start; j < end; j++) {
      mapped[j - start] = MAP[raw[j]];
    }
    word(mapped, 0, mapped.length, h, mapped.length, sink);
  }

  /** The ids of one run between spaces, held until it is known to be plain. */
  private static final class RunIds implements TokenSink {
    int[] ids = new int[16];
    int n;

    @Override
    public void accept(int id) {
      if (n == ids.length) {
        ids = java.util.Arrays.copyOf(ids, n * 2);
      }
      ids[n++] = id;
    }

    void flush(TokenSink sink) {
      for (int j = 0; j < n; j++) {
        sink.accept(ids[j]);
      }
      n = 0;
    }
  }

  /**
   * The first character whose one-pass class (CLASS, read from the raw text) differs from the class
   * its normalized form (MAP) has in normalized text (NORMALIZED, what {@link #words} reads), or -1.
   * The one-pass segment relies on there being none.
   */
  static int plainClassMismatch() {
    for (int c = 0; c < 65536; c++) {
      if (CLASS[c] != SLOW && CLASS[c] != NORMALIZED[MAP[c]]) {
        return c;
      }
    }
    return -1;
  }

  /**
   * BertNormalizer on a text with characters beyond plain ASCII: drop NUL, U+FFFD and control or
   * unassigned characters; whitespace becomes a space; spaces around CJK ideographs; NFD, minus
   * non-spacing marks; lower case. The result has only spaces for whitespace and is lower-cased.
   */
  static String normalize(String text, int from, int to) {
    StringBuilder b = new StringBuilder(to - from + 16);
    for (int i = from; i < to; ) {
      int cp = text.codePointAt(i);
      i += Character.charCount(cp);
      if (cp == 0 || cp == 0xFFFD || isControl(cp)) {
        continue;
      }
      if (isWhitespace(cp)) {
        b.append(' ');
      } else if (isChinese(cp)) {
        b.append(' ').appendCodePoint(cp).append(' ');
      } else {
        b.appendCodePoint(cp);
      }
    }
    return decomposed(b);
  }

  /** NFD, without non-spacing marks, lower case: the normalizer's last three steps. */
  private static String decomposed(CharSequence text) {
    String nfd = Normalizer.normalize(text, Normalizer.Form.NFD);
    StringBuilder out = new StringBuilder(nfd.length());
    for (int i = 0; i < nfd.length(); ) {
      int cp = nfd.codePointAt(i);
      i += Character.charCount(cp);
      int older = cp < 128 ? -1 : olderClass(cp);
      if (older >= 0 ? older != STRIP : Character.getType(cp) != Character.NON_SPACING_MARK) {
        out.appendCodePoint(Character.toLowerCase(cp));
      }
    }
    return out.toString();
  }

  private static String decomposed(char c) {
    return decomposed(String.valueOf(c));
  }

  /** Cc, Cf, Cs and Co, except the tab and line breaks (they are whitespace); unassigned ones are kept. */
  static boolean isControl(int cp) {
    if (cp == '\t' || cp == '\n' || cp == '\r' || (cp >= 128 && olderClass(cp) >= 0)) {
      return false;
    }
    int type = Character.getType(cp);
    return type == Character.CONTROL || type == Character.FORMAT || type == Character.SURROGATE
        || type == Character.PRIVATE_USE;
  }

  /** Unicode's White_Space property (Rust's {@code char::is_whitespace}), which Java's own test is not. */
  static boolean isWhitespace(int cp) {
    return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680
        || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F
        || cp == 0x3000;
  }

  /** The CJK ideograph blocks BertNormalizer isolates. */
  static boolean isChinese(int cp) {
    return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF)
        || (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B920 && cp <= 0x2CEAF)
        || (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
  }

  /** ASCII punctuation (symbols such as $ and ^ included) and Unicode's P* categories. */
  static boolean isPunctuation(int cp) {
    if (cp < 128) {
      return (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126);
    }
    int older = olderClass(cp);
    if (older >= 0) {
      return older == PUNCT;
    }
    int type = Character.getType(cp);
    return type == Character.CONNECTOR_PUNCTUATION || type == Character.DASH_PUNCTUATION
        || type == Character.START_PUNCTUATION || type == Character.END_PUNCTUATION
        || type == Character.INITIAL_QUOTE_PUNCTUATION || type == Character.FINAL_QUOTE_PUNCTUATION
        || type == Character.OTHER_PUNCTUATION;
  }

  /** A non-spacing mark in Hugging Face's tables: stripped with the accents. */
  private static final int STRIP = 4;

  /**
   * Code points whose Unicode category in this JDK (Unicode 16 for Java 25) differs from the one
   * Hugging Face tokenizers' BertNormalizer and BertPreTokenizer use (the {@code unicode_categories}
   * crate, an older Unicode, in which most of these were unassigned): start, end (inclusive), and the
   * class Hugging Face gives them, WORD (an ordinary character), PUNCT or STRIP. Found by tokenizing
   * every code point with DJL and with this class; {@code WordPieceTokenizerTest} repeats the
   * comparison, so a JDK with a newer Unicode that moves another code point fails it.
   */
  private static final int[] OLDER_CLASSES = {
      0x61D, 0x61D, WORD, 0x7FD, 0x7FD, WORD, 0x890, 0x891, WORD, 0x897, 0x89F, WORD,
      0x8CA, 0x8E2, WORD, 0x9FD, 0x9FE, WORD, 0xA76, 0xA76, WORD, 0xAFA, 0xAFF, WORD,
      0xB55, 0xB55, WORD, 0xC04, 0xC04, WORD, 0xC3C, 0xC3C, WORD, 0xC77, 0xC77, WORD,
      0xC84, 0xC84, WORD, 0xD00, 0xD00, WORD, 0xD3B, 0xD3C, WORD, 0xD81, 0xD81, WORD,
      0xEBA, 0xEBA, WORD, 0xECE, 0xECE, WORD, 0x166D, 0x166D, PUNCT, 0x1734, 0x1734, STRIP,
      0x180F, 0x180F, WORD, 0x1885, 0x1886, WORD, 0x1ABF, 0x1ACE, WORD, 0x1B4E, 0x1B4F, WORD,
      0x1B7D, 0x1B7F, WORD, 0x1DF6, 0x1DFB, WORD, 0x2E43, 0x2E4F, WORD, 0x2E52, 0x2E5D, WORD,
      0xA82C, 0xA82C, WORD, 0xA8C5, 0xA8C5, WORD, 0xA8FF, 0xA8FF, WORD, 0xA9BD, 0xA9BD, WORD,
      0x10D24, 0x10D27, WORD, 0x10D69, 0x10D6E, WORD, 0x10EAB, 0x10EAD, WORD, 0x10EFC, 0x10EFF, WORD,
      0x10F46, 0x10F50, WORD, 0x10F55, 0x10F59, WORD, 0x10F82, 0x10F89, WORD, 0x11070, 0x11070, WORD,
      0x11073, 0x11074, WORD, 0x110C2, 0x110C2, WORD, 0x110CD, 0x110CD, WORD, 0x111C9, 0x111C9, PUNCT,
      0x111CF, 0x111CF, WORD, 0x1123E, 0x1123E, WORD, 0x11241, 0x11241, WORD, 0x1133B, 0x1133B, WORD,
      0x113BB, 0x113C0, WORD, 0x113CE, 0x113CE, WORD, 0x113D0, 0x113D0, WORD, 0x113D2, 0x113D2, WORD,
      0x113D4, 0x113D5, WORD, 0x113D7, 0x113D8, WORD, 0x113E1, 0x113E2, WORD, 0x11438, 0x1143F, WORD,
      0x11442, 0x11444, WORD, 0x11446, 0x11446, WORD, 0x1144B, 0x1144F, WORD, 0x1145A, 0x1145B, WORD,
      0x1145D, 0x1145E, WORD, 0x11660, 0x1166C, WORD, 0x116B9, 0x116B9, WORD, 0x1171E, 0x1171E, STRIP,
      0x1182F, 0x11837, WORD, 0x11839, 0x1183B, WORD, 0x1193B, 0x1193C, WORD, 0x1193E, 0x1193E, WORD,
      0x11943, 0x11946, WORD, 0x119D4, 0x119D7, WORD, 0x119DA, 0x119DB, WORD, 0x119E0, 0x119E0, WORD,
      0x119E2, 0x119E2, WORD, 0x11A01, 0x11A0A, WORD, 0x11A33, 0x11A38, WORD, 0x11A3B, 0x11A47, WORD,
      0x11A51, 0x11A56, WORD, 0x11A59, 0x11A5B, WORD, 0x11A8A, 0x11A96, WORD, 0x11A98, 0x11A9C, WORD,
      0x11A9E, 0x11AA2, WORD, 0x11B00, 0x11B09, WORD, 0x11BE1, 0x11BE1, WORD, 0x11C30, 0x11C36, WORD,
      0x11C38, 0x11C3D, WORD, 0x11C3F, 0x11C3F, WORD, 0x11C41, 0x11C45, WORD, 0x11C70, 0x11C71, WORD,
      0x11C92, 0x11CA7, WORD, 0x11CAA, 0x11CB0, WORD, 0x11CB2, 0x11CB3, WORD, 0x11CB5, 0x11CB6, WORD,
      0x11D31, 0x11D36, WORD, 0x11D3A, 0x11D3A, WORD, 0x11D3C, 0x11D3D, WORD, 0x11D3F, 0x11D45, WORD,
      0x11D47, 0x11D47, WORD, 0x11D90, 0x11D91, WORD, 0x11D95, 0x11D95, WORD, 0x11D97, 0x11D97, WORD,
      0x11EF3, 0x11EF4, WORD, 0x11EF7, 0x11EF8, WORD, 0x11F00, 0x11F01, WORD, 0x11F36, 0x11F3A, WORD,
      0x11F40, 0x11F40, WORD, 0x11F42, 0x11F4F, WORD, 0x11F5A, 0x11F5A, WORD, 0x11FFF, 0x11FFF, WORD,
      0x12FF1, 0x12FF2, WORD, 0x13430, 0x13440, WORD, 0x13447, 0x13455, WORD, 0x1611E, 0x16129, WORD,
      0x1612D, 0x1612F, WORD, 0x16D6D, 0x16D6F, WORD, 0x16E97, 0x16E9A, WORD, 0x16F4F, 0x16F4F, WORD,
      0x16FE2, 0x16FE2, WORD, 0x16FE4, 0x16FE4, WORD, 0x1CF00, 0x1CF2D, WORD, 0x1CF30, 0x1CF46, WORD,
      0x1E000, 0x1E006, WORD, 0x1E008, 0x1E018, WORD, 0x1E01B, 0x1E021, WORD, 0x1E023, 0x1E024, WORD,
      0x1E026, 0x1E02A, WORD, 0x1E08F, 0x1E08F, WORD, 0x1E130, 0x1E136, WORD, 0x1E2AE, 0x1E2AE, WORD,
      0x1E2EC, 0x1E2EF, WORD, 0x1E4EC, 0x1E4EF, WORD, 0x1E5EE, 0x1E5EF, WORD, 0x1E5FF, 0x1E5FF, WORD,
      0x1E944, 0x1E94A, WORD, 0x1E95E, 0x1E95F, WORD,
  };

  /** Hugging Face's class for {@code cp} where it differs from this JDK's category, else -1. */
  static int olderClass(int cp) {
    int lo = 0;
    int hi = OLDER_CLASSES.length / 3 - 1;
    while (lo <= hi) {
      int mid = (lo + hi) >>> 1;
      if (cp < OLDER_CLASSES[mid * 3]) {
        hi = mid - 1;
      } else if (cp > OLDER_CLASSES[mid * 3 + 1]) {
        lo = mid + 1;
      } else {
        return OLDER_CLASSES[mid * 3 + 2];
      }
    }
    return -1;
  }

  // After OLDER_CLASSES, which it reads (static initializers run in textual order).
  static {
    for (int c = 0; c < 65536; c++) {
      CLASS[c] = SLOW;
      if (Character.isSurrogate((char) c) || c == 0 || c == 0xFFFD || isControl(c)) {
        continue;
      }
      if (isWhitespace(c)) {
        CLASS[c] = SPACE;
        MAP[c] = ' ';
        continue;
      }
      String n = c < 128 ? String.valueOf((char) (c >= 'A' && c <= 'Z' ? c + 32 : c)) : decomposed((char) c);
      if (isChinese(c)) {
        // A space each side: a word of its own, as punctuation is (NFD maps a compatibility ideograph
        // to its unified one).
        if (n.length() == 1) {
          CLASS[c] = PUNCT;
          MAP[c] = n.charAt(0);
        }
        continue;
      }
      int type = Character.getType(c);
      boolean mark = type == Character.COMBINING_SPACING_MARK || type == Character.ENCLOSING_MARK
          || type == Character.NON_SPACING_MARK;
      if (n.length() != 1 || Character.isSurrogate(n.charAt(0)) || (mark && olderClass(c) < 0)) {
        continue;
      }
      char m = n.charAt(0);
      int mt = Character.getType(m);
      if (mt == Character.COMBINING_SPACING_MARK || mt == Character.ENCLOSING_MARK || mt == Character.NON_SPACING_MARK) {
        continue; // it could be reordered against its neighbours by NFD
      }
      CLASS[c] = isWhitespace(m) ? SPACE : isPunctuation(m) ? PUNCT : WORD;
      MAP[c] = m;
    }
    for (int c = 0; c < 65536; c++) {
      NORMALIZED[c] = Character.isSurrogate((char) c) ? SLOW
          : isWhitespace(c) ? SPACE : isPunctuation(c) || isChinese(c) ? PUNCT : WORD;
    }
  }


  /** Pre-tokenizes and word-pieces the normalized text {@code s[0, n)}. */
  private void words(char[] s, int n, TokenSink sink) {
    int i = 0;
    while (i < n) {
      char c = s[i];
      byte k = NORMALIZED[c];
      if (k == SPACE) {
        i++;
        continue;
      }
      if (k == SLOW) { // a surrogate: classify its code point
        int cp = Character.codePointAt(s, i, n);
        k = isWhitespace(cp) ? SPACE : isPunctuation(cp) || isChinese(cp) ? PUNCT : WORD;
        if (k != WORD) {
          int len = Character.charCount(cp);
          if (k == PUNCT) {
            piece(s, i, i + len, sink);
          }
          i += len;
          continue;
        }
      }
      if (k == PUNCT) {
        piece(s, i, i + 1, sink);
        i++;
        continue;
      }
      int start = i;
      long h = SEED_WORD;
      int lowSurrogates = 0;
      do {
        h = h * MUL + c;
        if (Character.isLowSurrogate(c)) {
          lowSurrogates++;
        }
        i++;
      } while (i < n && ((k = NORMALIZED[c = s[i]]) == WORD || (k == SLOW && wordSurrogate(s, i, n))));
      word(s, start, i, h, i - start - lowSurrogates, sink);
    }
  }

  /** Whether the surrogate at {@code i} continues a word (a low surrogate, or a pair that is neither space nor punctuation). */
  private static boolean wordSurrogate(char[] s, int i, int n) {
    if (Character.isLowSurrogate(s[i])) {
      return true;
    }
    int cp = Character.codePointAt(s, i, n);
    return !isWhitespace(cp) && !isPunctuation(cp) && !isChinese(cp);
  }

  /** A punctuation character (or an ideograph): its own token, or [UNK]. */
  private void piece(char[] s, int from, int to, TokenSink sink) {
    long h = SEED_WORD;
    for (int i = from; i < to; i++) {
      h = h * MUL + s[i];
    }
    int id = find(h);
    sink.accept(id >= 0 ? id : unkId);
  }

  private void word(char[] s, int start, int end, long wholeHash, int codePoints, TokenSink sink) {
    if (codePoints > maxInputChars) {
      sink.accept(unkId);
      return;
    }
    int id = find(wholeHash);
    if (id >= 0) {
      sink.accept(id);
      return;
    }
    int[] pieces = new int[end - start]; // at most one piece a character
    int n = greedy(s, start, end, pieces);
    if (n < 0) {
      sink.accept(unkId);
    }
    for (int i = 0; i < n; i++) {
      sink.accept(pieces[i]);
    }
  }

  /**
   * WordPiece's greedy longest-match split of a word that is not in the vocabulary whole: the pieces'
   * ids into {@code out}, and their number; -1 when some position has no piece (the word is one
   * [UNK]). Longest first, as Hugging Face does: the hashes of every prefix are taken in one pass,
   * then looked up from the longest down to the first hit (a forward scan has to try every length).
   * One pass: the pieces are only sent once the whole word is known to split.
   */
  private int greedy(char[] s, int start, int end, int[] out) {
    long[] prefix = new long[Math.min(end - start, maxPieceChars) + 1];
    int n = 0;
    int pos = start;
    while (pos < end) {
      long h = pos == start ? SEED_WORD : SEED_CONTINUATION;
      int limit = Math.min(end, pos + maxPieceChars);
      for (int e = pos; e < limit; e++) {
        h = h * MUL + s[e];
        prefix[e - pos + 1] = h;
      }
      int e = limit;
      int id = -1;
      for (; e > pos; e--) {
        id = find(prefix[e - pos]);
        if (id >= 0) {
          break;
        }
      }
      if (id < 0) {
        return -1;
      }
      out[n++] = id;
      pos = e;
    }
    return n;
  }

  /**
   * The running hash mixed (MurmurHash3's finalizer): the running hash's upper bits barely depend on
   * a word's last characters. The slot comes from the low bits, the key from the upper 47.
   */
  private static long mix(long h) {
    h = (h ^ (h >>> 33)) * 0xff51afd7ed558ccdL;
    h = (h ^ (h >>> 33)) * 0xc4ceb9fe1a85ec53L;
    return h ^ (h >>> 33);
  }

  /** The id of the piece hashed as {@code h} (its seed says whether it is a ## continuation), or -1. */
  private int find(long h) {
    return findMixed(mix(h));
  }

  private int findMixed(long h) {
    long key = h & ~ID_MASK;
    for (int slot = (int) h & mask; ; slot = (slot + 1) & mask) {
      long entry = table[slot];
      if (entry == 0) {
        return -1;
      }
      if ((entry & ~ID_MASK) == key) {
        return (int) (entry & ID_MASK);
      }
    }
  }
}
