package io.routewise.server;

import com.sun.net.httpserver.HttpServer;
import io.routewise.RedisServer;
import io.routewise.Routewise;
import io.routewise.TestConfigs;
import io.routewise.routers.RouterCatalog;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.DoubleUnaryOperator;

/**
 * Two routewise replicas sharing one real Redis, under paced load with a shift in the traffic, with
 * Redis killed and restarted on a timeline. Used by {@link TwoReplicasSharedStateTest} (a short run)
 * and {@link TwoReplicasSharedStateBench} (the 20 s run).
 *
 * <p>The router {@code scored} takes the prompt as its win rate. Replica A gets easier prompts than
 * replica B (a sticky load balancer, say): before the shift A's win rates are {@code u^2} and B's
 * {@code u}, after it A's are {@code u} and B's {@code sqrt(u)} (u uniform). Together they hold one
 * target only if they share their windows; alone each would hold it on its own traffic, with
 * different thresholds, which is how the run can tell sharing from not sharing. Sessions of three
 * turns alternate between the replicas (A, B, A or B, A, B).
 */
final class SharedStateRun {
  static final double TARGET = 0.30;

  /** When things happen, in seconds from the start. */
  record Timeline(double seconds, double shiftAt, double killAt, double restartAt, int windowSeconds,
      int syncMillis, int requestsPerSecond, long seed) {}

  /** One answered (or failed) request. */
  record Call(double at, int replica, boolean strong, boolean pinned, int status, String error) {}

  /** Both replicas' α, sampled. */
  record Alphas(double at, double a, double b, double redisUpA, double redisUpB) {}

  /** A session: its turns' models and whether Redis was up for all of them. */
  record Session(double start, double end, List<String> models) {
    boolean consistent() {
      return models.stream().distinct().count() == 1;
    }
  }

  record Result(List<Call> calls, List<Alphas> alphas, List<Session> sessions, Timeline timeline) {
    List<Call> failures() {
      return calls.stream().filter(c -> c.status() != 200).toList();
    }

    double share(double from, double to) {
      long n = calls.stream().filter(c -> c.at() >= from && c.at() < to).count();
      long s = calls.stream().filter(c -> c.at() >= from && c.at() < to && c.strong()).count();
      return (double) s / n;
    }

    long count(double from, double to) {
      return calls.stream().filter(c -> c.at() >= from && c.at() < to).count();
    }

    /** Sessions that began after {@code from} and ended before {@code to}. */
    List<Session> sessions(double from, double to) {
      return sessions.stream().filter(s -> s.start() >= from && s.end() < to).toList();
    }

    List<Alphas> alphas(double from, double to) {
      return alphas.stream().filter(a -> a.at() >= from && a.at() < to).toList();
    }
  }

  private static final String COMPLETION = """
      {"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":
      {"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":11,"completion_tokens":7,"total_tokens":18}}""";

  private SharedStateRun() {}

  static HttpServer upstream() throws IOException {
    HttpServer s = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 512);
    byte[] body = COMPLETION.getBytes(StandardCharsets.UTF_8);
    s.createContext("/v1/chat/completions", ex -> {
      ex.getRequestBody().readAllBytes();
      ex.getResponseHeaders().add("Content-Type", "application/json");
      ex.sendResponseHeaders(200, body.length);
      ex.getResponseBody().write(body);
      ex.close();
    });
    s.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
    s.start();
    return s;
  }

  /** Phase 1's α for the two replicas' traffic together: sqrt(a) + a = 1.4. */
  static double calibratedAlpha() {
    double s = (-1 + Math.sqrt(1 + 4 * 1.4)) / 2;
    return s * s;
  }

  static Routewise replica(HttpServer strong, HttpServer weak, RedisServer redis, Timeline t) {
    String yaml = TestConfigs.yaml("http://127.0.0.1:" + strong.getAddress().getPort() + "/v1",
        "http://127.0.0.1:" + weak.getAddress().getPort() + "/v1", """
            routers: {scored: {target: {strong_share: %s, window_s: %d, initial_alpha: %s}}}
            state: {redis: "%s", sync_ms: %d, timeout_ms: 100, pin_timeout_ms: 50}
            """.formatted(TARGET, t.windowSeconds(), calibratedAlpha(), redis.url(), t.syncMillis()));
    yaml = TestConfigs.withRouting(yaml, "session_pinning: true");
    RouterCatalog catalog = RouterCatalog.standard().with("scored", ctx -> prompt -> Double.parseDouble(prompt.text()));
    return Routewise.start(TestConfigs.config(yaml), catalog, id -> null, () -> {});
  }

  static Result run(Timeline t) throws Exception {
    HttpServer strong = upstream();
    HttpServer weak = upstream();
    try (RedisServer redis = RedisServer.start();
        Routewise a = replica(strong, weak, redis, t);
        Routewise b = replica(strong, weak, redis, t)) {
      return load(t, redis, new Routewise[] {a, b});
    } finally {
      strong.stop(0);
      weak.stop(0);
    }
  }

  private static Result load(Timeline t, RedisServer redis, Routewise[] replicas) throws Exception {
    HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
        .connectTimeout(Duration.ofSeconds(5)).build();
    ConcurrentLinkedQueue<Call> calls = new ConcurrentLinkedQueue<>();
    ConcurrentLinkedQueue<Session> sessions = new ConcurrentLinkedQueue<>();
    List<Alphas> alphas = new ArrayList<>();
    long start = System.nanoTime();
    long end = start + (long) (t.seconds() * 1e9);
    int clients = 12;
    double perClient = (double) t.requestsPerSecond() / clients;
    try (ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
      for (int c = 0; c < clients; c++) {
        int client = c;
        threads.submit(() -> {
          SplittableRandom rnd = new SplittableRandom(t.seed() * 1_000 + client);
          long next = start;
          int n = 0;
          while (true) {
            next = start + (long) (++n / perClient * 1e9);
            long wait = next - System.nanoTime();
            if (wait > 0) {
              TimeUnit.NANOSECONDS.sleep(wait);
            }
            if (System.nanoTime() >= end) {
              return null;
            }
            boolean session = client < 3; // three clients hold conversations; the rest send single turns
            if (session) {
              double began = seconds(start);
              List<String> models = new ArrayList<>();
              String id = "conv-" + client + "-" + n;
              for (int turn = 0; turn < 3; turn++) {
                int r = (n + turn) % 2; // first turns on either replica, later turns alternating
                Call call = send(http, replicas[r], r, rate(rnd, r, seconds(start), t), id, start);
                calls.add(call);
                models.add(call.status() == 200 ? (call.strong() ? "strong" : "weak") : "failed " + call.error());
              }
              sessions.add(new Session(began, seconds(start), models));
            } else {
              int r = rnd.nextInt(2);
              calls.add(send(http, replicas[r], r, rate(rnd, r, seconds(start), t), null, start));
            }
          }
        });
      }
      // The timeline: sample both α every 50 ms, kill and restart Redis on time.
      boolean killed = false;
      boolean restarted = false;
      while (System.nanoTime() < end) {
        double now = seconds(start);
        if (!killed && now >= t.killAt()) {
          redis.kill();
          killed = true;
        } else if (killed && !restarted && now >= t.restartAt()) {
          redis.restart();
          restarted = true;
        }
        alphas.add(new Alphas(now, alpha(replicas[0]), alpha(replicas[1]), up(replicas[0]), up(replicas[1])));
        Thread.sleep(50);
      }
    }
    List<Call> sorted = new ArrayList<>(calls);
    sorted.sort((x, y) -> Double.compare(x.at(), y.at()));
    return new Result(sorted, alphas, List.copyOf(sessions), t);
  }

  private static double alpha(Routewise r) {
    return r.routing().targets().get("scored").alpha();
  }

  private static double up(Routewise r) {
    return r.stateSync().storeUp() ? 1 : 0;
  }

  private static double seconds(long start) {
    return (System.nanoTime() - start) / 1e9;
  }

  /** A win rate for replica r's traffic at time {@code at}: see the class comment. */
  private static double rate(SplittableRandom rnd, int replica, double at, Timeline t) {
    double u = rnd.nextDouble();
    boolean shifted = at >= t.shiftAt();
    DoubleUnaryOperator f = replica == 0 ? (shifted ? x -> x : x -> x * x) : (shifted ? Math::sqrt : x -> x);
    return f.applyAsDouble(u);
  }

  private static Call send(HttpClient http, Routewise replica, int index, double rate, String session, long start) {
    String body = "{\"model\":\"router-scored-auto\",\"messages\":[{\"role\":\"user\",\"content\":\""
        + String.format(Locale.ROOT, "%.6f", rate) + "\"}]}";
    HttpRequest.Builder req = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + replica.port() + "/v1/chat/completions"))
        .header("Content-Type", "application/json").timeout(Duration.ofSeconds(10))
        .POST(HttpRequest.BodyPublishers.ofString(body));
    if (session != null) {
      req.header("X-Session-Id", session);
    }
    try {
      HttpResponse<String> r = http.send(req.build(), HttpResponse.BodyHandlers.ofString());
      String model = r.headers().firstValue("x-routewise-model").orElse("");
      return new Call(seconds(start), index, model.startsWith("strong"),
          r.headers().firstValue("x-routewise-pinned").isPresent(), r.statusCode(),
          r.statusCode() == 200 ? null : r.body());
    } catch (Exception e) {
      return new Call(seconds(start), index, false, false, -1, e.toString());
    }
  }

  /** A few lines for a person: shares by second, α, Redis's state, sessions. */
  static String report(Result r) {
    Timeline t = r.timeline();
    StringBuilder sb = new StringBuilder();
    sb.append(String.format(Locale.ROOT, "%d requests, %d failed; target %.2f; shift at %.0f s, Redis killed at %.1f s, restarted at %.1f s%n",
        r.calls().size(), r.failures().size(), TARGET, t.shiftAt(), t.killAt(), t.restartAt()));
    sb.append("  second  requests  combined  replicaA  replicaB  alphaA  alphaB  redis(A,B)\n");
    for (int s = 0; s < (int) t.seconds(); s++) {
      int sec = s;
      List<Call> in = r.calls().stream().filter(c -> c.at() >= sec && c.at() < sec + 1).toList();
      double sa = in.stream().filter(c -> c.replica() == 0).mapToDouble(c -> c.strong() ? 1 : 0).average().orElse(Double.NaN);
      double sbb = in.stream().filter(c -> c.replica() == 1).mapToDouble(c -> c.strong() ? 1 : 0).average().orElse(Double.NaN);
      List<Alphas> al = r.alphas(sec + 0.5, sec + 1);
      Alphas last = al.isEmpty() ? r.alphas().get(r.alphas().size() - 1) : al.get(al.size() - 1);
      sb.append(String.format(Locale.ROOT, "  %6d  %8d  %8.3f  %8.3f  %8.3f  %6.3f  %6.3f  %.0f,%.0f%n", sec, in.size(),
          r.share(sec, sec + 1), sa, sbb, last.a(), last.b(), last.redisUpA(), last.redisUpB()));
    }
    return sb.toString();
  }
}
