package io.routewise.routers.sw;

import io.routewise.routers.ModelDir;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The sw_ranking decision without the embedding (RouteLLM's ran at 2.9 decisions/s on 8 CPUs):
 * similarities to every stored prompt and the weighted mean of two models' scores. Queries are
 * stored prompts' own vectors. Not a test: figures go to BENCHMARKS.md.
 *
 * <pre>java -cp target/test-classes:target/routewise.jar io.routewise.routers.sw.SwRankingBench models/sw_ranking 2</pre>
 */
public final class SwRankingBench {
  public static void main(String[] args) throws Exception {
    Path dir = Path.of(args.length > 0 ? args[0] : "models/sw_ranking");
    int threads = args.length > 1 ? Integer.parseInt(args[1]) : 2;
    ModelDir md = ModelDir.open(dir, SwRankingRouter.KIND);
    int prompts = md.manifest().path("prompts").asInt();
    int d = md.embeddingDimension();
    int models = md.models().size();
    float[] emb = md.weights("embeddings", prompts, d);
    SwIndex index = new SwIndex(prompts, d, models, emb, md.weights("scores", prompts, models),
        md.weights("mean_score", models), new io.routewise.routers.LengthScale(0, 1), 0.05);
    List<float[]> queries = new ArrayList<>();
    for (int i = 0; i < 2000; i++) {
      int p = (int) ((i * 7919L) % prompts);
      float[] q = new float[d];
      System.arraycopy(emb, p * d, q, 0, d);
      queries.add(q);
    }
    for (int i = 0; i < 300; i++) {
      index.estimates(queries.get(i), 0, 1);
    }
    double[] ms = new double[queries.size()];
    for (int i = 0; i < ms.length; i++) {
      long t0 = System.nanoTime();
      index.estimates(queries.get(i), 0, 1);
      ms[i] = (System.nanoTime() - t0) / 1e6;
    }
    java.util.Arrays.sort(ms);
    System.out.printf("index: %d prompts x %d dims, %d models%n", prompts, d, models);
    System.out.printf("1 thread: p50 %.2f ms, p99 %.2f ms, %.0f decisions/s%n", ms[ms.length / 2],
        ms[(int) (ms.length * 0.99)], 1000 / java.util.Arrays.stream(ms).average().orElseThrow());
    AtomicInteger next = new AtomicInteger();
    List<Thread> ts = new ArrayList<>();
    long t0 = System.nanoTime();
    for (int t = 0; t < threads; t++) {
      ts.add(Thread.ofPlatform().start(() -> {
        for (int i = next.getAndIncrement(); i < queries.size(); i = next.getAndIncrement()) {
          index.estimates(queries.get(i), 0, 1);
        }
      }));
    }
    for (Thread t : ts) {
      t.join();
    }
    System.out.printf("%d threads: %.0f decisions/s%n", threads, queries.size() / ((System.nanoTime() - t0) / 1e9));
  }
}
