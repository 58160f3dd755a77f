package io.routewise.cli;

import io.routewise.data.PromptRecord;
import io.routewise.routing.Router;
import java.io.BufferedWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code routewise score}: the strong win rate of each prompt of a file. */
@Command(name = "score", mixinStandardHelpOptions = true,
    description = "Score prompts (JSON lines with id and prompt; the outcomes format works) with a router: writes {\"id\",\"score\"} lines.")
public final class ScoreCommand implements Callable<Integer> {
  @Option(names = "--router", required = true, description = "Router name, or NAME=MODEL_DIR.")
  String router;

  @Option(names = "--input", required = true)
  Path input;

  @Option(names = "--output", required = true)
  Path output;

  @Option(names = "--strong-model", description = "Trained model id standing for the strong upstream.")
  String strongModel;

  @Option(names = "--weak-model", description = "Trained model id standing for the weak upstream.")
  String weakModel;

  @Option(names = "--quiet", description = "No progress bar.")
  boolean quiet;

  @Mixin
  RouterOptions opts = new RouterOptions();

  @Override
  public Integer call() throws Exception {
    List<PromptRecord> prompts = PromptFiles.read(input);
    if (Files.exists(output) && Files.isSameFile(input, output)) {
      System.err.println("--output is --input: the scores go to a file of their own (the prompts are read from it)");
      return 2;
    }
    try (RouterSetup setup = new RouterSetup(opts, strongModel);
        Router r = setup.load(router, strongModel, weakModel, true)) {
      PromptFiles.Failures failures = new PromptFiles.Failures(input, router);
      java.util.Map<Integer, String> why = new java.util.HashMap<>();
      double[] scores = PromptFiles.score(r, router, prompts, !quiet, (p, e) -> {
        failures.add(p, e);
        why.put(p, e.kind() + ": " + e.getMessage());
        return Double.NaN;
      });
      if (!failures.report(prompts.size(), "written with \"score\": null and the \"error\"")) {
        System.err.println("nothing written to " + output);
        return 2;
      }
      if (output.getParent() != null) {
        Files.createDirectories(output.getParent());
      }
      try (BufferedWriter w = Files.newBufferedWriter(output, StandardCharsets.UTF_8)) {
        for (int i = 0; i < scores.length; i++) {
          Map<String, Object> row = new LinkedHashMap<>();
          row.put("id", prompts.get(i).id());
          row.put("score", Double.isNaN(scores[i]) ? null : scores[i]);
          if (why.containsKey(i)) {
            row.put("error", why.get(i)); // serve routes such a request to the top
          }
          w.write(PromptFiles.jsonLine(PromptFiles.JSON, row));
          w.newLine();
        }
      }
      System.err.println("wrote " + scores.length + " scores to " + output);
    }
    return 0;
  }
}
