package io.routewise.cli;

import io.routewise.config.RoutewiseConfig;
import io.routewise.data.PromptRecord;
import io.routewise.routers.RouterCatalog;
import io.routewise.routing.Ladder;
import io.routewise.routing.LadderRule;
import io.routewise.routing.Router;
import io.routewise.routing.RouterException;
import io.routewise.routing.RoutingService;
import io.routewise.routing.ThresholdRule;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code routewise calibrate}: the threshold that sends a given share of the user's prompts to the
 * strong model, RouteLLM's calibrate_threshold: the (1 - p) quantile of the router's scores, so that
 * {@code score >= alpha} holds for about p of them.
 *
 * <p>With a config of more than two upstreams (or a budget), the same question on the config's ladder
 * and rule, as {@code serve} would decide: each α's share per upstream and, with prices, its cost per
 * 1,000 of these prompts; the α for a share sent to {@code strong}, or the smallest α whose cost stays
 * within a budget. Raising α only moves a prompt down the ladder, which is ordered by input + output
 * price, so a long prompt (or few output tokens) can cost more on a lower rung: cost is not monotone
 * in α, and the budget's α comes from an exact sweep over every α where a decision changes.
 */
@Command(name = "calibrate", mixinStandardHelpOptions = true,
    description = "Find the threshold that routes a given percentage of prompts to the strong model, or (with a "
        + "config's priced upstreams) stays within a budget; with more than two upstreams, each α's share per upstream.")
public final class CalibrateCommand implements Callable<Integer> {
  /** The α rows of the ladder table. */
  static final double[] TABLE_ALPHAS = {0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1};

  @Option(names = "--router", required = true, description = "Router name, or NAME=MODEL_DIR.")
  String router;

  @Option(names = "--input", required = true, description = "Prompts (JSON lines with a prompt field).")
  Path input;

  @Option(names = "--strong-percent", description = "Percent of calls to send to the strong model (0-100).")
  Double strongPercent;

  @Option(names = "--usd-per-1k", description = "With --config's priced upstreams: the budget, USD per 1,000 of these "
      + "prompts; prints the smallest α that keeps within it.")
  Double usdPer1k;

  @Mixin
  CostOptions pricing = new CostOptions();

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
    if (strongPercent != null && !(strongPercent >= 0 && strongPercent <= 100)) {
      System.err.println("--strong-percent must be in [0, 100], got " + strongPercent);
      return 2;
    }
    if (usdPer1k != null && !(usdPer1k >= 0 && Double.isFinite(usdPer1k))) {
      System.err.println("--usd-per-1k must be a finite amount >= 0, got " + usdPer1k);
      return 2;
    }
    Optional<String> costProblem = pricing.problem();
    if (costProblem.isPresent()) {
      System.err.println(costProblem.get());
      return 2;
    }
    List<PromptRecord> prompts = PromptFiles.read(input); // never empty
    try (RouterSetup setup = new RouterSetup(opts, strongModel)) {
      Optional<RoutewiseConfig> config = setup.configured();
      boolean ladder = config.isPresent() && (config.get().upstreams().size() > 2 || usdPer1k != null);
      if (ladder) {
        if (strongModel != null || weakModel != null) {
          System.err.println("--strong-model/--weak-model do not apply with a config's ladder: its upstreams' models "
              + "(or router_model) place them");
          return 2;
        }
        return ladder(setup, config.get(), prompts);
      }
      if (usdPer1k != null) {
        System.err.println("--usd-per-1k needs --config with priced upstreams");
        return 2;
      }
      if (strongPercent == null) {
        System.err.println("--strong-percent is required (or --config with more than two upstreams, for each α's shares)");
        return 2;
      }
      try (Router r = setup.load(router, strongModel, weakModel, true)) {
        PromptFiles.Failures failures = new PromptFiles.Failures(input, router);
        double[] scores = PromptFiles.score(r, router, prompts, !quiet, failures.scoring(1.0)); // as serve routes it: strong
        if (!failures.report(prompts.size(), "counted as serve routes them, to strong")) {
          return 2;
        }
        double alpha = modelNameThreshold(scores, strongPercent / 100);
        long strong = Arrays.stream(scores).filter(s -> s >= alpha).count();
        System.out.printf(Locale.ROOT, "For %.1f%% strong model calls for %s, threshold = %.5f%n", strongPercent, router, alpha);
        System.out.printf(Locale.ROOT, "(%d of %d prompts score >= it; use model \"router-%s-%.5f\")%n", strong, scores.length,
            routerName(), alpha);
        long least = Arrays.stream(scores).filter(s -> s >= 1).count(); // strong even at α = 1
        if (100.0 * least / scores.length > strongPercent + 1e-9) {
          System.out.printf(Locale.ROOT, "(at least %.1f%% go strong at any α: %d of %d score 1%s)%n",
              100.0 * least / scores.length, least, scores.length, failures.including());
        }
      }
    }
    return 0;
  }

  /** The config's ladder and rule, as serve decides: shares (and cost) per α, and the α asked for. */
  private int ladder(RouterSetup setup, RoutewiseConfig config, List<PromptRecord> prompts) throws Exception {
    Ladder ladder = RouterCatalog.ladder(config);
    Optional<String> unsupported = LadderRule.Kind.byConfigName(config.routing().ladderRule())
        .flatMap(named -> LadderRule.unsupported(ladder, named)); // auto falls back instead
    if (unsupported.isPresent()) {
      System.err.println("routing.ladder_rule: " + unsupported.get());
      return 2;
    }
    LadderRule.Kind kind = null;
    List<String> unpriced = ladder.rungs().stream().filter(r -> !r.priced()).map(Ladder.Rung::upstream).toList();
    if (usdPer1k != null && !unpriced.isEmpty()) {
      System.err.println("--usd-per-1k needs a price on every upstream (upstreams.<name>.price); none on: "
          + String.join(", ", unpriced));
      return 2;
    }
    int n = prompts.size();
    int k = ladder.size();
    double[][] acceptance = new double[n][];
    PromptFiles.Failures failures = new PromptFiles.Failures(input, router);
    try (Router r = setup.load(router, RouterCatalog.inLadderOrder(config))) {
      LadderRule rule = LadderRule.forRouter(ladder, config.routing().ladderRule(), r); // as serve gives it this router
      kind = rule.kind();
      PromptFiles.each(r, "score " + router, n, !quiet, p -> {
        try {
          acceptance[p] = rule.acceptance(RoutingService.checked(r.topWinRates(PromptFiles.scorable(prompts.get(p)),
              ladder), ladder));
        } catch (RouterException e) {
          synchronized (failures) {
            failures.add(p, e);
          }
          acceptance[p] = new double[k]; // as serve routes it: the top at every α (no rung below ever takes over)
          Arrays.fill(acceptance[p], 1, k, 2.0);
        }
      });
    }
    if (!failures.report(n, "counted as serve routes them, to " + ladder.top().upstream())) {
      return 2;
    }
    double[][] cost = null; // USD per prompt per rung, when every upstream is priced
    double meanInputTokens = 0;
    if (unpriced.isEmpty()) {
      PromptFiles.Costs costs = pricing.costs(prompts, ladder);
      cost = costs.usd();
      meanInputTokens = costs.meanInputTokens();
    }

    StringBuilder out = new StringBuilder();
    out.append(String.format(Locale.ROOT, "%s on %d prompts, ladder rule %s; upstreams, most capable first: %s%n",
        router, n, kind.configName() + (LadderRule.AUTO.equals(config.routing().ladderRule()) ? " (auto)" : ""),
        String.join(", ", ladder.rungs().stream()
            .map(r -> r.upstream() + " (" + r.model() + ")").toList())));
    if (cost != null) {
      out.append(String.format(Locale.ROOT, "cost: a prompt's input tokens (%s tokenizer, mean %.0f) x input price + %d "
          + "output tokens (assumed) x output price%n", pricing.tokenModel, meanInputTokens, pricing.outputTokens));
    } else {
      out.append("cost: not shown, no price on ").append(String.join(", ", unpriced)).append('\n');
    }
    out.append(String.format(Locale.ROOT, "%8s", "α"));
    for (Ladder.Rung r : ladder.rungs()) {
      out.append(String.format(Locale.ROOT, " %10s", shorten(r.upstream())));
    }
    out.append(cost != null ? "   USD per 1k prompts\n" : "\n");
    for (double alpha : TABLE_ALPHAS) {
      appendRow(out, alpha, acceptance, cost, k);
    }
    System.out.print(out);

    if (strongPercent != null) {
      double[] topRates = new double[n];
      for (int p = 0; p < n; p++) {
        double min = Double.POSITIVE_INFINITY;
        for (int i = 1; i < k; i++) {
          min = Math.min(min, acceptance[p][i]);
        }
        topRates[p] = Math.max(0, Math.min(1, min)); // the top is chosen exactly when alpha <= min
      }
      // rounded as the model name carries it, so that the count below is what serve does with that name
      double alpha = modelNameThreshold(topRates, strongPercent / 100);
      long top = Arrays.stream(acceptance).filter(a -> ThresholdRule.rung(a, alpha) == 0).count();
      System.out.printf(Locale.ROOT, "For %.1f%% of calls to %s for %s, threshold = %.5f%n", strongPercent,
          ladder.top().upstream(), router, alpha);
      System.out.printf(Locale.ROOT, "(%d of %d prompts go to %s at it; use model \"router-%s-%.5f\")%n", top, n,
          ladder.top().upstream(), routerName(), alpha);
      long most = Arrays.stream(acceptance).filter(a -> ThresholdRule.rung(a, 0) == 0).count();
      long least = Arrays.stream(acceptance).filter(a -> ThresholdRule.rung(a, 1) == 0).count();
      if (100.0 * most / n < strongPercent - 1e-9) {
        System.out.printf(Locale.ROOT, "(at most %.1f%% reach %s at any α: for the rest the rule prefers an upstream "
            + "at its price)%n", 100.0 * most / n, ladder.top().upstream());
      } else if (100.0 * least / n > strongPercent + 1e-9) {
        System.out.printf(Locale.ROOT, "(at least %.1f%% go to %s at any α: %d of %d%s)%n", 100.0 * least / n,
            ladder.top().upstream(), least, n, failures.including());
      }
    }
    if (usdPer1k != null) {
      Budget found = cheapestWithin(acceptance, cost, usdPer1k / 1000);
      if (found.alpha() < 0) {
        System.out.printf(Locale.ROOT, "Out of reach: at every α these prompts cost more than %s USD per 1k; the "
            + "least is %.6g, at α = %.5f%n", BigDecimal.valueOf(usdPer1k).stripTrailingZeros().toPlainString(), found.usdPerPrompt() * 1000, found.cheapestAlpha());
        return 1;
      }
      StringBuilder row = new StringBuilder();
      appendRow(row, found.alpha(), acceptance, cost, k);
      System.out.printf(Locale.ROOT, "Within %s USD per 1k prompts for %s, threshold = %.5f (use model \"router-%s-%.5f\"):%n%s",
          BigDecimal.valueOf(usdPer1k).stripTrailingZeros().toPlainString(), router, found.alpha(), routerName(), found.alpha(), row);
    }
    return 0;
  }

  /**
   * The smallest α a model name can carry (five decimals) at which the prompts' mean cost is within
   * {@code budget}, or -1 with the least mean cost and its α when none is. Each prompt's choice
   * changes only just above one of its rule values, so the candidates are 0 and, for every value in
   * [0, 1), the next five-decimal α above it; swept upward, a change re-decides only its own prompt.
   */
  record Budget(double alpha, double usdPerPrompt, double cheapestAlpha) {}

  static Budget cheapestWithin(double[][] acceptance, double[][] cost, double budget) {
    int n = acceptance.length;
    List<double[]> events = new java.util.ArrayList<>(); // {value, prompt}
    for (int p = 0; p < n; p++) {
      for (int i = 1; i < acceptance[p].length; i++) {
        double v = acceptance[p][i];
        if (v >= 0 && v < 1) {
          events.add(new double[] {v, p});
        }
      }
    }
    events.sort(java.util.Comparator.comparingDouble(e -> e[0]));
    double total = 0;
    int[] rung = new int[n];
    for (int p = 0; p < n; p++) {
      rung[p] = ThresholdRule.rung(acceptance[p], 0);
      total += cost[p][rung[p]];
    }
    double alpha = 0;
    double least = total;
    double leastAlpha = 0;
    int e = 0;
    while (true) {
      if (total <= budget * n) {
        return new Budget(alpha, total / n, alpha);
      }
      if (total < least) {
        least = total;
        leastAlpha = alpha;
      }
      if (e == events.size()) {
        return new Budget(-1, least / n, leastAlpha);
      }
      // the next α a name can carry above the next value, then every prompt with a value below it re-decided
      alpha = Math.min(1, nameAbove(events.get(e)[0]));
      while (e < events.size() && events.get(e)[0] < alpha) {
        int p = (int) events.get(e++)[1];
        int now = ThresholdRule.rung(acceptance[p], alpha);
        total += cost[p][now] - cost[p][rung[p]];
        rung[p] = now;
      }
    }
  }

  private static final BigDecimal STEP = new BigDecimal("0.00001");

  /**
   * The least five-decimal α above {@code value} as serve parses the name. From the value's shortest
   * decimal, not its binary expansion: 0.42 is a hair under 0.42 in binary, and flooring that named
   * 0.42 itself, which takes the value (the budget sweep then never moved past it).
   */
  static double nameAbove(double value) {
    return BigDecimal.valueOf(value).setScale(5, RoundingMode.FLOOR).add(STEP).doubleValue();
  }

  /** One table row: α, each upstream's share of the prompts at it, and their mean cost per 1,000. */
  private static void appendRow(StringBuilder out, double alpha, double[][] acceptance, double[][] cost, int k) {
    int n = acceptance.length;
    int[] count = new int[k];
    double sum = 0;
    for (int p = 0; p < n; p++) {
      int rung = ThresholdRule.rung(acceptance[p], alpha);
      count[rung]++;
      if (cost != null) {
        sum += cost[p][rung];
      }
    }
    out.append(String.format(Locale.ROOT, "%8s", trim(alpha)));
    for (int i = 0; i < k; i++) {
      out.append(String.format(Locale.ROOT, " %9.1f%%", 100.0 * count[i] / n));
    }
    if (cost != null) {
      out.append(String.format(Locale.ROOT, "   %.4f", sum / n * 1000));
    }
    out.append('\n');
  }

  private static String trim(double alpha) {
    return new BigDecimal(alpha).setScale(5, RoundingMode.HALF_UP).stripTrailingZeros().toPlainString();
  }

  private static String shorten(String name) {
    return name.length() <= 10 ? name : name.substring(0, 9) + "…";
  }

  private String routerName() {
    return router.contains("=") ? router.substring(0, router.indexOf('=')) : router;
  }

  /**
   * {@link #threshold} as a model name carries it (five decimals), so that the count printed beside it
   * is what serve does with that name; for a share of 0, the first such value above every score (1 at
   * most: a score of 1 still goes strong there).
   */
  static double modelNameThreshold(double[] scores, double share) {
    if (share <= 0) {
      double max = Arrays.stream(scores).max().orElse(0);
      return Math.min(1, nameAbove(max));
    }
    if (share >= 1) {
      return 0; // rounding the lowest score up to five decimals would leave that prompt out
    }
    double alpha = new BigDecimal(Math.max(0, Math.min(1, threshold(scores, share)))).setScale(5, RoundingMode.HALF_UP)
        .doubleValue();
    // Tied scores (a judge read from its text gives 0 or 1) leave the quantile far from the share
    // asked (25 % asked, 100 % given), and so does a handful of prompts (one prompt, 1 % asked: its
    // score is the quantile, 100 %); then the α whose share is nearest it, of those the scores allow.
    int n = scores.length;
    double[] sorted = scores.clone();
    Arrays.sort(sorted);
    double off = Math.abs(shareAt(sorted, alpha) - share);
    if (off > 0.01) {
      for (int i = 0; i <= n; i++) { // α just at or below each score, and above them all
        double candidate = i == n ? modelNameThreshold(scores, 0)
            : new BigDecimal(sorted[i]).setScale(5, RoundingMode.FLOOR).doubleValue();
        double candidateOff = Math.abs(shareAt(sorted, candidate) - share);
        if (candidateOff < off - 1e-12) {
          off = candidateOff;
          alpha = candidate;
        }
      }
    }
    return alpha;
  }

  /** The share of {@code sorted} (ascending) at or above {@code alpha}. */
  private static double shareAt(double[] sorted, double alpha) {
    int lo = 0;
    int hi = sorted.length; // first index whose score is >= alpha
    while (lo < hi) {
      int mid = (lo + hi) >>> 1;
      if (sorted[mid] >= alpha) {
        hi = mid;
      } else {
        lo = mid + 1;
      }
    }
    return (double) (sorted.length - lo) / sorted.length;
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
