package io.routewise.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import io.routewise.TestConfigs;
import org.junit.jupiter.api.Test;

/** routing.session_pinning through the real server, state local (one replica). */
class SessionPinningTest {

  private static String model(HttpResponse<String> r) {
    return r.headers().firstValue("x-routewise-model").orElseThrow();
  }

  @Test
  void aSessionsLaterTurnsGoWhereItsFirstTurnWentWhateverTheyScore() throws Exception {
    try (ProxyFixture f = ProxyFixture.withRouting("routers: {scored: {}}", "session_pinning: true")) {
      HttpResponse<String> first = f.chatInSession("router-scored-0.5", "0.9", "conv-1");
      assertEquals("strong strong-model", model(first));
      assertTrue(first.headers().firstValue("x-routewise-pinned").isEmpty(), "a first turn is decided, not pinned");

      HttpResponse<String> easy = f.chatInSession("router-scored-0.5", "0.1", "conv-1");
      assertEquals("strong strong-model", model(easy), "pinned to the first turn's model");
      assertEquals("true", easy.headers().firstValue("x-routewise-pinned").orElseThrow());
      assertTrue(easy.headers().firstValue("x-routewise-win-rate").isEmpty(), "the router was not asked");

      assertEquals("weak weak-model", model(f.chatInSession("router-scored-0.5", "0.1", "conv-2")), "another session");
      assertEquals("weak weak-model", model(f.chat("router-scored-0.5", "0.1")), "no session, no pin");
      assertEquals("weak weak-model", model(f.chatInSession("router-scored-0.5", "0.95", "conv-2")));

      String scrape = f.get("/metrics").body();
      assertEquals(1.0, TargetRoutingTest.metric(scrape, "routewise_pinned_decisions_total{route=\"strong\",router=\"scored\"}"), scrape);
      assertEquals(1.0, TargetRoutingTest.metric(scrape, "routewise_pinned_decisions_total{route=\"weak\",router=\"scored\"}"), scrape);
      assertEquals(2.0, TargetRoutingTest.metric(scrape, "routewise_session_pins"), scrape);
      assertEquals(2.0, TargetRoutingTest.metric(scrape, "routewise_session_pin_lookups_total{result=\"local\"}"), scrape);
    }
  }

  @Test
  void withoutPinningTheHeaderChangesNothing() throws Exception {
    try (ProxyFixture f = new ProxyFixture("routers: {scored: {}}")) {
      assertEquals("strong strong-model", model(f.chatInSession("router-scored-0.5", "0.9", "conv-1")));
      HttpResponse<String> second = f.chatInSession("router-scored-0.5", "0.1", "conv-1");
      assertEquals("weak weak-model", model(second));
      assertTrue(second.headers().firstValue("x-routewise-pinned").isEmpty());
      assertFalse(f.get("/metrics").body().contains("routewise_session_pins"));
    }
  }

  @Test
  void theBodysUserFieldNamesTheSessionWhenConfiguredSo() throws Exception {
    try (ProxyFixture f = ProxyFixture.withRouting("routers: {scored: {}}", "session_pinning: true, session_key: user")) {
      assertEquals("weak weak-model", model(user(f, "0.2", "alice")));
      assertEquals("weak weak-model", model(user(f, "0.99", "alice")));
      assertEquals("strong strong-model", model(user(f, "0.99", "bob")));
      // With the body as the key, the header is just a header.
      assertEquals("strong strong-model", model(f.chatInSession("router-scored-0.5", "0.99", "alice")));
    }
  }

  /**
   * OpenAI asks clients to send {@code safety_identifier} in place of the deprecated {@code user}: a
   * client that moved to it is the same end user, and before it was pinned no more.
   */
  @Test
  void withTheUserKeyASafetyIdentifierNamesTheUserWhenThereIsNoUser() throws Exception {
    try (ProxyFixture f = ProxyFixture.withRouting("routers: {scored: {}}", "session_pinning: true, session_key: user")) {
      assertEquals("weak weak-model", model(body(f, "0.2", ",\"safety_identifier\":\"carol\"")));
      HttpResponse<String> later = body(f, "0.99", ",\"safety_identifier\":\"carol\"");
      assertEquals("weak weak-model", model(later));
      assertEquals("true", later.headers().firstValue("x-routewise-pinned").orElseThrow());
      // a user, when given, is who the request is for
      assertEquals("strong strong-model", model(body(f, "0.99", ",\"user\":\"dave\",\"safety_identifier\":\"carol\"")));
      assertEquals("strong strong-model", model(body(f, "0.1", ",\"user\":\"dave\"")));
      assertEquals("strong strong-model", model(body(f, "0.99", ",\"prompt_cache_key\":\"carol\"")), "not a user");
      assertEquals("weak weak-model", model(body(f, "0.99", ",\"user\":\" \",\"safety_identifier\":\"carol\"")),
          "a blank user is none");
    }
  }

  /**
   * Clients keep a prompt_cache_key per conversation or shared prompt prefix; pinning by it keeps a
   * conversation on one upstream, whose prompt cache then still holds its prefix. Chat and Responses
   * bodies alike.
   */
  @Test
  void thePromptCacheKeyNamesTheSessionWhenConfiguredSo() throws Exception {
    try (ProxyFixture f = ProxyFixture.withRouting("routers: {scored: {}}",
        "session_pinning: true, session_key: prompt_cache_key")) {
      assertEquals("strong strong-model", model(body(f, "0.9", ",\"prompt_cache_key\":\"thread-7\"")));
      assertEquals("strong strong-model", model(body(f, "0.1", ",\"prompt_cache_key\":\"thread-7\"")));
      assertEquals("weak weak-model", model(body(f, "0.1", ",\"user\":\"thread-7\"")), "the user names no session here");
      assertEquals("weak weak-model", model(body(f, "0.1", ",\"prompt_cache_key\":7")), "not a string: no session");
      HttpResponse<String> responses = f.http.send(HttpRequest.newBuilder(URI.create(f.url("/v1/responses")))
          .header("Content-Type", "application/json")
          .POST(HttpRequest.BodyPublishers.ofString(
              "{\"model\":\"router-scored-0.5\",\"prompt_cache_key\":\"thread-7\",\"input\":\"0.1\"}"))
          .build(), HttpResponse.BodyHandlers.ofString());
      assertEquals("strong strong-model", model(responses), "a Responses body names it too");
      // given twice, the last counts, as an upstream's JSON parser reads it
      assertEquals("strong strong-model", model(body(f, "0.1", ",\"prompt_cache_key\":\"a\",\"prompt_cache_key\":\"thread-7\"")));
      assertEquals("weak weak-model", model(body(f, "0.1", ",\"prompt_cache_key\":\"thread-7\",\"prompt_cache_key\":\"b\"")));
      HttpResponse<String> twice = body(f, "0.1", ",\"user\":\"a\",\"user\":\"b\"");
      assertEquals(400, twice.statusCode(), "a user twice is refused, as it always was");
      assertTrue(twice.body().contains("'user' appears more than once"), twice.body());
    }
  }

  @Test
  void aPinEndsItsTtlAfterTheFirstTurn() throws Exception {
    try (ProxyFixture f = ProxyFixture.withRouting("routers: {scored: {}}", "session_pinning: true, session_ttl_ms: 1000")) {
      assertEquals("strong strong-model", model(f.chatInSession("router-scored-0.5", "0.9", "short")));
      assertEquals("strong strong-model", model(f.chatInSession("router-scored-0.5", "0.1", "short")));
      Thread.sleep(1_200);
      assertEquals("weak weak-model", model(f.chatInSession("router-scored-0.5", "0.1", "short")), "expired: decided afresh");
    }
  }

  @Test
  void aRouterFailureOnTheFirstTurnPinsNothing() throws Exception {
    try (ProxyFixture f = ProxyFixture.withRouting("routers: {scored: {}}", "session_pinning: true")) {
      // "x" is not a number: scored throws, the request goes strong as any router failure does.
      assertEquals("strong strong-model", model(f.chatInSession("router-scored-0.5", "x", "s")));
      assertEquals("weak weak-model", model(f.chatInSession("router-scored-0.5", "0.1", "s")));
    }
  }

  private static HttpResponse<String> user(ProxyFixture f, String prompt, String user) throws Exception {
    return body(f, prompt, ",\"user\":\"" + user + "\"");
  }

  private static HttpResponse<String> body(ProxyFixture f, String prompt, String fields) throws Exception {
    return f.http.send(HttpRequest.newBuilder(URI.create(f.url("/v1/chat/completions")))
        .header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"router-scored-0.5\"" + fields
            + ",\"messages\":[{\"role\":\"user\",\"content\":\"" + prompt + "\"}]}"))
        .build(), HttpResponse.BodyHandlers.ofString());
  }

  /**
   * With server.api_keys, a session id is the key's own: a client naming another's session id (a
   * guessable user id, say) neither follows nor sets that session's pin. Before, one pin served all.
   */
  @Test
  void sessionsOfDifferentApiKeysDoNotShareAPin() throws Exception {
    try (ProxyFixture f = ProxyFixture.edited("routers: {scored: {}}", yaml -> TestConfigs.withServer(
        TestConfigs.withRouting(yaml, "session_pinning: true"), "api_keys: [key-a, key-b]"))) {
      assertEquals("strong strong-model", model(keyed(f, "key-a", "0.9", "user-1")));
      assertEquals("strong strong-model", model(keyed(f, "key-a", "0.1", "user-1")), "key a's own pin");
      HttpResponse<String> other = keyed(f, "key-b", "0.1", "user-1");
      assertEquals("weak weak-model", model(other), "key b's user-1 is another session");
      assertTrue(other.headers().firstValue("x-routewise-pinned").isEmpty());
      assertEquals("weak weak-model", model(keyed(f, "key-b", "0.9", "user-1")), "and key b's pin is its own");
      assertEquals("strong strong-model", model(keyed(f, "key-a", "0.1", "user-1")), "key a's pin unchanged");
    }
  }

  /**
   * A named client's sessions are its own under each of its keys: while its key is rotated (keys:
   * [new, old]), a conversation begun on the old key keeps its pin on the new one; another client
   * naming the same session id still does not share it.
   */
  @Test
  void aNamedClientsSessionsKeepTheirPinAcrossItsKeys() throws Exception {
    try (ProxyFixture f = ProxyFixture.edited("routers: {scored: {}}", yaml -> TestConfigs.withServer(
        TestConfigs.withRouting(yaml, "session_pinning: true"),
        "api_keys: {batch: {keys: [key-new, key-old]}, search: key-s}"))) {
      assertEquals("strong strong-model", model(keyed(f, "key-old", "0.9", "user-1")));
      HttpResponse<String> rotated = keyed(f, "key-new", "0.1", "user-1");
      assertEquals("strong strong-model", model(rotated), "the client's pin, whichever of its keys it sent");
      assertEquals("true", rotated.headers().firstValue("x-routewise-pinned").orElseThrow());
      assertEquals("weak weak-model", model(keyed(f, "key-s", "0.1", "user-1")), "another client's user-1");
    }
  }

  private static HttpResponse<String> keyed(ProxyFixture f, String key, String prompt, String session)
      throws Exception {
    return f.http.send(HttpRequest.newBuilder(URI.create(f.url("/v1/chat/completions")))
        .header("Content-Type", "application/json").header("Authorization", "Bearer " + key)
        .header("X-Session-Id", session)
        .POST(HttpRequest.BodyPublishers.ofString(
            "{\"model\":\"router-scored-0.5\",\"messages\":[{\"role\":\"user\",\"content\":\"" + prompt + "\"}]}"))
        .build(), HttpResponse.BodyHandlers.ofString());
  }
}
