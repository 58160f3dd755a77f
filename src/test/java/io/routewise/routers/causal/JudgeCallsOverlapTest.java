package io.routewise.routers.causal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import io.routewise.routers.causal.JudgeResponses.Tok;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * score (and calibrate, eval, replay) with causal_llm: the judge's calls overlap, as serve's do; one
 * after another, 700 prompts at half a second each took six minutes (CLI trial).
 */
class JudgeCallsOverlapTest {
  @TempDir
  Path tmp;

  /** A judge that holds each call until four are in flight together (never, one at a time); rates "prompt 3" 1, the rest 5. */
  private static HttpServer latchedJudge(AtomicInteger most) throws java.io.IOException {
    AtomicInteger inFlight = new AtomicInteger();
    CountDownLatch four = new CountDownLatch(4);
    HttpServer judge = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 64);
    judge.setExecutor(java.util.concurrent.Executors.newCachedThreadPool());
    judge.createContext("/v1/chat/completions", ex -> {
      String body = new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
      most.accumulateAndGet(inFlight.incrementAndGet(), Math::max);
      four.countDown();
      try {
        four.await(5, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      String rating = body.contains("prompt 3") ? "1" : "5";
      byte[] answer = JudgeResponses.withLogprobs(List.of(Tok.of("[[" + rating + "]]"))).getBytes(StandardCharsets.UTF_8);
      inFlight.decrementAndGet();
      ex.getResponseHeaders().add("Content-Type", "application/json");
      ex.sendResponseHeaders(200, answer.length);
      ex.getResponseBody().write(answer);
      ex.close();
    });
    judge.start();
    return judge;
  }

  private Path prompts() throws java.io.IOException {
    StringBuilder prompts = new StringBuilder();
    for (int i = 0; i < 12; i++) {
      prompts.append("{\"id\": \"p").append(i).append("\", \"prompt\": \"prompt ").append(i).append("\"}\n");
    }
    return Files.writeString(tmp.resolve("prompts.jsonl"), prompts);
  }

  private static String upstream(String name, String model, String price) {
    return "  " + name + ": {base_url: \"http://127.0.0.1:9/v1\", api_key: none, model: " + model + price + "}\n";
  }

  @Test
  void aFilesPromptsAreJudgedSeveralAtOnceAndWrittenInOrder() throws Exception {
    AtomicInteger most = new AtomicInteger();
    HttpServer judge = latchedJudge(most);
    try {
      Path config = tmp.resolve("config.yaml");
      Files.writeString(config, "upstreams:\n" + upstream("strong", "strong-model", "") + upstream("weak", "weak-model", "")
          + "routers: {causal_llm: {base_url: \"http://127.0.0.1:" + judge.getAddress().getPort()
          + "/v1\", model: judge, timeout_ms: 10000}}\n");
      Path output = tmp.resolve("scores.jsonl");
      int code = new CommandLine(new io.routewise.Main()).execute("score", "--router", "causal_llm", "--config",
          config.toString(), "--input", prompts().toString(), "--output", output.toString(), "--quiet");
      assertEquals(0, code);
      assertTrue(most.get() >= 4, "judge calls at once: " + most.get());
      List<String> lines = Files.readAllLines(output);
      assertEquals(12, lines.size());
      for (int i = 0; i < 12; i++) {
        assertTrue(lines.get(i).startsWith("{\"id\":\"p" + i + "\",\"score\":" + (i == 3 ? "1.0" : "0.0")), lines.get(i));
      }
    } finally {
      judge.stop(0);
    }
  }

  @Test
  void aLaddersCalibrationJudgesSeveralAtOnceToo() throws Exception {
    AtomicInteger most = new AtomicInteger();
    HttpServer judge = latchedJudge(most);
    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
    java.io.PrintStream oldOut = System.out;
    try {
      Path config = tmp.resolve("ladder.yaml");
      Files.writeString(config, "upstreams:\n" + upstream("strong", "strong-model", ", price: {input: 10, output: 30}")
          + upstream("mid", "mid-model", ", price: {input: 1, output: 3}")
          + upstream("weak", "weak-model", ", price: {input: 0.1, output: 0.3}")
          + "routers: {causal_llm: {base_url: \"http://127.0.0.1:" + judge.getAddress().getPort()
          + "/v1\", model: judge, timeout_ms: 10000}}\n");
      System.setOut(new java.io.PrintStream(out, true, StandardCharsets.UTF_8));
      int code = new CommandLine(new io.routewise.Main()).execute("calibrate", "--router", "causal_llm", "--config",
          config.toString(), "--input", prompts().toString(), "--quiet");
      System.setOut(oldOut);
      assertEquals(0, code, out.toString(StandardCharsets.UTF_8));
      assertTrue(most.get() >= 4, "judge calls at once: " + most.get());
      // at α = 1 only prompt 3 (rated 1: the top wins for certain) stays on the top
      String last = out.toString(StandardCharsets.UTF_8).lines().filter(l -> l.trim().startsWith("1 ")).findFirst()
          .orElseThrow();
      assertTrue(last.matches("\\s*1\\s+8\\.3%.*"), last);
    } finally {
      System.setOut(oldOut);
      judge.stop(0);
    }
  }

  /**
   * latency --concurrency with a judge that takes one call at a time (max_concurrency 1): the
   * overloaded calls killed worker threads with stack traces and were counted as decisions/s.
   */
  @Test
  void latencyDoesNotTimeAJudgesFailuresUnderConcurrency() throws Exception {
    HttpServer judge = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 64);
    judge.setExecutor(java.util.concurrent.Executors.newCachedThreadPool());
    judge.createContext("/v1/chat/completions", ex -> {
      ex.getRequestBody().readAllBytes();
      try {
        Thread.sleep(300);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      byte[] answer = JudgeResponses.withLogprobs(List.of(Tok.of("[[5]]"))).getBytes(StandardCharsets.UTF_8);
      ex.getResponseHeaders().add("Content-Type", "application/json");
      ex.sendResponseHeaders(200, answer.length);
      ex.getResponseBody().write(answer);
      ex.close();
    });
    judge.start();
    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
    java.io.ByteArrayOutputStream err = new java.io.ByteArrayOutputStream();
    java.io.PrintStream oldOut = System.out;
    java.io.PrintStream oldErr = System.err;
    try {
      Path config = tmp.resolve("config.yaml");
      Files.writeString(config, """
          upstreams:
            strong: {base_url: "http://127.0.0.1:9/v1", api_key: none, model: strong-model}
            weak: {base_url: "http://127.0.0.1:9/v1", api_key: none, model: weak-model}
          routers: {causal_llm: {base_url: "http://127.0.0.1:%d/v1", model: judge, timeout_ms: 500, max_concurrency: 1}}
          """.formatted(judge.getAddress().getPort()));
      Path input = Files.writeString(tmp.resolve("prompts.jsonl"), "{\"id\": \"a\", \"prompt\": \"one\"}\n"
          + "{\"id\": \"b\", \"prompt\": \"two\"}\n{\"id\": \"c\", \"prompt\": \"three\"}\n");
      System.setOut(new java.io.PrintStream(out, true, StandardCharsets.UTF_8));
      System.setErr(new java.io.PrintStream(err, true, StandardCharsets.UTF_8));
      int code = new CommandLine(new io.routewise.Main()).execute("latency", "--router", "causal_llm", "--config",
          config.toString(), "--input", input.toString(), "--warmup", "0", "--concurrency", "4");
      System.setOut(oldOut);
      System.setErr(oldErr);
      String e = err.toString(StandardCharsets.UTF_8);
      assertEquals(2, code, e);
      assertTrue(e.contains("causal_llm: failed on a prompt ("), e);
      assertTrue(!e.contains("\tat ") && !out.toString(StandardCharsets.UTF_8).contains("decisions/s"), e);
    } finally {
      System.setOut(oldOut);
      System.setErr(oldErr);
      judge.stop(0);
    }
  }
}
