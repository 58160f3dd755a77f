package io.routewise.routers.mf;

import io.routewise.embedding.Embedder;
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
 *     embedding_model: minilm-l6-static  # default: embedding.model; must be what the model was trained on
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

  private final Embedder embedder;
  private final MfModel model;
  private final float[] pair;
  private final String strong;
  private final String weak;
  private final Map<String, Integer> upstreamModels;

  public MfRouter(Embedder embedder, MfModel model, int strong, int weak, String strongId, String weakId) {
    this(embedder, model, strong, weak, strongId, weakId, Map.of("strong", strong, "weak", weak));
  }

  /** @param upstreamModels each upstream's name to its row in the model */
  public MfRouter(Embedder embedder, MfModel model, int strong, int weak, String strongId, String weakId,
      Map<String, Integer> upstreamModels) {
    this.embedder = embedder;
    this.model = model;
    this.pair = model.pairVector(strong, weak);
    this.strong = strongId;
    this.weak = weakId;
    this.upstreamModels = Map.copyOf(upstreamModels);
  }

  public static Router create(RouterContext ctx) throws IOException {
    ModelDir md = ModelDir.forRouter(ctx, NAME, KIND);
    List<String> models = md.models();
    int k = md.manifest().path("dim").asInt(-1);
    if (k <= 0) {
      throw new IOException(md.dir().resolve("manifest.json") + ": \"dim\" (the MF latent size) is missing");
    }
    int d = md.embeddingDimension();
    MfModel model = new MfModel(models.size(), k, d,
        md.weights("model_vectors", models.size(), k), md.weights("projection", k, d), md.weights("classifier", k));
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

  public String strongModel() {
    return strong;
  }

  public String weakModel() {
    return weak;
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
    return winRate(embedder.embed(prompt.text()));
  }

  /** With the embedding cached, a dot product: no scoring thread. */
  @Override
  public double cachedWinRate(Prompt prompt) {
    float[] e = embedder.cached(prompt.text());
    return e == null ? Double.NaN : winRate(e);
  }

  /** P(top beats each rung) from the trained model's own scores of the models standing for them. */
  @Override
  public double[] topWinRates(Prompt prompt, Ladder ladder) throws RouterException {
    int[] rows = new int[ladder.size()];
    for (int i = 0; i < rows.length; i++) {
      Integer row = upstreamModels.get(ladder.rung(i).upstream());
      if (row == null) {
        throw new RouterException("unplaced_upstream", "mf has no model for upstream '" + ladder.rung(i).upstream() + "'");
      }
      rows[i] = row;
    }
    float[] e = embedder.embed(prompt.text());
    double[] rates = new double[rows.length];
    for (int i = 1; i < rows.length; i++) {
      rates[i] = model.pairWinRate(rows[0], rows[i], e);
    }
    return rates;
  }

  private double winRate(float[] e) {
    double s = 0;
    for (int i = 0; i < e.length; i++) {
      s += pair[i] * e[i];
    }
    return MfModel.sigmoid(s);
  }
}
