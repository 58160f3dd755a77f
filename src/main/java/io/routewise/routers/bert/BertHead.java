package io.routewise.routers.bert;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.routewise.routers.ModelDir;
import java.io.IOException;
import java.nio.file.Path;

/**
 * A classification head on a sentence embedding e (size d): with {@code hidden = 0}, multinomial
 * logistic regression {@code logits = W2 e + b2}; otherwise one hidden ReLU layer,
 * {@code logits = W2 relu(W1 e + b1) + b2}. Row-major float32, as stored in the model directory
 * ({@code w1} hidden x d, {@code b1} hidden, {@code w2} labels x (hidden or d), {@code b2} labels).
 *
 * <p>Immutable after construction; {@link #logits} allocates its own scratch, so it is thread-safe.
 */
public final class BertHead {
  private final int d;
  private final int hidden;
  private final int labels;
  private final float[] w1;
  private final float[] b1;
  private final float[] w2;
  private final float[] b2;

  public BertHead(int d, int hidden, int labels, float[] w1, float[] b1, float[] w2, float[] b2) {
    int in = hidden == 0 ? d : hidden;
    if (d <= 0 || hidden < 0 || labels < 2 || w2.length != labels * in || b2.length != labels
        || (hidden > 0 && (w1.length != hidden * d || b1.length != hidden))) {
      throw new IllegalArgumentException("inconsistent head shapes");
    }
    this.d = d;
    this.hidden = hidden;
    this.labels = labels;
    this.w1 = w1;
    this.b1 = b1;
    this.w2 = w2;
    this.b2 = b2;
  }

  /** Reads the head of a {@code bert} model directory (shapes checked against the manifest). */
  public static BertHead load(ModelDir md, int labels) throws IOException {
    int d = md.embeddingDimension();
    int hidden = md.manifest().path("head").path("hidden").asInt(-1);
    if (hidden < 0) {
      throw new IOException(md.dir().resolve("manifest.json") + ": \"head\": {\"hidden\": N} is missing (0 = logistic regression)");
    }
    float[] w1 = hidden == 0 ? new float[0] : md.weights("w1", hidden, d);
    float[] b1 = hidden == 0 ? new float[0] : md.weights("b1", hidden);
    float[] w2 = md.weights("w2", labels, hidden == 0 ? d : hidden);
    float[] b2 = md.weights("b2", labels);
    return new BertHead(d, hidden, labels, w1, b1, w2, b2);
  }

  /** Writes the weight files and records them (and {@code head.hidden}) in {@code manifest}. */
  public void save(Path dir, ObjectNode manifest) throws IOException {
    java.nio.file.Files.createDirectories(dir);
    manifest.putObject("head").put("hidden", hidden).put("activation", hidden == 0 ? "none" : "relu");
    ObjectNode weights = manifest.putObject("weights");
    if (hidden > 0) {
      ModelDir.writeFloats(dir.resolve("w1.f32"), w1);
      ModelDir.writeFloats(dir.resolve("b1.f32"), b1);
      weights.putObject("w1").put("file", "w1.f32").putArray("shape").add(hidden).add(d);
      weights.putObject("b1").put("file", "b1.f32").putArray("shape").add(hidden);
    }
    ModelDir.writeFloats(dir.resolve("w2.f32"), w2);
    ModelDir.writeFloats(dir.resolve("b2.f32"), b2);
    weights.putObject("w2").put("file", "w2.f32").putArray("shape").add(labels).add(hidden == 0 ? d : hidden);
    weights.putObject("b2").put("file", "b2.f32").putArray("shape").add(labels);
  }

  public int dimension() {
    return d;
  }

  public int hidden() {
    return hidden;
  }

  public int labels() {
    return labels;
  }

  public float[] logits(float[] e) {
    if (e.length != d) {
      throw new IllegalArgumentException("embedding has " + e.length + " values, the head expects " + d);
    }
    float[] x = e;
    if (hidden > 0) {
      x = new float[hidden];
      for (int i = 0; i < hidden; i++) {
        double s = b1[i];
        int row = i * d;
        for (int j = 0; j < d; j++) {
          s += w1[row + j] * e[j];
        }
        x[i] = (float) Math.max(0, s);
      }
    }
    int in = x.length;
    float[] out = new float[labels];
    for (int l = 0; l < labels; l++) {
      double s = b2[l];
      int row = l * in;
      for (int j = 0; j < in; j++) {
        s += w2[row + j] * x[j];
      }
      out[l] = (float) s;
    }
    return out;
  }
}
