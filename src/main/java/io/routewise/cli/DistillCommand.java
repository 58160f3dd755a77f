package io.routewise.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.routewise.data.PromptRecord;
import io.routewise.data.TrainingSet;
import io.routewise.embedding.Embedder;
import io.routewise.embedding.EmbeddingModel;
import io.routewise.embedding.EmbeddingSettings;
import io.routewise.embedding.Embedders;
import io.routewise.embedding.ModelFiles;
import io.routewise.embedding.OnnxEmbedder;
import io.routewise.embedding.StaticDistiller;
import io.routewise.embedding.StaticDistiller.Weighting;
import io.routewise.embedding.StaticTable;
import io.routewise.embedding.TableAlignment;
import io.routewise.embedding.Truncation;
import io.routewise.embedding.WordPieceTokenizer;
import io.routewise.routers.ModelDir;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import me.tongfei.progressbar.ProgressBar;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code routewise distill}: a static embedding table from a sentence model on the classpath
 * ({@link StaticDistiller}), written as a directory under {@code models/} that {@code embedding.model}
 * and {@code train --embedding-model} then name by its directory name.
 */
@Command(name = "distill", mixinStandardHelpOptions = true,
    description = "Distill a static embedding (one vector per token, weighted mean) from a sentence model on the classpath.")
public final class DistillCommand implements Callable<Integer> {
  @Option(names = "--model", defaultValue = "all-minilm-l6-v2-q",
      description = "Sentence model to distill (default ${DEFAULT-VALUE}).")
  String model;

  @Option(names = "--out", required = true, description = "Directory to write, e.g. models/minilm-l6-static; its name is the embedding's id.")
  Path out;

  @Option(names = "--dim", defaultValue = "256",
      description = "PCA dimension; the model's own (384) rotates without reducing; 0 = no PCA (default ${DEFAULT-VALUE}).")
  int dim;

  @Option(names = "--weighting", defaultValue = "none",
      description = "none (a plain mean; measured best for routing, BENCHMARKS.md) | zipf (SIF, vocabulary order as frequency) "
          + "| corpus (SIF, token counts over --corpus) (default ${DEFAULT-VALUE}).")
  String weighting;

  @Option(names = "--sif-a", defaultValue = "0.001", description = "SIF's a in a / (a + p(token)) (default ${DEFAULT-VALUE}).")
  double sifA;

  @Option(names = "--corpus", arity = "1..*", description = "Prompt files (JSON lines with a prompt field) whose token counts give p(token).")
  List<Path> corpus = new ArrayList<>();

  @Option(names = "--int8", defaultValue = "true", negatable = true, fallbackValue = "true",
      description = "Store int8 vectors, one scale per dimension (default ${DEFAULT-VALUE}).")
  boolean int8;

  @Option(names = "--align", arity = "1..*",
      description = "Prompt files (JSON lines with a prompt field): fit the token vectors so a prompt's mean row comes close to the "
          + "model's embedding of it (TableAlignment), before the PCA.")
  List<Path> align = new ArrayList<>();

  @Option(names = "--max-tokens", defaultValue = "126",
      description = "Tokens of a prompt the table reads: the first half and the last half of a longer one (the odd one to "
          + "the first), as MiniLM reads its 128 with [CLS] and [SEP]; 0 = every token (default ${DEFAULT-VALUE}).")
  int maxTokens;

  @Option(names = "--align-steps", defaultValue = "100", description = "Adam steps of the alignment (default ${DEFAULT-VALUE}).")
  int alignSteps;

  @Option(names = "--embedding-cache",
      description = "Directory keeping the prompts' sentence embeddings across runs (default: tmpdir/routewise-USER/embeddings).")
  Path embeddingCache;

  @Option(names = "--threads", defaultValue = "2", description = "Threads for the alignment (same bytes for any; default ${DEFAULT-VALUE}).")
  int threads;

  @Option(names = "--force", description = "Replace the table already at --out (routers trained on it then refuse to load).")
  boolean force;

  @Option(names = "--quiet", description = "No progress bar.")
  boolean quiet;

  /**
   * The alignment step: every prompt of {@code --align} embedded by the sentence model as routers
   * train on it ({@link EmbeddingSettings#defaults()}: 128 tokens, head and tail), then the token
   * vectors fitted to those embeddings.
   */
  private float[] align(EmbeddingModel m, WordPieceTokenizer tokenizer, float[] raw, StaticTable.TokenBudget budget,
      ObjectNode recipe, java.util.Map<Path, List<PromptRecord>> alignPrompts) throws Exception {
    List<String> prompts = new ArrayList<>();
    var files = ModelDir.json().createArrayNode();
    for (Path f : align) {
      List<PromptRecord> read = alignPrompts.get(f);
      read.forEach(p -> prompts.add(p.prompt()));
      files.addObject().put("file", f.getFileName().toString()).put("sha256", ModelDir.sha256(f)).put("prompts", read.size());
    }
    Path store = embeddingCache != null ? embeddingCache : ModelFiles.defaultStoreDir();
    EmbeddingSettings settings = EmbeddingSettings.defaults().withModel(m.id()).withCacheEntries(0).withStoreDir(store);
    List<int[]> texts = new ArrayList<>();
    List<float[]> targets = new ArrayList<>();
    try (Embedders embedders = new Embedders(settings);
        ProgressBar pb = TrainingSet.progressBar("embed", prompts.size(), !quiet)) {
      Embedder e = embedders.get(m.id());
      for (String p : prompts) {
        int[] ids = tokenizer.ids(p);
        texts.add(budget.cut(java.util.Arrays.copyOfRange(ids, 1, ids.length - 1))); // the tokens the table will read
        targets.add(e.embed(p));
        pb.step();
      }
    }
    TableAlignment.Recipe r = new TableAlignment.Recipe(alignSteps, TableAlignment.Recipe.DEFAULT.learningRate(),
        TableAlignment.Recipe.DEFAULT.l2());
    TableAlignment.Fit fit;
    try (ProgressBar pb = TrainingSet.progressBar("align", alignSteps, !quiet)) {
      fit = TableAlignment.align(raw, tokenizer.vocabSize(), m.dimension(), texts, targets, r, threads, pb::stepTo);
    }
    ObjectNode a = recipe.putObject("alignment");
    a.put("targets", m.id() + ", " + settings.maxTokens() + " tokens, " + settings.truncation().configName()
        + " (the embedding routers train on)");
    a.put("texts", budget.describe() + " of each prompt, as the table reads them");
    a.set("corpus", files);
    a.put("linear_map", "least squares, ridge 1e-6 of the mean diagonal");
    a.put("adam_steps", r.steps()).put("learning_rate", r.learningRate()).put("l2_to_mapped", r.l2());
    a.put("loss_token_vectors", round(fit.lossBefore())).put("loss_mapped", round(fit.lossMapped()))
        .put("loss_fitted", round(fit.lossAfter()));
    a.put("loss", "mean over prompts of |mean of rows - embedding|^2");
    System.err.printf(Locale.ROOT, "aligned on %d prompts: loss %.4f (token vectors) -> %.4f (mapped) -> %.4f (fitted)%n",
        texts.size(), fit.lossBefore(), fit.lossMapped(), fit.lossAfter());
    return fit.vectors();
  }

  private static double round(double x) {
    return Math.round(x * 1e5) / 1e5;
  }

  @Override
  public Integer call() throws Exception {
    if (java.nio.file.Files.isRegularFile(out.resolve("manifest.json")) && !force
        && io.routewise.embedding.StaticTable.KIND.equals(TrainCommand.Common.existingKind(out.resolve("manifest.json")))) {
      // a router trained on it holds its digest and refuses another table: the table it needs would be gone
      throw new IllegalArgumentException("--out " + out + " holds a table already (routers trained on it need it as it "
          + "is): add --force to replace it, or write the new one elsewhere");
    }
    TrainCommand.Common.checkModelOut(out, force, io.routewise.embedding.StaticTable.KIND);
    for (Path f : concat(corpus, align)) { // read after minutes of distilling: a typo said at once
      if (!java.nio.file.Files.isRegularFile(f)) {
        throw new java.nio.file.NoSuchFileException(f.toString());
      }
    }
    EmbeddingModel m = EmbeddingModel.byId(model).orElseThrow(() -> new IllegalArgumentException(
        "unknown --model " + model + " (known: " + EmbeddingModel.ids() + ")"));
    Weighting w;
    try {
      w = Weighting.valueOf(weighting.toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("--weighting must be none, zipf or corpus, got '" + weighting + "'");
    }
    if (w == Weighting.CORPUS && corpus.isEmpty()) {
      throw new IllegalArgumentException("--weighting corpus needs --corpus FILE...");
    }
    if (w != Weighting.NONE && !(sifA > 0 && Double.isFinite(sifA))) {
      // a / (a + p(token)): 0 weighs every token 0 (every prompt embeds alike), a negative a flips or blows up the weights
      throw new IllegalArgumentException("--sif-a must be a number > 0, got " + sifA);
    }
    if (maxTokens < 0) {
      throw new IllegalArgumentException("--max-tokens must be >= 0, got " + maxTokens);
    }
    StaticTable.TokenBudget budget = StaticTable.TokenBudget.headAndTail(maxTokens);
    if (dim < 0 || dim > m.dimension()) {
      throw new IllegalArgumentException("--dim must be in [0, " + m.dimension() + "], got " + dim);
    }
    WordPieceTokenizer tokenizer = WordPieceTokenizer.of(m);
    List<String> texts = new ArrayList<>();
    ObjectNode recipe = ModelDir.json().createObjectNode();
    var files = ModelDir.json().createArrayNode();
    for (Path f : corpus) {
      List<PromptRecord> prompts = PromptFiles.read(f);
      prompts.forEach(p -> texts.add(p.prompt()));
      files.addObject().put("file", f.getFileName().toString()).put("sha256", ModelDir.sha256(f))
          .put("prompts", prompts.size());
    }
    java.util.Map<Path, List<PromptRecord>> alignPrompts = new java.util.HashMap<>();
    for (Path f : align) { // read before the vocabulary pass: a line that is not JSON said at once
      alignPrompts.put(f, PromptFiles.read(f));
    }
    float[] raw;
    // One ONNX thread: the same bytes on every run.
    try (OnnxEmbedder onnx = OnnxEmbedder.load(m, m.maxPositions(), Truncation.HEAD, 1, ModelFiles.defaultDir());
        ProgressBar pb = TrainingSet.progressBar("distill " + m.id(), tokenizer.vocabSize(), !quiet)) {
      raw = StaticDistiller.tokenVectors(onnx, tokenizer, null, done -> pb.stepTo(done));
    }
    if (!align.isEmpty()) {
      raw = align(m, tokenizer, raw, budget, recipe, alignPrompts);
    }
    StaticTable table = StaticDistiller.distill(raw, m, tokenizer,
        new StaticDistiller.Recipe(dim, w, sifA, int8), texts, budget, recipe);
    if (w == Weighting.CORPUS) {
      ((ObjectNode) recipe.get("weighting")).set("corpus", files);
    }
    ModelOutput.write(out, dir -> table.write(dir, recipe));
    long bytes = 0;
    try (var written = java.nio.file.Files.list(out)) {
      for (Path f : written.toList()) {
        bytes += java.nio.file.Files.size(f);
      }
    }
    System.out.printf(Locale.ROOT, "wrote %s: %d tokens x %d dimensions, %s, %.1f MB; reads %s of a prompt%n", out,
        table.vocabSize(), table.dimension(), int8 ? "int8" : "float32", bytes / 1e6, budget.describe());
    return 0;
  }

  private static List<Path> concat(List<Path> a, List<Path> b) {
    List<Path> out = new ArrayList<>(a);
    out.addAll(b);
    return out;
  }
}
