package io.routewise.routers.mf;

import io.routewise.embedding.Embedder;
import io.routewise.embedding.StaticEmbedder;
import io.routewise.routers.LengthScale;
import io.routewise.routers.ModelDir;
import io.routewise.routers.RouterContext;
import io.routewise.routing.Ladder;
import io.routewise.routing.Prompt;
import io.routewise.routing.Router;
import io.routewise.routing.RouterException;
import java.io.IOException;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The {@code mf} router: the win rate of the strong model's trained stand-in over the weak one's
 * from a trained {@link MfModel}, on the shared sentence embedding and the length of the prompt.
 * Thread-safe (immutable; the embedder is shared and thread-safe). Config, all optional:
 *
 * <pre>
 * routers:
 *   mf:
 *     model_dir: models/mf             # default: &lt;models_dir&gt;/mf
 *     strong_model: gpt-4o-2024-05-13  # trained model id standing for the strong upstream
 *     weak_model: llama-3.1-8b-instruct
 *     embedding_model: minilm-l6-static  # default: embedding.model; must be what the model was trained on
 *     length_prior: 1.0                # default: the manifest's; 0 turns the length prior off
 *     gap_prior: 0.5                   # likewise, the capability-gap prior (MfModel)
 * </pre>
 *
 * Without {@code strong_model}, the strong upstream's {@code router_model}, else its {@code model}
 * when the trained model knows it, else the manifest's {@code default_strong} (likewise for weak).
 *
 * <p>With more than two upstreams every other one is placed on a trained model too (its
 * {@code router_model}, else its {@code model}; neither known stops the start), and
 * {@link #topWinRates} asks {@link MfModel#pairWinRate} for the top against each.
 */
public final class MfRouter implements Router {
  public static final String NAME = "mf";
  public static final String KIND = "mf";
  /** The manifest's {@code recipe}: point-wise scores over embedding and length features. */
  public static final String RECIPE = "pointwise-v2";

  private final Embedder embedder;
  private final MfModel model;
  private final int strongRow;
  private final int weakRow;
  private final String strong;
  private final String weak;
  private final Map<String, Integer> upstreamModels;
  // On a static table with the gap prior on: the gap's first product folded into the table (null otherwise).
  private final StaticEmbedder.Folded folded;

  public MfRouter(Embedder embedder, MfModel model, int strong, int weak, String strongId, String weakId) {
    this(embedder, model, strong, weak, strongId, weakId, Map.of("strong", strong, "weak", weak));
  }

  /** @param upstreamModels each upstream's name to its row in the model */
  public MfRouter(Embedder embedder, MfModel model, int strong, int weak, String strongId, String weakId,
      Map<String, Integer> upstreamModels) {
    this.embedder = embedder;
    this.model = model;
    this.strongRow = strong;
    this.weakRow = weak;
    this.strong = strongId;
    this.weak = weakId;
    this.upstreamModels = Map.copyOf(upstreamModels);
    this.folded = embedder instanceof StaticEmbedder table && table.isInt8() && model.gapPrior() != 0
        ? table.fold(model.embeddingProjection(), 2 * model.rank()) : null;
  }

  public static Router create(RouterContext ctx) throws IOException {
    ModelDir md = ModelDir.forRouter(ctx, NAME, KIND);
    MfModel model = load(md);
    model = model.withLengthPrior(ctx.settings().number("length_prior", model.lengthPrior(), 0, 10))
        .withGapPrior(ctx.settings().number("gap_prior", model.gapPrior(), 0, 10));
    List<String> models = md.models();
    Map<String, String> placed = md.placeUpstreams(ctx);
    String strong = md.upstreamModel(ctx, true);
    String weak = md.upstreamModel(ctx, false);
    if (strong.equals(weak)) {
      throw new IOException("strong and weak both resolve to " + strong + ", so mf would always answer 0.5; set "
          + ctx.settings().pathOf("strong_model") + " and " + ctx.settings().pathOf("weak_model") + " to two models");
    }
    Embedder embedder = md.embedder(ctx);
    Map<String, Integer> rows = new HashMap<>();
    placed.forEach((upstream, id) -> rows.put(upstream, models.indexOf(id)));
    rows.put("strong", models.indexOf(strong));
    rows.put("weak", models.indexOf(weak));
    return new MfRouter(embedder, model, models.indexOf(strong), models.indexOf(weak), strong, weak, rows);
  }

  /** Reads a model directory written by {@link MfTrainer#save}. */
  public static MfModel load(ModelDir md) throws IOException {
    var manifest = md.manifest();
    java.nio.file.Path file = md.dir().resolve("manifest.json");
    if (!RECIPE.equals(manifest.path("recipe").asText())) {
      throw new IOException(file + ": recipe '" + manifest.path("recipe").asText() + "' is not " + RECIPE
          + " (a model from an older routewise: retrain it with 'routewise train mf')");
    }
    LengthScale length = md.lengthScale();
    var gap = manifest.path("gap");
    // JSON numbers only: asInt/asDouble read "5" as 5, true as 1 and a rank of 4.5 as 4
    var r = manifest.path("rank");
    int rank = r.isIntegralNumber() && r.canConvertToInt() ? r.asInt() : -1;
    if (!gap.path("mean").isNumber() || !Double.isFinite(gap.path("mean").asDouble())
        || !gap.path("std").isNumber() || !(gap.path("std").asDouble() > 0) || !Double.isFinite(gap.path("std").asDouble()) || rank < 1) {
      throw new IOException(file + ": \"gap\" {mean, std > 0}, both finite numbers, and \"rank\" (an integer >= 1)"
          + " are required, got " + gap + " and " + r);
    }
    int n = md.models().size();
    int d = md.embeddingDimension();
    return new MfModel(n, d, md.weights("prompt_projection", rank, MfModel.featureCount(d)),
        md.weights("model_factors", n, rank), rank, md.weights("model_bias", n), md.weights("mean_probability", n),
        length, md.prior("length_prior"), gap.path("mean").asDouble(), gap.path("std").asDouble(),
        md.prior("gap_prior"));
  }

  public String strongModel() {
    return strong;
  }

  public String weakModel() {
    return weak;
  }

  public MfModel model() {
    return model;
  }

  /**
   * As its embedder: an ONNX embedding is milliseconds of CPU, scored off the request threads (a
   * prompt whose embedding is cached is answered by {@link #cachedWinRate}); a static table's is
   * microseconds, and the dot products after it are too: scored on the request thread.
   */
  @Override
  public boolean cpuBound() {
    return embedder.cpuBound();
  }

  @Override
  public double strongWinRate(Prompt prompt) {
    Features f = features(prompt.text());
    return model.pairWinRate(strongRow, weakRow, f.e(), f.z(), f.gap());
  }

  /** A prompt's embedding, standardized log length and standardized gap. */
  private record Features(float[] e, double z, double gap) {}

  private Features features(String text) {
    double z = model.lengthScale().z(text);
    float[] e;
    if (folded != null) {
      float[] projected = new float[folded.k()];
      e = ((StaticEmbedder) embedder).embed(text, folded, projected);
      if (!Float.isNaN(projected[0])) {
        return new Features(e, z, model.gap(projected, z));
      } // NaN: a long text, where the table does not add the folded rows
    } else {
      e = embedder.embed(text);
    }
    return features(e, z);
  }

  private Features features(float[] e, double z) {
    // x is only needed for the gap's own product (0 without the prior)
    return new Features(e, z, model.gapPrior() == 0 ? 0 : model.gap(MfModel.features(e, z)));
  }

  /** With the embedding cached, two dot products: no need for a scoring thread. */
  @Override
  public double cachedWinRate(Prompt prompt) {
    float[] e = embedder.cached(prompt.text());
    return e == null ? Double.NaN : winRate(e, prompt.text());
  }

  @Override
  public boolean scoresEachUpstream() {
    return true; // its own per-model estimate for every upstream
  }

  /** P(top beats each rung) from the trained model's own scores of the models standing for them. */
  @Override
  public double[] topWinRates(Prompt prompt, Ladder ladder) throws RouterException {
    int[] rows = ModelDir.ladderRows(ladder, upstreamModels, "mf");
    return topWinRates(rows, features(prompt.text()));
  }

  /** {@link #topWinRates} from the cached embedding, looked up once; null when it is not cached. */
  @Override
  public double[] cachedTopWinRates(Prompt prompt, Ladder ladder) throws RouterException {
    int[] rows = ModelDir.ladderRows(ladder, upstreamModels, "mf");
    float[] e = embedder.cached(prompt.text());
    return e == null ? null : topWinRates(rows, features(e, model.lengthScale().z(prompt.text())));
  }

  private double[] topWinRates(int[] rows, Features f) {
    double[] rates = new double[rows.length];
    for (int i = 1; i < rows.length; i++) {
      rates[i] = model.pairWinRate(rows[0], rows[i], f.e(), f.z(), f.gap());
    }
    return rates;
  }

  /** The win rate of the strong model's stand-in for a prompt embedded as {@code e}. */
  public double winRate(float[] e, String text) {
    return model.pairWinRate(strongRow, weakRow, model.features(e, text));
  }
}
