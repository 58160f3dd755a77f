package io.routewise.cli;

import io.routewise.config.TargetConfig;
import io.routewise.data.PromptRecord;
import io.routewise.eval.TargetReplay;
import io.routewise.routing.Router;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code routewise replay}: scores recorded prompt streams with a router, plays them one after the
 * other (a shift in the traffic at each new file) through a share target's controller in simulated
 * time, beside the fixed threshold {@code calibrate} would give on the first stream, and reports how
 * far each strayed from the target, window by window, with a PNG.
 */
@Command(name = "replay", mixinStandardHelpOptions = true,
    description = "Replay prompt streams through a strong-share target and a fixed calibrated threshold; table and PNG.")
public final class ReplayCommand implements Callable<Integer> {
  @Option(names = "--router", required = true, description = "Router name, or NAME=MODEL_DIR.")
  String router;

  @Option(names = "--phase", required = true, arity = "1..*",
      description = "Prompt files (JSON lines with a prompt field), played in this order; the fixed α is calibrated on the first.")
  List<Path> phases;

  @Option(names = "--strong-share", required = true, description = "The target share of strong calls, 0-1.")
  double share;

  @Option(names = "--rate", defaultValue = "20", description = "Requests per simulated second (default ${DEFAULT-VALUE}).")
  double rate;

  @Option(names = "--window-s", defaultValue = "60", description = "The target's window_s (default ${DEFAULT-VALUE}).")
  int windowSeconds;

  @Option(names = "--sync-ms", defaultValue = "1000", description = "state.sync_ms: how often α is recomputed (default ${DEFAULT-VALUE}).")
  long syncMillis;

  @Option(names = "--initial-alpha", description = "The target's initial_alpha (default: the fixed α).")
  Double initialAlpha;

  @Option(names = "--limit", description = "Use at most this many prompts of each file.")
  Integer limit;

  @Option(names = "--seed", defaultValue = "42", description = "Shuffles each file's prompts into a stream (default ${DEFAULT-VALUE}).")
  long seed;

  @Option(names = "--tolerance", defaultValue = "0.03", description = "How far from the target a window may be, as a share (default ${DEFAULT-VALUE}).")
  double tolerance;

  @Option(names = "--plot", description = "Write the strong share over time to this PNG.")
  Path plot;

  @Option(names = "--strong-model", description = "Trained model id standing for the strong upstream.")
  String strongModel;

  @Option(names = "--weak-model", description = "Trained model id standing for the weak upstream.")
  String weakModel;

  @Option(names = "--quiet", description = "No progress bar.")
  boolean quiet;

  @Mixin
  RouterOptions opts = new RouterOptions();

  @picocli.CommandLine.Spec
  picocli.CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() throws Exception {
    OptionChecks.within("--strong-share", share, 0, 1);
    OptionChecks.above("--rate", rate, 0);
    OptionChecks.atLeast("--window-s", windowSeconds, 1);
    OptionChecks.atLeast("--sync-ms", syncMillis, 1);
    String name = router.contains("=") ? router.substring(0, router.indexOf('=')) : router;
    TargetConfig configured = null;
    if (opts.config != null) {
      io.routewise.config.RoutewiseConfig config = io.routewise.config.ConfigLoader.offline().load(opts.config);
      int upstreams = io.routewise.routers.RouterCatalog.inLadderOrder(config).size();
      if (upstreams > 2) {
        // its α and shares would be the two-model rule's, not what serve does with the ladder
        System.err.println("replay simulates two upstreams, strong and weak; " + opts.config + " has " + upstreams
            + ": for a ladder, calibrate --config gives each α's shares, and serve's target holds the top's share");
        return 2;
      }
      // the controller serve would run: the router's target's bounds, window and start, and the sync
      // period, each unless given here (they were ignored, so the replay was not of that config)
      configured = config.targets().get(name);
      if (!given("--sync-ms")) {
        syncMillis = config.state().sync().toMillis();
      }
      if (configured != null && !given("--window-s")) {
        windowSeconds = (int) configured.window().toSeconds();
      }
      if (configured != null && initialAlpha == null) {
        initialAlpha = configured.initialAlpha();
      } else if (configured != null && (initialAlpha < configured.minAlpha() || initialAlpha > configured.maxAlpha())) {
        // serve refuses such a start, so a replay of it would be of no serve
        throw new IllegalArgumentException("--initial-alpha " + initialAlpha + " is outside the target's [min_alpha, "
            + "max_alpha] = [" + configured.minAlpha() + ", " + configured.maxAlpha() + "] in " + opts.config);
      }
    }
    int windowRequests = (int) Math.round(windowSeconds * rate);
    // a window must hold a request, and the rest would print "within ±NaN points" or crash (review)
    if (windowRequests < 1) {
      throw new IllegalArgumentException("--rate × --window-s must make at least one request a window, got " + rate
          + " × " + windowSeconds);
    }
    if (!(tolerance > 0 && tolerance < 1)) {
      throw new IllegalArgumentException("--tolerance must be in (0, 1), got " + tolerance);
    }
    if (limit != null) {
      OptionChecks.atLeast("--limit", limit, 1);
    }
    if (initialAlpha != null) {
      OptionChecks.within("--initial-alpha", initialAlpha, 0, 1);
    }
    List<double[]> scored = new ArrayList<>();
    try (RouterSetup setup = new RouterSetup(opts, strongModel);
        Router r = setup.load(router, strongModel, weakModel, true)) {
      for (Path p : phases) {
        List<PromptRecord> prompts = new ArrayList<>(PromptFiles.read(p));
        Collections.shuffle(prompts, new Random(seed));
        if (limit != null && prompts.size() > limit) {
          prompts = prompts.subList(0, limit);
        }
        if (prompts.size() < windowRequests) {
          // the replay reports per window: a phase shorter than one has no window to report
          System.err.printf(Locale.ROOT, "%s: %d prompts, fewer than one window's worth (--window-s %d x --rate %s = %d); "
              + "lower --window-s or --rate, or give more prompts%n", p, prompts.size(), windowSeconds, fmt(rate),
              windowRequests);
          return 2;
        }
        PromptFiles.Failures failures = new PromptFiles.Failures(p, router);
        scored.add(PromptFiles.score(r, router + " " + p.getFileName(), prompts, !quiet, failures.scoring(1.0)));
        if (!failures.report(prompts.size(), "counted as serve routes them, to strong")) {
          return 2;
        }
      }
    }
    // the α calibrate prints for this share (ties and a model name's five decimals taken into account)
    double fixedAlpha = CalibrateCommand.modelNameThreshold(scored.get(0), share);
    int total = scored.stream().mapToInt(s -> s.length).sum();
    double[] rates = new double[total];
    int[] starts = new int[scored.size()];
    for (int p = 0, at = 0; p < scored.size(); p++) {
      starts[p] = at;
      System.arraycopy(scored.get(p), 0, rates, at, scored.get(p).length);
      at += scored.get(p).length;
    }
    TargetConfig target = new TargetConfig(TargetConfig.Kind.STRONG_SHARE, share,
        configured != null ? configured.minAlpha() : 0, configured != null ? configured.maxAlpha() : 1,
        Duration.ofSeconds(windowSeconds), initialAlpha != null ? initialAlpha : fixedAlpha);
    TargetReplay.Result result = TargetReplay.run(rates, starts, target, fixedAlpha, rate, syncMillis);
    double slice = windowSeconds / 12.0;
    List<TargetReplay.Window> windows = TargetReplay.windows(result, slice);
    List<TargetReplay.Phase> summary = TargetReplay.phases(result, windows, tolerance);

    int perWindow = windowRequests;
    System.out.printf(Locale.ROOT, "%s, target %.2f strong, %d requests at %s/s, windows of %d s (%d requests, binomial sd %.1f points)%n",
        name, share, total, fmt(rate), windowSeconds, perWindow, 100 * Math.sqrt(share * (1 - share) / perWindow));
    if (configured != null) {
      System.out.printf(Locale.ROOT, "the controller as %s sets it: α within [%s, %s], from %s; sync every %d ms%s%n",
          opts.config.getFileName(), fmt(configured.minAlpha()), fmt(configured.maxAlpha()), fmt(target.initialAlpha()),
          syncMillis, configured.kind() == TargetConfig.Kind.USD_PER_HOUR
              ? " (its target is a budget, usd_per_hour; replayed as the --strong-share given)"
              : configured.value() != share // the share serve holds is the config's: a different one replayed is said
                  ? " (its target is " + fmt(configured.value()) + " strong; replayed as the --strong-share given)" : "");
    }
    System.out.printf(Locale.ROOT, "fixed α %.5f (calibrated on %s %s)%n", fixedAlpha,
        limit != null ? "the " + scored.get(0).length + " prompts read of" : "all of", phases.get(0).getFileName());
    System.out.println("| window start (s) | phase | fixed α share | controller share | controller α |");
    System.out.println("|---:|---:|---:|---:|---:|");
    int inPhase = 0;
    for (int i = 0; i < windows.size(); i++) {
      TargetReplay.Window w = windows.get(i);
      inPhase = i > 0 && windows.get(i - 1).phase() == w.phase() ? inPhase + 1 : 0;
      if (inPhase % 12 == 0) { // one window in twelve: back to back, from each phase's start
        System.out.printf(Locale.ROOT, "| %.0f | %d | %.3f | %.3f | %.4f |%n", w.startSeconds(), w.phase() + 1,
            w.fixedShare(), w.autoShare(), w.autoAlphaAtEnd());
      }
    }
    for (TargetReplay.Phase p : summary) {
      String fixed = String.format(Locale.ROOT, "fixed α: %.3f..%.3f (max deviation %.1f points)", p.fixedMin(),
          p.fixedMax(), 100 * Math.max(Math.abs(p.fixedMin() - share), Math.abs(p.fixedMax() - share)));
      if (Double.isNaN(p.settleSeconds())) { // never within the tolerance to the phase's end
        System.out.printf(Locale.ROOT, "phase %d (%s): %d windows; the controller's never stay within ±%.0f points "
            + "to the phase's end (a longer phase, or a lower --window-s, gives it room to settle); %s%n",
            p.phase() + 1, phases.get(p.phase()).getFileName(), p.windows(), 100 * tolerance, fixed);
        continue;
      }
      System.out.printf(Locale.ROOT, "phase %d (%s): %d windows; the controller's are within ±%.0f points from the one "
              + "starting %s s after the phase began (ending %s s after; %d windows), max deviation then %.1f points; "
              + "%s%n",
          p.phase() + 1, phases.get(p.phase()).getFileName(), p.windows(), 100 * tolerance, fmt(p.settleSeconds()),
          fmt(p.settleSeconds() + windowSeconds), p.windowsAfterSettling(), 100 * p.maxDeviation(), fixed);
    }
    if (plot != null) {
      Path written = TargetReplay.plot(result, TargetReplay.trailing(result, slice), String.format(Locale.ROOT,
          "%s: strong share, fixed α vs target %.2f (%s)", name, share,
          String.join(" then ", phases.stream().map(p -> p.getFileName().toString()).toList())), plot);
      System.out.println("plot: " + written);
    }
    return 0;
  }

  /** Seconds as a person writes them: 22.1, not 22.099999999999994. */
  private static String fmt(double d) {
    return java.math.BigDecimal.valueOf(d).setScale(3, java.math.RoundingMode.HALF_UP).stripTrailingZeros()
        .toPlainString();
  }

  private boolean given(String option) {
    return spec.commandLine().getParseResult().hasMatchedOption(option);
  }
}
