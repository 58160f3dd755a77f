package io.routewise.cli;

import io.routewise.config.UpstreamConfig;
import io.routewise.data.PromptRecord;
import io.routewise.eval.CostCurve;
import io.routewise.eval.CostQualityReport;
import io.routewise.eval.EvalReport;
import io.routewise.eval.Prices;
import io.routewise.eval.QualityCurve;
import io.routewise.routing.Ladder;
import io.routewise.routing.LadderRule;
import io.routewise.routing.Router;
import io.routewise.routing.RoutingService;
import io.routewise.routing.ThresholdRule;
import java.io.BufferedWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import io.routewise.routers.mf.MfTrainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code routewise eval}: RouteLLM's evaluation of routers on a benchmark in the outcomes format:
 * quality against % strong calls at the 10-quantile thresholds, CPT(20/50/80%), APGR; the random
 * router (mean of 10 runs) and the prompt-length baseline always stand beside the routers asked for.
 *
 * <p>With {@code --prices}, the N-way evaluation instead: a ladder of {@code --strong},
 * {@code --models} and {@code --weak} ordered as {@code serve} orders upstreams, each router's
 * cost–quality curve as α sweeps [0, 1] (decided by the same rule as {@code serve}), beside every
 * single model and their convex hull ({@link CostQualityReport}).
 */
@Command(name = "eval", mixinStandardHelpOptions = true,
    description = "Evaluate routers on a benchmark (outcomes format): APGR, CPT, table and PNG plot; with --prices, "
        + "N-way cost-quality curves over several models.")
public final class EvalCommand implements Callable<Integer> {
  @picocli.CommandLine.Spec
  picocli.CommandLine.Model.CommandSpec spec;

  @Option(names = "--router", arity = "1..*", description = "Routers: NAME or NAME=MODEL_DIR.")
  List<String> routers = new ArrayList<>();

  @Option(names = "--bench", description = "Benchmark file in the outcomes format.")
  Path bench;

  @Option(names = "--strong", description = "Strong model id in the benchmark's outcomes.")
  String strong;

  @Option(names = "--weak", description = "Weak model id in the benchmark's outcomes.")
  String weak;

  @Option(names = "--plot", description = "Write the quality curves to this PNG.")
  Path plot;

  @Option(names = "--scores-dir", description = "Also write each router's {id,score} lines here (e.g. for apgr.py); with --prices, per prompt"
      + " each rung's models, top_win_rates (raw, before the ladder rule; the top's own is 0), cost_usd and outcomes.")
  Path scoresDir;

  @Option(names = "--seed", defaultValue = "0", description = "Seed of the random baseline (default ${DEFAULT-VALUE}).")
  long seed;

  @Option(names = "--quiet", description = "No progress bar.")
  boolean quiet;

  @Option(names = "--prices", description = "Prices file (USD per million tokens, as ../shared/data/prices.json): "
      + "evaluate cost-quality curves over the ladder of --strong, --models and --weak.")
  Path prices;

  @Option(names = "--token-mix", paramLabel = "IN:OUT", description = "With --prices: input and output tokens of a "
      + "typical request, in proportion, which order the ladder by price as routing.token_mix does (default 1:1; "
      + "with --config, the config's).")
  String tokenMix;

  @Option(names = "--models", split = ",", description = "With --prices: the ladder's other models, comma-separated.")
  List<String> models = new ArrayList<>();

  @Mixin
  CostOptions pricing = new CostOptions();

  @Option(names = "--rule", defaultValue = "auto",
      description = "With --prices: the ladder rule, auto, threshold or price_weighted, as routing.ladder_rule (default "
          + "${DEFAULT-VALUE}: price_weighted for routers that score each model, and the oracle; threshold for the others).")
  String rule;

  @Option(names = "--ids", description = "Only prompts whose id matches this regular expression (e.g. 'dcrouter/test/.*').")
  String ids;

  @Option(names = "--protocol", arity = "1..*", paramLabel = "DATA",
      description = "Instead of one benchmark: train mf and sw_ranking with today's recipe on these outcomes files and "
          + "evaluate them leave-one-source-out and by K-fold on the stand-ins for RouteLLM's benchmarks, in one table.")
  List<Path> protocol;

  @Option(names = "--json", description = "With --protocol: also write the table as JSON here (train --crossval reads it).")
  Path protocolJson;

  @Option(names = "--folds", defaultValue = "5", description = "With --protocol: K of the K-fold (default ${DEFAULT-VALUE}).")
  int folds;

  @Mixin
  TrainCommand.PointwiseOptions pointwise = new TrainCommand.PointwiseOptions();

  @Option(names = "--mf-length-prior", defaultValue = "" + MfTrainer.Options.LENGTH_PRIOR,
      description = "With --protocol: mf's length prior.")
  double mfPrior;

  @Option(names = "--mf-gap-prior", defaultValue = "" + MfTrainer.Options.GAP_PRIOR,
      description = "With --protocol: mf's capability-gap prior.")
  double mfGap;

  @Option(names = "--sw-length-prior", defaultValue = "" + io.routewise.routers.sw.SwTrainer.LENGTH_PRIOR,
      description = "With --protocol: sw_ranking's length prior.")
  double swPrior;

  @Option(names = "--sw-gap-prior", defaultValue = "" + io.routewise.routers.sw.SwTrainer.GAP_PRIOR,
      description = "With --protocol: sw_ranking's capability-gap prior.")
  double swGap;

  @Option(names = "--sw-temperature", defaultValue = "" + io.routewise.routers.sw.SwTrainer.TEMPERATURE,
      description = "With --protocol: sw_ranking's kernel temperature.")
  double swTemperature;


  @Mixin
  RouterOptions opts = new RouterOptions();

  @Override
  public Integer call() throws Exception {
    if (protocol != null) {
      OptionChecks.atLeast("--folds", folds, 2); // checked before minutes of leave-one-source-out training
      pointwise.check();
      if (protocolJson != null) { // its place made now, as the other outputs' are: not found wanting after the run
        if (Files.isDirectory(protocolJson)) {
          throw new IllegalArgumentException("--json " + protocolJson + " is a directory: name the file to write");
        }
        if (protocolJson.toAbsolutePath().getParent() != null) {
          Files.createDirectories(protocolJson.toAbsolutePath().getParent());
        }
      }
      try (RouterSetup setup = new RouterSetup(opts, null)) {
        io.routewise.embedding.Embedder embedder = setup.embedders().get(setup.embedders().defaultModelId());
        EvalProtocol p = new EvalProtocol(protocol, embedder, folds, seed,
            pointwise.options(mfPrior, mfGap, 42, !quiet), swPrior, swGap, swTemperature, !quiet);
        System.out.print(p.run());
        if (protocolJson != null) {
          // what it measured, first: train --crossval records the figures only in a model of this embedding
          var out = io.routewise.routers.ModelDir.json().createObjectNode();
          var e = out.putObject("embedding");
          e.put("model", embedder.modelId());
          e.put("dimension", embedder.dimension());
          if (embedder.fingerprint() != null) {
            e.put("fingerprint", embedder.fingerprint());
          }
          var mf = out.putObject("mf");
          pointwise.record(mf);
          mf.put("length_prior", mfPrior).put("gap_prior", mfGap);
          out.setAll(p.json());
          io.routewise.routers.ModelDir.json().writeValue(protocolJson.toFile(), out);
          System.out.println("json: " + protocolJson);
        }
      }
      return 0;
    }
    Map<String, double[]> configPrices = null;
    if (opts.config != null && strong == null && weak == null && prices == null && models.isEmpty()) {
      // the config's own ladder, each upstream scored under the id label writes its outcomes as
      configPrices = ladderOf(opts.config, opts.modelsDir);
      if (configPrices == null) {
        return 2;
      }
      if (configPrices.isEmpty()) {
        configPrices = null; // two upstreams without prices: the two-model evaluation of strong and weak
      }
    }
    if (bench == null || strong == null || weak == null || routers.isEmpty()) {
      System.err.println("eval needs --bench, --strong, --weak and --router, or --bench, --router and --config for the"
          + " config's ladder (or --protocol DATA...)");
      return 2;
    }
    if (strong.equals(weak)) { // APGR and CPT are 0 / 0, a ladder of one model: refused, not a table of infinities
      System.err.println("--strong and --weak are both '" + strong + "': evaluating a router needs two models");
      return 2;
    }
    if (prices == null && configPrices == null && !models.isEmpty()) { // a ladder without prices would be evaluated as two models, silently
      System.err.println("--models is for a priced ladder: add --prices (e.g. ../shared/data/prices.json)");
      return 2;
    }
    List<PromptRecord> all = PromptFiles.read(bench);
    if (ids != null) {
      java.util.regex.Pattern keep;
      try {
        keep = java.util.regex.Pattern.compile(ids);
      } catch (java.util.regex.PatternSyntaxException e) {
        System.err.println("--ids '" + ids + "' is not a regular expression: " + e.getDescription());
        return 2;
      }
      all = all.stream().filter(r -> keep.matcher(r.id()).matches()).toList();
      if (all.isEmpty()) {
        System.err.println(bench + ": no prompt id matches " + ids);
        return 2;
      }
    }
    if (prices != null || configPrices != null) {
      return costQuality(all, configPrices != null ? configPrices : Prices.read(prices),
          configPrices != null ? opts.config.toString() : prices.toString());
    }
    if (!LadderRule.configNames().contains(rule)) {
      System.err.println("--rule must be one of " + LadderRule.configNames() + ", got '" + rule + "'");
      return 2;
    }
    if (rule.equals(LadderRule.Kind.PRICE_WEIGHTED.configName())) {
      System.err.println("--rule price_weighted chooses among more than two models: it needs --prices");
      return 2;
    }
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
    outsideUnit(rows, List.of(strong, weak)).ifPresent(System.err::println);
    double[] sq = rows.stream().mapToDouble(r -> r.outcomes().get(strong)).toArray();
    double[] wq = rows.stream().mapToDouble(r -> r.outcomes().get(weak)).toArray();
    EvalReport report = new EvalReport(bench.getFileName() + ": " + strong + " vs " + weak + " (n=" + rows.size() + ")");
    report.add("random (mean of 10)", QualityCurve.random(sq, wq, 10, seed));
    List<String> wanted = new ArrayList<>(routers);
    if (wanted.stream().noneMatch(r -> r.equals("length"))) {
      wanted.add(0, "length");
    }
    wanted.removeIf(r -> r.equals("random"));
    try (RouterSetup setup = new RouterSetup(opts, strong)) {
      for (String spec : wanted) {
        try (Router r = setup.load(spec, strong, weak)) {
          PromptFiles.Failures failures = new PromptFiles.Failures(bench, spec);
          double[] scores = PromptFiles.score(r, spec, rows, !quiet, failures.scoring(1.0));
          if (!failures.report(rows.size(), "counted as serve routes them, to " + strong)) {
            return 2;
          }
          report.add(spec, QualityCurve.of(scores, sq, wq));
          if (scoresDir != null) {
            writeScores(scoresDir.resolve(spec.replaceAll("[^A-Za-z0-9._-]", "_") + ".jsonl"), rows, scores);
          }
        }
      }
    }
    System.out.print(report.table());
    if (plot != null) {
      System.out.println("plot: " + report.plot(plot));
    }
    return 0;
  }

  /**
   * Sets {@code --strong}, {@code --weak} and {@code --models} from {@code config}'s upstreams (in its
   * ladder order), each as the outcome id {@code label} writes it under ({@link
   * LabelCommand#outcomeIds}: what serve places it on), and {@code --rule} from its
   * {@code routing.ladder_rule} unless given; returns their prices by that id, or null (said) when an
   * upstream of a ladder has none or two share an id, or none (empty) for two upstreams not both
   * priced, whose --strong and --weak it sets for the two-model evaluation.
   */
  private Map<String, double[]> ladderOf(Path config, Path modelsDir) {
    io.routewise.config.RoutewiseConfig cfg = io.routewise.config.ConfigLoader.offline().load(config); // no upstream called
    List<UpstreamConfig> ladder = io.routewise.routers.RouterCatalog.inLadderOrder(cfg);
    Map<String, String> ids = LabelCommand.outcomeIds(cfg, modelsDir, ladder, false);
    Map<String, double[]> out = new java.util.LinkedHashMap<>();
    if (ladder.size() == 2 && ladder.stream().anyMatch(u -> u.price() == null)) {
      // the shipped config's case: APGR and CPT of strong against weak, as label writes their ids
      strong = ids.get("strong");
      weak = ids.get("weak");
      if (strong.equals(weak)) {
        System.err.println(config + ": strong and weak both stand for '" + strong + "'; set router_model on one");
        return null;
      }
      System.err.println(config + ": two upstreams, not both priced: strong as " + strong + " against weak as " + weak
          + " (APGR, CPT; prices would give the cost-quality curve)");
      return out;
    }
    for (UpstreamConfig u : ladder) {
      if (u.price() == null) {
        System.err.println(config + ": upstreams." + u.name() + " has no price; eval --config needs every upstream of a "
            + "ladder of three or more priced");
        return null;
      }
      if (out.put(ids.get(u.name()), new double[] {u.price().input(), u.price().output()}) != null) {
        System.err.println(config + ": two upstreams stand for '" + ids.get(u.name()) + "'; set router_model on one");
        return null;
      }
    }
    strong = ids.get("strong");
    weak = ids.get("weak");
    if (tokenMix == null) {
      mix = cfg.routing().tokenMix();
    }
    models = ladder.stream().map(u -> ids.get(u.name())).filter(id -> !id.equals(strong) && !id.equals(weak)).toList();
    if (!spec.commandLine().getParseResult().hasMatchedOption("--rule")) {
      rule = cfg.routing().ladderRule();
    }
    System.err.println("ladder of " + config + ": " + String.join(" > ", ladder.stream()
        .map(u -> u.name() + " as " + ids.get(u.name())).toList()));
    return out;
  }

  /** The table's α points: 0, 0.1, ..., 1. */
  private static final double[] TABLE_ALPHAS = java.util.stream.IntStream.rangeClosed(0, 10).mapToDouble(i -> i / 10.0).toArray();

  /** The N-way evaluation ({@code --prices}). */
  /** The ladder's token mix: --token-mix, else the config's (eval --config), else 1:1. */
  private double[] mix = {1, 1};

  private Integer costQuality(List<PromptRecord> all, Map<String, double[]> price, String pricesFrom) throws Exception {
    if (tokenMix != null) {
      String[] parts = tokenMix.split(":");
      double in = parts.length == 2 ? parse(parts[0]) : Double.NaN;
      double out = parts.length == 2 ? parse(parts[1]) : Double.NaN;
      if (!(in >= 0 && out >= 0 && in + out > 0 && Double.isFinite(in + out))) {
        System.err.println("--token-mix must be IN:OUT, two numbers >= 0, not both 0 (3:1: three input tokens to one"
            + " output token), got '" + tokenMix + "'");
        return 2;
      }
      mix = new double[] {in, out};
    }
    List<String> wantedModels = new ArrayList<>(List.of(strong));
    models.stream().map(String::trim).filter(m -> !m.isEmpty() && !wantedModels.contains(m)).forEach(wantedModels::add);
    if (!wantedModels.contains(weak)) {
      wantedModels.add(weak);
    }
    List<String> unpriced = wantedModels.stream().filter(m -> !price.containsKey(m)).toList();
    if (!unpriced.isEmpty()) {
      System.err.println(pricesFrom + ": no price for " + String.join(", ", unpriced));
      return 2;
    }
    List<PromptRecord> rows = all.stream().filter(r -> r.outcomes().keySet().containsAll(wantedModels)).toList();
    if (rows.isEmpty()) {
      System.err.println(bench + ": no prompt has outcomes for all of " + String.join(", ", wantedModels));
      return 2;
    }
    if (rows.size() < all.size()) {
      Map<String, Long> lacking = new java.util.LinkedHashMap<>();
      for (String m : wantedModels) {
        long n = all.stream().filter(r -> !r.outcomes().containsKey(m)).count();
        if (n > 0) {
          lacking.put(m, n);
        }
      }
      System.err.println("note: " + (all.size() - rows.size()) + " of " + all.size()
          + " prompts lack an outcome for one of the models and are left out (" + lacking.entrySet().stream()
              .map(e -> e.getKey() + ": " + e.getValue()).collect(java.util.stream.Collectors.joining(", ")) + ")");
    }
    outsideUnit(rows, wantedModels).ifPresent(System.err::println);
    // The ladder exactly as serve builds it: strong on top, the others by price.
    List<UpstreamConfig> upstreams = new ArrayList<>();
    List<Ladder.Rung> rungs = new ArrayList<>();
    for (String m : wantedModels) {
      String name = m.equals(strong) ? "strong" : m.equals(weak) ? "weak" : m;
      double[] pr = price.get(m);
      upstreams.add(RouterSetup.upstream(name, m, pr[0], pr[1]));
      rungs.add(new Ladder.Rung(name, m, pr[0], pr[1]));
    }
    Ladder ladder = Ladder.byPrice(rungs, mix[0], mix[1]);
    // what serve would warn of (a model priced above the top: its curve runs past the top's cost,
    // where the summary's range ends)
    io.routewise.Routewise.ladderWarnings(upstreams, rule, Map.of(), mix).forEach(w -> System.err.println("note: " + w));
    java.util.Optional<String> unsupported = !LadderRule.configNames().contains(rule)
        ? java.util.Optional.of("--rule must be one of " + LadderRule.configNames() + ", got '" + rule + "'")
        : LadderRule.Kind.byConfigName(rule).flatMap(named -> LadderRule.unsupported(ladder, named));
    if (unsupported.isEmpty()) {
      unsupported = pricing.problem(); // a negative --output-tokens would price every answer below zero
    }
    if (unsupported.isPresent()) {
      System.err.println(unsupported.get());
      return 2;
    }
    // Each curve under the rule serve would give its router (routing.ladder_rule); random spreads one
    // score, the oracle knows each model's outcome.
    LadderRule oneScoreRule = LadderRule.of(ladder, LadderRule.kindFor(ladder, rule, false));
    LadderRule oracleRule = LadderRule.of(ladder, LadderRule.kindFor(ladder, rule, true));
    int n = rows.size();
    int k = ladder.size();
    List<String> ladderModels = ladder.rungs().stream().map(Ladder.Rung::model).toList();
    try (RouterSetup setup = new RouterSetup(opts, strong)) {
      PromptFiles.Costs costs = pricing.costs(rows, ladder);
      double[][] cost = costs.usd();
      double[][] quality = new double[n][k];
      for (int p = 0; p < n; p++) {
        for (int r = 0; r < k; r++) {
          quality[p][r] = rows.get(p).outcomes().get(ladder.rung(r).model());
        }
      }
      double[] singleCost = new double[k];
      double[] singleQuality = new double[k];
      for (int r = 0; r < k; r++) {
        for (int p = 0; p < n; p++) {
          singleCost[r] += cost[p][r] / n;
          singleQuality[r] += quality[p][r] / n;
        }
      }
      // The ladder is ordered by input + output price; this benchmark's token mix can order it otherwise
      // (gemini-1.5-flash 0.075/0.3 below qwen2.5-7b 0.2/0.2, dearer per prompt with 300 output tokens)
      for (int r = 2; r < k; r++) {
        if (ladder.orderPrice(ladder.rung(r)) < ladder.orderPrice(ladder.rung(r - 1)) && singleCost[r] > singleCost[r - 1]) {
          System.err.printf(java.util.Locale.ROOT, "note: %s is below %s on the ladder (order price %.3g < %.3g)"
              + " but costs more per prompt here (%.4f > %.4f per 1,000): this benchmark's token mix orders them"
              + " otherwise (--token-mix, routing.token_mix)%n", ladder.rung(r).model(), ladder.rung(r - 1).model(), ladder.orderPrice(ladder.rung(r)),
              ladder.orderPrice(ladder.rung(r - 1)), singleCost[r] * 1000, singleCost[r - 1] * 1000);
        }
      }
      String assumptions = String.format(java.util.Locale.ROOT, "cost per prompt = its input tokens (%s tokenizer,"
          + " mean %.0f) x input price + %d output tokens (assumed, every model) x output price; prices from %s;"
          + " ladder rule %s", pricing.tokenModel, costs.meanInputTokens(), pricing.outputTokens, java.nio.file.Path.of(pricesFrom).getFileName(),
          !rule.equals(LadderRule.AUTO) ? rule : "auto (" + oracleRule.kind().configName() + " for routers that score"
              + " each model and the oracle, " + oneScoreRule.kind().configName() + " for the others)");
      CostQualityReport report = new CostQualityReport(bench.getFileName() + ": " + k + " models (n=" + n + ")",
          assumptions, ladderModels, singleCost, singleQuality, TABLE_ALPHAS);

      // random: uniform scores spread over the ladder by the default rule, 10 runs on an α grid, even
      // in α and in its log-odds: the price-weighted rule moves most prompts for α within 0.005 of 1
      java.util.Random rnd = new java.util.Random(seed);
      double[] grid = alphaGrid();
      List<double[][]> runs = new ArrayList<>();
      for (int run = 0; run < 10; run++) {
        double[][] rates = new double[n][];
        for (int p = 0; p < n; p++) {
          rates[p] = oneScoreRule.acceptance(ladder.fromStrongWinRate(rnd.nextDouble()));
        }
        runs.add(CostCurve.atAlphas(n, grid.length, (p, a) -> ThresholdRule.rung(rates[p], grid[a]), cost, quality));
      }
      CostCurve random = CostCurve.mean(runs);
      double[][] randomTable = new double[2][TABLE_ALPHAS.length];
      for (int a = 0; a < TABLE_ALPHAS.length; a++) {
        int g = java.util.Arrays.binarySearch(grid, TABLE_ALPHAS[a]); // on the grid: i / 10 = 20 i / 200
        for (double[][] r : runs) {
          randomTable[0][a] += r[0][g] / runs.size();
          randomTable[1][a] += r[1][g] / runs.size();
        }
      }
      report.add("random (mean of 10)", random, randomTable);

      List<String> wanted = new ArrayList<>(routers);
      if (wanted.stream().noneMatch(r -> r.equals("length"))) {
        wanted.add(0, "length");
      }
      wanted.removeIf(r -> r.equals("random"));
      for (String spec : wanted) {
        try (Router router = setup.load(spec, upstreams)) {
          LadderRule ladderRule = LadderRule.forRouter(ladder, rule, router);
          double[][] rates = new double[n][];
          double[][] raw = new double[n][];
          PromptFiles.Failures failures = new PromptFiles.Failures(bench, spec);
          PromptFiles.each(router, "score " + spec, n, !quiet, p -> {
            try {
              raw[p] = RoutingService.checked(router.topWinRates(PromptFiles.scorable(rows.get(p)), ladder), ladder);
              rates[p] = ladderRule.acceptance(raw[p]);
            } catch (io.routewise.routing.RouterException e) {
              synchronized (failures) {
                failures.add(p, e);
              }
              raw[p] = new double[ladder.size()]; // as serve routes it: the top at every α
              java.util.Arrays.fill(raw[p], 1, raw[p].length, 1.0);
              rates[p] = new double[ladder.size()]; // no rung below ever takes over (as calibrate has it)
              java.util.Arrays.fill(rates[p], 1, rates[p].length, 2.0);
            }
          });
          if (!failures.report(n, "counted as serve routes them, to " + ladder.top().upstream())) {
            return 2;
          }
          if (scoresDir != null) {
            writeLadderScores(scoresDir.resolve(spec.replaceAll("[^A-Za-z0-9._-]", "_") + ".jsonl"), rows, ladder,
                raw, cost, quality);
          }
          report.add(spec, CostCurve.sweep(rates, cost, quality), CostCurve.atAlphas(n, TABLE_ALPHAS.length,
              (p, a) -> ThresholdRule.rung(rates[p], TABLE_ALPHAS[a]), cost, quality));
        }
      }
      // A reference, not a router: the benchmark's own outcomes as the win rates (a tie counts a half),
      // i.e. how far above the hull this rule goes with perfect knowledge of who wins.
      double[][] oracle = new double[n][k];
      for (int p = 0; p < n; p++) {
        for (int r = 1; r < k; r++) {
          oracle[p][r] = quality[p][0] > quality[p][r] ? 1 : quality[p][0] < quality[p][r] ? 0 : 0.5;
        }
        oracle[p] = oracleRule.acceptance(oracle[p]);
      }
      report.add("oracle (outcomes as win rates)", CostCurve.sweep(oracle, cost, quality), CostCurve.atAlphas(n,
          TABLE_ALPHAS.length, (p, a) -> ThresholdRule.rung(oracle[p], TABLE_ALPHAS[a]), cost, quality));
      System.out.print(report.table());
      if (plot != null) {
        System.out.println("plot: " + report.plot(plot));
      }
    }
    return 0;
  }

  /** N-way {@code --scores-dir}: per prompt, each rung's model, P(top beats it), cost and outcome. */
  private static void writeLadderScores(Path file, List<PromptRecord> rows, Ladder ladder, double[][] rates,
      double[][] cost, double[][] quality) throws Exception {
    Files.createDirectories(file.getParent());
    List<String> ladderModels = ladder.rungs().stream().map(Ladder.Rung::model).toList();
    try (BufferedWriter w = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
      for (int i = 0; i < rates.length; i++) {
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("id", rows.get(i).id());
        row.put("models", ladderModels);
        row.put("top_win_rates", rates[i]);
        row.put("cost_usd", cost[i]);
        row.put("outcomes", quality[i]);
        w.write(PromptFiles.jsonLine(PromptFiles.JSON, row));
        w.newLine();
      }
    }
  }

  private static void writeScores(Path file, List<PromptRecord> rows, double[] scores) throws Exception {
    Files.createDirectories(file.getParent());
    try (BufferedWriter w = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
      for (int i = 0; i < scores.length; i++) {
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("id", rows.get(i).id());
        row.put("score", scores[i]);
        w.write(PromptFiles.jsonLine(PromptFiles.JSON, row));
        w.newLine();
      }
    }
  }

  /** α from 0 to 1 in steps of 0.005, and at log-odds from -25 to 25 in steps of 0.1 (sorted, distinct). */
  static double[] alphaGrid() {
    java.util.TreeSet<Double> alphas = new java.util.TreeSet<>();
    for (int i = 0; i <= 200; i++) {
      alphas.add(i / 200.0);
    }
    for (int t = -250; t <= 250; t++) {
      alphas.add(1 / (1 + Math.exp(-t / 10.0)));
    }
    return alphas.stream().mapToDouble(Double::doubleValue).toArray();
  }

  private static double parse(String number) {
    try {
      return Double.parseDouble(number.trim());
    } catch (NumberFormatException e) {
      return Double.NaN;
    }
  }

  /**
   * A note when the evaluated models' outcomes leave [0, 1]: they are taken as they are (APGR, CPT and
   * the curves' order read a judge's 1-10 the same), but a few such among 0/1 scores are typos that
   * move every figure, where {@code train} rescales the source by its range.
   */
  static java.util.Optional<String> outsideUnit(List<PromptRecord> rows, List<String> models) {
    long outside = 0;
    long all = 0;
    double lo = Double.MAX_VALUE;
    double hi = -Double.MAX_VALUE;
    for (PromptRecord r : rows) {
      for (String m : models) {
        double v = r.outcomes().get(m);
        all++;
        if (v < 0 || v > 1) {
          outside++;
        }
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
    }
    if (outside == 0) {
      return java.util.Optional.empty();
    }
    return java.util.Optional.of(String.format(java.util.Locale.ROOT, "note: %d of %d outcomes of %s are outside [0, 1] "
        + "(they span [%s, %s]) and are taken as they are, qualities on that scale%s", outside, all,
        String.join(", ", models), plain(lo), plain(hi), outside * 100 < all ? " (so few: typos? each moves every figure)" : ""));
  }

  private static String plain(double v) {
    return v == Math.rint(v) && Math.abs(v) < 1e15 ? Long.toString((long) v) : Double.toString(v);
  }
}
