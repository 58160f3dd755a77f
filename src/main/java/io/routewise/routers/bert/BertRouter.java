package io.routewise.routers.bert;

import com.fasterxml.jackson.databind.JsonNode;
import io.routewise.config.ConfigNode;
import io.routewise.embedding.Embedder;
import io.routewise.embedding.EmbeddingSettings;
import io.routewise.embedding.Truncation;
import io.routewise.routers.ModelDir;
import io.routewise.routers.RouterContext;
import io.routewise.routing.Prompt;
import io.routewise.routing.Router;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * The {@code bert} router: a BERT-family model classifies the prompt into labels, and a
 * {@link LabelReading} turns the label probabilities into the strong model's win rate. Two forms,
 * told apart by the model directory:
 *
 * <ul>
 *   <li><b>classifier</b>: a sequence-classification model exported to ONNX, e.g. RouteLLM's
 *       {@code routellm/bert_gpt4_augmented} exported with Hugging Face Optimum. The directory holds
 *       {@code model.onnx}, {@code tokenizer.json}, {@code config.json} (its {@code id2label} names
 *       the labels) and optionally a {@code manifest.json} of
 *       {@code {"format_version": 1, "kind": "bert", "form": "classifier", "weak_ok_labels": [1, 2]}}.
 *       A directory with {@code model.onnx} and no manifest is a classifier. The default reading is
 *       RouteLLM's: softmax, every label but the first means "the weak model is fine", win rate =
 *       1 - their sum (for 3 labels, {@code 1 - p[1] - p[2]}).
 *   <li><b>head</b>: written by {@code routewise train bert}: a small head ({@link BertHead}) on the
 *       shared sentence embedding, labels strong better / tie / weak better; its manifest says how
 *       they are read ({@code strong_win_weights}).
 * </ul>
 *
 * Config, all optional:
 *
 * <pre>
 * routers:
 *   bert:
 *     model_dir: models/bert     # default: &lt;models_dir&gt;/bert
 *     weak_ok_labels: [1, 2]     # labels (index or id2label name) meaning the weak model is fine;
 *                                # win rate = 1 - their probability sum. Overrides the directory's reading.
 *     # head form only:
 *     embedding_model: minilm-l6-static   # default: embedding.model; must be what the head was trained on
 *     # classifier form only:
 *     max_tokens: 512            # token budget with [CLS]/[SEP]; default min(512, max_position_embeddings)
 *     truncation: head           # head (RouteLLM's) | head_tail
 *     threads: 2                 # ONNX intra-op threads
 * </pre>
 *
 * <p>The ONNX session (classifier) or the shared embedder (head) is set up once here, never per
 * request. Thread-safe: ONNX Runtime sessions, the tokenizer and the shared embedder are; the rest
 * is immutable.
 */
public final class BertRouter implements Router {
  public static final String NAME = "bert";
  public static final String KIND = "bert";

  /** Which kind of model directory this router runs. */
  public enum Form { CLASSIFIER, HEAD }

  private final Form form;
  private final Function<String, float[]> logits;
  // The logits when they are cheap (head over a cached embedding), else null; null for the classifier.
  private final Function<String, float[]> cachedLogits;
  private final LabelReading reading;
  private final AutoCloseable owned;
  private final boolean cpuBound;

  BertRouter(Form form, Function<String, float[]> logits, Function<String, float[]> cachedLogits,
      LabelReading reading, AutoCloseable owned, boolean cpuBound) {
    this.cpuBound = cpuBound;
    this.form = form;
    this.logits = logits;
    this.cachedLogits = cachedLogits;
    this.reading = reading;
    this.owned = owned;
  }

  /** A router over a loaded classifier; closing the router closes it. */
  public static BertRouter classifier(BertClassifier c, LabelReading reading) {
    checkLabels(reading, c.labels().size(), "the classifier");
    return new BertRouter(Form.CLASSIFIER, c::logits, null, reading, c, true);
  }

  /** A router over a trained head on the (shared, not owned) embedder. */
  public static BertRouter head(Embedder embedder, BertHead head, LabelReading reading) {
    checkLabels(reading, head.labels(), "the head");
    return new BertRouter(Form.HEAD, text -> head.logits(embedder.embed(text)), text -> {
      float[] e = embedder.cached(text);
      return e == null ? null : head.logits(e);
    }, reading, null, embedder.cpuBound());
  }

  private static void checkLabels(LabelReading reading, int labels, String what) {
    if (reading.labels() != labels) {
      throw new IllegalArgumentException("the label reading has " + reading.labels() + " labels, " + what + " has " + labels);
    }
  }

  public static Router create(RouterContext ctx) throws IOException {
    ConfigNode s = ctx.settings();
    Path dir = ModelDir.dirFor(s, ctx.modelsDir(), NAME);
    List<String> weakOk = s.stringList("weak_ok_labels", null);
    if (!Files.isDirectory(dir)) {
      throw new NoSuchFileException(dir + ": model directory not found (train one with 'routewise train bert',"
          + " or export a classifier to ONNX there, or set model_dir)");
    }
    Path manifestFile = dir.resolve("manifest.json");
    JsonNode manifest = null;
    if (Files.isRegularFile(manifestFile)) {
      try {
        manifest = ModelDir.json().readTree(manifestFile.toFile());
      } catch (IOException e) {
        throw new IOException(manifestFile + ": not valid JSON: " + e.getMessage(), e);
      }
      if (manifest == null || !KIND.equals(manifest.path("kind").asText())) {
        throw new IOException(manifestFile + ": kind is '" + (manifest == null ? "" : manifest.path("kind").asText())
            + "', expected '" + KIND + "'");
      }
    }
    boolean hasOnnx = Files.isRegularFile(dir.resolve("model.onnx"));
    String form = manifest != null && manifest.path("form").isTextual() ? manifest.path("form").asText()
        : hasOnnx ? "classifier" : manifest != null ? "head" : null;
    if (form == null) {
      throw new NoSuchFileException(dir + ": neither manifest.json nor model.onnx (not a bert model directory)");
    }
    return switch (form) {
      case "classifier" -> createClassifier(dir, manifest, s, weakOk);
      case "head" -> createHead(dir, ctx, weakOk);
      default -> throw new IOException(manifestFile + ": form '" + form + "' is unknown (classifier or head)");
    };
  }

  private static Router createClassifier(Path dir, JsonNode manifest, ConfigNode s, List<String> weakOk)
      throws IOException {
    JsonNode m = manifest == null ? ModelDir.json().createObjectNode() : manifest;
    Path mf = dir.resolve("manifest.json");
    // the manifest's keys as strictly as ModelDir's: a wrong one stops the start naming the file and the key,
    // instead of being taken as a number (asInt: "256", true as 1), left for the default, or said as the config's
    JsonNode budget = m.path("max_tokens");
    if (!budget.isMissingNode() && !(budget.isIntegralNumber() && budget.asLong() >= 8 && budget.asLong() <= 512)) {
      throw new IOException(mf + ": \"max_tokens\" must be an integer in [8, 512], got " + budget);
    }
    JsonNode cut = m.path("truncation");
    if (!cut.isMissingNode() && !(cut.isTextual() && List.of("head", "head_tail").contains(cut.asText()))) {
      throw new IOException(mf + ": \"truncation\" must be head or head_tail, got " + cut);
    }
    int maxTokens = s.integer("max_tokens", budget.asInt(0), 8, 512);
    Truncation truncation = Truncation.parse(s.oneOf("truncation", cut.asText("head"), List.of("head", "head_tail")));
    int threads = s.integer("threads", EmbeddingSettings.defaultThreads(), 1, 64);
    boolean manifestLabels = weakOk == null && !m.path("weak_ok_labels").isMissingNode();
    if (manifestLabels) {
      JsonNode labels = m.path("weak_ok_labels");
      if (!labels.isArray()) {
        throw new IOException(mf + ": \"weak_ok_labels\" must be a list of labels (index or id2label name), got "
            + labels);
      }
      weakOk = new ArrayList<>();
      for (JsonNode n : labels) {
        if (!n.isTextual() && !n.isIntegralNumber()) {
          throw new IOException(mf + ": \"weak_ok_labels\" must list labels by index or id2label name, got " + n);
        }
        weakOk.add(n.asText());
      }
    }
    BertClassifier c = BertClassifier.load(dir, maxTokens, truncation, threads);
    try {
      LabelReading reading = weakOk == null ? LabelReading.defaultFor(c.labels().size())
          : LabelReading.weakOk(c.labels().size(), LabelReading.resolve(weakOk, c.labels()));
      return classifier(c, reading);
    } catch (IllegalArgumentException e) {
      c.close();
      // without weak_ok_labels, the default reading of a one-label model is what leaves the rate constant
      throw new IOException((weakOk == null ? "id2label: " : manifestLabels ? mf + ": \"weak_ok_labels\": "
          : "weak_ok_labels: ") + e.getMessage() + " (labels of "
          + dir.resolve("config.json") + ": "
          + c.labels() + ")", e);
    }
  }

  private static Router createHead(Path dir, RouterContext ctx, List<String> weakOk) throws IOException {
    ModelDir md = ModelDir.open(dir, KIND);
    Path mf = dir.resolve("manifest.json");
    List<String> labels = new ArrayList<>();
    md.manifest().path("labels").forEach(n -> labels.add(n.asText()));
    if (labels.size() < 2) {
      throw new IOException(mf + ": \"labels\" must list the head's labels (e.g. strong_better, tie, weak_better)");
    }
    BertHead head = BertHead.load(md, labels.size());
    LabelReading reading;
    try {
      if (weakOk != null) {
        reading = LabelReading.weakOk(labels.size(), LabelReading.resolve(weakOk, labels));
      } else {
        JsonNode w = md.manifest().path("strong_win_weights");
        if (!w.isArray() || w.size() != labels.size()) {
          throw new IOException(mf + ": \"strong_win_weights\" must give one weight per label " + labels);
        }
        double[] weights = new double[w.size()];
        for (int i = 0; i < weights.length; i++) {
          if (!w.get(i).isNumber()) { // asDouble read "0.5" as 0.5 and true as 1
            throw new IOException(mf + ": \"strong_win_weights\" must be numbers in [0, 1], got " + w);
          }
          weights[i] = w.get(i).asDouble();
        }
        reading = new LabelReading(weights);
      }
    } catch (IllegalArgumentException e) {
      throw new IOException(mf + ": " + e.getMessage() + " (labels " + labels + ")", e);
    }
    Embedder embedder = md.embedder(ctx);
    return head(embedder, head, reading);
  }

  public Form form() {
    return form;
  }

  public LabelReading reading() {
    return reading;
  }

  /** The label probabilities of a prompt (softmax of the model's logits). */
  public double[] probabilities(Prompt prompt) {
    return LabelReading.softmax(logits.apply(prompt.text()));
  }

  /**
   * An ONNX classifier pass, or a head over an ONNX embedding: milliseconds of CPU, scored off the
   * request threads. A head over a static table is microseconds: scored on the request thread.
   */
  @Override
  public boolean cpuBound() {
    return cpuBound;
  }

  @Override
  public double strongWinRate(Prompt prompt) {
    return reading.strongWinRate(logits.apply(prompt.text()));
  }

  /** The head over a cached embedding is one small MLP pass; the classifier always runs ONNX. */
  @Override
  public double cachedWinRate(Prompt prompt) {
    float[] l = cachedLogits == null ? null : cachedLogits.apply(prompt.text());
    return l == null ? Double.NaN : reading.strongWinRate(l);
  }

  /** As {@link #topWinRates}' default from the cached logits, looked up once; null when not cached. */
  @Override
  public double[] cachedTopWinRates(Prompt prompt, io.routewise.routing.Ladder ladder) {
    double rate = cachedWinRate(prompt);
    return Double.isNaN(rate) ? null : ladder.fromStrongWinRate(rate);
  }

  @Override
  public void close() {
    if (owned != null) {
      try {
        owned.close();
      } catch (Exception ignored) {
        // shutdown: nothing left to do with it
      }
    }
  }
}
