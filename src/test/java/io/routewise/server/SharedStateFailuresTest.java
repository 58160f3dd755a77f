package io.routewise.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import io.routewise.RedisServer;
import io.routewise.Routewise;
import io.routewise.TestConfigs;
import java.net.ServerSocket;
import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** A Redis that is not there at start, or answers nobody for a while, fails and slows no request. */
class SharedStateFailuresTest {
  private static HttpServer strong;
  private static HttpServer weak;
  private static final HttpClient HTTP = HttpClient.newHttpClient();

  @BeforeAll
  static void upstreams() throws Exception {
    strong = SharedStateRun.upstream();
    weak = SharedStateRun.upstream();
  }

  @AfterAll
  static void stop() {
    strong.stop(0);
    weak.stop(0);
  }

  private static Routewise replica(String redisUrl) {
    String yaml = TestConfigs.yaml("http://127.0.0.1:" + strong.getAddress().getPort() + "/v1",
        "http://127.0.0.1:" + weak.getAddress().getPort() + "/v1", """
            routers: {length: {target: {strong_share: 0.3, window_s: 5}}}
            state: {redis: "%s", sync_ms: 100, timeout_ms: 200, pin_timeout_ms: 20}
            """.formatted(redisUrl));
    return Routewise.start(TestConfigs.config(TestConfigs.withRouting(yaml, "session_pinning: true")),
        io.routewise.routers.RouterCatalog.standard(), id -> null, () -> {});
  }

  private static HttpResponse<String> chat(Routewise r, String session) throws Exception {
    return HTTP.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create("http://127.0.0.1:" + r.port() + "/v1/chat/completions"))
        .header("Content-Type", "application/json").header("X-Session-Id", session)
        .POST(java.net.http.HttpRequest.BodyPublishers.ofString(
            "{\"model\":\"router-length-auto\",\"messages\":[{\"role\":\"user\",\"content\":\"" + "x".repeat(session.length() * 40) + "\"}]}"))
        .build(), HttpResponse.BodyHandlers.ofString());
  }

  /** An operator who set state.redis and expects replicas to share: nothing does without a target or pins, and the log says so. */
  @Test
  void aRedisNothingUsesIsSaidAtStart() {
    String yaml = TestConfigs.yaml("http://127.0.0.1:" + strong.getAddress().getPort() + "/v1",
        "http://127.0.0.1:" + weak.getAddress().getPort() + "/v1", "state: {redis: \"redis://127.0.0.1:1\"}\n");
    String logged;
    try (io.routewise.StderrCapture log = new io.routewise.StderrCapture()) {
      Routewise r = Routewise.start(TestConfigs.config(yaml), io.routewise.routers.RouterCatalog.standard(), id -> null,
          () -> {});
      r.close();
      logged = log.text();
    }
    assertTrue(logged.contains("state.redis is set but nothing shares state"), logged);
  }

  @Test
  void aReplicaWhoseRedisIsDownFromTheStartStartsAndServesOnItsOwn() throws Exception {
    int closedPort;
    try (ServerSocket s = new ServerSocket(0)) {
      closedPort = s.getLocalPort();
    }
    try (Routewise r = replica("redis://127.0.0.1:" + closedPort + "/0")) {
      for (int i = 0; i < 20; i++) {
        assertEquals(200, chat(r, "s" + i).statusCode());
      }
      assertTrue(!r.stateSync().storeUp());
      String scrape = HTTP.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create("http://127.0.0.1:" + r.port() + "/metrics")).build(),
          HttpResponse.BodyHandlers.ofString()).body();
      assertTrue(scrape.contains("routewise_state_redis_up 0.0"), scrape);
      assertTrue(scrape.contains("routewise_session_pin_lookups_total{result=\"skipped\"} 20.0"), scrape);
    }
  }

  /**
   * A typo in the Redis host: the warning said only "Failed to create socket." (the client's words),
   * which reads as a firewall or a port; the operator is told the name does not resolve.
   */
  @Test
  void aRedisHostThatDoesNotResolveIsSaidToNotResolve() throws Exception {
    String logged;
    try (io.routewise.StderrCapture log = new io.routewise.StderrCapture()) {
      try (Routewise r = replica("redis://no-such-host.invalid:6379/0")) {
        assertEquals(200, chat(r, "s").statusCode());
        assertTrue(!r.stateSync().storeUp());
      }
      logged = log.text();
    }
    String down = logged.lines().filter(l -> l.contains("unavailable")).findFirst().orElse(logged);
    assertTrue(down.contains("UnknownHostException"), down);
  }

  @Test
  void aRedisThatAnswersNobodyForTwoSecondsSlowsNoRequestAndIsRejoinedAfter() throws Exception {
    try (RedisServer redis = RedisServer.start(); Routewise r = replica(redis.url())) {
      assertTrue(r.stateSync().storeUp());
      Thread stall = redis.stall(2);
      Thread.sleep(100); // the stall has begun
      List<Long> millis = new ArrayList<>();
      long end = System.nanoTime() + 1_500_000_000L;
      for (int i = 0; System.nanoTime() < end; i++) {
        long start = System.nanoTime();
        HttpResponse<String> resp = chat(r, "new-session-" + i); // a first turn: a pin lookup in Redis each
        millis.add((System.nanoTime() - start) / 1_000_000);
        assertEquals(200, resp.statusCode(), resp.body());
      }
      assertTrue(!r.stateSync().storeUp(), "a Redis slower than timeout_ms counts as down");
      // A lookup waits pin_timeout_ms (20) at most, and none once the sync has marked Redis down;
      // the stall is 2 s. Not a speed claim: a bound, with room for a loaded machine.
      assertTrue(millis.stream().mapToLong(Long::longValue).max().orElseThrow() < 1_000, "slowest request " + millis);
      stall.join();
      long deadline = System.nanoTime() + 3_000_000_000L;
      while (!r.stateSync().storeUp() && System.nanoTime() < deadline) {
        Thread.sleep(20);
      }
      assertTrue(r.stateSync().storeUp(), "rejoined once Redis answers again");
    }
  }
}
