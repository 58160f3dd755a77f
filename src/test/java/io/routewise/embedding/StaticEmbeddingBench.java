package io.routewise.embedding;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.function.Consumer;

/**
 * Where a static decision's time goes, by prompt length: tokenizing with DJL (what OnnxEmbedder
 * does) against {@link WordPieceTokenizer}, the whole static embedding, and MiniLM's embedding as
 * the reference it replaces. Prompts from the files given, shuffled (seed 1), bucketed by token
 * count; the ~4,000-token prompts join consecutive shuffled prompts. Each bucket is timed in
 * {@code rounds} interleaved rounds. Not a test: figures go to BENCHMARKS.md.
 *
 * <pre>java -cp target/test-classes:target/routewise.jar io.routewise.embedding.StaticEmbeddingBench \
 *     models minilm-l6-static 3 ../shared/data/mmlu-pro.jsonl ../shared/data/dcrouter.jsonl ../shared/data/arena-bench-v1.jsonl</pre>
 */
public final class StaticEmbeddingBench {
  static final int[] BOUNDS = {32, 128, 256};
  static final String[] LABELS = {"<= 32", "33-128", "129-256", "~4000"};

  public static void main(String[] args) throws Exception {
    Path modelsDir = Path.of(args[0]);
    String table = args[1];
    int rounds = Integer.parseInt(args[2]);
    List<String> prompts = new ArrayList<>();
    ObjectMapper json = new ObjectMapper();
    for (int i = 3; i < args.length; i++) {
      try (BufferedReader r = Files.newBufferedReader(Path.of(args[i]))) {
        for (String line = r.readLine(); line != null; line = r.readLine()) {
          prompts.add(json.readTree(line).path("prompt").asText());
        }
      }
    }
    Collections.shuffle(prompts, new Random(1));
    EmbeddingSettings settings = EmbeddingSettings.defaults().withCacheEntries(0).withModelsDir(modelsDir);
    try (Embedders embedders = new Embedders(settings)) {
      StaticEmbedder s = (StaticEmbedder) embedders.get(table);
      OnnxEmbedder minilm = embedders.onnx(EmbeddingModel.MINILM_L6_Q.id());
      WordPieceTokenizer tok = s.tokenizer();
      Path tj = ModelFiles.extract(EmbeddingModel.MINILM_L6_Q.tokenizerResource(), ModelFiles.defaultDir());
      try (HuggingFaceTokenizer djl = HuggingFaceTokenizer.builder().optTokenizerPath(tj).optAddSpecialTokens(true)
          .optTruncation(false).optPadding(false).build()) {
        List<List<String>> buckets = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
          buckets.add(new ArrayList<>());
        }
        for (String p : prompts) {
          int n = tok.count(p) + 2;
          int b = n <= BOUNDS[0] ? 0 : n <= BOUNDS[1] ? 1 : n <= BOUNDS[2] ? 2 : -1;
          if (b >= 0 && buckets.get(b).size() < 300) {
            buckets.get(b).add(p);
          }
        }
        for (int next = 0; buckets.get(3).size() < 50; ) {
          StringBuilder b = new StringBuilder();
          for (int n = 2; n < 4000; next++) {
            b.append(prompts.get(next)).append("\n\n");
            n += tok.count(prompts.get(next));
          }
          buckets.get(3).add(b.toString());
        }
        long[] sink = {0};
        // The shared LRU in front (serve's embedding.cache_entries): a repeat is a hit; a new prompt
        // pays for the digest and the insert on top of the embedding.
        CachingEmbedder cache = new CachingEmbedder(s, 10_000);
        buckets.forEach(b -> b.forEach(cache::embed));
        int[] fresh = {0};
        CachingEmbedder missing = new CachingEmbedder(s, 10_000);
        List<Step> steps = List.of(
            new Step("DJL tokenizer (JNI)", p -> sink[0] += djl.encode(p, true, false).getIds().length),
            new Step("WordPieceTokenizer", p -> tok.tokenize(p, t -> sink[0] += t)),
            new Step("static embedding", p -> sink[0] += (long) s.embed(p)[0]),
            new Step("static, cache on, hit", p -> sink[0] += (long) cache.embed(p)[0]),
            new Step("static, cache on, miss", p -> sink[0] += (long) missing.embed(fresh[0]++ + p)[0]),
            new Step("MiniLM embedding (128 tokens)", p -> sink[0] += (long) minilm.embed(p)[0]));
        for (Step step : steps) {
          for (int w = 0; w < 3; w++) {
            buckets.forEach(b -> b.forEach(step.run));
          }
        }
        System.out.printf("table %s: %d x %d, %s; %d prompts per bucket (50 at ~4000), %d rounds%n", table,
            tok.vocabSize(), s.dimension(), StaticTable.read(modelsDir.resolve(table)).isInt8() ? "int8" : "float32",
            buckets.get(0).size(), rounds);
        System.out.printf("%-30s | %-8s | %9s | %9s%n", "step", "tokens", "p50 us", "p99 us");
        double[][][] us = new double[steps.size()][4][];
        for (int k = 0; k < steps.size(); k++) {
          for (int b = 0; b < 4; b++) {
            us[k][b] = new double[0];
          }
        }
        for (int r = 0; r < rounds; r++) {
          for (int k = 0; k < steps.size(); k++) {
            for (int b = 0; b < 4; b++) {
              List<String> bucket = buckets.get(b);
              double[] t = new double[bucket.size()];
              for (int i = 0; i < t.length; i++) {
                long t0 = System.nanoTime();
                steps.get(k).run.accept(bucket.get(i));
                t[i] = (System.nanoTime() - t0) / 1e3;
              }
              double[] all = Arrays.copyOf(us[k][b], us[k][b].length + t.length);
              System.arraycopy(t, 0, all, us[k][b].length, t.length);
              us[k][b] = all;
            }
          }
        }
        for (int k = 0; k < steps.size(); k++) {
          for (int b = 0; b < 4; b++) {
            double[] t = us[k][b];
            Arrays.sort(t);
            System.out.printf("%-30s | %-8s | %9.1f | %9.1f%n", steps.get(k).name, LABELS[b], t[t.length / 2],
                t[Math.min(t.length - 1, (int) Math.ceil(0.99 * t.length) - 1)]);
          }
        }
        System.out.println("(checksum " + sink[0] + ")");
      }
    }
  }

  record Step(String name, Consumer<String> run) {}
}
