package io.routewise.routers.causal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.routewise.config.ConfigNode;
import io.routewise.config.ConfigProblems;
import io.routewise.routing.Prompt;
import io.routewise.routing.RouterException;
import java.io.BufferedInputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The judge's connections: one it closed while idle in the pool, and a host name slow to resolve. */
class JudgeConnectionTest {

  private static CausalLlmRouter router(String baseUrl, int timeoutMs, okhttp3.Dns resolver) {
    ConfigProblems problems = new ConfigProblems();
    ConfigNode node = new ConfigNode("routers.causal_llm",
        Map.of("base_url", baseUrl, "model", "judge", "timeout_ms", timeoutMs), problems);
    return new CausalLlmRouter(CausalLlmSettings.read(node).orElseThrow(() -> new AssertionError(problems.list())),
        resolver);
  }

  /** Answers [[4]] with keep-alive, and closes a connection idle for 200 ms, as uvicorn does after 5 s. */
  private static final class ClosingJudge implements AutoCloseable {
    final ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    final AtomicInteger connections = new AtomicInteger();

    ClosingJudge() throws Exception {
      io.routewise.RawHttp.serveEach(server, s -> {
        connections.incrementAndGet();
        serve(s);
      });
    }

    private static void serve(Socket s) {
      try (s) {
        s.setSoTimeout(200);
        InputStream in = new BufferedInputStream(s.getInputStream());
        OutputStream out = s.getOutputStream();
        while (true) {
          int length = -1;
          StringBuilder line = new StringBuilder();
          for (int c; (c = in.read()) >= 0; ) {
            if (c != '\n') {
              line.append((char) c);
              continue;
            }
            String l = line.toString().strip();
            line.setLength(0);
            if (l.toLowerCase(java.util.Locale.ROOT).startsWith("content-length:")) {
              length = Integer.parseInt(l.substring(15).trim());
            }
            if (l.isEmpty()) {
              break;
            }
          }
          if (length < 0) {
            return;
          }
          in.readNBytes(length);
          byte[] body = JudgeResponses.textOnly("[[4]]").getBytes(StandardCharsets.UTF_8);
          out.write(("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + body.length
              + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
          out.write(body);
          out.flush();
        }
      } catch (Exception e) {
        // idle too long: closed
      }
    }

    @Override
    public void close() throws Exception {
      server.close();
    }
  }

  @Test
  void aDecisionAfterTheJudgeClosedAnIdleConnectionGetsItsRatingOnANewOne() throws Exception {
    try (ClosingJudge judge = new ClosingJudge()) {
      CausalLlmRouter router = router("http://127.0.0.1:" + judge.server.getLocalPort() + "/v1", 2000, okhttp3.Dns.SYSTEM);
      try {
        assertEquals(0.0, router.strongWinRate(Prompt.of("Say hello")));
        for (int i = 0; i < 3; i++) {
          Thread.sleep(600); // the judge has closed the pooled connection; OkHttp looks only after 10 s idle
          assertEquals(0.0, router.strongWinRate(Prompt.of("Say hello again")), "decision " + i);
        }
        assertTrue(judge.connections.get() >= 2, "the closed connections were replaced");
      } finally {
        router.close();
      }
    }
  }

  @Test
  void aSlowNameLookupEndsWithTheDecisionsBudget() throws Exception {
    okhttp3.Dns slow = host -> {
      try {
        Thread.sleep(3_000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      return List.of(InetAddress.getLoopbackAddress());
    };
    CausalLlmRouter router = router("http://slow-judge.test:9/v1", 300, slow);
    try {
      long start = System.nanoTime();
      RouterException e = assertThrows(RouterException.class, () -> router.strongWinRate(Prompt.of("hi")));
      long ms = (System.nanoTime() - start) / 1_000_000;
      assertTrue(ms < 1_000, "timeout_ms 300, the decision took " + ms + " ms");
      assertEquals("timeout", e.kind()); // the call's timeout or the lookup's: the budget ran out either way
      assertTrue(e.getMessage().contains("judge"), e.getMessage());
    } finally {
      router.close();
    }
  }
}
