package io.routewise.routers.mf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.routewise.data.Dataset;
import io.routewise.data.DatasetReader;
import io.routewise.data.TrainingSet;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The point-wise trainer on small synthetic data with hand-made embeddings (no ONNX needed). */
class MfTrainerTest {
  @TempDir
  Path tmp;

  /**
   * Two sources. "many" has 40 prompts scored by 20 models (a crowd that knows nothing about the
   * pair); "pair" has 40 prompts scored only by strong and weak, where strong wins exactly on the
   * prompts whose embedding points along the first axis.
   */
  TrainingSet synthetic() throws Exception {
    StringBuilder many = new StringBuilder();
    StringBuilder pair = new StringBuilder();
    Random rnd = new Random(7);
    List<float[]> emb = new ArrayList<>();
    for (int i = 0; i < 40; i++) {
      StringBuilder oc = new StringBuilder();
      for (int m = 0; m < 20; m++) {
        oc.append(m == 0 ? "" : ", ").append("\"crowd-").append(m).append("\": ").append(rnd.nextBoolean() ? 1 : 0);
      }
      many.append("{\"id\": \"m").append(i).append("\", \"source\": \"many\", \"prompt\": \"crowd prompt ").append(i)
          .append("\", \"outcomes\": {").append(oc).append("}}\n");
      emb.add(unit(rnd, 0.0));
    }
    for (int i = 0; i < 40; i++) {
      boolean hard = i % 2 == 0;
      pair.append("{\"id\": \"p").append(i).append("\", \"source\": \"pair\", \"prompt\": \"pair prompt ").append(i)
          .append("\", \"outcomes\": {\"strong\": 1, \"weak\": ").append(hard ? 0 : 1).append("}}\n");
      emb.add(unit(rnd, hard ? 3.0 : -3.0));
    }
    Path a = Files.writeString(tmp.resolve("many.jsonl"), many);
    Path b = Files.writeString(tmp.resolve("pair.jsonl"), pair);
    Dataset data = DatasetReader.read(List.of(a, b));
    List<Integer> train = new ArrayList<>();
    List<Integer> held = new ArrayList<>();
    for (int i = 0; i < data.size(); i++) {
      (i >= 40 && i % 5 == 0 ? held : train).add(i);
    }
    return new TrainingSet(data, emb.toArray(new float[0][]), train, held, null);
  }

  private static float[] unit(Random rnd, double first) {
    float[] v = new float[8];
    v[0] = (float) (first + 0.3 * rnd.nextGaussian());
    for (int j = 1; j < v.length; j++) {
      v[j] = (float) rnd.nextGaussian();
    }
    double n = 0;
    for (float f : v) n += f * f;
    for (int j = 0; j < v.length; j++) v[j] /= (float) Math.sqrt(n);
    return v;
  }

  static MfTrainer.Options options(int threads) {
    return new MfTrainer.Options(4, 150, 0.05, 1e-4, 0, 0, 42, threads, false);
  }

  @Test
  void aPromptCountsOnceAndEverySourceAsMuchAsAnotherHoweverManyModelsScoredIt() throws Exception {
    TrainingSet set = synthetic();
    MfTrainer t = new MfTrainer(set, options(1));
    float[] w = t.observationWeights(set.train());
    double many = 0;
    double pair = 0;
    for (int q : set.train()) {
      double sum = 0;
      for (int o = t.outcomes().start(q); o < t.outcomes().end(q); o++) {
        sum += w[o];
      }
      if (set.data().prompts().get(q).source().equals("many")) {
        many += sum;
      } else {
        pair += sum;
      }
    }
    assertEquals(0.5, many, 1e-5, "20 scores per prompt weigh what 2 do");
    assertEquals(0.5, pair, 1e-5);
  }

  @Test
  void promptsWithoutAResultDoNotThinTheirSourcesWeight() throws Exception {
    // "done": 10 scored prompts; "partial": 10 scored and 30 whose every outcome is null (a run that got no result)
    StringBuilder done = new StringBuilder();
    StringBuilder partial = new StringBuilder();
    for (int i = 0; i < 10; i++) {
      done.append("{\"id\": \"d").append(i).append("\", \"prompt\": \"done ").append(i)
          .append("\", \"outcomes\": {\"strong\": 1, \"weak\": 0}}\n");
      partial.append("{\"id\": \"s").append(i).append("\", \"prompt\": \"scored ").append(i)
          .append("\", \"outcomes\": {\"strong\": 0, \"weak\": 1}}\n");
    }
    for (int i = 0; i < 30; i++) {
      partial.append("{\"id\": \"n").append(i).append("\", \"prompt\": \"no result ").append(i)
          .append("\", \"outcomes\": {\"strong\": null, \"weak\": null}}\n");
    }
    Dataset data = DatasetReader.read(List.of(Files.writeString(tmp.resolve("done.jsonl"), done),
        Files.writeString(tmp.resolve("partial.jsonl"), partial)));
    List<Integer> all = new ArrayList<>();
    float[][] emb = new float[data.size()][];
    for (int i = 0; i < data.size(); i++) {
      all.add(i);
      emb[i] = new float[] {1, 0};
    }
    TrainingSet set = new TrainingSet(data, emb, all, List.of(), null);
    MfTrainer t = new MfTrainer(set, options(1));
    float[] w = t.observationWeights(set.train());
    double[] bySource = new double[2];
    for (int q : set.train()) {
      for (int o = t.outcomes().start(q); o < t.outcomes().end(q); o++) {
        bySource[set.data().prompts().get(q).source().equals("done") ? 0 : 1] += w[o];
      }
    }
    assertEquals(0.5, bySource[0], 1e-5, "every source weighs the same, however many of its rows have no result");
    assertEquals(0.5, bySource[1], 1e-5);
  }

  @Test
  void learnsThePairsOwnEvidenceBesideACrowdOfOtherModels() throws Exception {
    TrainingSet set = synthetic();
    MfTrainer t = new MfTrainer(set, options(2));
    MfModel model = t.train();
    int s = set.data().modelIndex("strong");
    int w = set.data().modelIndex("weak");
    double hard = 0;
    double easy = 0;
    for (int q : set.heldOut()) {
      double r = model.pairWinRate(s, w, t.features(q));
      if (q % 2 == 0) {
        hard += r;
      } else {
        easy += r;
      }
    }
    assertTrue(hard / 4 > easy / 4 + 0.2, "held-out hard " + hard / 4 + " vs easy " + easy / 4);
  }

  @Test
  void theSameDataAndSeedGiveTheSameWeightsWhateverTheThreadCount() throws Exception {
    TrainingSet set = synthetic();
    MfModel one = new MfTrainer(set, options(1)).train();
    MfModel four = new MfTrainer(set, options(4)).train();
    assertArrayEquals(one.vectors(), four.vectors());
    assertArrayEquals(one.bias(), four.bias());
  }

  @Test
  void completedScoresKeepWhatWasObservedAndFillTheRestWithinZeroToOne() throws Exception {
    TrainingSet set = synthetic();
    MfTrainer t = new MfTrainer(set, options(1));
    float[][] c = t.completedOutcomes(t.train());
    int s = set.data().modelIndex("strong");
    int crowd = set.data().modelIndex("crowd-3");
    for (int i = 0; i < set.train().size(); i++) {
      int q = set.train().get(i);
      double observed = t.outcomes().score(q, s);
      if (!Double.isNaN(observed)) {
        assertEquals(observed, c[i][s], 0.0);
      }
      assertTrue(c[i][crowd] >= 0 && c[i][crowd] <= 1);
    }
  }

  @Test
  void aSavedModelLoadsBackToTheSameWinRatesPriorsIncluded() throws Exception {
    TrainingSet set = synthetic();
    MfTrainer t = new MfTrainer(set, new MfTrainer.Options(4, 60, 0.05, 1e-4, 0.7, 0.5, 42, 1, false));
    MfModel model = t.train();
    assertTrue(model.hasGap());
    com.fasterxml.jackson.databind.node.ObjectNode m = io.routewise.routers.ModelDir.json().createObjectNode();
    m.put("format_version", io.routewise.routers.ModelDir.FORMAT_VERSION).put("kind", MfRouter.KIND);
    m.putObject("embedding").put("model", "fixed").put("dimension", 8);
    m.putArray("models").addAll(set.data().models().stream()
        .map(com.fasterxml.jackson.databind.node.TextNode::valueOf).toList());
    m.put("default_strong", "strong").put("default_weak", "weak");
    MfTrainer.save(model, tmp.resolve("mf"), m);
    MfModel back = MfRouter.load(io.routewise.routers.ModelDir.open(tmp.resolve("mf"), MfRouter.KIND));
    int s = set.data().modelIndex("strong");
    int w = set.data().modelIndex("weak");
    for (int q : set.heldOut()) {
      float[] x = t.features(q);
      assertEquals(model.pairWinRate(s, w, x), back.pairWinRate(s, w, x), 1e-6);
      assertEquals(model.gap(x), back.gap(x), 1e-6);
    }
    assertEquals(0.7, back.lengthPrior(), 0);
    assertEquals(0.5, back.gapPrior(), 0);
  }

  /** A saved model's manifest, with each edit in turn: its load must stop naming the file and the key. */
  private void assertEachEditStopsTheLoad(List<java.util.function.Consumer<com.fasterxml.jackson.databind.node.ObjectNode>> edits,
      List<String> keys) throws Exception {
    TrainingSet set = synthetic();
    MfModel model = new MfTrainer(set, new MfTrainer.Options(4, 10, 0.05, 1e-4, 0.7, 0.5, 42, 1, false)).train();
    com.fasterxml.jackson.databind.node.ObjectNode m = io.routewise.routers.ModelDir.json().createObjectNode();
    m.put("format_version", io.routewise.routers.ModelDir.FORMAT_VERSION).put("kind", MfRouter.KIND);
    m.putObject("embedding").put("model", "fixed").put("dimension", 8);
    m.putArray("models").addAll(set.data().models().stream()
        .map(com.fasterxml.jackson.databind.node.TextNode::valueOf).toList());
    Path dir = tmp.resolve("mf");
    MfTrainer.save(model, dir, m);
    MfRouter.load(io.routewise.routers.ModelDir.open(dir, MfRouter.KIND)); // as saved, it loads
    for (int i = 0; i < edits.size(); i++) {
      com.fasterxml.jackson.databind.node.ObjectNode edited = m.deepCopy();
      edits.get(i).accept(edited);
      io.routewise.routers.ModelDir.writeManifest(dir, edited);
      java.io.IOException e = org.junit.jupiter.api.Assertions.assertThrows(java.io.IOException.class,
          () -> MfRouter.load(io.routewise.routers.ModelDir.open(dir, MfRouter.KIND)), edited.toString());
      assertTrue(e.getMessage().contains(dir.resolve("manifest.json").toString()) && e.getMessage().contains(keys.get(i)),
          e.getMessage());
    }
  }

  /** Read back as an infinite double. */
  private static final java.math.BigDecimal HUGE = new java.math.BigDecimal("1e999");

  /**
   * The manifest's priors are held to the [0, 10] of the settings they default: a hand-edited
   * gap_prior of -1 favoured the weaker model, silently.
   */
  @Test
  void aManifestPriorOutsideItsSettingsRangeStopsTheLoadNamingTheFileAndTheKey() throws Exception {
    assertEachEditStopsTheLoad(List.of(
        e -> e.put("gap_prior", -1),
        e -> e.put("length_prior", 11),
        e -> e.put("length_prior", "0.7"),
        e -> e.put("gap_prior", HUGE)),
        List.of("\"gap_prior\"", "\"length_prior\"", "\"length_prior\"", "\"gap_prior\""));
  }

  /**
   * An infinite length mean was an IllegalArgumentException naming no file; an infinite std (length
   * or gap) loaded, and read every prompt as of the mean.
   */
  @Test
  void aNonFiniteLengthOrGapScaleStopsTheLoadNamingTheFile() throws Exception {
    assertEachEditStopsTheLoad(List.of(
        e -> ((com.fasterxml.jackson.databind.node.ObjectNode) e.get("length")).put("mean", HUGE),
        e -> ((com.fasterxml.jackson.databind.node.ObjectNode) e.get("length")).put("std", HUGE),
        e -> ((com.fasterxml.jackson.databind.node.ObjectNode) e.get("gap")).put("std", HUGE)),
        List.of("\"length\"", "\"length\"", "\"gap\""));
  }

  /**
   * "gap".std and "rank" were read with asDouble/asInt: a quoted std or rank loaded as its number, a
   * std of true as 1 and a rank of 4.5 as 4, each without a word.
   */
  @Test
  void aGapScaleOrRankOfAnotherJsonTypeStopsTheLoadNamingTheFileAndTheKey() throws Exception {
    assertEachEditStopsTheLoad(List.of(
        e -> ((com.fasterxml.jackson.databind.node.ObjectNode) e.get("gap")).put("std", e.get("gap").get("std").asText()),
        e -> ((com.fasterxml.jackson.databind.node.ObjectNode) e.get("gap")).put("std", true),
        e -> e.put("rank", e.get("rank").asText()),
        e -> e.put("rank", e.get("rank").asInt() + 0.5)),
        List.of("\"gap\"", "\"gap\"", "\"rank\"", "\"rank\""));
  }

  @Test
  void theGapIsStandardizedOverTheTrainingPromptsAndFavoursTheMoreCapableModel() throws Exception {
    TrainingSet set = synthetic();
    MfTrainer t = new MfTrainer(set, new MfTrainer.Options(4, 60, 0.05, 1e-4, 0, 1.0, 42, 1, false));
    MfModel model = t.train();
    double sum = 0;
    double sq = 0;
    for (int q : set.train()) {
      double g = model.gap(t.features(q));
      sum += g;
      sq += g * g;
    }
    int n = set.train().size();
    assertEquals(0, sum / n, 1e-3);
    assertEquals(1, Math.sqrt(sq / n), 1e-2);
    int s = set.data().modelIndex("strong");
    int w = set.data().modelIndex("weak");
    MfModel off = model.withGapPrior(0);
    for (int q : set.heldOut()) {
      float[] x = t.features(q);
      double expected = 0.5 + 0.5 * (model.probability(s, x) - model.probability(w, x))
          + 0.5 * (model.meanProbability(s) - model.meanProbability(w)) * model.gap(x);
      assertEquals(io.routewise.routers.WinRates.bounded(expected), model.pairWinRate(s, w, x), 1e-9);
      assertEquals(io.routewise.routers.WinRates.bounded(0.5 + 0.5 * (model.probability(s, x) - model.probability(w, x))),
          off.pairWinRate(s, w, x), 1e-9);
      assertEquals(model.pairWinRate(s, w, x), model.pairWinRate(s, w, x, model.gap(x)), 0);
    }
  }

  /**
   * Traffic the base never saw: prompts along the embedding's second axis, where the weak model
   * answers and the strong one does not, and a model the base does not know answering every other.
   */
  TrainingSet newTraffic() throws Exception {
    StringBuilder rows = new StringBuilder();
    Random rnd = new Random(11);
    List<float[]> emb = new ArrayList<>();
    for (int i = 0; i < 30; i++) {
      rows.append("{\"id\": \"n").append(i).append("\", \"source\": \"new\", \"prompt\": \"new prompt ").append(i)
          .append("\", \"outcomes\": {\"strong\": 0, \"weak\": 1, \"newbie\": ").append(i % 2).append("}}\n");
      float[] v = unit(rnd, 0.0);
      v[1] += 3;
      emb.add(v);
    }
    Dataset data = DatasetReader.read(List.of(Files.writeString(tmp.resolve("new.jsonl"), rows)));
    List<Integer> all = new ArrayList<>();
    for (int i = 0; i < data.size(); i++) {
      all.add(i);
    }
    return new TrainingSet(data, emb.toArray(new float[0][]), all, List.of(), null);
  }

  /** A base trained on {@link #synthetic}, then adapted to {@link #newTraffic} with this anchor. */
  record Adapted(TrainingSet old, MfTrainer baseTrainer, MfModel base, TrainingSet fresh, MfTrainer trainer,
      MfModel adapted) {}

  Adapted adapt(double anchor) throws Exception {
    TrainingSet old = synthetic();
    MfTrainer baseTrainer = new MfTrainer(old, options(1));
    MfModel base = baseTrainer.train();
    TrainingSet fresh = newTraffic();
    MfTrainer t = new MfTrainer(fresh, options(1), new MfTrainer.Base(base, old.data().models(), java.util.Set.of(), anchor));
    return new Adapted(old, baseTrainer, base, fresh, t, t.train());
  }

  @Test
  void adaptingLearnsWhatTheNewRowsShowKeepsWhatTheBaseKnewAndAddsNewModelsAfterItsOwn() throws Exception {
    Adapted a = adapt(0.01);
    TrainingSet old = a.old();
    MfTrainer baseTrainer = a.baseTrainer();
    MfModel base = a.base();
    TrainingSet fresh = a.fresh();
    MfTrainer t = a.trainer();
    MfModel adapted = a.adapted();

    assertEquals(old.data().models(), t.modelIds().subList(0, base.models()), "the base's rows keep their places");
    assertEquals(List.of("newbie"), t.modelIds().subList(base.models(), t.modelIds().size()));
    assertEquals(base.models() + 1, adapted.models());
    int s = old.data().modelIndex("strong");
    int w = old.data().modelIndex("weak");
    double before = 0;
    double after = 0;
    double newbie = 0;
    for (int q : fresh.train()) {
      float[] x = t.features(q);
      before += base.pairWinRate(s, w, x) / 30;
      after += adapted.pairWinRate(s, w, x) / 30;
      newbie += adapted.probability(base.models(), x) / 30;
    }
    assertTrue(after < 0.35 && after < before - 0.2, "new traffic: strong's win rate " + before + " -> " + after);
    assertEquals(0.5, newbie, 0.15, "the new model answers half");
    double hard = 0;
    double easy = 0;
    for (int q : old.heldOut()) {
      double r = adapted.pairWinRate(s, w, baseTrainer.features(q));
      if (q % 2 == 0) {
        hard += r / 4;
      } else {
        easy += r / 4;
      }
    }
    assertTrue(hard > easy + 0.2, "the base's held-out pair prompts: hard " + hard + " vs easy " + easy);
    assertEquals(base.meanProbability(s), adapted.meanProbability(s), 0, "the priors read as the base's");
  }

  @Test
  void aHeavyAnchorLeavesTheBaseAsItWas() throws Exception {
    Adapted a = adapt(1e4);
    int s = a.old().data().modelIndex("strong");
    int w = a.old().data().modelIndex("weak");
    for (int q : a.fresh().train()) {
      float[] x = a.trainer().features(q);
      assertEquals(a.base().pairWinRate(s, w, x), a.adapted().pairWinRate(s, w, x), 1e-3);
    }
    for (int q : a.old().heldOut()) {
      float[] x = a.baseTrainer().features(q);
      assertEquals(a.base().pairWinRate(s, w, x), a.adapted().pairWinRate(s, w, x), 1e-3);
    }
  }

  /** The old data's pair prompts (same embeddings), scored as given for each model. */
  TrainingSet pairPromptsScored(TrainingSet old, java.util.function.IntFunction<String> outcomes) throws Exception {
    StringBuilder rows = new StringBuilder();
    List<float[]> emb = new ArrayList<>();
    for (int q = 40; q < 80; q++) {
      rows.append("{\"id\": \"x").append(q).append("\", \"source\": \"mine\", \"prompt\": \"pair prompt ").append(q)
          .append("\", \"outcomes\": {").append(outcomes.apply(q)).append("}}\n");
      emb.add(old.embeddings()[q]);
    }
    Dataset data = DatasetReader.read(List.of(Files.writeString(tmp.resolve("mine.jsonl"), rows)));
    List<Integer> all = new ArrayList<>();
    for (int i = 0; i < data.size(); i++) {
      all.add(i);
    }
    return new TrainingSet(data, emb.toArray(new float[0][]), all, List.of(), null);
  }

  @Test
  void aModelNewToTheBaseStartsAsTheTrainedModelWhoseScoresItsOwnFitBest() throws Exception {
    TrainingSet old = synthetic();
    MfTrainer baseTrainer = new MfTrainer(old, options(1));
    MfModel base = baseTrainer.train();
    // "weak-next" scores the pair prompts as weak did (wrong on the hard ones): a new snapshot of weak
    TrainingSet fresh = pairPromptsScored(old, q -> "\"weak-next\": " + (q % 2 == 0 ? 0 : 1));
    MfTrainer t = new MfTrainer(fresh, new MfTrainer.Options(4, 0, 0.05, 1e-4, 0, 0, 42, 1, false),
        new MfTrainer.Base(base, old.data().models(), java.util.Set.of(), 0.01));
    MfModel start = t.train(); // no step: the starting point itself
    int weak = old.data().modelIndex("weak");
    int next = t.modelIds().indexOf("weak-next");
    for (int q : fresh.train()) {
      float[] x = t.features(q);
      assertEquals(base.probability(weak, x), start.probability(next, x), 0.1, "prompt " + q);
    }
  }

  @Test
  void theBasesUntrainedRowsAreLearnedFromTheNewRowsNotHeldToTheirRandomStart() throws Exception {
    TrainingSet old = synthetic();
    MfModel base = new MfTrainer(old, options(1)).train();
    // weak now answers every pair prompt; the base is told its weak row was never trained
    TrainingSet fresh = pairPromptsScored(old, q -> "\"strong\": 1, \"weak\": 1");
    MfTrainer t = new MfTrainer(fresh, options(1),
        new MfTrainer.Base(base, old.data().models(), java.util.Set.of("weak"), 1e4));
    MfModel adapted = t.train();
    int strong = old.data().modelIndex("strong");
    int weak = old.data().modelIndex("weak");
    double before = 0;
    double after = 0;
    for (int q : fresh.train()) {
      float[] x = t.features(q);
      before += base.probability(weak, x) / 40;
      after += adapted.probability(weak, x) / 40;
      assertEquals(base.probability(strong, x), adapted.probability(strong, x), 1e-2, "a trained row stays anchored");
    }
    assertTrue(after > 0.9 && after > before + 0.2, "weak's row: " + before + " -> " + after);
  }
}
