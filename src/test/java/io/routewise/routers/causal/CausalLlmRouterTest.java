package io.routewise.routers.causal;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.okJson;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.wireMockConfig;
import static io.routewise.routers.causal.JudgeResponses.textOnly;
import static io.routewise.routers.causal.JudgeResponses.withLogprobs;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.tomakehurst.wiremock.junit5.WireMockExtension;
import com.github.tomakehurst.wiremock.verification.LoggedRequest;
import io.routewise.config.ConfigNode;
import io.routewise.config.ConfigProblems;
import io.routewise.routers.causal.JudgeResponses.Tok;
import io.routewise.routing.Prompt;
import io.routewise.routing.RouterException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** The router against WireMock as the judge endpoint, over real HTTP on loopback. */
class CausalLlmRouterTest {
  private static final String PATH = "/v1/chat/completions";

  @RegisterExtension
  static WireMockExtension judge = WireMockExtension.newInstance()
      .options(wireMockConfig().dynamicPort().bindAddress("127.0.0.1"))
      .build();

  private final List<CausalLlmRouter> routers = new ArrayList<>();

  @AfterEach
  void closeRouters() {
    routers.forEach(CausalLlmRouter::close);
  }

  private CausalLlmRouter router(Object... settings) {
    Map<String, Object> values = new HashMap<>();
    values.put("base_url", judge.baseUrl() + "/v1");
    values.put("model", "routellm-causal");
    for (int i = 0; i < settings.length; i += 2) {
      values.put((String) settings[i], settings[i + 1]);
    }
    ConfigProblems problems = new ConfigProblems();
    ConfigNode node = new ConfigNode("routers.causal_llm", values, problems);
    CausalLlmSettings s = CausalLlmSettings.read(node).orElseThrow(() -> new AssertionError(problems.list()));
    node.rejectUnknownKeys();
    assertTrue(problems.isEmpty(), problems.list().toString());
    CausalLlmRouter r = new CausalLlmRouter(s);
    routers.add(r);
    return r;
  }

  private static void answer(String body) {
    judge.stubFor(post(urlEqualTo(PATH)).willReturn(okJson(body)));
  }

  private static RouterException failure(CausalLlmRouter router) {
    return assertThrows(RouterException.class, () -> router.strongWinRate(Prompt.of("What is 2+2?")));
  }

  @Test
  void readsTheWinRateFromSingleTokenRatingLogprobs() throws Exception {
    answer(withLogprobs(List.of(Tok.of("[[5]]", "[[5]]", 0.5, "[[4]]", 0.2, "[[2]]", 0.2, "[[1]]", 0.1))));
    assertEquals(0.3, router().strongWinRate(Prompt.of("Say hello")), 1e-9);
  }

  @Test
  void readsTheWinRateFromARatingDigitAfterASeparateBracketToken() throws Exception {
    answer(withLogprobs(List.of(Tok.of("[[", "[[", 0.99, "[", 0.01),
        Tok.of("2", "2", 0.6, "3", 0.2, "4", 0.15, "5", 0.05), Tok.of("]]"))));
    assertEquals(0.8, router().strongWinRate(Prompt.of("Prove the Riemann hypothesis")), 1e-9);
  }

  @Test
  void aHighRatingInTextWithoutLogprobsRoutesWeak() throws Exception {
    answer(textOnly("[[4]]"));
    assertEquals(0.0, router().strongWinRate(Prompt.of("Say hello")));
  }

  @Test
  void aLowRatingInTextWithoutLogprobsRoutesStrong() throws Exception {
    answer(textOnly("Prediction: [[2]]"));
    assertEquals(1.0, router().strongWinRate(Prompt.of("Prove it")));
  }

  @Test
  void garbageTextIsANoRatingFailure() {
    answer(textOnly("I cannot rate this question."));
    assertEquals("no_rating", failure(router()).kind());
  }

  /** A judge that redirects does not get the prompt sent on to where it points (OkHttp follows by default). */
  @Test
  void aRedirectIsNotFollowed() {
    judge.stubFor(post(urlEqualTo(PATH)).willReturn(aResponse().withStatus(307).withHeader("Location", "/elsewhere")));
    judge.stubFor(post(urlEqualTo("/elsewhere")).willReturn(okJson(textOnly("[[4]]"))));
    failure(router());
    judge.verify(0, postRequestedFor(urlEqualTo("/elsewhere")));
  }

  /** Python's json.dumps writes a logprob of -inf or nan bare; the JSON was refused and the rating lost. */
  @Test
  void bareNonFiniteLogprobsAreSkippedNotAFailure() throws Exception {
    String body = withLogprobs(List.of(Tok.of("[[", "[[", 1.0),
        Tok.of("4", "4", 0.6, "1", 0.4, "3", 0.0, "2", Double.NaN), Tok.of("]]")));
    assertTrue(body.contains("\"-Infinity\"") && body.contains("\"NaN\""), body);
    answer(body.replace("\"-Infinity\"", "-Infinity").replace("\"NaN\"", "NaN"));
    assertEquals(0.4, router().strongWinRate(Prompt.of("Say hello")), 1e-9);
  }

  /** A judge's answer of hundreds of MB ran the heap out, and the chat request failed with a 500. */
  @Test
  void anAnswerOverAMebibyteIsABadResponseNotReadWhole() {
    String padding = "x".repeat((int) CausalLlmRouter.MAX_ANSWER_BYTES);
    answer(textOnly("[[4]]").replace("\"judge\"", "\"judge-" + padding + "\""));
    RouterException e = failure(router());
    assertEquals("bad_response", e.kind());
    assertTrue(e.getMessage().contains("more than 1024 KiB"), e.getMessage());
  }

  @Test
  void aBodyThatIsNotJsonIsABadResponse() {
    judge.stubFor(post(urlEqualTo(PATH)).willReturn(aResponse().withStatus(200).withBody("<html>oops</html>")));
    assertEquals("bad_response", failure(router()).kind());
  }

  @Test
  void aServerErrorIsAnHttp5xxFailure() {
    judge.stubFor(post(urlEqualTo(PATH)).willReturn(aResponse().withStatus(500).withBody("{\"error\":{}}")));
    RouterException e = failure(router());
    assertEquals("http_5xx", e.kind());
    assertTrue(e.getMessage().contains("HTTP 500"), e.getMessage());
  }

  @Test
  void aRejectedKeyIsAnHttp4xxFailureWhoseMessageDoesNotContainTheKey() {
    judge.stubFor(post(urlEqualTo(PATH)).willReturn(aResponse().withStatus(401)));
    RouterException e = failure(router("api_key", "sk-secret-judge-key"));
    assertEquals("http_4xx", e.kind());
    assertFalse(e.getMessage().contains("sk-secret"), e.getMessage());
  }

  @Test
  void aJudgeSlowerThanTheTimeoutFailsAsTimeoutWithinAboutTheTimeout() {
    judge.stubFor(post(urlEqualTo(PATH)).willReturn(okJson(textOnly("[[4]]")).withFixedDelay(5_000)));
    CausalLlmRouter router = router("timeout_ms", 300);
    long start = System.nanoTime();
    RouterException e = failure(router);
    long ms = (System.nanoTime() - start) / 1_000_000;
    assertEquals("timeout", e.kind());
    assertTrue(ms >= 250 && ms < 1_500, "took " + ms + " ms");
  }

  private static int judgeCalls() {
    return judge.findAll(postRequestedFor(urlEqualTo(PATH))).size();
  }

  @Test
  void aJudgeThatKeepsTimingOutCoolsDownAndOneCallAfterTheCooldownTriesItAgain() throws Exception {
    judge.stubFor(post(urlEqualTo(PATH)).willReturn(okJson(textOnly("[[4]]")).withFixedDelay(3_000)));
    CausalLlmRouter router = router("timeout_ms", 200, "cooldown_ms", 1_500);
    Thread.sleep(1_100); // no answer for a second since start: failures in a row may cool it now
    for (int i = 0; i < 3; i++) {
      assertEquals("timeout", failure(router).kind());
    }
    RouterException cooling = failure(router);
    // before, every decision of the outage waited out its 200 ms (2 s by default) for the judge
    assertEquals("cooling", cooling.kind(), cooling.getMessage());
    assertTrue(cooling.getMessage().contains("cooldown_ms"), cooling.getMessage());
    assertEquals(3, judgeCalls(), "not asked while it cools: failed at once");

    judge.resetAll();
    answer(textOnly("[[4]]"));
    Thread.sleep(1_600);
    assertEquals(0.0, router.strongWinRate(Prompt.of("What is 2+2?")), "the try after the cooldown");
    assertEquals(0.0, router.strongWinRate(Prompt.of("What is 3+3?")), "it answered: cooling over");
    assertEquals(2, judgeCalls());
  }

  /** In seconds, or as OpenAI and Azure ask, in milliseconds (which was read as no wait). */
  @org.junit.jupiter.params.ParameterizedTest
  @org.junit.jupiter.params.provider.ValueSource(strings = {"Retry-After:30", "retry-after-ms:30000"})
  void aRateLimitCoolsTheJudgeForAsLongAsItsRetryAfterAsks(String header) throws Exception {
    String[] asks = header.split(":");
    judge.stubFor(post(urlEqualTo(PATH)).willReturn(aResponse().withStatus(429).withHeader(asks[0], asks[1])));
    CausalLlmRouter router = router("cooldown_ms", 200);
    Thread.sleep(1_100);
    for (int i = 0; i < 3; i++) {
      assertEquals("http_4xx", failure(router).kind());
    }
    Thread.sleep(400); // past cooldown_ms, well within the 30 s asked for
    RouterException e = failure(router);
    assertEquals("cooling", e.kind(), e.getMessage());
    assertEquals(3, judgeCalls());
  }

  @Test
  void aRetryAfterOnAnotherStatusThanA429OrA503DoesNotLengthenTheCooldown() throws Exception {
    judge.stubFor(post(urlEqualTo(PATH)).willReturn(aResponse().withStatus(500).withHeader("Retry-After", "30")));
    CausalLlmRouter router = router("cooldown_ms", 300);
    Thread.sleep(1_100);
    for (int i = 0; i < 3; i++) {
      assertEquals("http_5xx", failure(router).kind());
    }
    assertEquals("cooling", failure(router).kind());
    Thread.sleep(500); // past cooldown_ms: the try goes to the judge
    assertEquals("http_5xx", failure(router).kind());
    assertEquals(4, judgeCalls());
  }

  @Test
  void answersWithoutARatingOrRefusingOnlyThisRequestDoNotCoolTheJudge() throws Exception {
    CausalLlmRouter router = router("cooldown_ms", 10_000);
    Thread.sleep(1_100);
    answer(textOnly("no idea"));
    for (int i = 0; i < 3; i++) {
      assertEquals("no_rating", failure(router).kind());
    }
    judge.stubFor(post(urlEqualTo(PATH)).willReturn(aResponse().withStatus(400).withBody("{}")));
    for (int i = 0; i < 4; i++) {
      assertEquals("http_4xx", failure(router).kind());
    }
    assertEquals(7, judgeCalls(), "every decision asked it");
  }

  @Test
  void withCooldownZeroAJudgeThatIsDownIsAskedEveryTime() throws Exception {
    judge.stubFor(post(urlEqualTo(PATH)).willReturn(aResponse().withStatus(503)));
    CausalLlmRouter router = router("cooldown_ms", 0);
    Thread.sleep(1_100);
    for (int i = 0; i < 5; i++) {
      assertEquals("http_5xx", failure(router).kind());
    }
    assertEquals(5, judgeCalls());
  }

  @Test
  void aClosedPortIsUnreachable() throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      port = s.getLocalPort();
    }
    CausalLlmRouter router = router("base_url", "http://127.0.0.1:" + port + "/v1");
    assertEquals("unreachable", failure(router).kind());
  }

  @Test
  void aCallArrivingWhileEverySlotIsBusyFailsAsOverloadedInsteadOfPilingUp() throws Exception {
    judge.stubFor(post(urlEqualTo(PATH)).willReturn(okJson(textOnly("[[4]]")).withFixedDelay(5_000)));
    CausalLlmRouter router = router("timeout_ms", 800, "max_concurrency", 1);
    try (ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
      Future<RouterException> first = threads.submit(timed(router));
      long waitUntil = System.nanoTime() + 2_000_000_000L;
      while (judge.findAll(postRequestedFor(urlEqualTo(PATH))).isEmpty() && System.nanoTime() < waitUntil) {
        Thread.sleep(5);
      }
      long start = System.nanoTime();
      RouterException second = threads.submit(timed(router)).get();
      long ms = (System.nanoTime() - start) / 1_000_000;
      assertEquals("timeout", first.get().kind());
      assertEquals("overloaded", second.kind());
      // It waited for the slot and so ended within its own budget, not behind the first call's.
      assertTrue(ms < 1_500, "second call took " + ms + " ms");
    }
  }

  @Test
  void callsBelowTheBoundRunInParallel() throws Exception {
    judge.stubFor(post(urlEqualTo(PATH)).willReturn(okJson(textOnly("[[5]]")).withFixedDelay(400)));
    CausalLlmRouter router = router("timeout_ms", 3_000, "max_concurrency", 4);
    try (ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
      long start = System.nanoTime();
      List<Future<Double>> calls = new ArrayList<>();
      for (int i = 0; i < 4; i++) {
        calls.add(threads.submit(() -> router.strongWinRate(Prompt.of("hi"))));
      }
      for (Future<Double> f : calls) {
        assertEquals(0.0, f.get());
      }
      long ms = (System.nanoTime() - start) / 1_000_000;
      assertTrue(ms < 1_400, "4 calls of 400 ms took " + ms + " ms together");
    }
  }

  private static Callable<RouterException> timed(CausalLlmRouter router) {
    return () -> assertThrows(RouterException.class, () -> router.strongWinRate(Prompt.of("q")));
  }

  @Test
  void sendsTheRouteLlmPromptPairAndTheSamplingSettingsWithoutAnAuthorizationHeaderByDefault() throws Exception {
    answer(textOnly("[[3]]"));
    router().strongWinRate(Prompt.of("Write {a} haiku about $1 and \\n braces"));

    LoggedRequest req = judge.findAll(postRequestedFor(urlEqualTo(PATH))).getFirst();
    assertFalse(req.containsHeader("Authorization"));
    JsonNode body = new ObjectMapper().readTree(req.getBodyAsString());
    assertEquals("routellm-causal", body.path("model").asText());
    assertTrue(body.path("logprobs").asBoolean());
    assertEquals(20, body.path("top_logprobs").asInt());
    assertEquals(6, body.path("max_tokens").asInt());
    assertEquals(0, body.path("temperature").asInt());
    assertTrue(body.path("temperature").isNumber());
    JsonNode messages = body.path("messages");
    assertEquals(2, messages.size());
    assertEquals("system", messages.path(0).path("role").asText());
    assertEquals(JudgeTemplate.ROUTELLM.system(), messages.path(0).path("content").asText());
    assertEquals("user", messages.path(1).path("role").asText());
    assertEquals("[Question]\nWrite {a} haiku about $1 and \\n braces\n\nPrediction:\n",
        messages.path(1).path("content").asText());
  }

  @Test
  void sendsTheConfiguredKeyAsABearerTokenAndTheConfiguredTopLogprobs() throws Exception {
    answer(textOnly("[[3]]"));
    router("api_key", "sk-judge", "top_logprobs", 5).strongWinRate(Prompt.of("hi"));
    LoggedRequest req = judge.findAll(postRequestedFor(urlEqualTo(PATH))).getFirst();
    assertEquals("Bearer sk-judge", req.getHeader("Authorization"));
    assertEquals(5, new ObjectMapper().readTree(req.getBodyAsString()).path("top_logprobs").asInt());
  }

  @Test
  void usesPromptFilesFromTheConfigInsteadOfTheDefaultTemplate(@TempDir Path dir) throws Exception {
    Path system = Files.writeString(dir.resolve("system.txt"), "Rate it.");
    Path user = Files.writeString(dir.resolve("user.txt"), "Q: {question} / again: {question}");
    answer(textOnly("[[1]]"));
    router("system_prompt_file", system.toString(), "user_prompt_file", user.toString())
        .strongWinRate(Prompt.of("why?"));
    JsonNode messages = new ObjectMapper()
        .readTree(judge.findAll(postRequestedFor(urlEqualTo(PATH))).getFirst().getBodyAsString()).path("messages");
    assertEquals("Rate it.", messages.path(0).path("content").asText());
    assertEquals("Q: why? / again: why?", messages.path(1).path("content").asText());
  }
}
