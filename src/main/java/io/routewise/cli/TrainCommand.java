package io.routewise.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.routewise.data.Holdout;
import io.routewise.data.PromptRecord;
import io.routewise.data.TrainingSet;
import io.routewise.embedding.Embedder;
import io.routewise.embedding.EmbeddingSettings;
import io.routewise.embedding.Embedders;
import io.routewise.embedding.ModelFiles;
import io.routewise.embedding.Truncation;
import io.routewise.routers.ModelDir;
import io.routewise.routers.bert.BertHead;
import io.routewise.routers.bert.BertRouter;
import io.routewise.routers.bert.BertTrainer;
import io.routewise.routers.bert.LabelReading;
import io.routewise.eval.HeldOutMetrics;
import io.routewise.routers.mf.MfModel;
import io.routewise.routers.mf.MfRouter;
import io.routewise.routers.mf.MfTrainer;
import io.routewise.routers.sw.SwRankingRouter;
import io.routewise.routers.sw.SwTrainer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code routewise train mf|sw|bert}: trains a learned router into a model directory. */
@Command(name = "train", mixinStandardHelpOptions = true,
    description = "Train a learned router from outcomes files and/or Chatbot-Arena battle rows.",
    subcommands = {TrainCommand.Mf.class, TrainCommand.Sw.class, TrainCommand.Bert.class})
public final class TrainCommand implements Runnable {

  @Override
  public void run() {
    new picocli.CommandLine(this).usage(System.out);
  }

  /** Options every trainer shares. */
  static final class Common {
    @Option(names = "--data", required = true, arity = "1..*", description = "JSON lines: outcomes format or arena battles.")
    List<Path> data;

    @Option(names = "--out", required = true, description = "Model directory to write (e.g. models/mf).")
    Path out;

    @Option(names = "--force", description = "Replace the model already in --out.")
    boolean force;

    /**
     * Refuses an --out that would damage other models: a directory of models (its files would lie
     * loose among them), one inside another model, or an existing model without --force (an operator
     * adapting models/mf overwrote models/mf-minilm without a word).
     */
    void checkOut(String kind) throws java.io.IOException {
      checkModelOut(out, force, kind);
      if (heldoutOut != null && Files.exists(heldoutOut)) {
        for (Path d : data) {
          if (Files.exists(d) && Files.isSameFile(d, heldoutOut)) {
            throw new IllegalArgumentException("--heldout-out " + heldoutOut + " is a --data file: writing the "
                + "held-out prompts there would replace the data; name another file");
          }
        }
      }
      if (crossval != null) { // read now, not after minutes of training
        readCrossval();
      }
      if (threads < 1) {
        throw new IllegalArgumentException("--threads must be at least 1, got " + threads);
      }
    }

    /**
     * Refuses an --out that would damage other models (also distill's): a file, a directory of
     * models (its files would lie loose among them), one inside another model, or an existing model
     * without {@code force}.
     */
    static void checkModelOut(Path out, boolean force, String kind) throws java.io.IOException {
      Path abs = out.toAbsolutePath().normalize();
      if (Files.exists(abs) && !Files.isDirectory(abs)) {
        throw new IllegalArgumentException("--out " + out + " is a file: name a directory for the model");
      }
      // the new model is written beside --out first: said now, not after the training
      Path beside = Files.exists(abs) ? abs.toRealPath().getParent() : abs.getParent();
      while (beside != null && !Files.exists(beside)) {
        beside = beside.getParent();
      }
      if (beside != null && !Files.isWritable(beside)) {
        throw new IllegalArgumentException("--out " + out + ": cannot write in " + beside
            + " (the new model is written beside --out, then moved in)");
      }
      for (Path p = abs.getParent(); p != null; p = p.getParent()) {
        if (Files.isRegularFile(p.resolve("manifest.json"))) {
          throw new IllegalArgumentException("--out " + out + " lies inside the model at " + p
              + ": write the new one beside it, not in it");
        }
      }
      if (Files.isDirectory(abs)) {
        try (var children = Files.list(abs)) {
          List<Path> models = children.filter(c -> Files.isRegularFile(c.resolve("manifest.json"))).limit(3).toList();
          if (!models.isEmpty()) {
            throw new IllegalArgumentException("--out " + out + " holds models (" + models.stream()
                .map(m -> m.getFileName().toString()).collect(java.util.stream.Collectors.joining(", "))
                + "): name a directory of its own, e.g. " + out.resolve("my-mf"));
          }
        }
        Path manifest = abs.resolve("manifest.json");
        String existing = Files.isRegularFile(manifest) ? existingKind(manifest) : null;
        if (existing != null && !existing.equals(kind)) {
          // --force replaces a model by a newer one of its kind; a table's routers, or a router's serve config,
          // would be left pointing at something else (review: distill --force over an mf)
          throw new IllegalArgumentException("--out " + out + " holds a " + existing + " model, not a " + kind
              + ": write the new one elsewhere (remove that directory first to reuse its name)");
        }
        if (existing != null && !force) {
          throw new IllegalArgumentException("--out " + out + " holds a model already: add --force to replace it,"
              + " or write the new one elsewhere");
        }
      }
    }

    static String existingKind(Path manifest) {
      try {
        return ModelDir.json().readTree(manifest.toFile()).path("kind").asText("unknown");
      } catch (java.io.IOException e) {
        return "unreadable";
      }
    }

    @Option(names = "--seed", defaultValue = "42", description = "Seed (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--holdout", defaultValue = "fraction:0.1",
        description = "none | source:NAME[,NAME] | category:NAME[,NAME] | fraction:F (default ${DEFAULT-VALUE}).")
    String holdout;

    @Option(names = "--strong-model", defaultValue = "gpt-4o-2024-05-13", description = "Manifest default_strong.")
    String strongModel;

    @Option(names = "--weak-model", defaultValue = "llama-3.1-8b-instruct", description = "Manifest default_weak.")
    String weakModel;

    @Option(names = "--embedding-model",
        description = "A static table under --models-dir or a sentence model (all-minilm-l6-v2-q, bge-small-en-v1.5-q) "
            + "(default: " + EmbeddingSettings.DEFAULT_MODEL + "; with mf --from, the base model's).")
    String embeddingModel;

    /** Settles the embedding model: the one given, else the base's (mf --from), else the default. */
    void resolveEmbedding(String baseModel) {
      if (embeddingModel != null && baseModel != null && !embeddingModel.equals(baseModel)) {
        throw new IllegalArgumentException("--embedding-model " + embeddingModel + ", but the --from model was trained on "
            + baseModel + ": an adapted model keeps its base's embedding");
      }
      if (embeddingModel == null) {
        embeddingModel = baseModel != null ? baseModel : EmbeddingSettings.DEFAULT_MODEL;
      }
    }

    @Option(names = "--models-dir", defaultValue = "models", description = "Where static tables are found (default ${DEFAULT-VALUE}).")
    Path modelsDir;

    @Option(names = "--max-tokens", defaultValue = "" + EmbeddingSettings.DEFAULT_MAX_TOKENS,
        description = "Sentence models only: token budget (default ${DEFAULT-VALUE}).")
    int maxTokens;

    @Option(names = "--truncation", defaultValue = "head_tail", description = "Sentence models only: head | head_tail")
    String truncation;

    @Option(names = "--threads", defaultValue = "2", description = "ONNX threads for embedding.")
    int threads;

    @Option(names = "--embedding-cache", description = "Directory keeping prompt embeddings across runs (default: tmpdir/routewise-USER/embeddings).")
    Path embeddingCache;

    @Option(names = "--quiet", description = "No progress bars.")
    boolean quiet;

    @Option(names = "--crossval", description = "A JSON table from 'eval --protocol --json': its figures for this "
        + "router are recorded in the manifest (how the recipe did on data it never saw).")
    Path crossval;

    /** Copies the protocol table's columns and this router's rows into the manifest. */
    void recordCrossval(ObjectNode manifest, String router) throws java.io.IOException {
      if (crossval == null) {
        return;
      }
      var table = readCrossval();
      // Figures of another embedding are not this model's: refused (a table without one, from before
      // eval wrote it, is taken as it is, and said so)
      var measured = table.path("embedding");
      var mine = manifest.path("embedding");
      if (measured.isMissingNode()) {
        System.err.println("--crossval " + crossval + " does not say which embedding it was measured on: recorded "
            + "unchecked against this model's " + mine.path("model").asText());
      } else if (!measured.path("model").asText().equals(mine.path("model").asText())
          || measured.has("fingerprint") && mine.has("fingerprint")
              && !measured.path("fingerprint").asText().equals(mine.path("fingerprint").asText())) {
        throw new IllegalArgumentException("--crossval " + crossval + " was measured on the embedding "
            + measured.path("model").asText() + (measured.has("fingerprint") ? " (table " + shortHash(measured) + ")" : "")
            + ", this model is on " + mine.path("model").asText() + (mine.has("fingerprint") ? " (table "
            + shortHash(mine) + ")" : "") + ": run eval --protocol with this model's --embedding-model");
      }
      ObjectNode out = manifest.putObject("crossval");
      out.put("file", crossval.getFileName().toString());
      out.set("columns", table.path("columns"));
      ObjectNode rows = out.putObject("apgr");
      table.path("apgr").fields().forEachRemaining(e -> {
        if (e.getKey().startsWith(router + ",") || e.getKey().equals("length") || e.getKey().startsWith("random")) {
          rows.set(e.getKey(), e.getValue());
        }
      });
    }

    private static String shortHash(com.fasterxml.jackson.databind.JsonNode embedding) {
      String f = embedding.path("fingerprint").asText();
      return f.length() > 12 ? f.substring(0, 12) : f;
    }

    private com.fasterxml.jackson.databind.JsonNode readCrossval() throws java.io.IOException {
      com.fasterxml.jackson.databind.JsonNode table;
      try {
        table = ModelDir.json().readTree(crossval.toFile());
      } catch (java.io.FileNotFoundException e) {
        throw new java.nio.file.NoSuchFileException(crossval.toString());
      } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
        throw new IllegalArgumentException("--crossval " + crossval + ": not JSON (" + e.getOriginalMessage() + ")");
      }
      if (table == null || !table.path("apgr").isObject()) {
        throw new IllegalArgumentException("--crossval " + crossval + ": not a table from 'eval --protocol --json' "
            + "(no \"apgr\" object)");
      }
      return table;
    }

    @Option(names = "--heldout-out", description = "Also write the held-out prompts here (outcomes format), for 'eval --bench'.")
    Path heldoutOut;

    /** Writes the held-out prompts with their outcomes, so eval can run on exactly what training never saw. */
    void writeHeldOut(TrainingSet set) throws java.io.IOException {
      if (heldoutOut == null) {
        return;
      }
      if (heldoutOut.getParent() != null) {
        java.nio.file.Files.createDirectories(heldoutOut.getParent());
      }
      var json = ModelDir.json().copy().disable(com.fasterxml.jackson.databind.SerializationFeature.INDENT_OUTPUT);
      // Lines without an id are named by their text, so two such lines of one prompt share it; read back,
      // lines of one id merge into one. A repeat gets a suffix and stays a row of its own, as in training.
      java.util.Map<String, Integer> seen = new java.util.HashMap<>();
      try (var w = java.nio.file.Files.newBufferedWriter(heldoutOut)) {
        for (int i : set.heldOut()) {
          var p = set.data().prompts().get(i);
          ObjectNode row = json.createObjectNode();
          int n = seen.merge(p.id(), 1, Integer::sum);
          row.put("id", n == 1 ? p.id() : p.id() + "#" + n).put("source", p.source()).put("category", p.category()).put("prompt", p.prompt());
          ObjectNode outcomes = row.putObject("outcomes");
          p.outcomes().forEach(outcomes::put);
          w.write(PromptFiles.jsonLine(json, row));
          w.newLine();
        }
      }
      System.err.println("wrote " + set.heldOut().size() + " held-out prompts to " + heldoutOut);
    }

    EmbeddingSettings embeddingSettings() {
      resolveEmbedding(null);
      Path store = embeddingCache != null ? embeddingCache : ModelFiles.defaultStoreDir();
      return new EmbeddingSettings(embeddingModel, maxTokens, Truncation.parse(truncation), threads, 0,
          ModelFiles.defaultDir(), modelsDir, store);
    }

    ObjectNode manifest(String kind, Embedder embedder, TrainingSet set) {
      ObjectNode m = ModelDir.newManifest(kind);
      ObjectNode e = m.putObject("embedding");
      e.put("model", embedder.modelId());
      e.put("dimension", embedder.dimension());
      if (embedder.fingerprint() != null) {
        // A static table: the digest pins the exact table, its token budget included.
        e.put("fingerprint", embedder.fingerprint());
      } else {
        e.put("max_tokens", maxTokens);
        e.put("truncation", Truncation.parse(truncation).configName());
      }
      var models = m.putArray("models");
      set.data().models().forEach(models::add);
      // Models that occur only in held-out rows have untouched vectors: serve must not place an upstream on one.
      java.util.Set<String> trained = new java.util.HashSet<>();
      for (int q : set.train()) {
        trained.addAll(set.data().prompts().get(q).outcomes().keySet());
        for (int b = set.data().battleStart(q); b < set.data().battleEnd(q); b++) {
          trained.add(set.data().models().get(set.data().winner(b)));
          trained.add(set.data().models().get(set.data().loser(b)));
        }
      }
      var untrained = m.putArray("untrained_models");
      set.data().models().stream().filter(id -> !trained.contains(id)).forEach(untrained::add);
      String[] pair = defaultPair(set);
      m.put("default_strong", pair[0]);
      m.put("default_weak", pair[1]);
      ObjectNode t = m.putObject("training");
      t.set("data", set.files());
      t.put("seed", seed);
      t.put("holdout", Holdout.parse(holdout).toString());
      t.put("prompts_train", set.train().size());
      t.put("prompts_heldout", set.heldOut().size());
      t.put("battles", set.data().battleCount());
      return m;
    }

    /** Whether this run adapts a trained model, which keeps its base's default pair (mf --from). */
    boolean adapting;

    /**
     * The manifest's default pair: --strong-model and --weak-model where the data has them; else the
     * training prompts' strongest and weakest model (share of won battles, ties half), said on stderr.
     * The data's first and last model ids stood in before: in whatever order the file named them, so the
     * "strong" default could be the weaker model, and serve's fallback placement routed the pair inverted.
     */
    String[] defaultPair(TrainingSet set) {
      List<String> ids = set.data().models();
      String strong = ids.contains(strongModel) ? strongModel : null;
      String weak = ids.contains(weakModel) ? weakModel : null;
      if (strong != null && weak != null) {
        return new String[] {strong, weak};
      }
      double[] won = BertTrainer.strengths(set.data(), set.train());
      List<String> ranked = new java.util.ArrayList<>(ids); // first seen first among equals (a stable sort)
      ranked.removeIf(id -> Double.isNaN(won[ids.indexOf(id)]));
      ranked.sort((a, b) -> Double.compare(won[ids.indexOf(b)], won[ids.indexOf(a)]));
      if (ranked.size() < 2) {
        ranked = ids;
      }
      List<String> order = ranked;
      String missing = (strong == null ? strongModel : "") + (strong == null && weak == null ? " or " : "")
          + (weak == null ? weakModel : "");
      if (strong == null) {
        String w = weak;
        strong = order.stream().filter(id -> !id.equals(w)).findFirst().orElse(order.get(0));
      }
      if (weak == null) {
        String s = strong;
        weak = order.reversed().stream().filter(id -> !id.equals(s)).findFirst().orElse(order.get(order.size() - 1));
      }
      if (!adapting) {
        System.err.println("the data has no " + missing + ": the manifest's default pair is " + strong + " (strong) and "
            + weak + " (weak), its models with the most and the fewest battles won (--strong-model, --weak-model"
            + " to choose)");
      }
      return new String[] {strong, weak};
    }

    /**
     * A router learns who beats whom: outcomes of one model teach it nothing, and its strong and weak
     * would be that model (a router that always answers 0.5, refused at load).
     */
    void requireTwoModels(TrainingSet set) {
      if (set.data().models().size() < 2) {
        throw new IllegalArgumentException(data + ": outcomes of one model only (" + set.data().models().get(0)
            + "); a router needs at least two models' outcomes of the same prompts (train mf --from adapts a "
            + "trained mf to one model's labels)");
      }
      var parsed = mixee.commandLine().getParseResult();
      for (String o : List.of("--strong-model", "--weak-model")) {
        String id = o.equals("--strong-model") ? strongModel : weakModel;
        if (parsed.hasMatchedOption(o) && !set.data().models().contains(id)) {
          // a typo would make the manifest's default pair the data's strongest and weakest models, silently (review)
          throw new IllegalArgumentException(o + " " + id + " is not a model of " + data
              + didYouMean(id, set.data().models()));
        }
      }
    }

    /**
     * mf and sw read a prompt's length standardized over the training prompts: prompts all of one
     * length (or one prompt) give that scale no spread, its std fell to 1e-6, and every prompt of
     * another length read as tens of thousands of stds out, scored weak whatever it asked. Refused,
     * as one model's outcomes are: the router written could not route.
     */
    void requireLengthSpread(TrainingSet set) {
      java.util.Set<Integer> lengths = new java.util.TreeSet<>();
      for (int q : set.train()) {
        lengths.add(set.data().prompts().get(q).prompt().length());
      }
      if (lengths.size() < 2) {
        int n = set.train().size();
        throw new IllegalArgumentException(data + ": " + (n == 1 ? "one prompt to train on" : "all " + n
            + " prompts to train on are " + lengths.iterator().next() + " characters long") + "; the router reads a"
            + " prompt's length against the training prompts' spread, and with none it would score every prompt of"
            + " another length as extreme (always weak): train on prompts of varied lengths");
      }
    }

    @picocli.CommandLine.Spec(picocli.CommandLine.Spec.Target.MIXEE)
    picocli.CommandLine.Model.CommandSpec mixee;

    TrainingSet load(Embedders embedders) throws Exception {
      resolveEmbedding(null);
      String unknown = EmbeddingSettings.unknownModel(embeddingModel, modelsDir);
      if (unknown != null) {
        throw new IllegalArgumentException("--embedding-model " + unknown);
      }
      TrainingSet set = TrainingSet.load(data, Holdout.parse(holdout), seed, embedders.get(embeddingModel), !quiet);
      if (set.data().prompts().isEmpty() || set.data().models().isEmpty()) {
        throw new IllegalArgumentException(data + ": no outcome to train on (each line needs \"outcomes\": "
            + "{model: score}, or a battle's model_a, model_b and winner)");
      }
      if (set.train().isEmpty()) {
        throw new IllegalArgumentException(set.data().prompts().stream().noneMatch(PromptRecord::hasText)
            ? data + ": no prompt with text to train on" : "--holdout " + holdout + " leaves no prompt to train on");
      }
      io.routewise.data.OutcomeTable.rescaleNotes(set.data()).forEach(System.err::println);
      sayBlankPromptsLeftOut(set.data());
      Holdout h = Holdout.parse(holdout);
      if (h.kind().equals("source") || h.kind().equals("category")) {
        // a typo held out nothing and trained on the very source meant to be kept out, exit 0 (walkthrough)
        java.util.Set<String> known = new java.util.TreeSet<>();
        for (var p : set.data().prompts()) {
          String v = h.kind().equals("source") ? p.source() : p.category();
          if (v != null) {
            known.add(v);
          }
        }
        List<String> absent = h.names().stream().filter(n -> !known.contains(n)).sorted().toList();
        if (!absent.isEmpty()) {
          throw new IllegalArgumentException("--holdout " + holdout + ": no " + h.kind() + " " + absent + " in --data"
              + " (its " + h.kind() + "s: " + String.join(", ", known) + ")");
        }
      }
      if (set.heldOut().isEmpty() && !holdout.equals("none")) {
        System.err.println("--holdout " + holdout + " holds out no prompt of these " + set.data().prompts().size()
            + ": nothing is measured on unseen prompts (the manifest's held-out figures are empty)");
      }
      return set;
    }
  }

  /** Says how many prompts have no text, which training leaves out ({@link TrainingSet#load}), if any. */
  static void sayBlankPromptsLeftOut(io.routewise.data.Dataset data) {
    long blank = data.prompts().stream().filter(p -> !p.hasText()).count();
    if (blank > 0) {
      System.err.println("note: " + blank + " of " + data.prompts().size() + " prompts have no text and are left out of "
          + "training (serve sends such a request to the top unscored)");
    }
  }

  /** The point-wise model's hyperparameters: mf's own, and what sw_ranking completes its scores with. */
  static final class PointwiseOptions {
    @Option(names = "--dim", defaultValue = "32", description = "Latent size k (default ${DEFAULT-VALUE}; mf --from: the base's).")
    int dim;

    @Option(names = "--iterations", defaultValue = "400", description = "Full-batch Adam steps (default ${DEFAULT-VALUE}).")
    int iterations;

    @Option(names = "--lr", defaultValue = "0.01")
    double lr;

    @Option(names = "--l2", defaultValue = "0.0003", description = "L2 on the factors (default ${DEFAULT-VALUE}).")
    double l2;

    @Option(names = "--train-threads", defaultValue = "2", description = "Threads for the gradient (the result does not depend on it).")
    int threads;

    MfTrainer.Options options(double lengthPrior, double gapPrior, long seed, boolean progress) {
      return new MfTrainer.Options(dim, iterations, lr, l2, lengthPrior, gapPrior, seed, threads, progress);
    }

    /** Refuses settings that would crash training or write a model that cannot serve (NaN weights, no step taken). */
    void check() {
      OptionChecks.atLeast("--dim", dim, 1);
      OptionChecks.atLeast("--iterations", iterations, 1);
      OptionChecks.above("--lr", lr, 0);
      OptionChecks.atLeast("--l2", l2, 0);
      OptionChecks.atLeast("--train-threads", threads, 1);
    }

    void record(ObjectNode training) {
      training.put("dim", dim).put("iterations", iterations).put("lr", lr).put("l2", l2);
    }
  }

  @Command(name = "mf", mixinStandardHelpOptions = true,
      description = "Train the matrix-factorization router (point-wise scores over embedding and length).")
  static final class Mf implements Callable<Integer> {
    @Mixin
    Common common = new Common();

    @Mixin
    PointwiseOptions pointwise = new PointwiseOptions();

    @Option(names = "--length-prior", defaultValue = "" + MfTrainer.Options.LENGTH_PRIOR,
        description = "Weight of the length prior in the win rate (default ${DEFAULT-VALUE}; 0 = off).")
    double lengthPrior;

    @Option(names = "--gap-prior", defaultValue = "" + MfTrainer.Options.GAP_PRIOR,
        description = "Weight of the capability-gap prior in the win rate (default ${DEFAULT-VALUE}; 0 = off).")
    double gapPrior;

    @Option(names = "--from", description = "Adapt this trained mf (e.g. models/mf) to --data instead of training from "
        + "scratch: no need for the data it was trained on. Keeps its embedding, priors and models, adds new ones.")
    Path from;

    @Option(names = "--anchor", defaultValue = "" + ADAPT_ANCHOR,
        description = "With --from: how strongly the parameters are held to the base's (default ${DEFAULT-VALUE}; "
            + "smaller lets few rows move it further).")
    double anchor;

    @Option(names = "--adapt-iterations", defaultValue = "" + ADAPT_ITERATIONS,
        description = "With --from: Adam steps (default ${DEFAULT-VALUE}).")
    int adaptIterations;

    static final double ADAPT_ANCHOR = 0.01;
    static final int ADAPT_ITERATIONS = 200;

    /** What an adapted model takes from its base: given with --from, they would be ignored. */
    static final List<String> BASE_SETTINGS = List.of("--dim", "--iterations", "--max-tokens", "--truncation",
        "--length-prior", "--gap-prior");

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
      pointwise.check();
      OptionChecks.atLeast("--length-prior", lengthPrior, 0);
      OptionChecks.atLeast("--gap-prior", gapPrior, 0);
      ModelDir baseDir = null;
      MfTrainer.Base base = null;
      if (from == null) {
        common.checkOut(MfRouter.KIND);
      } else {
        var parsed = spec.commandLine().getParseResult();
        for (String o : BASE_SETTINGS) {
          if (parsed.hasMatchedOption(o)) {
            throw new IllegalArgumentException(o + " with --from: an adapted model keeps its base's"
                + (o.equals("--iterations") ? " (its Adam steps are --adapt-iterations)" : "") + "; leave it out");
          }
        }
        if (!(anchor >= 0 && Double.isFinite(anchor)) || adaptIterations < 1) {
          throw new IllegalArgumentException("--anchor must be a number >= 0 and --adapt-iterations at least 1, got "
              + anchor + " and " + adaptIterations);
        }
        if (from.toAbsolutePath().normalize().equals(common.out.toAbsolutePath().normalize())
            || (Files.exists(from) && Files.exists(common.out) && Files.isSameFile(from, common.out))) {
          throw new IllegalArgumentException("--out is the --from model: write the adapted one elsewhere, so that "
              + "the base stays whole whatever happens to this run");
        }
        common.checkOut(MfRouter.KIND);
        common.adapting = true; // the base's default pair is kept (adaptedManifest)
        baseDir = ModelDir.open(from, MfRouter.KIND);
        common.resolveEmbedding(baseDir.embeddingModel());
        var e = baseDir.manifest().path("embedding");
        if (e.path("max_tokens").isInt()) {
          common.maxTokens = e.path("max_tokens").asInt();
        }
        if (e.path("truncation").isTextual()) {
          common.truncation = e.path("truncation").asText();
        }
        java.util.Set<String> untrained = new java.util.HashSet<>(baseDir.models());
        untrained.removeAll(baseDir.placeableModels());
        base = new MfTrainer.Base(MfRouter.load(baseDir), baseDir.models(), untrained, anchor);
        pointwise.iterations = adaptIterations;
        pointwise.dim = base.model().rank() - 1;
      }
      try (Embedders embedders = new Embedders(common.embeddingSettings())) {
        if (baseDir != null) {
          baseDir.checkEmbedder(embedders.get(common.embeddingModel));
        }
        TrainingSet set = common.load(embedders);
        if (baseDir == null) {
          common.requireTwoModels(set); // adapting, one model's labels are enough: the base has the others
          common.requireLengthSpread(set); // adapting keeps the base's length scale
        }
        common.writeHeldOut(set);
        MfTrainer trainer = new MfTrainer(set, pointwise.options(lengthPrior, gapPrior, common.seed, !common.quiet), base);
        if (baseDir != null) {
          var parsed = spec.commandLine().getParseResult();
          for (String o : List.of("--strong-model", "--weak-model")) {
            String id = o.equals("--strong-model") ? common.strongModel : common.weakModel;
            if (parsed.hasMatchedOption(o) && !trainer.modelIds().contains(id)) {
              // a typo would leave the base's default in place, silently (review)
              throw new IllegalArgumentException(o + " " + id + " is not a model of " + from + " or the labels"
                  + didYouMean(id, trainer.modelIds()));
            }
          }
        }
        MfModel model = trainer.train();
        ObjectNode m = common.manifest(MfRouter.KIND, embedders.get(common.embeddingModel), set);
        ObjectNode t = (ObjectNode) m.get("training");
        pointwise.record(t);
        t.put("final_train_loss", trainer.lastLoss());
        if (baseDir != null) {
          adaptedManifest(m, baseDir, trainer.modelIds());
        }
        List<String> ids = trainer.modelIds();
        ObjectNode held = ModelDir.json().createObjectNode();
        held.put("prompts", set.heldOut().size());
        String[] pair = HeldOutMetrics.pairFor(set, m.get("default_strong").asText(), m.get("default_weak").asText());
        String strong = pair[0];
        String weak = pair[1];
        int si = ids.indexOf(strong);
        int wi = ids.indexOf(weak);
        HeldOutMetrics.apgrOn(held, set, strong, weak, q -> model.pairWinRate(si, wi,
            model.features(set.embeddings()[q], set.data().prompts().get(q).prompt())));
        m.set("heldout", held);
        common.recordCrossval(m, "mf");
        ModelOutput.write(common.out, dir -> MfTrainer.save(model, dir, m));
        reportHeldOut(held, set, common.out, "mf");
        if (baseDir != null) {
          // a typo in the labels' model ids makes a new model silently, and the upstream meant gets nothing
          List<String> known = baseDir.models();
          for (String id : ids.subList(known.size(), ids.size())) {
            List<String> near = ModelDir.closeIds(id, known);
            System.out.println("new to " + from + ": " + id + " (learned from these labels alone"
                + (near.isEmpty() ? ")" : "; did you mean " + String.join(" or ", near) + "?)"));
          }
        }
      }
      return 0;
    }

    /**
     * An adapted model's manifest: every id of the base and the new ones, the base's defaults, placeable
     * where the base or the new rows trained them, and how the base was made (its own training block).
     */
    private void adaptedManifest(ObjectNode m, ModelDir baseDir, List<String> ids) {
      java.util.Set<String> untrained = new java.util.LinkedHashSet<>(ids);
      untrained.removeAll(baseDir.placeableModels());
      java.util.Set<String> newlyUntrained = new java.util.HashSet<>();
      m.path("untrained_models").forEach(n -> newlyUntrained.add(n.asText()));
      java.util.Set<String> dataModels = new java.util.HashSet<>();
      m.path("models").forEach(n -> dataModels.add(n.asText()));
      untrained.removeIf(id -> dataModels.contains(id) && !newlyUntrained.contains(id));
      var models = m.putArray("models");
      ids.forEach(models::add);
      var un = m.putArray("untrained_models");
      untrained.forEach(un::add);
      // the base's defaults, unless named here (they were ignored, silently: operator trial)
      var parsed = spec.commandLine().getParseResult();
      m.put("default_strong", parsed.hasMatchedOption("--strong-model") ? common.strongModel
          : baseDir.text("default_strong", ids.get(0)));
      m.put("default_weak", parsed.hasMatchedOption("--weak-model") ? common.weakModel
          : baseDir.text("default_weak", ids.get(ids.size() - 1)));
      ObjectNode t = (ObjectNode) m.get("training");
      t.put("iterations", adaptIterations);
      ObjectNode a = t.putObject("adapted_from");
      a.put("dir", baseDir.dir().toString());
      a.put("anchor", anchor);
      a.set("training", baseDir.manifest().path("training"));
      if (baseDir.manifest().has("crossval")) {
        a.set("crossval", baseDir.manifest().path("crossval"));
      }
    }
  }

  @Command(name = "sw", mixinStandardHelpOptions = true,
      description = "Build the similarity-weighted index (scores completed by a point-wise model trained on the same data).")
  static final class Sw implements Callable<Integer> {
    @Mixin
    Common common = new Common();

    @Mixin
    PointwiseOptions pointwise = new PointwiseOptions();

    @Option(names = "--temperature", defaultValue = "" + SwTrainer.TEMPERATURE,
        description = "Kernel temperature in cosine-similarity units (default ${DEFAULT-VALUE}).")
    double temperature;

    @Option(names = "--length-prior", defaultValue = "" + SwTrainer.LENGTH_PRIOR,
        description = "Weight of the length prior in the win rate (default ${DEFAULT-VALUE}; 0 = off).")
    double lengthPrior;

    @Option(names = "--gap-prior", defaultValue = "" + SwTrainer.GAP_PRIOR,
        description = "Weight of the capability-gap prior in the win rate (default ${DEFAULT-VALUE}; 0 = off).")
    double gapPrior;

    @Override
    public Integer call() throws Exception {
      pointwise.check();
      OptionChecks.above("--temperature", temperature, 0);
      OptionChecks.atLeast("--length-prior", lengthPrior, 0);
      OptionChecks.atLeast("--gap-prior", gapPrior, 0);
      common.checkOut(SwRankingRouter.KIND);
      try (Embedders embedders = new Embedders(common.embeddingSettings())) {
        TrainingSet set = common.load(embedders);
        common.requireTwoModels(set);
        common.requireLengthSpread(set);
        common.writeHeldOut(set);
        MfTrainer trainer = new MfTrainer(set, pointwise.options(0, 0, common.seed, !common.quiet)
            .labelled("train sw (point-wise part)"));
        MfModel model = trainer.train();
        SwTrainer.Result r = SwTrainer.build(set, trainer, model, temperature, lengthPrior, gapPrior);
        ObjectNode m = common.manifest(SwRankingRouter.KIND, embedders.get(common.embeddingModel), set);
        ObjectNode t = (ObjectNode) m.get("training");
        pointwise.record(t);
        t.put("final_train_loss", trainer.lastLoss());
        ObjectNode held = SwTrainer.heldOutMetrics(r, set, m.get("default_strong").asText(),
            m.get("default_weak").asText());
        m.set("heldout", held);
        common.recordCrossval(m, "sw_ranking");
        ModelOutput.write(common.out, dir -> SwTrainer.save(r, dir, m));
        reportHeldOut(held, set, common.out, "sw_ranking");
      }
      return 0;
    }
  }

  @Command(name = "bert", mixinStandardHelpOptions = true,
      description = "Train the bert router's head (strong better / tie / weak better) on the sentence embedding.")
  static final class Bert implements Callable<Integer> {
    @Mixin
    Common common = new Common();

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--hidden", defaultValue = "64", description = "Hidden ReLU units; 0 = logistic regression (default ${DEFAULT-VALUE}).")
    int hidden;

    @Option(names = "--epochs", defaultValue = "30")
    int epochs;

    @Option(names = "--batch", defaultValue = "64", description = "Prompts per optimizer step.")
    int batch;

    @Option(names = "--lr", defaultValue = "0.003")
    double lr;

    @Option(names = "--weight-decay", defaultValue = "0.0001")
    double weightDecay;

    @Option(names = "--pairs", defaultValue = "ordered",
        description = "default (only the strong/weak pair) | ordered (every model pair, stronger first) (default ${DEFAULT-VALUE}).")
    String pairs;

    @Option(names = "--min-gap", defaultValue = "0.05",
        description = "ordered: keep a pair when the models' won-battle shares differ by more than this (default ${DEFAULT-VALUE}).")
    double minGap;

    @Option(names = "--reading", defaultValue = "routellm",
        description = "How labels give the win rate: half_tie (P(strong) + P(tie)/2) | routellm (1 - P(tie) - P(weak)) (default ${DEFAULT-VALUE}).")
    String reading;

    @Override
    public Integer call() throws Exception {
      OptionChecks.atLeast("--hidden", hidden, 0);
      OptionChecks.atLeast("--epochs", epochs, 1);
      OptionChecks.atLeast("--batch", batch, 1);
      OptionChecks.above("--lr", lr, 0);
      OptionChecks.atLeast("--weight-decay", weightDecay, 0);
      OptionChecks.within("--min-gap", minGap, 0, 1);
      common.checkOut(BertRouter.KIND);
      LabelReading labelReading = switch (reading) {
        case "half_tie" -> LabelReading.HALF_TIE;
        case "routellm" -> LabelReading.ROUTELLM;
        default -> throw new picocli.CommandLine.ParameterException(spec.commandLine(),
            "--reading must be half_tie or routellm, got '" + reading + "'");
      };
      BertTrainer.Pairs p = BertTrainer.Pairs.parse(pairs);
      try (Embedders embedders = new Embedders(common.embeddingSettings())) {
        TrainingSet set = common.load(embedders);
        common.requireTwoModels(set);
        common.writeHeldOut(set);
        ObjectNode m = common.manifest(BertRouter.KIND, embedders.get(common.embeddingModel), set);
        String strong = m.get("default_strong").asText();
        String weak = m.get("default_weak").asText();
        double[] strength = BertTrainer.strengths(set.data(), set.train());
        double[][] targets = BertTrainer.targets(set.data(), set.train(), strong, weak, p, strength, minGap);
        long labelled = java.util.Arrays.stream(targets).filter(java.util.Objects::nonNull).count();
        BertTrainer.Options o = new BertTrainer.Options(hidden, epochs, batch, lr, weightDecay, p, minGap, common.seed,
            !common.quiet);
        BertTrainer trainer = new BertTrainer(set.embeddings()[0].length, o);
        double loss = trainer.train(set.embeddings(), targets);
        BertHead head = trainer.head();
        m.put("form", "head");
        var labels = m.putArray("labels");
        BertTrainer.LABELS.forEach(labels::add);
        var weights = m.putArray("strong_win_weights");
        for (double w : labelReading.weights()) {
          weights.add(w);
        }
        m.put("reading", reading);
        ((ObjectNode) m.get("training")).put("hidden", hidden).put("epochs", epochs).put("batch_prompts", batch)
            .put("lr", lr).put("weight_decay", weightDecay).put("pairs", p.name().toLowerCase())
            .put("min_gap", minGap).put("prompts_labelled", labelled).put("final_train_loss", loss);
        ObjectNode held = BertTrainer.heldOutMetrics(head, set, strong, weak);
        m.set("heldout", held);
        common.recordCrossval(m, "bert");
        ModelOutput.write(common.out, dir -> {
          head.save(dir, m);
          ModelDir.writeManifest(dir, m);
        });
        reportHeldOut(held, set, common.out, "bert");
      }
      return 0;
    }
  }

  /**
   * The held-out figures of a trained router, and when its held-out part is too small to give one (a
   * few labels, a tenth held out), where a figure comes from instead.
   */
  static void reportHeldOut(ObjectNode held, TrainingSet set, Path out, String router) {
    System.out.println("wrote " + out + "; held-out: " + held);
    // bert's figures sit one level down, per reading of its labels
    com.fasterxml.jackson.databind.JsonNode pairs = held.findValue("pair_prompts");
    if (!set.heldOut().isEmpty() && pairs != null && pairs.asInt() < 10) {
      System.out.println("held-out: too few prompts with two models' outcomes to measure (" + pairs.asInt()
          + "); measure on prompts of your own kept out of training: eval --config <the config serving it> --router "
          + router + "=" + out + " --bench <them> (README: Score, evaluate, label, train)");
    }
  }

  /** "; did you mean x?" for a typo of a known id, else "". */
  private static String didYouMean(String wanted, List<String> ids) {
    List<String> close = ModelDir.closeIds(wanted, ids);
    return close.isEmpty() ? "" : "; did you mean " + String.join(" or ", close) + "?";
  }
}
