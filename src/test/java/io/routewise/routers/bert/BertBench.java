package io.routewise.routers.bert;

import io.routewise.config.ConfigNode;
import io.routewise.config.ConfigProblems;
import io.routewise.data.DatasetReader;
import io.routewise.data.PromptRecord;
import io.routewise.embedding.EmbeddingModel;
import io.routewise.embedding.EmbeddingSettings;
import io.routewise.embedding.Embedders;
import io.routewise.embedding.OnnxEmbedder;
import io.routewise.embedding.Truncation;
import io.routewise.routers.RouterContext;
import io.routewise.routing.Prompt;
import io.routewise.routing.Router;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Decision latency of the {@code bert} router, one prompt at a time on one thread, by prompt length
 * in MiniLM tokens (special tokens included): the trained head form on the shared embedder (cache
 * off, so every decision embeds), and the classifier form on the tiny test model (tokenizer + ONNX
 * overhead only; a real BERT-base costs far more). Not a test: figures go to docs/bert-results.md.
 *
 * <pre>
 * java -cp target/test-classes:target/routewise.jar io.routewise.routers.bert.BertBench \
 *     models/bert src/test/resources/bert-tiny-cls ../shared/data/mmlu-pro.jsonl ../shared/data/dcrouter.jsonl
 * </pre>
 */
public final class BertBench {
  private static final int[] BUCKETS = {32, 128, 256};

  public static void main(String[] args) throws Exception {
    Path headDir = Path.of(args[0]);
    Path clsDir = Path.of(args[1]);
    List<PromptRecord> all = new ArrayList<>();
    for (int i = 2; i < args.length; i++) {
      all.addAll(DatasetReader.readPrompts(Path.of(args[i])));
    }
    int n = Integer.getInteger("n", 300);
    int warmup = Integer.getInteger("warmup", 50);
    System.out.printf("java %s, %d cores, n=%d per bucket after %d warm-up decisions%n", Runtime.version(),
        Runtime.getRuntime().availableProcessors(), n, warmup);
    try (Embedders embedders = new Embedders(EmbeddingSettings.defaults().withModel(EmbeddingModel.MINILM_L6_Q.id()).withCacheEntries(0))) {
      OnnxEmbedder onnx = embedders.onnx("all-minilm-l6-v2-q");
      List<List<String>> byBucket = new ArrayList<>();
      for (int b = 0; b < BUCKETS.length; b++) {
        byBucket.add(new ArrayList<>());
      }
      for (PromptRecord p : all) {
        int t = onnx.countTokens(p.prompt());
        for (int b = 0; b < BUCKETS.length; b++) {
          int lo = b == 0 ? 0 : BUCKETS[b - 1];
          if (t > lo && t <= BUCKETS[b] && byBucket.get(b).size() < n + warmup) {
            byBucket.get(b).add(p.prompt());
          }
        }
      }
      ConfigProblems problems = new ConfigProblems();
      Router head = BertRouter.create(new RouterContext("bert",
          new ConfigNode("routers.bert", Map.of("model_dir", headDir.toString()), problems), Path.of("models"),
          embedders, null, null));
      problems.throwIfAny();
      BertHead onlyHead = BertHead.load(io.routewise.routers.ModelDir.open(headDir, "bert"), 3);
      try (Router cls = BertRouter.classifier(BertClassifier.load(clsDir, 0, Truncation.HEAD,
          EmbeddingSettings.defaultThreads()), LabelReading.ROUTELLM)) {
        for (int b = 0; b < BUCKETS.length; b++) {
          List<String> prompts = byBucket.get(b);
          String label = "<=" + BUCKETS[b] + " tokens (" + prompts.size() + " prompts)";
          report("head form (embed + MLP)   " + label, head, prompts, warmup);
          report("classifier form, tiny     " + label, cls, prompts, warmup);
        }
        float[] e = embedders.get("all-minilm-l6-v2-q").embed("warm");
        long[] t = new long[10_000];
        for (int i = 0; i < t.length; i++) {
          long s = System.nanoTime();
          onlyHead.logits(e);
          t[i] = System.nanoTime() - s;
        }
        Arrays.sort(t);
        System.out.printf("head MLP alone (384 -> 64 -> 3): p50 %.1f us, p99 %.1f us%n", t[t.length / 2] / 1e3,
            t[(int) (t.length * 0.99)] / 1e3);
      } finally {
        head.close();
      }
    }
  }

  private static void report(String name, Router r, List<String> prompts, int warmup) throws Exception {
    List<Long> times = new ArrayList<>();
    for (int i = 0; i < prompts.size(); i++) {
      long s = System.nanoTime();
      r.strongWinRate(Prompt.of(prompts.get(i)));
      long t = System.nanoTime() - s;
      if (i >= warmup) {
        times.add(t);
      }
    }
    long[] a = times.stream().mapToLong(Long::longValue).sorted().toArray();
    if (a.length == 0) {
      System.out.println(name + ": no prompts");
      return;
    }
    System.out.printf("%s: p50 %.2f ms, p99 %.2f ms%n", name, a[a.length / 2] / 1e6,
        a[Math.min(a.length - 1, (int) (a.length * 0.99))] / 1e6);
  }
}
