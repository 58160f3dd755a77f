package io.routewise.cli;

import io.routewise.data.Dataset;
import io.routewise.data.DatasetReader;
import io.routewise.data.PromptRecord;
import io.routewise.data.TrainingSet;
import io.routewise.embedding.Embedder;
import io.routewise.eval.QualityCurve;
import io.routewise.routers.mf.MfModel;
import io.routewise.routers.mf.MfTrainer;
import io.routewise.routers.sw.SwRankingRouter;
import io.routewise.routers.sw.SwTrainer;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.function.Predicate;

/**
 * {@code routewise eval --protocol}: how well the learned routers' training recipe routes on data it
 * never saw, in one table, beside random and prompt length:
 *
 * <ul>
 *   <li><b>Leave one source out</b> (a new kind of traffic): each data file in turn is held out
 *       whole, the routers are trained on the others and scored on it with a pair it has.
 *   <li><b>K-fold cross-validation on the stand-ins</b> for RouteLLM's benchmarks: mmlu-gold for
 *       MMLU and arena-bench-v1 for MT Bench (both with the exact pair, GPT-4-1106 vs Mixtral), and
 *       dcrouter's gsm8k rows for GSM8K. One fold of each is held out together; the routers train
 *       on everything else. RouteLLM's GSM8K pair has no GSM8K-like outcomes in the data, so the
 *       stand-in pair's outcomes on the gsm8k rows are hidden from training too: a router must rank
 *       those prompts from other tasks' evidence, as it must on the real benchmark.
 *   <li>Each learned router twice: with the benchmark's pair <b>named</b> (as a user naming their
 *       upstreams would) and with the router's <b>default</b> pair.
 * </ul>
 */
final class EvalProtocol {
  /** A stand-in for one of RouteLLM's benchmarks: which prompts, which pair. */
  record StandIn(String name, Predicate<PromptRecord> rows, String strong, String weak, boolean hidePair) {}

  /** A held-out whole source and the pair it is scored with. */
  record Source(String name, String strong, String weak) {}

  static final String GPT4 = "gpt-4-1106-preview";
  static final String MIXTRAL = "mixtral-8x7b-instruct-v0.1";
  static final String DEFAULT_STRONG = "gpt-4o-2024-05-13";
  static final String DEFAULT_WEAK = "llama-3.1-8b-instruct";

  static final List<StandIn> STAND_INS = List.of(
      new StandIn("MMLU: mmlu-gold", r -> r.source().equals("mmlu-gold"), GPT4, MIXTRAL, false),
      new StandIn("MT Bench: arena-bench", r -> r.source().equals("arena-bench-v1"), GPT4, MIXTRAL, false),
      new StandIn("GSM8K: dcrouter gsm8k", r -> r.source().equals("dcrouter") && "gsm8k".equals(r.category()),
          "llama-3.1-nemotron-51b-instruct", "mistral-7b-instruct-v0.3", true));

  static final List<Source> SOURCES = List.of(
      new Source("mmlu-pro", DEFAULT_STRONG, MIXTRAL),
      new Source("mmlu-gold", GPT4, MIXTRAL),
      new Source("zeroeval-math-l5", DEFAULT_STRONG, DEFAULT_WEAK),
      new Source("zeroeval-crux", DEFAULT_STRONG, DEFAULT_WEAK),
      new Source("dcrouter", "llama-3.1-nemotron-51b-instruct", "mistral-7b-instruct-v0.3"),
      new Source("arena-bench-v1", GPT4, MIXTRAL));

  private final List<Path> files;
  private final Embedder embedder;
  private final int folds;
  private final long seed;
  private final MfTrainer.Options mf;
  private final double swPrior;
  private final double swGap;
  private final double swTemperature;
  private final boolean progress;

  EvalProtocol(List<Path> files, Embedder embedder, int folds, long seed, MfTrainer.Options mf, double swPrior,
      double swGap, double swTemperature, boolean progress) {
    this.files = files;
    this.embedder = embedder;
    this.folds = folds;
    this.seed = seed;
    this.mf = mf;
    this.swPrior = swPrior;
    this.swGap = swGap;
    this.swTemperature = swTemperature;
    this.progress = progress;
  }

  /** One column of the table: held-out prompts and the routers' scores on them. */
  private static final class Column {
    final String title;
    final String strong;
    final String weak;
    final List<Integer> rows = new ArrayList<>();
    final Map<String, double[]> scores = new LinkedHashMap<>();

    Column(String title, String strong, String weak) {
      this.title = title;
      this.strong = strong;
      this.weak = weak;
    }
  }

  String run() throws IOException {
    Dataset data = DatasetReader.read(files);
    int n = data.size();
    TrainCommand.sayBlankPromptsLeftOut(data);
    float[][] emb = new float[n][];
    try (var pb = TrainingSet.progressBar("embed", n, progress)) {
      for (int i = 0; i < n; i++) {
        emb[i] = embedder.embed(data.prompts().get(i).prompt());
        pb.step();
      }
    }
    List<Column> columns = new ArrayList<>();
    // K-fold on the stand-ins, one fold of each held out together.
    List<Column> standCols = new ArrayList<>();
    List<List<Integer>> standFolds = new ArrayList<>();
    List<StandIn> standIns = new ArrayList<>();
    for (StandIn s : STAND_INS) {
      Column c = new Column(s.name() + " (" + folds + "-fold)", s.strong(), s.weak());
      List<Integer> idx = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        PromptRecord r = data.prompts().get(i);
        if (s.rows().test(r) && r.outcomes().containsKey(s.strong()) && r.outcomes().containsKey(s.weak())) {
          idx.add(i);
        }
      }
      if (idx.size() < folds) { // a subset of the data: that column has nothing (or too little) to fold
        System.err.printf(java.util.Locale.ROOT, "note: %s left out: %d prompt(s) with outcomes of %s and %s, fewer "
            + "than the %d folds%n", s.name(), idx.size(), s.strong(), s.weak(), folds);
        continue;
      }
      java.util.Collections.shuffle(idx, new Random(seed));
      standFolds.add(idx);
      standCols.add(c);
      standIns.add(s);
    }
    for (int f = 0; f < (standFolds.isEmpty() ? 0 : folds); f++) { // no stand-in: nothing to fold
      Set<Integer> held = new HashSet<>();
      List<List<Integer>> foldRows = new ArrayList<>();
      for (List<Integer> idx : standFolds) {
        List<Integer> part = new ArrayList<>();
        for (int j = f; j < idx.size(); j += folds) {
          part.add(idx.get(j));
        }
        held.addAll(part);
        foldRows.add(part);
      }
      Dataset trainData = maskStandInPairs(data);
      Trained t = train(trainData, emb, data.withCopies(held), "fold " + (f + 1) + "/" + folds);
      for (int s = 0; s < standIns.size(); s++) {
        score(t, data, emb, standCols.get(s), foldRows.get(s));
      }
    }
    // Whole sources held out.
    for (Source src : SOURCES) {
      Set<Integer> held = new HashSet<>();
      List<Integer> rows = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        PromptRecord r = data.prompts().get(i);
        if (r.source().equals(src.name())) {
          held.add(i);
          if (r.outcomes().containsKey(src.strong()) && r.outcomes().containsKey(src.weak())) {
            rows.add(i);
          }
        }
      }
      if (rows.isEmpty()) {
        continue;
      }
      Column c = new Column(src.name() + " (source held out)", src.strong(), src.weak());
      Trained t = train(data, emb, data.withCopies(held), "without " + src.name());
      score(t, data, emb, c, rows);
      columns.add(c);
    }
    columns.addAll(0, standCols);
    if (columns.isEmpty()) { // nothing held out or scored: a table of no column, its means NaN, said nothing
      throw new IllegalArgumentException(String.join(", ", files.stream().map(Path::toString).toList())
          + ": nothing for the protocol to hold out: it folds the stand-ins'"
          + " rows (sources mmlu-gold, arena-bench-v1, dcrouter's gsm8k) and holds out its sources ("
          + String.join(", ", SOURCES.stream().map(Source::name).toList()) + "), each with its pair's outcomes, as"
          + " ../shared/data has them; 'eval --bench' evaluates a router on other data");
    }
    return table(data, columns, standCols.size());
  }

  /** Hides each stand-in's pair on its rows where the stand-in says so (GSM8K). */
  private static Dataset maskStandInPairs(Dataset data) {
    Dataset.Builder b = new Dataset.Builder();
    data.models().forEach(b::model);
    for (PromptRecord r : data.prompts()) {
      Map<String, Double> oc = new LinkedHashMap<>(r.outcomes());
      for (StandIn s : STAND_INS) {
        if (s.hidePair() && s.rows().test(r)) {
          oc.remove(s.strong());
          oc.remove(s.weak());
        }
      }
      PromptRecord m = new PromptRecord(r.id(), r.source(), r.category(), r.prompt(), oc);
      b.prompt(m);
      b.outcomes(oc);
    }
    return b.build();
  }

  /** @param seen the models with at least one training score (a router cannot be pointed at others) */
  private record Trained(MfTrainer trainer, MfModel model, SwTrainer.Result sw, Dataset data, Set<String> seen) {}

  private Trained train(Dataset data, float[][] emb, Set<Integer> held, String label) {
    List<Integer> train = new ArrayList<>();
    List<Integer> heldOut = new ArrayList<>();
    for (int i = 0; i < data.size(); i++) {
      if (held.contains(i)) {
        heldOut.add(i);
      } else if (data.prompts().get(i).hasText()) { // as train leaves them out (TrainingSet)
        train.add(i);
      }
    }
    TrainingSet set = new TrainingSet(data, emb, train, heldOut, null);
    System.err.println("training on " + train.size() + " prompts (" + label + ")");
    MfTrainer trainer = new MfTrainer(set, mf.withProgress(progress));
    MfModel model = trainer.train();
    SwTrainer.Result sw = SwTrainer.build(set, trainer, model, swTemperature, swPrior, swGap);
    Set<String> seen = new HashSet<>();
    for (int q : train) {
      seen.addAll(data.prompts().get(q).outcomes().keySet());
    }
    return new Trained(trainer, model, sw, data, seen);
  }

  private void score(Trained t, Dataset data, float[][] emb, Column c, List<Integer> rows) {
    Map<String, double[]> local = new LinkedHashMap<>();
    String[][] pairs = {{c.strong, c.weak, "named"}, {DEFAULT_STRONG, DEFAULT_WEAK, "default"}};
    for (String[] p : pairs) {
      int si = t.data().modelIndex(p[0]);
      int wi = t.data().modelIndex(p[1]);
      if (si < 0 || wi < 0 || !t.seen().contains(p[0]) || !t.seen().contains(p[1])) {
        continue; // a model the training data never scored: serve would refuse to place it
      }
      // The shipped form, then without the capability-gap prior, then without either prior.
      MfModel[] mfs = {t.model(), t.model().withGapPrior(0), t.model().withGapPrior(0).withLengthPrior(0)};
      SwRankingRouter[] sws = {new SwRankingRouter(null, t.sw().index(), si, wi, swPrior, swGap),
          new SwRankingRouter(null, t.sw().index(), si, wi, swPrior, 0),
          new SwRankingRouter(null, t.sw().index(), si, wi, 0, 0)};
      int variants = p[2].equals("named") ? 3 : 1;
      double[][] mfScores = new double[variants][rows.size()];
      double[][] swScores = new double[variants][rows.size()];
      for (int i = 0; i < rows.size(); i++) {
        int q = rows.get(i);
        String text = data.prompts().get(q).prompt();
        if (!data.prompts().get(q).hasText()) { // serve sends it to the top unscored, at any α
          for (int v = 0; v < variants; v++) {
            mfScores[v][i] = 1.0;
            swScores[v][i] = 1.0;
          }
          continue;
        }
        float[] x = t.model().features(emb[q], text);
        for (int v = 0; v < variants; v++) {
          mfScores[v][i] = mfs[v].pairWinRate(si, wi, x);
          swScores[v][i] = sws[v].winRate(emb[q], text);
        }
      }
      String[] suffix = {"", ", no gap prior", ", no priors"};
      for (int v = 0; v < variants; v++) {
        local.put("mf, " + p[2] + " pair" + suffix[v], mfScores[v]);
        local.put("sw_ranking, " + p[2] + " pair" + suffix[v], swScores[v]);
      }
    }
    for (var e : local.entrySet()) {
      // NaN until scored: a fold whose training could not place the pair leaves its rows unscored
      double[] all = c.scores.computeIfAbsent(e.getKey(), k -> {
        double[] none = new double[data.size()];
        java.util.Arrays.fill(none, Double.NaN);
        return none;
      });
      for (int i = 0; i < rows.size(); i++) {
        all[rows.get(i)] = e.getValue()[i];
      }
    }
    c.rows.addAll(rows);
  }

  /** The last table as JSON: columns (title, pair, prompts) and each router's APGR per column. */
  private final com.fasterxml.jackson.databind.node.ObjectNode json = io.routewise.routers.ModelDir.json().createObjectNode();

  com.fasterxml.jackson.databind.node.ObjectNode json() {
    return json;
  }

  private String table(Dataset data, List<Column> columns, int standCount) {
    var jcols = json.putArray("columns");
    for (Column c : columns) {
      jcols.addObject().put("title", c.title).put("strong", c.strong).put("weak", c.weak).put("prompts", c.rows.size());
    }
    var jrows = json.putObject("apgr");
    List<String> names = new ArrayList<>();
    names.add("random (mean of 10)");
    names.add("length");
    for (Column c : columns) {
      c.scores.keySet().stream().filter(k -> !names.contains(k)).forEach(names::add);
    }
    StringBuilder sb = new StringBuilder();
    sb.append("APGR (random = 0.5); columns: held-out prompts and the pair scored\n\n| router |");
    StringBuilder rule = new StringBuilder("|---|");
    for (Column c : columns) {
      sb.append(' ').append(c.title).append(", ").append(c.strong).append(" vs ").append(c.weak)
          .append(" (n=").append(c.rows.size()).append(") |");
      rule.append("---:|");
    }
    sb.append(" mean, stand-ins | mean, sources |\n").append(rule).append("---:|---:|\n");
    for (String name : names) {
      sb.append("| ").append(name).append(" |");
      var jrow = jrows.putArray(name);
      double standSum = 0;
      double srcSum = 0;
      int standN = 0;
      int srcN = 0;
      for (int ci = 0; ci < columns.size(); ci++) {
        Column c = columns.get(ci);
        double[] sq = c.rows.stream().mapToDouble(q -> data.prompts().get(q).outcomes().get(c.strong)).toArray();
        double[] wq = c.rows.stream().mapToDouble(q -> data.prompts().get(q).outcomes().get(c.weak)).toArray();
        double apgr;
        if (name.startsWith("random")) {
          apgr = QualityCurve.random(sq, wq, 10, seed).apgr();
        } else if (name.equals("length")) {
          apgr = QualityCurve.of(c.rows.stream().mapToDouble(q -> data.prompts().get(q).hasText()
              ? data.prompts().get(q).prompt().length() : Double.MAX_VALUE).toArray(), sq, wq).apgr(); // no text: the top
        } else if (c.scores.containsKey(name) && c.rows.stream().noneMatch(q -> Double.isNaN(c.scores.get(name)[q]))) {
          double[] all = c.scores.get(name);
          apgr = QualityCurve.of(c.rows.stream().mapToDouble(q -> all[q]).toArray(), sq, wq).apgr();
        } else { // a pair no training placed, or only some folds' (their rows unscored): no APGR for the column
          sb.append(" – |");
          jrow.addNull();
          continue;
        }
        if (Double.isNaN(apgr)) { // strong and weak of one quality there: undefined, not 0 (nor in the means)
          sb.append(" n/a |");
          jrow.addNull();
          continue;
        }
        sb.append(String.format(Locale.ROOT, " %.3f |", apgr));
        jrow.add(Math.round(apgr * 1000) / 1000.0);
        if (ci < standCount) {
          standSum += apgr;
          standN++;
        } else {
          srcSum += apgr;
          srcN++;
        }
      }
      // the stand-ins' mean only over all three: over fewer it would not compare with the published one
      sb.append(standN == STAND_INS.size() ? String.format(Locale.ROOT, " %.3f |", standSum / standN) : " – |");
      sb.append(srcN == columns.size() - standCount ? String.format(Locale.ROOT, " %.3f |", srcSum / srcN) : " – |");
      sb.append('\n');
    }
    return sb.toString();
  }
}
