package io.routewise.routers.sw;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.routewise.data.Dataset;
import io.routewise.data.TrainingSet;
import io.routewise.routers.ModelDir;
import io.routewise.routers.mf.MfTrainer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Builds the sw_ranking index from the training prompts: global Bradley-Terry ratings of all models
 * over all training battles, models cut into {@code tiers} equal-sized groups by rating (tier 0 the
 * strongest), and per prompt the tier-pair win counts (battles inside one tier carry no signal and
 * are dropped). With {@code perPromptNormalize}, each prompt's counts sum to 1, so a prompt with
 * 51 models (1275 pairs) weighs as much as one with 2.
 */
public final class SwTrainer {
  private SwTrainer() {}

  public record Result(SwIndex index, List<String> models, double[] ratings, int[] tierOf) {}

  public static Result build(TrainingSet set, int tiers, boolean perPromptNormalize) {
    Dataset data = set.data();
    int n = data.models().size();
    double[] wins = new double[n * n];
    for (int q : set.train()) {
      for (int b = data.battleStart(q); b < data.battleEnd(q); b++) {
        add(wins, n, data.winner(b), data.loser(b), data.tie(b), 1.0);
      }
    }
    double[] theta = BradleyTerry.fit(wins, n);
    double[] ratings = new double[n];
    for (int i = 0; i < n; i++) {
      ratings[i] = BradleyTerry.elo(theta[i]);
    }
    Integer[] order = new Integer[n];
    for (int i = 0; i < n; i++) {
      order[i] = i;
    }
    java.util.Arrays.sort(order, Comparator.comparingDouble((Integer i) -> -ratings[i]).thenComparing(i -> i));
    int t = Math.min(tiers, n);
    int[] tierOf = new int[n];
    for (int rank = 0; rank < n; rank++) {
      tierOf[order[rank]] = (int) ((long) rank * t / n);
    }
    List<Integer> kept = new ArrayList<>();
    List<double[]> counts = new ArrayList<>();
    for (int q : set.train()) {
      double[] c = new double[t * t];
      double sum = 0;
      for (int b = data.battleStart(q); b < data.battleEnd(q); b++) {
        int a = tierOf[data.winner(b)];
        int l = tierOf[data.loser(b)];
        if (a == l) {
          continue;
        }
        add(c, t, a, l, data.tie(b), 1.0);
        sum += 1;
      }
      if (sum == 0) {
        continue;
      }
      if (perPromptNormalize) {
        for (int k = 0; k < c.length; k++) {
          c[k] /= sum;
        }
      }
      kept.add(q);
      counts.add(c);
    }
    int d = set.embeddings()[0].length;
    float[] emb = new float[kept.size() * d];
    float[] tw = new float[kept.size() * t * t];
    for (int i = 0; i < kept.size(); i++) {
      System.arraycopy(set.embeddings()[kept.get(i)], 0, emb, i * d, d);
      double[] c = counts.get(i);
      for (int k = 0; k < c.length; k++) {
        tw[i * t * t + k] = (float) c[k];
      }
    }
    return new Result(new SwIndex(kept.size(), d, t, emb, tw), data.models(), ratings, tierOf);
  }

  private static void add(double[] wins, int n, int winner, int loser, boolean tie, double w) {
    if (tie) {
      wins[winner * n + loser] += w / 2;
      wins[loser * n + winner] += w / 2;
    } else {
      wins[winner * n + loser] += w;
    }
  }

  public static ObjectNode heldOutMetrics(Result r, TrainingSet set, String strong, String weak) {
    ObjectNode out = ModelDir.json().createObjectNode();
    out.put("prompts", set.heldOut().size());
    int si = r.models().indexOf(strong);
    int wi = r.models().indexOf(weak);
    if (si >= 0 && wi >= 0 && r.tierOf()[si] != r.tierOf()[wi]) {
      SwRankingRouter router = new SwRankingRouter(null, r.index(), r.tierOf()[si], r.tierOf()[wi]);
      MfTrainer.apgrOn(out, set, strong, weak, router::winRate);
    }
    return out;
  }

  public static void save(Result r, Path dir, ObjectNode manifest) throws IOException {
    Files.createDirectories(dir);
    SwIndex ix = r.index();
    ModelDir.writeFloats(dir.resolve("embeddings.f32"), ix.embeddings);
    ModelDir.writeFloats(dir.resolve("tier_wins.f32"), ix.tierWins);
    manifest.put("num_tiers", ix.tiers);
    manifest.put("prompts", ix.prompts);
    ObjectNode tiers = manifest.putObject("model_tiers");
    ObjectNode ratings = manifest.putObject("model_ratings");
    for (int i = 0; i < r.models().size(); i++) {
      tiers.put(r.models().get(i), r.tierOf()[i]);
      ratings.put(r.models().get(i), Math.round(r.ratings()[i] * 10) / 10.0);
    }
    ObjectNode weights = manifest.putObject("weights");
    weights.putObject("embeddings").put("file", "embeddings.f32").putArray("shape").add(ix.prompts).add(ix.d);
    weights.putObject("tier_wins").put("file", "tier_wins.f32").putArray("shape").add(ix.prompts).add(ix.tiers)
        .add(ix.tiers);
    ModelDir.writeManifest(dir, manifest);
  }
}
