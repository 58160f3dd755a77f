package io.routewise.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.routewise.Routewise;
import io.routewise.TestConfigs;
import io.routewise.routers.RouterCatalog;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.Test;

class UpstreamUnreachableTest {
  @Test
  void unreachableUpstreamIsA502InOpenAiShapeWithoutTheKey() throws Exception {
    int closedPort;
    try (ServerSocket s = new ServerSocket(0)) {
      closedPort = s.getLocalPort();
    }
    String url = "http://127.0.0.1:" + closedPort + "/v1";
    try (Routewise rw = Routewise.start(TestConfigs.config(TestConfigs.yaml(url, url, "")),
        RouterCatalog.standard(), id -> null, () -> {})) {
      HttpResponse<String> r = HttpClient.newHttpClient().send(
          HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + rw.port() + "/v1/chat/completions"))
              .POST(HttpRequest.BodyPublishers.ofString(
                  "{\"model\":\"router-random-0\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"))
              .build(),
          HttpResponse.BodyHandlers.ofString());
      assertEquals(502, r.statusCode());
      JsonNode e = new ObjectMapper().readTree(r.body()).get("error");
      assertEquals("upstream_unreachable", e.get("code").asText());
      assertEquals("upstream_error", e.get("type").asText());
      assertFalse(r.body().contains("sk-strong-secret"));
      assertEquals("strong strong-model", r.headers().firstValue("x-routewise-model").orElseThrow());
    }
  }
}
