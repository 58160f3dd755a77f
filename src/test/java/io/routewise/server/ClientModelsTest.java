package io.routewise.server;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.tomakehurst.wiremock.client.WireMock;
import io.routewise.TestConfigs;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.Test;

/**
 * server.api_keys.<name>.models: a client restricted to some model names (an intern's key to the
 * routers only, not a direct upstream's) is refused the others with a 403 naming its list, on chat,
 * Responses, /v1/route and passthrough bodies; other clients are not restricted.
 */
class ClientModelsTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private final HttpClient http = HttpClient.newHttpClient();

  private static ProxyFixture fixture() {
    return ProxyFixture.edited("", yaml -> TestConfigs.withRouting(TestConfigs.withServer(yaml,
        "api_keys: {intern: {key: sk-intern, models: [\"router-*\", text-embedding-3-small, whisper-1]}, lead: sk-lead}"),
        "passthrough: weak, direct_upstreams: true"));
  }

  private HttpResponse<String> post(ProxyFixture f, String path, String key, String body, String... headers)
      throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + f.routewise.port() + path))
        .header("Authorization", "Bearer " + key).header("Content-Type", "application/json");
    for (int i = 0; i < headers.length; i += 2) {
      b.setHeader(headers[i], headers[i + 1]); // in place of application/json where it is Content-Type
    }
    return http.send(b.POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
  }

  private HttpResponse<String> get(ProxyFixture f, String path, String key) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + f.routewise.port() + path))
        .header("Authorization", "Bearer " + key).GET().build(), HttpResponse.BodyHandlers.ofString());
  }

  private static String chat(String model) {
    return "{\"model\":\"" + model + "\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
  }

  private static void assertRefused(HttpResponse<String> r, String model) throws Exception {
    assertEquals(403, r.statusCode(), r.body());
    JsonNode error = JSON.readTree(r.body()).path("error");
    assertEquals("model_not_allowed", error.path("code").asText(), r.body());
    assertEquals("model", error.path("param").asText(), r.body());
    assertTrue(error.path("message").asText().equals("Client 'intern' may not use the model '" + model
        + "' (server.api_keys.intern.models: router-*, text-embedding-3-small, whisper-1)."), r.body());
  }

  @Test
  void aRestrictedClientIsRefusedTheModelsItsListLeavesOutEverywhereAModelIsNamed() throws Exception {
    try (ProxyFixture f = fixture()) {
      f.weak.stubFor(WireMock.post(urlEqualTo("/v1/embeddings")).willReturn(aResponse().withStatus(200)
          .withHeader("Content-Type", "application/json").withBody("{\"object\":\"list\",\"data\":[]}")));
      assertEquals(200, post(f, "/v1/chat/completions", "sk-intern", chat("router-random-1")).statusCode());
      assertEquals(200, post(f, "/v1/route", "sk-intern", chat("router-random-1")).statusCode());
      assertRefused(post(f, "/v1/chat/completions", "sk-intern", chat("upstream-strong")), "upstream-strong");
      assertRefused(post(f, "/v1/route", "sk-intern", chat("upstream-strong")), "upstream-strong");
      assertRefused(post(f, "/v1/responses", "sk-intern", "{\"model\":\"strong-model\",\"input\":\"hi\"}"),
          "strong-model");
      // naming none would take the default router and α: refused too
      HttpResponse<String> none = post(f, "/v1/chat/completions", "sk-intern",
          "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
      assertEquals(403, none.statusCode(), none.body());
      assertTrue(none.body().contains("must name one of its models"), none.body());
      // a conversation continues at the passthrough upstream (weak here) whatever α: refused
      HttpResponse<String> conversation = post(f, "/v1/responses", "sk-intern",
          "{\"model\":\"router-random-1\",\"conversation\":\"conv_1\",\"input\":\"hi\"}");
      assertEquals(403, conversation.statusCode(), conversation.body());
      assertTrue(conversation.body().contains("may not continue a conversation: it goes to the weak upstream"),
          conversation.body());
      // a hosted tool's model is the client's choice too
      assertRefused(post(f, "/v1/responses", "sk-intern", "{\"model\":\"router-random-1\",\"input\":\"hi\","
          + "\"tools\":[{\"type\":\"image_generation\",\"model\":\"gpt-image-1\"}]}"), "gpt-image-1");
      f.strong.verify(0, postRequestedFor(urlEqualTo("/v1/chat/completions")));
      f.strong.verify(0, postRequestedFor(urlEqualTo("/v1/responses")));
      // passthrough: the model a JSON body names; a compressed body's cannot be read
      assertEquals(200, post(f, "/v1/embeddings", "sk-intern",
          "{\"model\":\"text-embedding-3-small\",\"input\":\"hi\"}").statusCode());
      assertRefused(post(f, "/v1/embeddings", "sk-intern", "{\"model\":\"text-embedding-3-large\",\"input\":\"hi\"}"),
          "text-embedding-3-large");
      HttpResponse<String> gz = post(f, "/v1/embeddings", "sk-intern", "not really gzip", "Content-Encoding", "gzip");
      assertEquals(403, gz.statusCode(), gz.body());
      f.weak.verify(1, postRequestedFor(urlEqualTo("/v1/embeddings")));
      // another client may name any
      assertEquals(200, post(f, "/v1/chat/completions", "sk-lead", chat("upstream-strong")).statusCode());
      assertEquals(200, post(f, "/v1/embeddings", "sk-lead", "{\"model\":\"text-embedding-3-large\",\"input\":\"x\"}")
          .statusCode());
      // the model list it sees holds only what it may use; another's any
      JsonNode listed = JSON.readTree(get(f, "/v1/models", "sk-intern").body()).path("data");
      java.util.List<String> ids = new java.util.ArrayList<>();
      listed.forEach(m -> ids.add(m.path("id").asText()));
      assertTrue(!ids.isEmpty() && ids.stream().allMatch(id -> id.startsWith("router-")), ids.toString());
      assertTrue(get(f, "/v1/models", "sk-lead").body().contains("\"upstream-strong\""));
      assertEquals(404, get(f, "/v1/models/upstream-strong", "sk-intern").statusCode());
      assertEquals(200, get(f, "/v1/models/upstream-strong", "sk-lead").statusCode());
      assertEquals(200, get(f, "/v1/models/router-random-0.5", "sk-intern").statusCode());
      String m = f.routewise.metrics().scrape();
      assertTrue(m.contains("status=\"403\""), "refusals are counted: " + m);
    }
  }

  /** A list entry no request could use as meant is said at start: a client locked out of a typo'd router. */
  @Test
  void anEntryChatRefusesOrThatIsNoDirectUpstreamIsWarnedOfAtStart() throws Exception {
    try (io.routewise.StderrCapture log = new io.routewise.StderrCapture();
        ProxyFixture f = ProxyFixture.edited("", yaml -> TestConfigs.withServer(yaml,
            "api_keys: {intern: {key: sk-intern, models: [router-randm-auto, router-random-0.5, upstream-weak, \"router-*\"]}}"))) {
      String said = log.text();
      assertTrue(said.contains("server.api_keys.intern.models lists router-randm-auto, which chat refuses"), said);
      assertTrue(said.contains("server.api_keys.intern.models lists upstream-weak, but routing.direct_upstreams is off"),
          said);
      assertTrue(!said.contains("lists router-random-0.5") && !said.contains("lists router-*"), said);
    }
  }

  @Test
  void aPassthroughBodyWhoseModelAnUpstreamCouldReadOtherwiseIsRefused() throws Exception {
    try (ProxyFixture f = fixture()) {
      f.weak.stubFor(WireMock.post(WireMock.anyUrl()).willReturn(aResponse().withStatus(200)
          .withHeader("Content-Type", "application/json").withBody("{\"object\":\"list\",\"data\":[]}")));
      // the last of two is what Python's and Go's decoders read; Go's reads "Model" as model too
      assertRefused(post(f, "/v1/embeddings", "sk-intern",
          "{\"model\":\"text-embedding-3-small\",\"model\":\"text-embedding-3-large\",\"input\":\"hi\"}"),
          "text-embedding-3-large");
      assertRefused(post(f, "/v1/embeddings", "sk-intern", "{\"Model\":\"text-embedding-3-large\",\"input\":\"hi\"}"),
          "text-embedding-3-large");
      // a hosted tool's model, a realtime session's
      assertRefused(post(f, "/v1/responses", "sk-intern", "{\"model\":\"text-embedding-3-small\",\"input\":\"hi\","
          + "\"tools\":[{\"type\":\"image_generation\",\"model\":\"gpt-image-1\"}]}"), "gpt-image-1");
      // JSON declared a form (Gin's ShouldBindJSON reads it whatever its type)
      assertRefused(post(f, "/v1/embeddings", "sk-intern", "{\"model\":\"text-embedding-3-large\",\"input\":\"hi\"}",
          "Content-Type", "multipart/form-data; boundary=x"), "text-embedding-3-large");
      for (String body : new String[] {
          "{\"model\":[\"text-embedding-3-large\"],\"input\":\"hi\"}", // not a string: which would it be?
          "{\"model\":\"text-embedding-3-small\",\"input\":\"hi\",\"model\":null}", // null: the default model
          "{\"input\":\"hi\"}", // the upstream's default model
          "{\"prompt\":{\"id\":\"pmpt_1\"},\"input\":\"hi\"}", // a Responses prompt template's model
          "{\"model\":\"text-embedding-3-small\",\"input\":\"hi\"", // cut: a model after it unseen
          // a second object after the first: which one an upstream reads is its parser's (a security review)
          "{\"model\":\"text-embedding-3-small\",\"input\":\"hi\"}{\"model\":\"text-embedding-3-large\"}",
          "{\"model\":\"text-embedding-3-small\",\"input\":\"hi\"} x",
      }) {
        String path = body.contains("pmpt_1") ? "/v1/responses" : "/v1/embeddings";
        HttpResponse<String> r = post(f, path, "sk-intern", body);
        assertEquals(403, r.statusCode(), body + ": " + r.body());
        assertEquals("model_not_allowed", JSON.readTree(r.body()).path("error").path("code").asText(), r.body());
      }
      // a batch's models are in its input file, which the upstream does not have here: refused
      f.weak.stubFor(WireMock.get(urlEqualTo("/v1/files/file-1/content")).willReturn(aResponse().withStatus(404)));
      HttpResponse<String> batch = post(f, "/v1/batches", "sk-intern", "{\"model\":\"text-embedding-3-small\","
          + "\"input_file_id\":\"file-1\",\"endpoint\":\"/v1/chat/completions\",\"completion_window\":\"24h\"}");
      assertEquals(403, batch.statusCode(), batch.body());
      assertTrue(batch.body().contains("its input file file-1 could not be read from the upstream (HTTP 404)"), batch.body());
      // a form's model fields are read (audio transcriptions); one naming none, or cut off, is refused
      String audioPart = "--x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n"
          + "Content-Type: audio/wav\r\n\r\nRIFF--x-not-a-boundary\r\n";
      assertRefused(post(f, "/v1/audio/transcriptions", "sk-intern", audioPart
          + "--x\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\ngpt-4o-transcribe\r\n--x--\r\n",
          "Content-Type", "multipart/form-data; boundary=x"), "gpt-4o-transcribe");
      assertRefused(post(f, "/v1/audio/transcriptions", "sk-intern", audioPart
          + "--x\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper-1\r\n"
          + "--x\r\nContent-Disposition: form-data; name=\"Model\"\r\n\r\ngpt-4o-transcribe\r\n--x--\r\n",
          "Content-Type", "multipart/form-data; boundary=\"x\""), "gpt-4o-transcribe");
      for (String form : new String[] {audioPart + "--x--\r\n",
          audioPart + "--x\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper-1"}) {
        HttpResponse<String> r = post(f, "/v1/audio/transcriptions", "sk-intern", form,
            "Content-Type", "multipart/form-data; boundary=x");
        assertEquals(403, r.statusCode(), r.body());
      }
      // a JSON object naming an allowed model is a form's preamble to Go and busboy, which read the form after it
      HttpResponse<String> preamble = post(f, "/v1/audio/transcriptions", "sk-intern", "{\"model\":\"whisper-1\"}\r\n"
          + "--x\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\ngpt-4o-transcribe\r\n--x--\r\n",
          "Content-Type", "multipart/form-data; boundary=x");
      assertEquals(403, preamble.statusCode(), preamble.body());
      f.weak.verify(0, postRequestedFor(WireMock.anyUrl()));
      assertEquals(200, post(f, "/v1/audio/transcriptions", "sk-intern", audioPart
          + "--x\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper-1\r\n--x--\r\n",
          "Content-Type", "multipart/form-data; boundary=x").statusCode());
      // what generates nothing needs no model (a file, a conversation); a continued response none either.
      // A file's form not read as strictly as a model's (Go's writer escapes a quote in its name) goes
      assertEquals(200, post(f, "/v1/files", "sk-intern", "--x\r\nContent-Disposition: form-data; name=\"file\"; "
          + "filename=\"a\\\"b.jsonl\"\r\n\r\n{}\r\n--x\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\n"
          + "batch\r\n--x--\r\n", "Content-Type", "multipart/form-data; boundary=x").statusCode());
      assertEquals(200, post(f, "/v1/conversations", "sk-intern", "{\"metadata\":{\"model\":\"gpt-4o\"}}").statusCode());
      assertEquals(200, post(f, "/v1/responses", "sk-intern", "{\"previous_response_id\":\"resp_1\",\"input\":\"hi\"}")
          .statusCode());
      // another client may send any of them
      assertEquals(200, post(f, "/v1/batches", "sk-lead", "{\"input_file_id\":\"file-1\"}").statusCode());
    }
  }

  private static String batchLine(int n, String body) {
    return "{\"custom_id\":\"r" + n + "\",\"method\":\"POST\",\"url\":\"/v1/embeddings\",\"body\":" + body + "}\n";
  }

  /**
   * A batch's models are its input file's: read from the upstream (the file is immutable), a restricted
   * client's batch goes when each of its requests names one of its models, and is refused naming the
   * first that is not, or what could not be read. Before, every batch of such a client was refused.
   */
  @Test
  void aRestrictedClientsBatchGoesWhenItsInputFileNamesOnlyItsModels() throws Exception {
    try (ProxyFixture f = fixture()) {
      f.weak.stubFor(WireMock.post(urlEqualTo("/v1/batches")).willReturn(aResponse().withStatus(200)
          .withHeader("Content-Type", "application/json").withBody("{\"id\":\"batch_1\",\"object\":\"batch\"}")));
      String allowed = batchLine(1, "{\"model\":\"text-embedding-3-small\",\"input\":\"a\",\"metadata\":{\"model\":\"x\"}}")
          + batchLine(2, "{\"input\":\"b\",\"model\":\"text-embedding-3-small\"}");
      java.util.Map<String, String> files = java.util.Map.of(
          "file-ok", allowed,
          "file-big", allowed + batchLine(3, "{\"model\":\"text-embedding-3-large\",\"input\":\"c\"}"),
          "file-nested", batchLine(1, "{\"model\":\"text-embedding-3-small\",\"tools\":[{\"model\":\"gpt-image-1\"}]}"),
          "file-none", allowed + batchLine(3, "{\"input\":\"c\"}"),
          "file-twice", batchLine(1, "{\"model\":\"text-embedding-3-small\"}").replace("}}", "},\"body\":{\"input\":\"c\"}}"),
          "file-list", "[" + batchLine(1, "{\"model\":\"text-embedding-3-small\"}") + "]",
          "file-cut", allowed + batchLine(3, "{\"model\":\"text-embedding-3-small\"").trim(),
          "file-empty", "\n");
      f.weak.stubFor(WireMock.get(urlEqualTo("/v1/files/file-gone/content")).willReturn(aResponse().withStatus(404)));
      files.forEach((id, content) -> f.weak.stubFor(WireMock.get(urlEqualTo("/v1/files/" + id + "/content"))
          .willReturn(aResponse().withStatus(200).withHeader("Content-Type", "application/octet-stream").withBody(content))));
      String batch = "{\"input_file_id\":\"%s\",\"endpoint\":\"/v1/embeddings\",\"completion_window\":\"24h\"}";
      HttpResponse<String> ok = post(f, "/v1/batches", "sk-intern", batch.formatted("file-ok"));
      assertEquals(200, ok.statusCode(), ok.body());
      f.weak.verify(1, postRequestedFor(urlEqualTo("/v1/batches")));
      f.weak.verify(1, WireMock.getRequestedFor(urlEqualTo("/v1/files/file-ok/content")));
      assertRefused(post(f, "/v1/batches", "sk-intern", batch.formatted("file-big")), "text-embedding-3-large");
      assertRefused(post(f, "/v1/batches", "sk-intern", batch.formatted("file-nested")), "gpt-image-1");
      java.util.Map<String, String> unchecked = java.util.Map.of(
          "file-none", "request 3 of its input file file-none names no model",
          "file-twice", "request 1 of its input file file-twice names no model",
          "file-list", "request 1 of its input file file-list is not a JSON object",
          "file-cut", "its input file file-cut could not be read to its end",
          "file-empty", "its input file file-empty holds no request",
          "file-gone", "its input file file-gone could not be read from the upstream (HTTP 404)",
          "../files", "its input_file_id must be a file's id");
      for (var e : unchecked.entrySet()) {
        HttpResponse<String> r = post(f, "/v1/batches", "sk-intern", batch.formatted(e.getKey()));
        assertEquals(403, r.statusCode(), r.body());
        assertEquals("model_not_allowed", JSON.readTree(r.body()).path("error").path("code").asText(), r.body());
        assertTrue(r.body().contains(e.getValue()), e.getKey() + ": " + r.body());
      }
      f.weak.stubFor(WireMock.get(urlEqualTo("/v1/files/file-later/content")).willReturn(aResponse().withStatus(503)));
      HttpResponse<String> later = post(f, "/v1/batches", "sk-intern", batch.formatted("file-later"));
      assertEquals(502, later.statusCode(), later.body());
      assertTrue(later.body().contains("answered HTTP 503 to reading the batch's input file file-later"), later.body());
      f.weak.verify(1, postRequestedFor(urlEqualTo("/v1/batches")));
      // another client's batch is not read
      assertEquals(200, post(f, "/v1/batches", "sk-lead", batch.formatted("file-big")).statusCode());
      f.weak.verify(1, WireMock.getRequestedFor(urlEqualTo("/v1/files/file-big/content"))); // the intern's
    }
  }

  /**
   * The batch's input file is read as the upstream reads it: a JSONL request on each line, and the
   * batch's input_file_id as the upstream takes it. An object over several lines hid the line between
   * (a request for another model, which a line-by-line reader runs) in its metadata; a second
   * input_file_id (the upstream's JSON reader takes the last) had the first file checked and the
   * second run.
   */
  @Test
  void aRestrictedClientsBatchIsCheckedAsTheUpstreamReadsIt() throws Exception {
    try (ProxyFixture f = fixture()) {
      f.weak.stubFor(WireMock.post(urlEqualTo("/v1/batches")).willReturn(aResponse().withStatus(200)
          .withHeader("Content-Type", "application/json").withBody("{\"id\":\"batch_1\",\"object\":\"batch\"}")));
      String allowed = batchLine(1, "{\"model\":\"text-embedding-3-small\",\"input\":\"a\"}");
      String other = batchLine(2, "{\"model\":\"text-embedding-3-large\",\"input\":\"b\"}");
      java.util.Map<String, String> files = java.util.Map.of(
          "file-ok", allowed + allowed.replace("\n", "\r\n"),
          "file-other", other,
          "file-lines", allowed.replace("}\n", ",\"metadata\":{\"k\":\n") + other + "}}\n",
          "file-one-line", allowed.trim() + allowed);
      files.forEach((id, content) -> f.weak.stubFor(WireMock.get(urlEqualTo("/v1/files/" + id + "/content"))
          .willReturn(aResponse().withStatus(200).withHeader("Content-Type", "application/octet-stream").withBody(content))));
      String batch = "{\"input_file_id\":\"%s\",\"endpoint\":\"/v1/embeddings\",\"completion_window\":\"24h\"}";
      assertEquals(200, post(f, "/v1/batches", "sk-intern", batch.formatted("file-ok")).statusCode());
      for (String body : new String[] {batch.formatted("file-lines"), batch.formatted("file-one-line"),
          "{\"input_file_id\":\"file-ok\",\"input_file_id\":\"file-other\"}",
          "{\"input_file_id\":\"file-ok\",\"Input_File_Id\":\"file-other\"}"}) {
        HttpResponse<String> r = post(f, "/v1/batches", "sk-intern", body);
        assertEquals(403, r.statusCode(), body + ": " + r.body());
        assertEquals("model_not_allowed", JSON.readTree(r.body()).path("error").path("code").asText(), r.body());
      }
      f.weak.verify(1, postRequestedFor(urlEqualTo("/v1/batches")));
    }
  }
}
