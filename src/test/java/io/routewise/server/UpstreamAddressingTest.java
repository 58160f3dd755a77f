package io.routewise.server;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.absent;
import static com.github.tomakehurst.wiremock.client.WireMock.equalTo;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.client.WireMock;
import com.github.tomakehurst.wiremock.core.WireMockConfiguration;
import io.routewise.Routewise;
import io.routewise.TestConfigs;
import io.routewise.config.ConfigLoader;
import io.routewise.routers.RouterCatalog;
import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Upstreams that are not plain {@code …/v1} roots: Azure OpenAI's deployments, organisation headers. */
class UpstreamAddressingTest {
  private final WireMockServer azure = new WireMockServer(WireMockConfiguration.options().dynamicPort().bindAddress("127.0.0.1"));
  private final WireMockServer openai = new WireMockServer(WireMockConfiguration.options().dynamicPort().bindAddress("127.0.0.1"));

  @BeforeEach
  void start() {
    azure.start();
    openai.start();
    String completion = ProxyFixture.COMPLETION.formatted("m", "upstream");
    azure.stubFor(WireMock.post(urlEqualTo("/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21"))
        .willReturn(aResponse().withHeader("Content-Type", "application/json").withBody(completion)));
    openai.stubFor(WireMock.post(urlEqualTo("/v1/chat/completions"))
        .willReturn(aResponse().withHeader("Content-Type", "application/json").withBody(completion)));
  }

  @AfterEach
  void stop() {
    azure.stop();
    openai.stop();
  }

  @Test
  void aQueryOnTheBaseUrlStaysAQueryAndConfiguredHeadersAreSent() throws Exception {
    String yaml = """
        server: {host: 127.0.0.1, port: 0}
        upstreams:
          strong:
            base_url: "%s/openai/deployments/gpt-4o?api-version=2024-10-21"
            api_key: none
            model: gpt-4o
            headers: {api-key: "${AZURE_KEY}"}
          weak:
            base_url: "%s/v1"
            api_key: sk-weak-secret
            model: gpt-4o-mini
            headers: {OpenAI-Organization: org-42, OpenAI-Project: proj_7}
        routing: {router: random, threshold: 0.5}
        """.formatted(azure.baseUrl(), openai.baseUrl());
    try (Routewise rw = Routewise.start(new ConfigLoader(Map.of("AZURE_KEY", "az-secret")).parse(yaml, "test"),
        RouterCatalog.standard(), id -> null, () -> {})) {
      HttpClient http = HttpClient.newHttpClient();
      HttpResponse<String> strong = http.send(TestConfigs.chat(rw.port(), "router-random-0"), HttpResponse.BodyHandlers.ofString());
      HttpResponse<String> weak = http.send(TestConfigs.chat(rw.port(), "router-random-1"), HttpResponse.BodyHandlers.ofString());

      assertEquals(200, strong.statusCode(), strong.body());
      assertEquals(200, weak.statusCode(), weak.body());
      azure.verify(1, postRequestedFor(urlEqualTo("/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21"))
          .withHeader("api-key", equalTo("az-secret"))
          .withHeader("Authorization", absent()));
      openai.verify(1, postRequestedFor(urlEqualTo("/v1/chat/completions"))
          .withHeader("Authorization", equalTo("Bearer sk-weak-secret"))
          .withHeader("OpenAI-Organization", equalTo("org-42"))
          .withHeader("OpenAI-Project", equalTo("proj_7")));
    }
  }
}
