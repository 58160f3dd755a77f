package io.routewise.routers.bert;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.routewise.data.Holdout;
import io.routewise.data.TrainingSet;
import io.routewise.embedding.Embedders;
import io.routewise.embedding.EmbeddingModel;
import io.routewise.embedding.EmbeddingSettings;
import io.routewise.eval.QualityCurve;
import io.routewise.routers.ModelDir;
import io.routewise.routers.RouterContext;
import io.routewise.config.ConfigNode;
import io.routewise.config.ConfigProblems;
import io.routewise.routing.Prompt;
import io.routewise.routing.Router;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The head form end to end on the synthetic fixture: hard prompts need the strong model, easy ones
 * do not; source synthetic-b is held out.
 */
class BertTrainerTest {
  static Embedders embedders;
  static TrainingSet set;

  @BeforeAll
  static void embed() throws Exception {
    embedders = new Embedders(EmbeddingSettings.defaults().withModel(EmbeddingModel.MINILM_L6_Q.id()).withThreads(2).withCacheEntries(1000));
    Path data = Path.of(BertTrainerTest.class.getResource("/fixtures/synthetic-outcomes.jsonl").toURI());
    set = TrainingSet.load(List.of(data), Holdout.parse("source:synthetic-b"), 42,
        embedders.get("all-minilm-l6-v2-q"), false);
  }

  @AfterAll
  static void close() {
    embedders.close();
  }

  static BertTrainer.Options options(BertTrainer.Pairs pairs, int hidden) {
    return new BertTrainer.Options(hidden, 100, 16, 3e-2, 1e-4, pairs, 0.05, 7, false);
  }

  /** Held-out APGR of scoring hard prompts 1 and easy ones 0. */
  static double categoryOracleApgr() {
    List<Integer> held = set.heldOut();
    double[] sc = new double[held.size()];
    double[] sq = new double[held.size()];
    double[] wq = new double[held.size()];
    for (int i = 0; i < held.size(); i++) {
      var p = set.data().prompts().get(held.get(i));
      sc[i] = "hard".equals(p.category()) ? 1 : 0;
      sq[i] = p.outcomes().get("strong-model");
      wq[i] = p.outcomes().get("weak-model");
    }
    return QualityCurve.of(sc, sq, wq).apgr();
  }

  @Test
  void labelsComeFromThePairsOutcomes() {
    var data = set.data();
    double[] strength = BertTrainer.strengths(data, set.train());
    assertTrue(strength[data.modelIndex("strong-model")] > strength[data.modelIndex("mid-model")]);
    assertTrue(strength[data.modelIndex("mid-model")] > strength[data.modelIndex("weak-model")]);
    double[][] pair = BertTrainer.targets(data, set.train(), "strong-model", "weak-model", BertTrainer.Pairs.DEFAULT,
        strength, 0);
    double[][] all = BertTrainer.targets(data, set.train(), "strong-model", "weak-model", BertTrainer.Pairs.ORDERED,
        strength, 0);
    for (int q : set.train()) {
      var o = data.prompts().get(q).outcomes();
      double s = o.get("strong-model");
      double w = o.get("weak-model");
      assertArrayEquals(new double[] {s > w ? 1 : 0, s == w ? 1 : 0, w > s ? 1 : 0}, pair[q], 1e-12);
      // three models, three pairs: each pair's result is a third of the label
      double strongWins = 0;
      double ties = 0;
      double[] scores = {s, o.get("mid-model"), w}; // strongest first
      for (int i = 0; i < 3; i++) {
        for (int j = i + 1; j < 3; j++) {
          strongWins += scores[i] > scores[j] ? 1 : 0;
          ties += scores[i] == scores[j] ? 1 : 0;
        }
      }
      assertEquals(strongWins / 3, all[q][0], 1e-12);
      assertEquals(ties / 3, all[q][1], 1e-12);
    }
  }

  @Test
  void aTrainedHeadRoutesHeldOutHardPromptsToTheStrongModelAndLoadsAsARouter(@TempDir Path tmp) throws Exception {
    for (int hidden : new int[] {0, 16}) {
      double[] strength = BertTrainer.strengths(set.data(), set.train());
      double[][] targets = BertTrainer.targets(set.data(), set.train(), "strong-model", "weak-model",
          BertTrainer.Pairs.DEFAULT, strength, 0);
      BertTrainer t = new BertTrainer(384, options(BertTrainer.Pairs.DEFAULT, hidden));
      t.train(set.embeddings(), targets);
      BertHead head = t.head();
      ObjectNode held = BertTrainer.heldOutMetrics(head, set, "strong-model", "weak-model");
      assertEquals(40, held.path("half_tie").path("pair_prompts").asInt());
      // random routing gives 0.5; a perfect hard-before-easy ranking gives the oracle's APGR (about
      // 0.68 here: 3 easy prompts need the strong model too)
      double oracle = categoryOracleApgr();
      for (String reading : new String[] {"half_tie", "routellm"}) {
        double apgr = held.path(reading).path("apgr").asDouble();
        assertTrue(apgr > 0.6 && apgr > oracle - 0.03, "hidden " + hidden + ", oracle " + oracle + ": " + held);
      }

      Path dir = tmp.resolve("bert-" + hidden);
      ObjectNode m = ModelDir.newManifest("bert");
      m.put("form", "head");
      m.putObject("embedding").put("model", "all-minilm-l6-v2-q").put("dimension", 384);
      m.putArray("models").add("strong-model").add("weak-model");
      m.putArray("labels").add("strong_better").add("tie").add("weak_better");
      m.putArray("strong_win_weights").add(1).add(0.5).add(0);
      head.save(dir, m);
      ModelDir.writeManifest(dir, m);
      ConfigProblems problems = new ConfigProblems();
      ConfigNode settings = new ConfigNode("routers.bert", java.util.Map.of("model_dir", dir.toString()), problems);
      try (Router r = BertRouter.create(new RouterContext("bert", settings, tmp, embedders, null, null))) {
        problems.throwIfAny();
        assertEquals(BertRouter.Form.HEAD, ((BertRouter) r).form());
        int hardAbove = 0;
        int pairs = 0;
        for (int h : set.heldOut()) {
          for (int e : set.heldOut()) {
            var ph = set.data().prompts().get(h);
            var pe = set.data().prompts().get(e);
            if ("hard".equals(ph.category()) && "easy".equals(pe.category())) {
              pairs++;
              if (r.strongWinRate(Prompt.of(ph.prompt())) > r.strongWinRate(Prompt.of(pe.prompt()))) {
                hardAbove++;
              }
            }
          }
        }
        assertTrue(hardAbove > 0.8 * pairs, "hidden " + hidden + ": hard above easy in " + hardAbove + "/" + pairs);
        // the router reads the same head the trainer measured
        float[] e0 = set.embeddings()[set.heldOut().get(0)];
        assertEquals(LabelReading.HALF_TIE.strongWinRate(head.logits(e0)),
            r.strongWinRate(Prompt.of(set.data().prompts().get(set.heldOut().get(0)).prompt())), 1e-5);
      }
      // a classifier-only key on a head directory is a config problem, not silently ignored
      ConfigProblems catalogProblems = new ConfigProblems();
      var cfg = io.routewise.TestConfigs.config(io.routewise.TestConfigs.yaml("http://127.0.0.1:1/v1",
          "http://127.0.0.1:2/v1", "routers: {bert: {model_dir: \"" + dir + "\", max_tokens: 64}}"));
      assertTrue(io.routewise.routers.RouterCatalog.standard().load(cfg, embedders, catalogProblems).isEmpty());
      assertTrue(String.join("\n", catalogProblems.list()).contains("routers.bert.max_tokens: unknown key"),
          catalogProblems.list().toString());
    }
  }
}
