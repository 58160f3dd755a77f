package io.routewise.routers.bert;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import com.fasterxml.jackson.databind.JsonNode;
import io.routewise.embedding.OnnxEmbedder;
import io.routewise.embedding.Truncation;
import io.routewise.routers.ModelDir;
import java.io.IOException;
import java.nio.LongBuffer;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A BERT-family sequence classifier exported to ONNX (e.g. by Hugging Face Optimum): {@code model.onnx}
 * with inputs {@code input_ids}, {@code attention_mask} (and {@code token_type_ids} when the graph
 * has it), one output {@code logits} of shape [batch, labels]; {@code tokenizer.json} read by DJL;
 * {@code config.json} giving {@code id2label}.
 *
 * <p>One ONNX session, created here and closed in {@link #close()}; safe for concurrent use (ONNX
 * Runtime sessions and the Rust tokenizer both are). Every check on the files throws an
 * {@link IOException} naming the file and what is wrong.
 */
public final class BertClassifier implements AutoCloseable {
  private final OrtEnvironment env;
  private final OrtSession session;
  private final HuggingFaceTokenizer tokenizer;
  private final List<String> labels;
  private final int maxTokens;
  private final Truncation truncation;
  private final boolean wantsTokenTypes;
  private final String output;

  private BertClassifier(OrtEnvironment env, OrtSession session, HuggingFaceTokenizer tokenizer, List<String> labels,
      int maxTokens, Truncation truncation, boolean wantsTokenTypes, String output) {
    this.env = env;
    this.session = session;
    this.tokenizer = tokenizer;
    this.labels = labels;
    this.maxTokens = maxTokens;
    this.truncation = truncation;
    this.wantsTokenTypes = wantsTokenTypes;
    this.output = output;
  }

  /**
   * Loads the classifier in {@code dir}.
   *
   * @param maxTokens token budget including [CLS] and [SEP]; 0 takes config.json's
   *     {@code max_position_embeddings} (at most 512)
   * @param threads ONNX intra-op threads (spinning off, so idle threads leave the cores alone)
   */
  public static BertClassifier load(Path dir, int maxTokens, Truncation truncation, int threads) throws IOException {
    Path onnx = dir.resolve("model.onnx");
    Path tok = dir.resolve("tokenizer.json");
    Path config = dir.resolve("config.json");
    for (Path p : List.of(onnx, tok, config)) {
      if (!Files.isRegularFile(p)) {
        throw new NoSuchFileException(p + ": missing (a BERT classifier directory holds model.onnx, tokenizer.json"
            + " and config.json)");
      }
    }
    List<String> labels = labels(config);
    int positions = readConfig(config).path("max_position_embeddings").asInt(512);
    int budget = maxTokens > 0 ? maxTokens : Math.min(512, positions);
    if (budget < 8 || budget > positions) {
      throw new IOException(dir + ": max_tokens must be in [8, " + positions + "] (the model's position table), got "
          + budget);
    }
    HuggingFaceTokenizer tokenizer;
    try {
      tokenizer = HuggingFaceTokenizer.builder().optTokenizerPath(tok).optAddSpecialTokens(true)
          .optTruncation(false).optPadding(false).build();
    } catch (IOException | RuntimeException e) {
      throw new IOException(tok + ": cannot read the tokenizer: " + e.getMessage(), e);
    }
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    OrtSession session = null;
    try (OrtSession.SessionOptions opts = new OrtSession.SessionOptions()) {
      opts.setIntraOpNumThreads(threads);
      opts.setInterOpNumThreads(1);
      opts.addConfigEntry("session.intra_op.allow_spinning", "0");
      opts.addConfigEntry("session.inter_op.allow_spinning", "0");
      opts.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
      session = env.createSession(onnx.toString(), opts);
      Set<String> inputs = session.getInputNames();
      if (!inputs.contains("input_ids") || !inputs.contains("attention_mask")) {
        throw new IOException(onnx + ": unexpected inputs " + inputs
            + " (expected input_ids, attention_mask[, token_type_ids]; is it a sequence-classification export?)");
      }
      Map<String, NodeInfo> outputs = session.getOutputInfo();
      String out = outputs.containsKey("logits") ? "logits" : outputs.size() == 1 ? outputs.keySet().iterator().next() : null;
      if (out == null) {
        throw new IOException(onnx + ": no 'logits' output among " + outputs.keySet());
      }
      if (outputs.get(out).getInfo() instanceof TensorInfo ti) {
        long[] shape = ti.getShape();
        if (shape.length != 2 || (shape[1] > 0 && shape[1] != labels.size())) {
          throw new IOException(onnx + ": output '" + out + "' has shape " + java.util.Arrays.toString(shape)
              + ", expected [batch, " + labels.size() + "] (config.json id2label has " + labels.size() + " labels)");
        }
      }
      BertClassifier c = new BertClassifier(env, session, tokenizer, labels, budget, truncation,
          inputs.contains("token_type_ids"), out);
      // a graph whose output does not match is found now, not on the first request
      float[] probe = c.logits("a");
      if (probe.length != labels.size()) {
        throw new IOException(onnx + ": gives " + probe.length + " logits, config.json id2label has "
            + labels.size() + " labels");
      }
      return c;
    } catch (OrtException | IllegalStateException e) {
      closeQuietly(session);
      tokenizer.close();
      throw new IOException(onnx + ": cannot run the ONNX model: " + e.getMessage(), e);
    } catch (IOException e) {
      closeQuietly(session);
      tokenizer.close();
      throw e;
    }
  }

  private static JsonNode readConfig(Path config) throws IOException {
    try {
      JsonNode n = ModelDir.json().readTree(config.toFile());
      if (n == null || !n.isObject()) {
        throw new IOException(config + ": must be a JSON object");
      }
      return n;
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IOException(config + ": not valid JSON: " + e.getOriginalMessage(), e);
    }
  }

  /** config.json's {@code id2label}, as a list by label index. */
  static List<String> labels(Path config) throws IOException {
    JsonNode id2label = readConfig(config).path("id2label");
    if (!id2label.isObject() || id2label.isEmpty()) {
      throw new IOException(config + ": \"id2label\" is missing (expected e.g. {\"0\": \"LABEL_0\", ...})");
    }
    String[] out = new String[id2label.size()];
    for (var it = id2label.fields(); it.hasNext(); ) {
      var e = it.next();
      int i;
      try {
        i = Integer.parseInt(e.getKey());
      } catch (NumberFormatException ex) {
        throw new IOException(config + ": id2label key '" + e.getKey() + "' is not a label index");
      }
      if (i < 0 || i >= out.length || out[i] != null) {
        throw new IOException(config + ": id2label indices must be 0.." + (out.length - 1) + ", got " + e.getKey());
      }
      out[i] = e.getValue().asText();
    }
    return List.of(out);
  }

  private static void closeQuietly(OrtSession s) {
    if (s != null) {
      try {
        s.close();
      } catch (OrtException ignored) {
        // already failing; the first error is the one to report
      }
    }
  }

  /** Label names by index (config.json's id2label). */
  public List<String> labels() {
    return labels;
  }

  public int maxTokens() {
    return maxTokens;
  }

  /** Token ids as the model sees them: [CLS] ... [SEP], cut to the budget by the truncation rule. */
  public long[] tokenIds(String text) {
    String trimmed = OnnxEmbedder.wellFormed(truncation.trimText(text, maxTokens));
    return truncation.cut(tokenizer.encode(trimmed, true, false).getIds(), maxTokens);
  }

  /** The logits of one text. */
  public float[] logits(String text) {
    return logitsOfIds(tokenIds(text));
  }

  /** The logits of one already-tokenized input. */
  public float[] logitsOfIds(long[] ids) {
    long[] shape = {1, ids.length};
    long[] mask = new long[ids.length];
    java.util.Arrays.fill(mask, 1L);
    Map<String, OnnxTensor> inputs = new HashMap<>();
    try {
      inputs.put("input_ids", OnnxTensor.createTensor(env, LongBuffer.wrap(ids), shape));
      inputs.put("attention_mask", OnnxTensor.createTensor(env, LongBuffer.wrap(mask), shape));
      if (wantsTokenTypes) {
        inputs.put("token_type_ids", OnnxTensor.createTensor(env, LongBuffer.wrap(new long[ids.length]), shape));
      }
      try (OrtSession.Result result = session.run(inputs, Set.of(output))) {
        Object value = result.get(0).getValue();
        if (!(value instanceof float[][] logits) || logits.length != 1) {
          throw new IllegalStateException("unexpected ONNX output for '" + output + "' (expected float [1, labels])");
        }
        return logits[0];
      }
    } catch (OrtException e) {
      throw new IllegalStateException("BERT classifier inference failed: " + e.getMessage(), e);
    } finally {
      inputs.values().forEach(OnnxTensor::close);
    }
  }

  @Override
  public void close() {
    closeQuietly(session);
    tokenizer.close();
  }
}
