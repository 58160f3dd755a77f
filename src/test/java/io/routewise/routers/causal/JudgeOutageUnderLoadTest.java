package io.routewise.routers.causal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.routewise.config.ConfigNode;
import io.routewise.config.ConfigProblems;
import io.routewise.routing.Prompt;
import io.routewise.routing.RouterException;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A judge that goes silent (accepts connections, never answers) while traffic keeps every
 * {@code max_concurrency} slot busy: the README promises that after 3 failures with no answer for a
 * second, decisions go strong at once ({@code cooling}) instead of each waiting out {@code timeout_ms}.
 */
class JudgeOutageUnderLoadTest {
  private static final int TIMEOUT_MS = 500;

  /** Accepts every connection and keeps it open without ever writing a byte. */
  private static final class SilentJudge implements AutoCloseable {
    final ServerSocket server;
    final List<Socket> held = java.util.Collections.synchronizedList(new ArrayList<>());
    final Thread acceptor;

    SilentJudge() throws IOException {
      server = new ServerSocket(0, 200, InetAddress.getLoopbackAddress());
      acceptor = Thread.ofPlatform().daemon().start(() -> {
        while (!server.isClosed()) {
          try {
            held.add(server.accept());
          } catch (IOException e) {
            return;
          }
        }
      });
    }

    String baseUrl() {
      return "http://127.0.0.1:" + server.getLocalPort() + "/v1";
    }

    @Override
    public void close() throws IOException {
      server.close();
      synchronized (held) {
        for (Socket s : held) {
          s.close();
        }
      }
    }
  }

  private static CausalLlmRouter router(String baseUrl) {
    Map<String, Object> values = new HashMap<>();
    values.put("base_url", baseUrl);
    values.put("model", "routellm-causal");
    values.put("timeout_ms", TIMEOUT_MS);
    values.put("max_concurrency", 2);
    values.put("cooldown_ms", 5_000);
    ConfigProblems problems = new ConfigProblems();
    CausalLlmSettings s = CausalLlmSettings.read(new ConfigNode("routers.causal_llm", values, problems))
        .orElseThrow(() -> new AssertionError(problems.list()));
    return new CausalLlmRouter(s);
  }

  private record Decision(long startMs, long tookMs, String kind) {}

  /** Open loop, as a server's traffic is: a decision every {@code everyMs} for {@code forMs}, whatever became of the earlier ones. */
  private static List<Decision> load(CausalLlmRouter router, int everyMs, int forMs) throws Exception {
    ConcurrentLinkedQueue<Decision> decisions = new ConcurrentLinkedQueue<>();
    long t0 = System.nanoTime();
    long end = t0 + TimeUnit.MILLISECONDS.toNanos(forMs);
    try (ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
      for (long next = t0; next < end; next += TimeUnit.MILLISECONDS.toNanos(everyMs)) {
        long wait = next - System.nanoTime();
        if (wait > 0) {
          TimeUnit.NANOSECONDS.sleep(wait);
        }
        threads.submit(() -> {
          long start = System.nanoTime();
          String kind;
          try {
            router.strongWinRate(Prompt.of("What is 2+2?"));
            kind = "answered";
          } catch (RouterException e) {
            kind = e.kind();
          }
          decisions.add(new Decision((start - t0) / 1_000_000, (System.nanoTime() - start) / 1_000_000, kind));
        });
      }
    }
    return new ArrayList<>(decisions);
  }

  private static Map<String, Integer> kinds(List<Decision> decisions) {
    Map<String, Integer> kinds = new TreeMap<>();
    decisions.forEach(d -> kinds.merge(d.kind(), 1, Integer::sum));
    return kinds;
  }

  @Test
  void aJudgeThatGoesSilentUnderFullLoadCoolsDownInsteadOfEveryDecisionWaitingOutItsBudget() throws Exception {
    try (SilentJudge judge = new SilentJudge()) {
      CausalLlmRouter router = router(judge.baseUrl());
      try {
        // 50 decisions a second against 2 slots of 500 ms: about 25 in flight
        List<Decision> decisions = load(router, 20, 4_000);
        long late = decisions.stream().filter(d -> d.startMs() >= 2_000).count();
        long slowLate = decisions.stream().filter(d -> d.startMs() >= 2_000 && d.tookMs() >= TIMEOUT_MS - 50).count();
        long firstCooling = decisions.stream().filter(d -> d.kind().equals("cooling")).mapToLong(Decision::startMs)
            .min().orElse(-1);
        String summary = decisions.size() + " decisions " + kinds(decisions) + ", first cooling at " + firstCooling
            + " ms; started after 2 s: " + late + ", of them " + slowLate + " waited out the " + TIMEOUT_MS + " ms budget";
        System.out.println(summary);
        assertEquals(0, slowLate, summary);
      } finally {
        router.close();
      }
    }
  }

  /**
   * The other side: a judge answering in 100 ms, asked 50 times a second on 2 slots (2.5 times what
   * it can take), answers about as many as its slots allow and is not cooled by our own backlog.
   * Before, each slot went to the oldest waiter, with next to no budget left: 12 of 200 answered.
   */
  @Test
  void aJudgeAnsweringInTimeUnderABacklogAnswersWhatItsSlotsAllowAndIsNotCooled() throws Exception {
    com.sun.net.httpserver.HttpServer server = com.sun.net.httpserver.HttpServer.create(
        new java.net.InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 200);
    server.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
    byte[] answer = JudgeResponses.withLogprobs(List.of(JudgeResponses.Tok.of("[[4]]", "[[4]]", 0.6, "[[2]]", 0.4)))
        .getBytes(java.nio.charset.StandardCharsets.UTF_8);
    server.createContext("/v1/chat/completions", ex -> {
      ex.getRequestBody().readAllBytes();
      try {
        Thread.sleep(100);
      } catch (InterruptedException e) {
        return;
      }
      ex.getResponseHeaders().add("Content-Type", "application/json");
      ex.sendResponseHeaders(200, answer.length);
      ex.getResponseBody().write(answer);
      ex.close();
    });
    server.start();
    CausalLlmRouter router = router("http://127.0.0.1:" + server.getAddress().getPort() + "/v1");
    try {
      for (int i = 0; i < 3; i++) { // a cold client's first call may take longer than the budget
        try {
          router.strongWinRate(Prompt.of("warm up"));
        } catch (RouterException e) {
          // warming up
        }
      }
      Thread.sleep(1_100); // the start's quiet second over, as in a server that has run a while
      List<Decision> decisions = load(router, 20, 4_000);
      Map<String, Integer> kinds = kinds(decisions);
      String summary = decisions.size() + " decisions " + kinds;
      System.out.println("judge answering in 100 ms: " + summary);
      assertEquals(0, kinds.getOrDefault("cooling", 0), summary);
      // 2 slots of 100 ms for 4 s: 80 at most
      assertTrue(kinds.getOrDefault("answered", 0) >= 40, summary);
    } finally {
      router.close();
      server.stop(0);
    }
  }
}
