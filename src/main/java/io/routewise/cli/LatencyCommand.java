package io.routewise.cli;

import io.routewise.data.PromptRecord;
import io.routewise.embedding.EmbeddingModel;
import io.routewise.embedding.OnnxEmbedder;
import io.routewise.routing.Prompt;
import io.routewise.routing.Router;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code routewise latency}: the routing-decision time (embedding + router) of each router on the
 * user's own prompts, by prompt length, single-threaded, embedding cache off so every decision
 * embeds. What {@code serve} adds per request before the upstream call; figures for BENCHMARKS.md.
 */
@Command(name = "latency", mixinStandardHelpOptions = true,
    description = "Measure routing-decision latency (p50/p99) per router by prompt length in tokens.")
public final class LatencyCommand implements Callable<Integer> {
  /** Upper token bounds of the length buckets (special tokens included, before truncation). */
  static final int[] BUCKETS = {32, 128, 256, Integer.MAX_VALUE};

  @Option(names = "--router", required = true, arity = "1..*", description = "Routers: NAME or NAME=MODEL_DIR.")
  List<String> routers;

  @Option(names = "--input", required = true, arity = "1..*", description = "Prompt files (JSON lines with a prompt field).")
  List<Path> inputs;

  @Option(names = "--per-bucket", defaultValue = "200", description = "Prompts timed per length bucket (default ${DEFAULT-VALUE}).")
  int perBucket;

  @Option(names = "--warmup", defaultValue = "100", description = "Untimed decisions first (default ${DEFAULT-VALUE}).")
  int warmup;

  @Option(names = "--token-model", defaultValue = "all-minilm-l6-v2-q",
      description = "Embedding model whose tokenizer sorts prompts into buckets (default ${DEFAULT-VALUE}).")
  String tokenModel;

  @Option(names = "--concurrency", defaultValue = "0",
      description = "Also run every bucketed prompt through N threads at once and report decisions/s (0 = skip).")
  int concurrency;

  @Mixin
  RouterOptions opts = new RouterOptions();

  @Override
  public Integer call() throws Exception {
    List<PromptRecord> prompts = new ArrayList<>();
    for (Path input : inputs) {
      prompts.addAll(PromptFiles.read(input));
    }
    try (RouterSetup setup = new RouterSetup(opts.config, opts.modelsDir, null, null, 0)) {
      EmbeddingModel.byId(tokenModel).orElseThrow(() -> new IllegalArgumentException("unknown --token-model " + tokenModel));
      OnnxEmbedder tokens = setup.embedders().onnx(tokenModel);
      List<List<String>> buckets = new ArrayList<>();
      for (int i = 0; i < BUCKETS.length; i++) {
        buckets.add(new ArrayList<>());
      }
      for (PromptRecord p : prompts) {
        int n = tokens.countTokens(p.prompt());
        int b = 0;
        while (n > BUCKETS[b]) {
          b++;
        }
        if (buckets.get(b).size() < perBucket) {
          buckets.get(b).add(p.prompt());
        }
      }
      System.out.printf("%-14s | %-11s | %5s | %9s | %9s | %9s%n", "router", "tokens", "n", "p50 ms", "p99 ms", "mean ms");
      System.out.println("-".repeat(72));
      for (String arg : routers) {
        try (Router r = setup.load(arg, null, null)) {
          List<String> all = buckets.stream().flatMap(List::stream).toList();
          for (int i = 0; i < warmup; i++) {
            r.strongWinRate(Prompt.of(all.get(i % all.size())));
          }
          for (int b = 0; b < BUCKETS.length; b++) {
            List<String> bucket = buckets.get(b);
            if (bucket.isEmpty()) {
              continue;
            }
            double[] ms = new double[bucket.size()];
            for (int i = 0; i < ms.length; i++) {
              long t0 = System.nanoTime();
              r.strongWinRate(Prompt.of(bucket.get(i)));
              ms[i] = (System.nanoTime() - t0) / 1e6;
            }
            Arrays.sort(ms);
            System.out.printf("%-14s | %-11s | %5d | %9.2f | %9.2f | %9.2f%n", arg, label(b), ms.length,
                pct(ms, 0.50), pct(ms, 0.99), Arrays.stream(ms).average().orElse(0));
          }
          if (concurrency > 0) {
            System.out.printf("%-14s | %d threads: %.0f decisions/s over %d prompts of all lengths%n", arg,
                concurrency, throughput(r, all), all.size());
          }
        }
      }
    }
    return 0;
  }

  private double throughput(Router r, List<String> prompts) throws InterruptedException {
    java.util.concurrent.atomic.AtomicInteger next = new java.util.concurrent.atomic.AtomicInteger();
    List<Thread> threads = new ArrayList<>();
    long t0 = System.nanoTime();
    for (int t = 0; t < concurrency; t++) {
      threads.add(Thread.ofPlatform().start(() -> {
        for (int i = next.getAndIncrement(); i < prompts.size(); i = next.getAndIncrement()) {
          try {
            r.strongWinRate(Prompt.of(prompts.get(i)));
          } catch (Exception e) {
            throw new IllegalStateException(e);
          }
        }
      }));
    }
    for (Thread t : threads) {
      t.join();
    }
    return prompts.size() / ((System.nanoTime() - t0) / 1e9);
  }

  private static String label(int b) {
    return b == BUCKETS.length - 1 ? "> " + BUCKETS[b - 1] : (b == 0 ? 1 : BUCKETS[b - 1] + 1) + "-" + BUCKETS[b];
  }

  private static double pct(double[] sorted, double q) {
    return sorted[Math.min(sorted.length - 1, (int) Math.ceil(q * sorted.length) - 1)];
  }
}
