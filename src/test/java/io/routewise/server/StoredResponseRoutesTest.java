package io.routewise.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.http.HttpResponse;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** A stored response's own endpoints, {@code /v1/responses/{id}[/...]}, where no upstream has it. */
class StoredResponseRoutesTest {
  private ProxyFixture f;

  @AfterEach
  void stop() {
    if (f != null) {
      f.close();
    }
  }

  /**
   * README: a response this replica did not relay "is the passthrough upstream's when that serves
   * responses, else ... a retrieve is 404 response_not_found". A passthrough whose endpoints leave
   * responses out answered unknown_url, naming passthrough_endpoints.
   */
  @Test
  void aResponseNotRelayedHereIsNotFoundWherePassthroughDoesNotServeResponses() throws Exception {
    f = ProxyFixture.withRouting("", "passthrough: strong, passthrough_endpoints: [embeddings]");
    HttpResponse<String> r = f.get("/v1/responses/resp_elsewhere");
    assertEquals(404, r.statusCode());
    assertTrue(r.body().contains("\"code\":\"response_not_found\""), r.body());
    assertEquals(0, f.strong.getAllServeEvents().size());
  }

  /** A method the stored response's paths do not take: 405 that names the ones they do (not passthrough's). */
  @Test
  void anotherMethodOnAStoredResponseIsRefusedWithItsOwnAllow() throws Exception {
    f = new ProxyFixture("");
    HttpResponse<String> r = java.net.http.HttpClient.newHttpClient().send(java.net.http.HttpRequest.newBuilder(
        java.net.URI.create(f.url("/v1/responses/resp_1"))).method("PUT", java.net.http.HttpRequest.BodyPublishers
        .ofString("{}")).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(405, r.statusCode());
    assertEquals("GET, POST, DELETE", r.headers().firstValue("allow").orElseThrow(), r.body());
  }
}
