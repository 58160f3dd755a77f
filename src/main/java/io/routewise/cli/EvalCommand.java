package io.routewise.cli;

import io.routewise.data.PromptRecord;
import io.routewise.eval.EvalReport;
import io.routewise.eval.QualityCurve;
import io.routewise.routing.Router;
import java.io.BufferedWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code routewise eval}: RouteLLM's evaluation of routers on a benchmark in the outcomes format:
 * quality against % strong calls at the 10-quantile thresholds, CPT(20/50/80%), APGR; the random
 * router (mean of 10 runs) and the prompt-length baseline always stand beside the routers asked for.
 */
@Command(name = "eval", mixinStandardHelpOptions = true,
    description = "Evaluate routers on a benchmark (outcomes format): APGR, CPT, table and PNG plot.")
public final class EvalCommand implements Callable<Integer> {
  @Option(names = "--router", required = true, arity = "1..*", description = "Routers: NAME or NAME=MODEL_DIR.")
  List<String> routers;

  @Option(names = "--bench", required = true, description = "Benchmark file in the outcomes format.")
  Path bench;

  @Option(names = "--strong", required = true, description = "Strong model id in the benchmark's outcomes.")
  String strong;

  @Option(names = "--weak", required = true, description = "Weak model id in the benchmark's outcomes.")
  String weak;

  @Option(names = "--plot", description = "Write the quality curves to this PNG.")
  Path plot;

  @Option(names = "--scores-dir", description = "Also write each router's {id,score} lines here (e.g. for apgr.py).")
  Path scoresDir;

  @Option(names = "--seed", defaultValue = "0", description = "Seed of the random baseline (default ${DEFAULT-VALUE}).")
  long seed;

  @Option(names = "--quiet")
  boolean quiet;

  @Mixin
  RouterOptions opts = new RouterOptions();

  @Override
  public Integer call() throws Exception {
    List<PromptRecord> all = PromptFiles.read(bench);
    List<PromptRecord> rows = new ArrayList<>();
    for (PromptRecord r : all) {
      if (r.outcomes().containsKey(strong) && r.outcomes().containsKey(weak)) {
        rows.add(r);
      }
    }
    if (rows.isEmpty()) {
      System.err.println(bench + ": no prompt has outcomes for both " + strong + " and " + weak);
      return 2;
    }
    if (rows.size() < all.size()) {
      System.err.println("note: " + (all.size() - rows.size()) + " of " + all.size()
          + " prompts lack an outcome for " + strong + " or " + weak + " and are left out");
    }
    double[] sq = rows.stream().mapToDouble(r -> r.outcomes().get(strong)).toArray();
    double[] wq = rows.stream().mapToDouble(r -> r.outcomes().get(weak)).toArray();
    EvalReport report = new EvalReport(bench.getFileName() + ": " + strong + " vs " + weak + " (n=" + rows.size() + ")");
    report.add("random (mean of 10)", QualityCurve.random(sq, wq, 10, seed));
    List<String> wanted = new ArrayList<>(routers);
    if (wanted.stream().noneMatch(r -> r.equals("length"))) {
      wanted.add(0, "length");
    }
    wanted.removeIf(r -> r.equals("random"));
    try (RouterSetup setup = new RouterSetup(opts.config, opts.modelsDir, strong, opts.embeddingCache)) {
      for (String spec : wanted) {
        try (Router r = setup.load(spec, strong, weak)) {
          double[] scores = PromptFiles.score(r, spec, rows, !quiet);
          report.add(spec, QualityCurve.of(scores, sq, wq));
          if (scoresDir != null) {
            writeScores(scoresDir.resolve(spec.replaceAll("[^A-Za-z0-9._-]", "_") + ".jsonl"), rows, scores);
          }
        }
      }
    }
    System.out.print(report.table());
    if (plot != null) {
      report.plot(plot);
      System.out.println("plot: " + plot);
    }
    return 0;
  }

  private static void writeScores(Path file, List<PromptRecord> rows, double[] scores) throws Exception {
    Files.createDirectories(file.getParent());
    try (BufferedWriter w = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
      for (int i = 0; i < scores.length; i++) {
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("id", rows.get(i).id());
        row.put("score", scores[i]);
        w.write(PromptFiles.JSON.writeValueAsString(row));
        w.newLine();
      }
    }
  }
}
