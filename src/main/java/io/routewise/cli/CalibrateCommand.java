package io.routewise.cli;

import io.routewise.data.PromptRecord;
import io.routewise.routing.Router;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code routewise calibrate}: the threshold that sends a given share of the user's prompts to the
 * strong model, RouteLLM's calibrate_threshold: the (1 - p) quantile of the router's scores, so that
 * {@code score >= alpha} holds for about p of them.
 */
@Command(name = "calibrate", mixinStandardHelpOptions = true,
    description = "Find the threshold that routes a given percentage of prompts to the strong model.")
public final class CalibrateCommand implements Callable<Integer> {
  @Option(names = "--router", required = true, description = "Router name, or NAME=MODEL_DIR.")
  String router;

  @Option(names = "--input", required = true, description = "Prompts (JSON lines with a prompt field).")
  Path input;

  @Option(names = "--strong-percent", required = true, description = "Percent of calls to send to the strong model (0-100).")
  double strongPercent;

  @Option(names = "--strong-model")
  String strongModel;

  @Option(names = "--weak-model")
  String weakModel;

  @Option(names = "--quiet")
  boolean quiet;

  @Mixin
  RouterOptions opts = new RouterOptions();

  @Override
  public Integer call() throws Exception {
    if (!(strongPercent >= 0 && strongPercent <= 100)) {
      System.err.println("--strong-percent must be in [0, 100], got " + strongPercent);
      return 2;
    }
    List<PromptRecord> prompts = PromptFiles.read(input);
    try (RouterSetup setup = new RouterSetup(opts, strongModel);
        Router r = setup.load(router, strongModel, weakModel, true)) {
      double[] scores = PromptFiles.score(r, router, prompts, !quiet);
      double alpha = threshold(scores, strongPercent / 100);
      long strong = Arrays.stream(scores).filter(s -> s >= alpha).count();
      String name = router.contains("=") ? router.substring(0, router.indexOf('=')) : router;
      System.out.printf("For %.1f%% strong model calls for %s, threshold = %.5f%n", strongPercent, router, alpha);
      System.out.printf("(%d of %d prompts score >= it; use model \"router-%s-%.5f\")%n", strong, scores.length,
          name, alpha);
    }
    return 0;
  }

  /** The (1 - share) quantile of the scores (linear interpolation, as pandas and numpy). */
  public static double threshold(double[] scores, double share) {
    double[] s = scores.clone();
    Arrays.sort(s);
    double pos = (1 - share) * (s.length - 1);
    int lo = (int) Math.floor(pos);
    int hi = Math.min(lo + 1, s.length - 1);
    return s[lo] + (s[hi] - s[lo]) * (pos - lo);
  }
}
