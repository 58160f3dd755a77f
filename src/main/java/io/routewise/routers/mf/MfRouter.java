package io.routewise.routers.mf;

import io.routewise.embedding.Embedder;
import io.routewise.routers.ModelDir;
import io.routewise.routers.RouterContext;
import io.routewise.routing.Prompt;
import io.routewise.routing.Router;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * The {@code mf} router: {@code sigmoid(s(strong, q) - s(weak, q))} of a trained {@link MfModel},
 * on the shared sentence embedding of the prompt. Thread-safe (immutable; the embedder is shared and
 * thread-safe). Config, all optional:
 *
 * <pre>
 * routers:
 *   mf:
 *     model_dir: models/mf             # default: &lt;models_dir&gt;/mf
 *     strong_model: gpt-4o-2024-05-13  # trained model id standing for the strong upstream
 *     weak_model: llama-3.1-8b-instruct
 * </pre>
 *
 * Without {@code strong_model}, the strong upstream's {@code model} is used when the trained model
 * knows it, else the manifest's {@code default_strong} (likewise for weak).
 */
public final class MfRouter implements Router {
  public static final String NAME = "mf";
  public static final String KIND = "mf";

  private final Embedder embedder;
  private final float[] pair;
  private final String strong;
  private final String weak;

  public MfRouter(Embedder embedder, MfModel model, int strong, int weak, String strongId, String weakId) {
    this.embedder = embedder;
    this.pair = model.pairVector(strong, weak);
    this.strong = strongId;
    this.weak = weakId;
  }

  public static Router create(RouterContext ctx) throws IOException {
    Path dir = Path.of(ctx.settings().string("model_dir", ctx.modelsDir().resolve(NAME).toString()));
    String strongSetting = ctx.settings().string("strong_model", null);
    String weakSetting = ctx.settings().string("weak_model", null);
    ModelDir md = ModelDir.open(dir, KIND);
    List<String> models = md.models();
    int k = md.manifest().path("dim").asInt(-1);
    if (k <= 0) {
      throw new IOException(dir.resolve("manifest.json") + ": \"dim\" (the MF latent size) is missing");
    }
    int d = md.embeddingDimension();
    MfModel model = new MfModel(models.size(), k, d,
        md.weights("model_vectors", models.size(), k), md.weights("projection", k, d), md.weights("classifier", k));
    String strong = pick(md, models, strongSetting, ctx.strong() == null ? null : ctx.strong().model(), "default_strong",
        ctx.settings().pathOf("strong_model"));
    String weak = pick(md, models, weakSetting, ctx.weak() == null ? null : ctx.weak().model(), "default_weak",
        ctx.settings().pathOf("weak_model"));
    Embedder embedder = ctx.embedders().get(md.embeddingModel());
    md.checkEmbedder(embedder);
    return new MfRouter(embedder, model, models.indexOf(strong), models.indexOf(weak), strong, weak);
  }

  /** Resolves which trained model id stands for an upstream (see the class comment). */
  public static String pick(ModelDir md, List<String> models, String setting, String upstreamModel,
      String manifestField, String key) throws IOException {
    if (setting != null) {
      if (!models.contains(setting)) {
        throw new IOException(key + " '" + setting + "' is not a model of " + md.dir() + " (it knows "
            + models.size() + " models, e.g. " + String.join(", ", models.subList(0, Math.min(5, models.size()))) + ")");
      }
      return setting;
    }
    if (upstreamModel != null && models.contains(upstreamModel)) {
      return upstreamModel;
    }
    String fallback = md.text(manifestField, null);
    if (fallback == null || !models.contains(fallback)) {
      throw new IOException(md.dir().resolve("manifest.json") + ": " + manifestField + " is missing or unknown; set " + key);
    }
    return fallback;
  }

  public String strongModel() {
    return strong;
  }

  public String weakModel() {
    return weak;
  }

  @Override
  public double strongWinRate(Prompt prompt) {
    float[] e = embedder.embed(prompt.text());
    double s = 0;
    for (int i = 0; i < e.length; i++) {
      s += pair[i] * e[i];
    }
    return MfModel.sigmoid(s);
  }
}
