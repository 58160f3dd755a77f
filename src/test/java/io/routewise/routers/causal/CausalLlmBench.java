package io.routewise.routers.causal;

import com.sun.net.httpserver.HttpServer;
import io.routewise.config.ConfigNode;
import io.routewise.config.ConfigProblems;
import io.routewise.routers.causal.JudgeResponses.Tok;
import io.routewise.routing.Prompt;
import io.routewise.routing.RouterException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;

/**
 * Measures what the causal_llm router adds over its judge endpoint's own latency, against a local
 * fake judge (JDK HttpServer, canned logprobs answer after a fixed delay). Not a test: figures go
 * to docs/causal-llm-bench.md, never into assertions.
 *
 * <p>"Endpoint time" is the time the fake judge's handler spent on a request (sleep + write),
 * measured server side. "Raw HTTP" is a bare OkHttp POST of an equally sized body, reading the
 * answer as bytes: the cost any client pays for loopback HTTP. The router's own cost is the rest:
 * templating, JSON building and parsing, the rating reading, the semaphore.
 */
public final class CausalLlmBench {
  private static final String ANSWER = JudgeResponses.withLogprobs(List.of(
      Tok.of("[[", "[[", 0.98, "[", 0.02),
      Tok.of("4", "4", 0.40, "3", 0.30, "5", 0.15, "2", 0.10, "1", 0.04, " 4", 0.01),
      Tok.of("]]")));
  private static final String PROMPT = "Write a short poem about the sea, in the style of a sailor's shanty. "
      .repeat(4);

  private static volatile long delayMs;
  private static final List<Long> handlerNanos = Collections.synchronizedList(new ArrayList<>());

  public static void main(String[] args) throws Exception {
    int n = args.length > 0 ? Integer.parseInt(args[0]) : 3000;
    HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 512);
    server.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
    byte[] answer = ANSWER.getBytes(StandardCharsets.UTF_8);
    server.createContext("/v1/chat/completions", ex -> {
      long start = System.nanoTime();
      ex.getRequestBody().readAllBytes();
      if (delayMs > 0) {
        try {
          Thread.sleep(delayMs);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      ex.getResponseHeaders().add("Content-Type", "application/json");
      // Recorded before the answer is sent: once it is, the caller may already be reading the list.
      handlerNanos.add(System.nanoTime() - start);
      try {
        ex.sendResponseHeaders(200, answer.length);
        ex.getResponseBody().write(answer);
        ex.close();
      } catch (java.io.IOException e) {
        // the router gave up (timeout); nothing to answer
      }
    });
    server.start();
    String base = "http://127.0.0.1:" + server.getAddress().getPort() + "/v1";
    System.out.printf("java %s, %d cores, n=%d%n", Runtime.version(), Runtime.getRuntime().availableProcessors(), n);

    try (CausalLlmRouter router = router(base, 2000, 32)) {
      // warm-up: JIT, connection pool
      delayMs = 0;
      sequential(router, base, 2000);
      for (long d : new long[] {0, 20}) {
        delayMs = d;
        sequential(router, base, d == 0 ? n : Math.max(200, n / 10));
      }
      delayMs = 20;
      concurrent(router, 16, Math.max(50, n / 20), "16 callers, max_concurrency 32, endpoint 20 ms");
    }
    try (CausalLlmRouter router = router(base, 2000, 4)) {
      delayMs = 20;
      concurrent(router, 16, Math.max(50, n / 20), "16 callers, max_concurrency 4, endpoint 20 ms");
    }
    try (CausalLlmRouter router = router(base, 200, 32)) {
      delayMs = 1000;
      failures(router, 1, 20, "timeout_ms 200, endpoint 1000 ms, sequential");
    }
    try (CausalLlmRouter router = router(base, 200, 2)) {
      delayMs = 1000;
      failures(router, 32, 5, "timeout_ms 200, endpoint 1000 ms, 32 callers, max_concurrency 2");
    }
    server.stop(0);
    System.exit(0);
  }

  private static CausalLlmRouter router(String base, int timeoutMs, int maxConcurrency) {
    ConfigProblems problems = new ConfigProblems();
    var settings = CausalLlmSettings.read(new ConfigNode("routers.causal_llm", Map.of("base_url", base,
        "model", "judge", "timeout_ms", timeoutMs, "max_concurrency", maxConcurrency), problems))
        .orElseThrow(() -> new IllegalStateException(problems.list().toString()));
    return new CausalLlmRouter(settings);
  }

  private static void sequential(CausalLlmRouter router, String base, int n) throws Exception {
    OkHttpClient raw = new OkHttpClient();
    byte[] body = ("{\"model\":\"judge\",\"messages\":[{\"role\":\"user\",\"content\":\"" + "x".repeat(1600)
        + "\"}],\"logprobs\":true,\"top_logprobs\":20,\"max_tokens\":6,\"temperature\":0}")
        .getBytes(StandardCharsets.UTF_8);
    long[] routerOver = new long[n];
    long[] rawOver = new long[n];
    long[] routerTotal = new long[n];
    long[] endpoint = new long[n];
    for (int i = 0; i < n; i++) {
      handlerNanos.clear();
      long t0 = System.nanoTime();
      router.strongWinRate(Prompt.of(PROMPT));
      long t1 = System.nanoTime();
      long h1 = handlerNanos.getFirst();
      handlerNanos.clear();
      long t2 = System.nanoTime();
      try (Response r = raw.newCall(new Request.Builder().url(base + "/chat/completions")
          .post(RequestBody.create(body, MediaType.get("application/json"))).build()).execute()) {
        r.body().bytes();
      }
      long t3 = System.nanoTime();
      long h2 = handlerNanos.getFirst();
      routerTotal[i] = t1 - t0;
      endpoint[i] = h1;
      routerOver[i] = (t1 - t0) - h1;
      rawOver[i] = (t3 - t2) - h2;
    }
    raw.dispatcher().executorService().shutdown();
    raw.connectionPool().evictAll();
    System.out.printf("sequential, endpoint %d ms, n=%d: router total p50 %s p99 %s; endpoint p50 %s;%n"
            + "  router - endpoint p50 %s p99 %s; raw HTTP - endpoint p50 %s p99 %s%n",
        delayMs, n, us(p(routerTotal, 50)), us(p(routerTotal, 99)), us(p(endpoint, 50)),
        us(p(routerOver, 50)), us(p(routerOver, 99)), us(p(rawOver, 50)), us(p(rawOver, 99)));
  }

  private static void concurrent(CausalLlmRouter router, int callers, int perCaller, String label) throws Exception {
    long start = System.nanoTime();
    Calls calls = call(router, callers, perCaller);
    double seconds = (System.nanoTime() - start) / 1e9;
    long endpointNs = TimeUnit.MILLISECONDS.toNanos(delayMs);
    long[] over = Arrays.stream(calls.times()).map(t -> t - endpointNs).toArray();
    System.out.printf("%s, %d calls: router - endpoint delay p50 %s p99 %s; max total %s; %.0f calls/s; %s%n",
        label, calls.times().length, us(p(over, 50)), us(p(over, 99)), us(p(calls.times(), 100)),
        calls.times().length / seconds, calls.kinds());
  }

  private static void failures(CausalLlmRouter router, int callers, int perCaller, String label) throws Exception {
    Calls calls = call(router, callers, perCaller);
    System.out.printf("%s, %d calls: time to fail p50 %s p99 %s max %s; %s%n", label, calls.times().length,
        ms(p(calls.times(), 50)), ms(p(calls.times(), 99)), ms(p(calls.times(), 100)), calls.kinds());
  }

  /** Each call's duration, and the count of each outcome ("ok" or the failure kind). */
  private record Calls(long[] times, Map<String, Integer> kinds) {}

  /** {@code callers} virtual threads, each deciding {@code perCaller} prompts one after another. */
  private static Calls call(CausalLlmRouter router, int callers, int perCaller) throws Exception {
    long[] times = new long[callers * perCaller];
    AtomicInteger next = new AtomicInteger();
    Map<String, AtomicInteger> kinds = new ConcurrentHashMap<>();
    try (ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
      List<Future<?>> fs = new ArrayList<>();
      for (int c = 0; c < callers; c++) {
        fs.add(threads.submit(() -> {
          for (int i = 0; i < perCaller; i++) {
            long t0 = System.nanoTime();
            try {
              router.strongWinRate(Prompt.of(PROMPT));
              kinds.computeIfAbsent("ok", k -> new AtomicInteger()).incrementAndGet();
            } catch (RouterException e) {
              kinds.computeIfAbsent(e.kind(), k -> new AtomicInteger()).incrementAndGet();
            }
            times[next.getAndIncrement()] = System.nanoTime() - t0;
          }
          return null;
        }));
      }
      for (Future<?> f : fs) {
        f.get();
      }
    }
    Map<String, Integer> counts = new TreeMap<>();
    kinds.forEach((k, v) -> counts.put(k, v.get()));
    return new Calls(times, counts);
  }

  private static long p(long[] values, int percentile) {
    long[] s = values.clone();
    Arrays.sort(s);
    int i = (int) Math.ceil(percentile / 100.0 * s.length) - 1;
    return s[Math.max(0, Math.min(s.length - 1, i))];
  }

  private static String us(long nanos) {
    return String.format("%.0f µs", nanos / 1e3);
  }

  private static String ms(long nanos) {
    return String.format("%.0f ms", nanos / 1e6);
  }
}
