package io.routewise.cli;

import io.routewise.data.PromptRecord;
import io.routewise.embedding.EmbeddingModel;
import io.routewise.embedding.WordPieceTokenizer;
import io.routewise.routing.Prompt;
import io.routewise.routing.Router;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code routewise latency}: the routing-decision time (tokenize, embed, score) of each router on the
 * user's own prompts, by prompt length, single-threaded, embedding cache off so every decision
 * embeds; plus prompts of about {@code --long-tokens} tokens made by joining the user's prompts, and
 * optionally decisions per second on N threads. What {@code serve} adds per request before the
 * upstream call; figures for BENCHMARKS.md.
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

  @Option(names = "--warmup", defaultValue = "-1", description = "Untimed decisions first, over every bucket's prompts in "
      + "turn (default " + IN_PROCESS_WARMUP + " for an in-process router, " + JUDGE_WARMUP + " for a judge over HTTP).")
  int warmup;

  /**
   * Enough for the JIT to settle on every length's code path: with 5,000, ~4,000-token decisions
   * measured 120-200 µs p50 where the settled figure is 15-20 µs, and two threads 55,000 decisions/s
   * where it is 180,000.
   */
  static final int IN_PROCESS_WARMUP = 50_000;
  static final int JUDGE_WARMUP = 10;

  @Option(names = "--rounds", defaultValue = "1",
      description = "Times each bucket is timed over; p50/p99 over all of them (default ${DEFAULT-VALUE}).")
  int rounds;

  @Option(names = "--long-tokens", defaultValue = "0",
      description = "Also time prompts of about this many tokens, each made by joining consecutive input prompts (0 = skip).")
  int longTokens;

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
    if (perBucket < 1 || rounds < 1 || warmup < -1 || longTokens < 0 || concurrency < 0) {
      System.err.println("--per-bucket and --rounds must be at least 1; --warmup, --long-tokens and --concurrency at "
          + "least 0");
      return 2;
    }
    List<PromptRecord> prompts = new ArrayList<>();
    for (Path input : inputs) {
      prompts.addAll(PromptFiles.read(input));
    }
    try (RouterSetup setup = new RouterSetup(opts.config, opts.modelsDir, null, null, 0, opts.embeddingModel)) {
      EmbeddingModel model = EmbeddingModel.byId(tokenModel)
          .orElseThrow(() -> new IllegalArgumentException("unknown --token-model " + tokenModel));
      WordPieceTokenizer tokens = WordPieceTokenizer.of(model);
      List<List<String>> buckets = new ArrayList<>();
      List<String> labels = new ArrayList<>();
      for (int i = 0; i < BUCKETS.length; i++) {
        buckets.add(new ArrayList<>());
        labels.add(label(i));
      }
      for (PromptRecord p : prompts) {
        int n = tokens.count(p.prompt()) + 2;
        int b = 0;
        while (n > BUCKETS[b]) {
          b++;
        }
        if (buckets.get(b).size() < perBucket) {
          buckets.get(b).add(p.prompt());
        }
      }
      List<String> all = buckets.stream().flatMap(List::stream).toList();
      if (longTokens > 0) {
        buckets.add(joined(prompts, tokens, longTokens, Math.max(1, perBucket / 4)));
        labels.add("~" + longTokens);
        if (buckets.get(buckets.size() - 1).isEmpty()) {
          System.err.printf(Locale.ROOT, "--long-tokens %d: the input's prompts, all joined, come to fewer tokens; "
              + "no ~%d row (give more prompts)%n", longTokens, longTokens);
        }
      }
      System.out.printf("%-14s | %-11s | %5s | %9s | %9s | %9s%n", "router", "tokens", "n", "p50 us", "p99 us", "mean us");
      System.out.println("-".repeat(72));
      for (String arg : routers) {
        try (Router r = setup.load(arg, null, null)) {
          if (!timed(arg, r, buckets, labels, all)) {
            return 2;
          }
        }
      }
    }
    return 0;
  }

  /** Times {@code r} over the buckets; false (said) when it fails on a prompt: a failure is not a decision to time. */
  private boolean timed(String arg, Router r, List<List<String>> buckets, List<String> labels, List<String> all)
      throws Exception {
    try {
      // Every bucket's prompts in turn, the long ones too: their code paths get compiled before
      // they are timed, not while.
      List<String> every = buckets.stream().flatMap(List::stream).toList();
      int warmup = this.warmup >= 0 ? this.warmup
          : r instanceof io.routewise.routers.causal.CausalLlmRouter ? JUDGE_WARMUP : IN_PROCESS_WARMUP;
      for (int i = 0; i < warmup; i++) {
        r.strongWinRate(Prompt.of(every.get(i % every.size())));
      }
      // The buckets' prompts timed interleaved, in one fixed shuffled order, as serve meets them: timed
      // one bucket after another, the JIT had recompiled for short prompts by the long bucket's turn,
      // and 1,500 long decisions spent most of their time being deoptimized and compiled again
      // (p50 120-200 µs at ~4,000 tokens, 15 µs with ten times the rounds).
      List<int[]> order = new ArrayList<>(); // {bucket, prompt}
      for (int b = 0; b < buckets.size(); b++) {
        for (int i = 0; i < buckets.get(b).size(); i++) {
          order.add(new int[] {b, i});
        }
      }
      java.util.Collections.shuffle(order, new java.util.Random(0));
      double[][] times = new double[buckets.size()][];
      int[] filled = new int[buckets.size()];
      for (int b = 0; b < buckets.size(); b++) {
        times[b] = new double[buckets.get(b).size() * rounds];
      }
      for (int round = 0; round < rounds; round++) {
        for (int[] at : order) {
          Prompt p = Prompt.of(buckets.get(at[0]).get(at[1]));
          long t0 = System.nanoTime();
          r.strongWinRate(p);
          times[at[0]][filled[at[0]]++] = (System.nanoTime() - t0) / 1e3;
        }
      }
      for (int b = 0; b < buckets.size(); b++) {
        List<String> bucket = buckets.get(b);
        if (bucket.isEmpty()) {
          continue;
        }
        double[] us = times[b];
        Arrays.sort(us);
        System.out.printf(Locale.ROOT, "%-14s | %-11s | %5d | %9.1f | %9.1f | %9.1f%n", arg, labels.get(b), bucket.size(),
            pct(us, 0.50), pct(us, 0.99), Arrays.stream(us).average().orElse(0));
      }
      if (concurrency > 0) {
        System.out.printf(Locale.ROOT, "%-14s | %d threads: %.0f decisions/s over %d prompts of all lengths up to the longest input%n",
            arg, concurrency, throughput(r, all), all.size() * Math.max(1, rounds));
      }
      return true;
    } catch (io.routewise.routing.RouterException e) {
      // a judge down or refusing: what would be timed is its failure, not a decision
      System.err.println(arg + ": failed on a prompt (" + e.kind() + ": " + e.getMessage() + "); its latency is not measured");
      return false;
    }
  }

  /** {@code count} prompts of at least {@code target} tokens, each consecutive input prompts joined by blank lines. */
  static List<String> joined(List<PromptRecord> prompts, WordPieceTokenizer tokens, int target, int count) {
    List<String> out = new ArrayList<>();
    int next = 0;
    while (out.size() < count && next < prompts.size()) {
      StringBuilder b = new StringBuilder();
      int n = 2;
      while (n < target && next < prompts.size()) {
        String p = prompts.get(next++).prompt();
        b.append(p).append("\n\n");
        n += tokens.count(p);
      }
      if (n >= target) {
        out.add(b.toString());
      }
    }
    return out;
  }

  private double throughput(Router r, List<String> prompts) throws Exception {
    java.util.concurrent.atomic.AtomicInteger next = new java.util.concurrent.atomic.AtomicInteger();
    java.util.concurrent.atomic.AtomicReference<io.routewise.routing.RouterException> failed =
        new java.util.concurrent.atomic.AtomicReference<>();
    int total = prompts.size() * Math.max(1, rounds);
    List<Thread> threads = new ArrayList<>();
    long t0 = System.nanoTime();
    for (int t = 0; t < concurrency; t++) {
      threads.add(Thread.ofPlatform().start(() -> {
        for (int i = next.getAndIncrement(); i < total; i = next.getAndIncrement()) {
          try {
            r.strongWinRate(Prompt.of(prompts.get(i % prompts.size())));
          } catch (io.routewise.routing.RouterException e) {
            failed.compareAndSet(null, e);
            next.set(total); // the others stop at their next prompt
            return;
          } catch (Exception e) {
            throw new IllegalStateException(e);
          }
        }
      }));
    }
    for (Thread t : threads) {
      t.join();
    }
    if (failed.get() != null) {
      throw failed.get();
    }
    return total / ((System.nanoTime() - t0) / 1e9);
  }

  private static String label(int b) {
    return b == BUCKETS.length - 1 ? "> " + BUCKETS[b - 1] : (b == 0 ? 1 : BUCKETS[b - 1] + 1) + "-" + BUCKETS[b];
  }

  private static double pct(double[] sorted, double q) {
    return sorted[Math.min(sorted.length - 1, (int) Math.ceil(q * sorted.length) - 1)];
  }
}
