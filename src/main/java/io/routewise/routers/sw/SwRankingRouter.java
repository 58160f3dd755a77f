package io.routewise.routers.sw;

import io.routewise.embedding.Embedder;
import io.routewise.routers.LengthScale;
import io.routewise.routers.ModelDir;
import io.routewise.routers.RouterContext;
import io.routewise.routers.WinRates;
import io.routewise.routing.Ladder;
import io.routewise.routing.Prompt;
import io.routewise.routing.Router;
import io.routewise.routing.RouterException;
import java.io.IOException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * The {@code sw_ranking} router, RouteLLM's similarity-weighted idea with the pair kept whole: the
 * stored training prompts are weighted by their similarity to the query ({@link SwIndex}), the
 * strong and the weak model's scores on them are averaged under those weights, and the win rate is
 * {@code 0.5 + 0.5 (s_strong - s_weak)} plus the same two priors as {@code mf}
 * ({@code (mean s_strong - mean s_weak) * (length_prior * z + gap_prior * g)}, g the neighbours'
 * capability gap, see {@link SwIndex}), kept inside (0, 1) ({@link WinRates#bounded}). The scores are the
 * models' own where the data measured them and completed from the other models' results on the same
 * prompt elsewhere ({@link SwTrainer}). Thread-safe (the index is immutable, each call allocates
 * its own buffers). Config, all optional:
 *
 * <pre>
 * routers:
 *   sw_ranking:
 *     model_dir: models/sw_ranking
 *     strong_model: gpt-4o-2024-05-13
 *     weak_model: llama-3.1-8b-instruct
 *     embedding_model: minilm-l6-static  # default: embedding.model; must be what the index was built on
 *     length_prior: 2.0                # default: the manifest's; 0 turns it off
 *     gap_prior: 0.5                   # likewise, the capability-gap prior
 * </pre>
 *
 * <p>RouteLLM fits a Bradley-Terry model over Elo tiers of the neighbours' battles; tiers lose which
 * models were compared and a battle loses the prompts both models got right or both got wrong,
 * which is what tells a prompt the weak model handles from one nobody can (BENCHMARKS.md).
 */
public final class SwRankingRouter implements Router {
  public static final String NAME = "sw_ranking";
  public static final String KIND = "sw_ranking";
  /** The manifest's {@code recipe}. */
  public static final String RECIPE = "completed-scores-v2";

  private final Embedder embedder;
  private final SwIndex index;
  private final int strongRow;
  private final int weakRow;
  private final double lengthPrior;
  private final double gapPrior;
  private final Map<String, Integer> upstreamRows;

  public SwRankingRouter(Embedder embedder, SwIndex index, int strongRow, int weakRow, double lengthPrior,
      double gapPrior) {
    this(embedder, index, strongRow, weakRow, lengthPrior, gapPrior, Map.of("strong", strongRow, "weak", weakRow));
  }

  /** @param upstreamRows each upstream's name to the row of the model standing for it */
  public SwRankingRouter(Embedder embedder, SwIndex index, int strongRow, int weakRow, double lengthPrior,
      double gapPrior, Map<String, Integer> upstreamRows) {
    this.embedder = embedder;
    this.index = index;
    this.strongRow = strongRow;
    this.weakRow = weakRow;
    this.lengthPrior = lengthPrior;
    this.gapPrior = gapPrior;
    this.upstreamRows = Map.copyOf(upstreamRows);
  }

  public static Router create(RouterContext ctx) throws IOException {
    ModelDir md = ModelDir.forRouter(ctx, NAME, KIND);
    Path manifest = md.dir().resolve("manifest.json");
    var m = md.manifest();
    if (!RECIPE.equals(m.path("recipe").asText())) {
      throw new IOException(manifest + ": recipe '" + m.path("recipe").asText() + "' is not " + RECIPE
          + " (a model from an older routewise: retrain it with 'routewise train sw')");
    }
    // numbers as JSON numbers: asInt/asDouble read "0.05" as 0.05, true as 1 and 2.5 prompts as 2
    var p = m.path("prompts");
    var t = m.path("temperature");
    int prompts = p.isIntegralNumber() && p.canConvertToInt() ? p.asInt() : -1;
    double temperature = t.isNumber() ? t.asDouble() : -1;
    if (prompts < 1 || !(temperature > 0) || !Double.isFinite(temperature)) {
      throw new IOException(manifest + ": \"prompts\" (an integer >= 1) and a finite positive number \"temperature\""
          + " are required, got " + p + " and " + t);
    }
    LengthScale length = md.lengthScale();
    double manifestPrior = md.prior("length_prior");
    double manifestGapPrior = md.prior("gap_prior");
    int d = md.embeddingDimension();
    int n = md.models().size();
    SwIndex index = new SwIndex(prompts, d, n, md.weights("embeddings", prompts, d),
        scores(md, "scores", prompts, n), scores(md, "mean_score", n), length, temperature);
    double prior = ctx.settings().number("length_prior", manifestPrior, 0, 10);
    double gapPrior = ctx.settings().number("gap_prior", manifestGapPrior, 0, 10);
    var models = md.models();
    Map<String, String> placed = md.placeUpstreams(ctx);
    String strong = md.upstreamModel(ctx, true);
    String weak = md.upstreamModel(ctx, false);
    if (strong.equals(weak)) {
      throw new IOException("strong and weak both resolve to " + strong + ", so sw_ranking would always answer 0.5; set "
          + ctx.settings().pathOf("strong_model") + " and " + ctx.settings().pathOf("weak_model") + " to two models");
    }
    Map<String, Integer> rows = new HashMap<>();
    placed.forEach((upstream, id) -> rows.put(upstream, models.indexOf(id)));
    rows.put("strong", models.indexOf(strong));
    rows.put("weak", models.indexOf(weak));
    Embedder embedder = md.embedder(ctx);
    return new SwRankingRouter(embedder, index, models.indexOf(strong), models.indexOf(weak), prior, gapPrior, rows);
  }

  /**
   * Weights {@code name}, scores each in [0, 1] as training writes them: another file's values (or a
   * hand-made index's) would push every win rate to one side.
   */
  private static float[] scores(ModelDir md, String name, int... shape) throws IOException {
    float[] values = md.weights(name, shape);
    for (int i = 0; i < values.length; i++) {
      if (!(values[i] >= 0 && values[i] <= 1)) {
        throw new IOException(md.dir().resolve(md.manifest().path("weights").path(name).path("file").asText())
            .normalize() + ": value " + i + " is " + values[i] + "; scores must be in [0, 1] (retrain the model)");
      }
    }
    return values;
  }

  /** An embedding plus a similarity sweep over every stored prompt: milliseconds of CPU. */
  @Override
  public boolean cpuBound() {
    return true;
  }

  @Override
  public double strongWinRate(Prompt prompt) {
    return winRate(embedder.embed(prompt.text()), prompt.text());
  }

  @Override
  public boolean scoresEachUpstream() {
    return true; // its own per-model estimate for every upstream
  }

  /** P(top beats each rung) from one similarity sweep: every rung's weighted score at once. */
  @Override
  public double[] topWinRates(Prompt prompt, Ladder ladder) throws RouterException {
    int[] rows = ModelDir.ladderRows(ladder, upstreamRows, "sw_ranking");
    double[] est = index.estimates(embedder.embed(prompt.text()), rows);
    double z = index.length().z(prompt.text());
    double gap = est[rows.length];
    double[] rates = new double[rows.length];
    for (int i = 1; i < rows.length; i++) {
      rates[i] = rate(est[0], est[i], index.meanScore(rows[0]) - index.meanScore(rows[i]), z, gap);
    }
    return rates;
  }

  /** The strong win rate for an already-embedded query. */
  public double winRate(float[] query, String text) {
    double[] est = index.estimates(query, strongRow, weakRow);
    return rate(est[0], est[1], index.meanScore(strongRow) - index.meanScore(weakRow), index.length().z(text),
        est[2]);
  }

  private double rate(double top, double other, double meanGap, double z, double gap) {
    double r = 0.5 + 0.5 * (top - other + meanGap * (lengthPrior * z + gapPrior * gap));
    return WinRates.bounded(r);
  }
}
