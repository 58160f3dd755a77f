package io.routewise.routers.sw;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.routewise.data.TrainingSet;
import io.routewise.eval.HeldOutMetrics;
import io.routewise.routers.ModelDir;
import io.routewise.routers.mf.MfModel;
import io.routewise.routers.mf.MfTrainer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Builds the sw_ranking index: the training prompts' embeddings and every model's score on each,
 * observed where the data has it and otherwise completed by a point-wise model trained on the same
 * prompts ({@link MfTrainer#completedOutcomes}): the model's estimate moved by how much better or
 * worse than predicted the prompt's observed models did. So a pair named by the user has a score
 * on every stored prompt, its own where it was measured and its nearest proxies' evidence elsewhere.
 */
public final class SwTrainer {
  private SwTrainer() {}

  /** The default kernel temperature (cosine similarity units). */
  public static final double TEMPERATURE = 0.05;
  /** The default priors' weights (BENCHMARKS.md has the figures behind them). */
  public static final double LENGTH_PRIOR = 2.0;
  public static final double GAP_PRIOR = 0.5;

  public record Result(SwIndex index, List<String> models, double lengthPrior, double gapPrior) {}

  /** Builds the index from a trained model and the trainer that has the outcomes. */
  public static Result build(TrainingSet set, MfTrainer trainer, MfModel model, double temperature, double lengthPrior,
      double gapPrior) {
    float[][] completed = trainer.completedOutcomes(model);
    List<Integer> rows = set.train();
    int d = set.embeddings()[0].length;
    int m = set.data().models().size();
    float[] emb = new float[rows.size() * d];
    float[] scores = new float[rows.size() * m];
    float[] mean = new float[m];
    for (int i = 0; i < rows.size(); i++) {
      System.arraycopy(set.embeddings()[rows.get(i)], 0, emb, i * d, d);
      System.arraycopy(completed[i], 0, scores, i * m, m);
      for (int j = 0; j < m; j++) {
        mean[j] += completed[i][j] / rows.size();
      }
    }
    SwIndex index = new SwIndex(rows.size(), d, m, emb, scores, mean, trainer.lengthScale(), temperature);
    return new Result(index, set.data().models(), lengthPrior, gapPrior);
  }

  public static ObjectNode heldOutMetrics(Result r, TrainingSet set, String strong, String weak) {
    ObjectNode out = ModelDir.json().createObjectNode();
    out.put("prompts", set.heldOut().size());
    int si = r.models().indexOf(strong);
    int wi = r.models().indexOf(weak);
    if (si >= 0 && wi >= 0) {
      SwRankingRouter router = new SwRankingRouter(null, r.index(), si, wi, r.lengthPrior(), r.gapPrior());
      HeldOutMetrics.apgrOn(out, set, strong, weak,
          q -> router.winRate(set.embeddings()[q], set.data().prompts().get(q).prompt()));
    }
    return out;
  }

  public static void save(Result r, Path dir, ObjectNode manifest) throws IOException {
    Files.createDirectories(dir);
    SwIndex ix = r.index();
    ModelDir.writeFloats(dir.resolve("embeddings.f32"), ix.embeddings);
    ModelDir.writeFloats(dir.resolve("scores.f32"), ix.scores);
    ModelDir.writeFloats(dir.resolve("mean_score.f32"), ix.meanScore);
    manifest.put("recipe", SwRankingRouter.RECIPE);
    manifest.put("prompts", ix.prompts);
    manifest.put("temperature", ix.temperature);
    manifest.put("length_prior", r.lengthPrior());
    manifest.put("gap_prior", r.gapPrior());
    ObjectNode len = manifest.putObject("length");
    len.put("mean", ix.length.mean()).put("std", ix.length.std());
    ObjectNode weights = manifest.putObject("weights");
    weights.putObject("embeddings").put("file", "embeddings.f32").putArray("shape").add(ix.prompts).add(ix.d);
    weights.putObject("scores").put("file", "scores.f32").putArray("shape").add(ix.prompts).add(ix.models);
    weights.putObject("mean_score").put("file", "mean_score.f32").putArray("shape").add(ix.models);
    ModelDir.writeManifest(dir, manifest);
  }
}
