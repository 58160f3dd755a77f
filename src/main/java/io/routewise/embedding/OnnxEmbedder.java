package io.routewise.embedding;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.LongBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A BERT-family sentence embedder under ONNX Runtime: tokenized by DJL from the model's
 * {@code tokenizer.json}, truncated by our own rule ({@link Truncation}) to {@code maxTokens} (the
 * tokenizer's own truncation is switched off), pooled as the model was trained (mean over the
 * attention mask, or the CLS state), L2-normalized.
 *
 * <p>One ONNX session per instance, safe for concurrent use (ONNX Runtime sessions and the Rust
 * tokenizer both are). The session is loaded from a file (see {@link ModelFiles}), not a byte array.
 *
 * <p>Besides sentence vectors it exposes the token ids and the per-token hidden states, so another
 * router (e.g. a BERT classifier head) can reuse the same session and tokenizer.
 */
public final class OnnxEmbedder implements Embedder {
  private final EmbeddingModel model;
  private final int maxTokens;
  private final Truncation truncation;
  private final OrtEnvironment env;
  private final OrtSession session;
  private final HuggingFaceTokenizer tokenizer;
  private final boolean wantsTokenTypes;
  private final String outputName;
  private final long clsId;
  private final long sepId;

  private OnnxEmbedder(EmbeddingModel model, int maxTokens, Truncation truncation, OrtSession session,
      OrtEnvironment env, HuggingFaceTokenizer tokenizer) throws OrtException {
    this.model = model;
    this.maxTokens = maxTokens;
    this.truncation = truncation;
    this.session = session;
    this.env = env;
    this.tokenizer = tokenizer;
    Set<String> inputs = session.getInputNames();
    if (!inputs.contains("input_ids") || !inputs.contains("attention_mask")) {
      throw new IllegalStateException(model.id() + ": unexpected ONNX inputs " + inputs
          + " (expected input_ids, attention_mask[, token_type_ids])");
    }
    this.wantsTokenTypes = inputs.contains("token_type_ids");
    this.outputName = session.getOutputNames().contains("last_hidden_state")
        ? "last_hidden_state" : session.getOutputNames().iterator().next();
    long[] probe = tokenizer.encode("a", true, false).getIds();
    this.clsId = probe[0];
    this.sepId = probe[probe.length - 1];
  }

  /**
   * Loads {@code model} from its jar resources, extracted under {@code fileDir}.
   *
   * @param maxTokens token budget including [CLS] and [SEP], at most the model's position table
   * @param threads ONNX intra-op threads (spinning is off so idle threads do not burn the cores)
   */
  public static OnnxEmbedder load(EmbeddingModel model, int maxTokens, Truncation truncation, int threads,
      Path fileDir) {
    if (maxTokens < 8 || maxTokens > model.maxPositions()) {
      throw new IllegalArgumentException(model.id() + ": max_tokens must be in [8, " + model.maxPositions()
          + "], got " + maxTokens);
    }
    Path onnx = ModelFiles.extract(model.onnxResource(), fileDir);
    Path tok = ModelFiles.extract(model.tokenizerResource(), fileDir);
    HuggingFaceTokenizer tokenizer;
    try {
      tokenizer = HuggingFaceTokenizer.builder()
          .optTokenizerPath(tok)
          .optAddSpecialTokens(true)
          .optTruncation(false)
          .optPadding(false)
          .build();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read tokenizer " + tok + ": " + e.getMessage(), e);
    }
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    try (OrtSession.SessionOptions opts = new OrtSession.SessionOptions()) { // the session keeps its own copy
      opts.setIntraOpNumThreads(threads);
      opts.setInterOpNumThreads(1);
      opts.addConfigEntry("session.intra_op.allow_spinning", "0");
      opts.addConfigEntry("session.inter_op.allow_spinning", "0");
      opts.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
      OrtSession session = env.createSession(onnx.toString(), opts);
      try {
        return new OnnxEmbedder(model, maxTokens, truncation, session, env, tokenizer);
      } catch (OrtException | RuntimeException e) { // a graph with other inputs
        session.close();
        throw e;
      }
    } catch (OrtException e) {
      tokenizer.close();
      throw new IllegalStateException("cannot load ONNX model " + onnx + ": " + e.getMessage(), e);
    } catch (RuntimeException e) {
      tokenizer.close();
      throw e;
    }
  }

  public EmbeddingModel model() {
    return model;
  }

  public int maxTokens() {
    return maxTokens;
  }

  public Truncation truncation() {
    return truncation;
  }

  @Override
  public int dimension() {
    return model.dimension();
  }

  @Override
  public String inputRule() {
    return rule(maxTokens, truncation.configName());
  }

  /** The {@link #inputRule()} text for a token budget and a truncation name. */
  public static String rule(int maxTokens, String truncation) {
    return maxTokens + " tokens, " + truncation;
  }

  @Override
  public String modelId() {
    return model.id();
  }

  /** Token ids as the model sees them: [CLS] ... [SEP], truncated to the budget by the rule. */
  public long[] tokenIds(String text) {
    return tokenIdsOf(truncation.trimText(text, maxTokens));
  }

  /** {@link #tokenIds} without the character trim first (for tests comparing the two). */
  long[] tokenIdsOf(String text) {
    Encoding enc = tokenizer.encode(wellFormed(text), true, false);
    long[] ids = enc.getIds();
    if (ids.length <= maxTokens) {
      return ids;
    }
    int body = maxTokens - 2;
    long[] out = new long[maxTokens];
    out[0] = clsId;
    out[maxTokens - 1] = sepId;
    if (truncation == Truncation.HEAD) {
      System.arraycopy(ids, 1, out, 1, body);
    } else {
      int head = (body + 1) / 2;
      int tail = body - head;
      System.arraycopy(ids, 1, out, 1, head);
      System.arraycopy(ids, ids.length - 1 - tail, out, 1 + head, tail);
    }
    return out;
  }

  /** Number of tokens (special tokens included) {@code text} has before truncation. */
  public int countTokens(String text) {
    return tokenizer.encode(wellFormed(text), true, false).getIds().length;
  }

  /**
   * {@code text} with each half of a surrogate pair that stands alone (a JSON escape such as
   * {@code \ud800} gives one) made U+FFFD, which the normalizer drops as {@link WordPieceTokenizer}
   * drops the half. Handed to DJL, one such half makes its conversion to Rust decode the whole string
   * lossily: every emoji and other character past U+FFFF in it is lost. Text without one comes back as it is.
   */
  public static String wellFormed(String text) {
    StringBuilder out = null;
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      if (Character.isHighSurrogate(c) && i + 1 < text.length() && Character.isLowSurrogate(text.charAt(i + 1))) {
        if (out != null) {
          out.append(c).append(text.charAt(i + 1));
        }
        i++;
      } else if (Character.isSurrogate(c)) {
        if (out == null) {
          out = new StringBuilder(text.length()).append(text, 0, i);
        }
        out.append('\uFFFD');
      } else if (out != null) {
        out.append(c);
      }
    }
    return out == null ? text : out.toString();
  }

  @Override
  public float[] embed(String text) {
    return embedIds(List.of(tokenIds(text))).get(0);
  }

  /**
   * Embeds texts one by one. Deliberately not batched: the int8 model quantizes activations with a
   * scale taken over the whole input tensor, so a text's vector would depend on its batch-mates
   * (cosine to the unbatched vector as low as 0.98 for short texts padded beside long ones), and
   * training vectors must equal the vectors seen when serving. On CPU a batch gains little anyway.
   */
  @Override
  public List<float[]> embedAll(List<String> texts) {
    List<float[]> out = new ArrayList<>(texts.size());
    for (String t : texts) {
      out.add(embed(t));
    }
    return out;
  }

  /** Sentence vectors for already-tokenized inputs (padded to the longest in the batch). */
  public List<float[]> embedIds(List<long[]> batch) {
    float[][][] states = run(batch);
    List<float[]> out = new ArrayList<>(batch.size());
    int dim = model.dimension();
    for (int b = 0; b < batch.size(); b++) {
      float[] v = new float[dim];
      int len = batch.get(b).length;
      if (model.pooling() == EmbeddingModel.Pooling.CLS) {
        System.arraycopy(states[b][0], 0, v, 0, dim);
      } else {
        for (int t = 0; t < len; t++) {
          float[] s = states[b][t];
          for (int d = 0; d < dim; d++) {
            v[d] += s[d];
          }
        }
        for (int d = 0; d < dim; d++) {
          v[d] /= len;
        }
      }
      out.add(normalize(v));
    }
    return out;
  }

  /**
   * The last hidden states of one text, one row per token (after truncation), for routers that put
   * their own head on the encoder.
   */
  public float[][] tokenStates(String text) {
    long[] ids = tokenIds(text);
    return Arrays.copyOf(run(List.of(ids))[0], ids.length);
  }

  /** The last hidden states of already-tokenized input ({@code [CLS] ... [SEP]} included), one row per id. */
  public float[][] states(long[] ids) {
    return run(List.of(ids))[0];
  }

  private float[][][] run(List<long[]> batch) {
    int b = batch.size();
    int len = batch.stream().mapToInt(a -> a.length).max().orElse(0);
    long[] idBuf = new long[b * len];
    long[] maskBuf = new long[b * len];
    for (int i = 0; i < b; i++) {
      long[] ids = batch.get(i);
      System.arraycopy(ids, 0, idBuf, i * len, ids.length);
      Arrays.fill(maskBuf, i * len, i * len + ids.length, 1L);
    }
    long[] shape = {b, len};
    Map<String, OnnxTensor> inputs = new HashMap<>();
    try {
      inputs.put("input_ids", OnnxTensor.createTensor(env, LongBuffer.wrap(idBuf), shape));
      inputs.put("attention_mask", OnnxTensor.createTensor(env, LongBuffer.wrap(maskBuf), shape));
      if (wantsTokenTypes) {
        inputs.put("token_type_ids", OnnxTensor.createTensor(env, LongBuffer.wrap(new long[b * len]), shape));
      }
      try (OrtSession.Result result = session.run(inputs, Set.of(outputName))) {
        Object value = result.get(0).getValue();
        if (!(value instanceof float[][][] states) || states.length != b || states[0].length != len
            || states[0][0].length != model.dimension()) {
          throw new IllegalStateException(model.id() + ": unexpected ONNX output shape for " + outputName);
        }
        return states;
      }
    } catch (OrtException e) {
      throw new IllegalStateException(model.id() + ": ONNX inference failed: " + e.getMessage(), e);
    } finally {
      inputs.values().forEach(OnnxTensor::close);
    }
  }

  static float[] normalize(float[] v) {
    double sum = 0;
    for (float x : v) {
      sum += (double) x * x;
    }
    float inv = sum > 0 ? (float) (1.0 / Math.sqrt(sum)) : 0f;
    for (int i = 0; i < v.length; i++) {
      v[i] *= inv;
    }
    return v;
  }

  @Override
  public void close() {
    try {
      session.close();
    } catch (OrtException ignored) {
      // nothing to do at shutdown
    }
    tokenizer.close();
  }
}
