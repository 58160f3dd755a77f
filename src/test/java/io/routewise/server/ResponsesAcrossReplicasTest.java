package io.routewise.server;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.client.WireMock;
import com.github.tomakehurst.wiremock.core.WireMockConfiguration;
import io.routewise.RedisServer;
import io.routewise.Routewise;
import io.routewise.TestConfigs;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.Test;

/**
 * Two replicas behind a load balancer that is not sticky, one real Redis, session pinning on: a
 * response one replica relayed is continued, and read back, through the other at the upstream that
 * stored it.
 */
class ResponsesAcrossReplicasTest {
  private static final HttpClient HTTP = HttpClient.newHttpClient();

  private final WireMockServer strong =
      new WireMockServer(WireMockConfiguration.options().dynamicPort().bindAddress("127.0.0.1"));
  private final WireMockServer weak =
      new WireMockServer(WireMockConfiguration.options().dynamicPort().bindAddress("127.0.0.1"));
  private RedisServer redis;
  private Routewise a;
  private Routewise b;

  @org.junit.jupiter.api.BeforeEach
  void start() throws Exception {
    strong.start();
    weak.start();
    redis = RedisServer.start();
    a = replica(strong.baseUrl() + "/v1", weak.baseUrl() + "/v1", redis.url());
    b = replica(strong.baseUrl() + "/v1", weak.baseUrl() + "/v1", redis.url());
  }

  @org.junit.jupiter.api.AfterEach
  void stop() throws Exception {
    for (AutoCloseable c : new AutoCloseable[] {b, a, redis}) {
      if (c != null) {
        c.close();
      }
    }
    strong.stop();
    weak.stop();
  }

  private static Routewise replica(String strong, String weak, String redisUrl) {
    String yaml = TestConfigs.yaml(strong, weak, """
        state: {redis: "%s", sync_ms: 100, timeout_ms: 200, pin_timeout_ms: 100}
        """.formatted(redisUrl));
    return Routewise.start(TestConfigs.config(TestConfigs.withRouting(yaml, "session_pinning: true")),
        io.routewise.routers.RouterCatalog.standard(), id -> null, () -> {});
  }

  private static HttpResponse<String> send(Routewise r, String method, String path, String body) throws Exception {
    return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + r.port() + path))
        .header("Content-Type", "application/json")
        .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body))
        .build(), HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void aResponseRelayedByOneReplicaIsContinuedThroughTheOtherWhereItIsStored() throws Exception {
    ResponsesRoutingTest.answers(strong, "resp_s1", "strong");
    ResponsesRoutingTest.answers(weak, "resp_w1", "weak");
    assertEquals(200, send(a, "POST", "/v1/responses", "{\"model\":\"router-random-1\",\"input\":\"hi\"}").statusCode());
    weak.stubFor(post(urlEqualTo("/v1/responses")).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", "text/event-stream").withBody(ResponsesRoutingTest.events("resp_w2", true))));
    assertEquals(200, send(a, "POST", "/v1/responses",
        "{\"model\":\"router-random-1\",\"input\":\"hi\",\"stream\":true}").statusCode());
    ResponsesRoutingTest.answers(weak, "resp_w3", "weak");
    // the pins are written beside the answers, not waited for: in Redis a moment later (a user's next
    // turn comes seconds later; a test's, at once)
    long until = System.nanoTime() + 5_000_000_000L;
    try (redis.clients.jedis.Jedis look = redis.client()) {
      while (look.keys("*pin*").size() < 2 && System.nanoTime() < until) {
        Thread.sleep(10);
      }
    }

    for (String previous : new String[] {"resp_w1", "resp_w2"}) { // a whole answer's id, a stream's
      HttpResponse<String> next = send(b, "POST", "/v1/responses",
          "{\"model\":\"router-random-0\",\"previous_response_id\":\"" + previous + "\",\"input\":\"more\"}");
      assertEquals(200, next.statusCode(), next.body());
      assertEquals("weak weak-model", next.headers().firstValue("x-routewise-model").orElseThrow(), previous);
    }
    weak.stubFor(WireMock.get(urlEqualTo("/v1/responses/resp_w1")).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", "application/json").withBody("{\"id\":\"resp_w1\"}")));
    assertEquals(200, send(b, "GET", "/v1/responses/resp_w1", null).statusCode());
    assertEquals(0, strong.getAllServeEvents().size(), "nothing went to the upstream that does not hold them");
  }

  private static double promptTokens(Routewise r) throws Exception {
    String m = send(r, "GET", "/metrics", null).body();
    return MetricsEndpointTest.value(m, "routewise_tokens_total{type=\"prompt\",upstream=\"weak\"}");
  }

  /** Waits up to 5 s for the replicas' counted prompt tokens to reach {@code total}; returns each's. */
  private static double[] promptTokens(Routewise a, Routewise b, double total) throws Exception {
    long until = System.nanoTime() + 5_000_000_000L;
    double[] seen;
    do {
      seen = new double[] {promptTokens(a), promptTokens(b)};
      if (seen[0] + seen[1] >= total) {
        Thread.sleep(200); // and a moment for a count too many
        return new double[] {promptTokens(a), promptTokens(b)};
      }
      Thread.sleep(20);
    } while (System.nanoTime() < until);
    return seen;
  }

  /**
   * A background response routed by one replica and polled through the other is counted there, once:
   * before, only the replica that routed it could count it, and polls behind a load balancer that is
   * not sticky mostly reach another.
   */
  @Test
  void aBackgroundResponseIsCountedOnceWhicheverReplicaRelaysThePollThatShowsItDone() throws Exception {
    String usage = "{\"input_tokens\":120,\"output_tokens\":30,\"total_tokens\":150}";
    for (String id : new String[] {"resp_bg1", "resp_bg2"}) {
      weak.stubFor(post(urlEqualTo("/v1/responses")).willReturn(aResponse().withStatus(200)
          .withHeader("Content-Type", "application/json").withBody("{\"id\":\"" + id + "\",\"object\":\"response\","
              + "\"status\":\"queued\",\"background\":true,\"output\":[],\"usage\":null}")));
      assertEquals(200, send(a, "POST", "/v1/responses",
          "{\"model\":\"router-random-1\",\"input\":\"long\",\"background\":true}").statusCode());
      weak.stubFor(WireMock.get(urlEqualTo("/v1/responses/" + id)).willReturn(aResponse().withStatus(200)
          .withHeader("Content-Type", "application/json").withBody("{\"id\":\"" + id + "\",\"object\":\"response\","
              + "\"status\":\"completed\",\"output\":[],\"usage\":" + usage + "}")));
    }
    long until = System.nanoTime() + 5_000_000_000L; // the pins go beside the answers, not waited for
    try (redis.clients.jedis.Jedis look = redis.client()) {
      while (look.keys("*pin*").size() < 4 && System.nanoTime() < until) {
        Thread.sleep(10);
      }
    }

    assertEquals(200, send(b, "GET", "/v1/responses/resp_bg1", null).statusCode());
    double[] counted = promptTokens(a, b, 120);
    assertEquals(0.0, counted[0], "not at the replica that routed it");
    assertEquals(120.0, counted[1], "at the one that relayed the poll");
    assertEquals(200, send(a, "GET", "/v1/responses/resp_bg1", null).statusCode());
    assertEquals(200, send(b, "GET", "/v1/responses/resp_bg1", null).statusCode());
    counted = promptTokens(a, b, 240); // none more come in 5 s
    assertEquals(120.0, counted[0] + counted[1], "later polls, at either, count nothing more");

    // polls of the second through both at once
    java.util.List<java.util.concurrent.CompletableFuture<HttpResponse<String>>> polls = new java.util.ArrayList<>();
    for (int i = 0; i < 10; i++) {
      Routewise r = i % 2 == 0 ? a : b;
      polls.add(HTTP.sendAsync(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + r.port()
          + "/v1/responses/resp_bg2")).build(), HttpResponse.BodyHandlers.ofString()));
    }
    for (var poll : polls) {
      assertEquals(200, poll.get().statusCode());
    }
    counted = promptTokens(a, b, 240);
    assertEquals(240.0, counted[0] + counted[1], "each counted once: " + counted[0] + " + " + counted[1]);
  }

  /**
   * Redis restarted empty (here: flushed) while a background response was awaited: the replica that
   * routed it writes its record again, as it offers its pins again, so a poll at the other still
   * counts it (a trial's case: counted nowhere).
   */
  @Test
  void aRecordLostWithRedisIsWrittenAgainByTheReplicaThatRoutedIt() throws Exception {
    weak.stubFor(post(urlEqualTo("/v1/responses")).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", "application/json").withBody("{\"id\":\"resp_bg3\",\"object\":\"response\","
            + "\"status\":\"queued\",\"background\":true,\"output\":[],\"usage\":null}")));
    assertEquals(200, send(a, "POST", "/v1/responses",
        "{\"model\":\"router-random-1\",\"input\":\"long\",\"background\":true}").statusCode());
    weak.stubFor(WireMock.get(urlEqualTo("/v1/responses/resp_bg3")).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", "application/json").withBody("{\"id\":\"resp_bg3\",\"object\":\"response\","
            + "\"status\":\"completed\",\"output\":[],\"usage\":{\"input_tokens\":120,\"output_tokens\":30}}")));
    try (redis.clients.jedis.Jedis look = redis.client()) {
      long until = System.nanoTime() + 5_000_000_000L;
      while ((look.keys("*:usage:*").isEmpty() || look.keys("*pin*").isEmpty()) && System.nanoTime() < until) {
        Thread.sleep(10);
      }
      look.flushAll();
      until = System.nanoTime() + 5_000_000_000L; // the next sync sees it lost, and its state is offered again
      while ((look.keys("*:usage:*").isEmpty() || look.keys("*pin*").isEmpty()) && System.nanoTime() < until) {
        Thread.sleep(20);
      }
      assertEquals(1, look.keys("*:usage:*").size(), "written again");
    }
    assertEquals(200, send(b, "GET", "/v1/responses/resp_bg3", null).statusCode());
    double[] counted = promptTokens(a, b, 120);
    assertEquals(120.0, counted[1], "counted at the replica that relayed the poll");
  }
}
