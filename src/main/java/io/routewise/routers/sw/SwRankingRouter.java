package io.routewise.routers.sw;

import com.fasterxml.jackson.databind.JsonNode;
import io.routewise.embedding.Embedder;
import io.routewise.routers.ModelDir;
import io.routewise.routers.RouterContext;
import io.routewise.routing.Ladder;
import io.routewise.routing.Prompt;
import io.routewise.routing.Router;
import io.routewise.routing.RouterException;
import java.io.IOException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * The {@code sw_ranking} router, RouteLLM's similarity-weighted ranking: the models are grouped into
 * Elo tiers at training time; for a query, the stored training prompts are weighted by
 * {@code 10 * 10^(sim / max_sim)}, a Bradley-Terry fit over the weighted tier-pair win counts gives
 * each tier a rating, and the strong model wins with {@code 1 / (1 + 10^((r_weak - r_strong) / 400))}
 * from the ratings of the strong and the weak model's tiers. Thread-safe (the index is immutable,
 * each call allocates its own buffers).
 *
 * <p>With more than two upstreams each is placed on a trained model as for {@code mf}, and
 * {@link #topWinRates} reads the top's win over each from the same fit. Config, all optional:
 *
 * <pre>
 * routers:
 *   sw_ranking:
 *     model_dir: models/sw_ranking
 *     strong_model: gpt-4o-2024-05-13
 *     weak_model: llama-3.1-8b-instruct
 * </pre>
 */
public final class SwRankingRouter implements Router {
  public static final String NAME = "sw_ranking";
  public static final String KIND = "sw_ranking";

  private final Embedder embedder;
  private final SwIndex index;
  private final int strongTier;
  private final int weakTier;
  private final Map<String, Integer> upstreamTiers;

  public SwRankingRouter(Embedder embedder, SwIndex index, int strongTier, int weakTier) {
    this(embedder, index, strongTier, weakTier, Map.of("strong", strongTier, "weak", weakTier));
  }

  /** @param upstreamTiers each upstream's name to the tier of the model standing for it */
  public SwRankingRouter(Embedder embedder, SwIndex index, int strongTier, int weakTier,
      Map<String, Integer> upstreamTiers) {
    this.embedder = embedder;
    this.index = index;
    this.strongTier = strongTier;
    this.weakTier = weakTier;
    this.upstreamTiers = Map.copyOf(upstreamTiers);
  }

  public static Router create(RouterContext ctx) throws IOException {
    ModelDir md = ModelDir.forRouter(ctx, NAME, KIND);
    Path manifest = md.dir().resolve("manifest.json");
    int tiers = md.manifest().path("num_tiers").asInt(-1);
    int prompts = md.manifest().path("prompts").asInt(-1);
    if (tiers < 2 || prompts < 1) {
      throw new IOException(manifest + ": \"num_tiers\" (>= 2) and \"prompts\" (>= 1) are required");
    }
    int d = md.embeddingDimension();
    SwIndex index = new SwIndex(prompts, d, tiers, md.weights("embeddings", prompts, d),
        md.weights("tier_wins", prompts, tiers, tiers));
    Map<String, String> placed = md.placeUpstreams(ctx);
    String strong = md.upstreamModel(ctx, true);
    String weak = md.upstreamModel(ctx, false);
    int st = tier(md.manifest(), manifest, strong, tiers);
    int wt = tier(md.manifest(), manifest, weak, tiers);
    if (st == wt) {
      throw new IOException(manifest + ": " + strong + " and " + weak + " are in the same tier (" + st
          + "), so sw_ranking cannot tell them apart; pick other models or retrain with more tiers");
    }
    Map<String, Integer> upstreamTiers = new HashMap<>();
    for (var e : placed.entrySet()) {
      upstreamTiers.put(e.getKey(), tier(md.manifest(), manifest, e.getValue(), tiers));
    }
    upstreamTiers.put("strong", st);
    upstreamTiers.put("weak", wt);
    Embedder embedder = ctx.embedders().get(md.embeddingModel());
    md.checkEmbedder(embedder);
    return new SwRankingRouter(embedder, index, st, wt, upstreamTiers);
  }

  private static int tier(JsonNode m, Path manifest, String model, int tiers) throws IOException {
    JsonNode t = m.path("model_tiers").path(model);
    if (!t.isInt() || t.asInt() < 0 || t.asInt() >= tiers) {
      throw new IOException(manifest + ": model_tiers has no valid tier for " + model);
    }
    return t.asInt();
  }

  /** An embedding plus a weighted Bradley-Terry fit over the neighbours: milliseconds of CPU. */
  @Override
  public boolean cpuBound() {
    return true;
  }

  @Override
  public double strongWinRate(Prompt prompt) {
    return winRate(embedder.embed(prompt.text()));
  }

  /**
   * P(top beats each rung) from one weighted Bradley-Terry fit: the tiers' strengths give every pair
   * at once, {@code sigmoid(theta_top - theta_i)}; a rung in the top's tier gets 0.5.
   */
  @Override
  public double[] topWinRates(Prompt prompt, Ladder ladder) throws RouterException {
    int[] tiers = new int[ladder.size()];
    for (int i = 0; i < tiers.length; i++) {
      Integer t = upstreamTiers.get(ladder.rung(i).upstream());
      if (t == null) {
        throw new RouterException("unplaced_upstream",
            "sw_ranking has no model for upstream '" + ladder.rung(i).upstream() + "'");
      }
      tiers[i] = t;
    }
    double[] theta = index.tierStrengths(embedder.embed(prompt.text()));
    double[] rates = new double[tiers.length];
    for (int i = 1; i < tiers.length; i++) {
      rates[i] = BradleyTerry.eloWinRate(BradleyTerry.elo(theta[tiers[0]]), BradleyTerry.elo(theta[tiers[i]]));
    }
    return rates;
  }

  /** The strong win rate for an already-embedded query. */
  public double winRate(float[] query) {
    double[] theta = index.tierStrengths(query);
    return BradleyTerry.eloWinRate(BradleyTerry.elo(theta[strongTier]), BradleyTerry.elo(theta[weakTier]));
  }
}
