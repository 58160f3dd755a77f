package io.routewise.server;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.equalTo;
import static com.github.tomakehurst.wiremock.client.WireMock.matchingJsonPath;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.http.StreamResponse;
import com.openai.errors.BadRequestException;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The official OpenAI Java SDK as the client, as a user would point it at routewise. */
class OpenAiSdkEndToEndTest {
  private static ProxyFixture f;
  private static OpenAIClient client;

  @BeforeAll
  static void start() {
    f = new ProxyFixture("");
    client = OpenAIOkHttpClient.builder()
        .baseUrl(f.url("/v1"))
        .apiKey("sk-client-key")
        .maxRetries(0)
        .build();
  }

  @AfterAll
  static void stop() {
    client.close();
    f.close();
  }

  @Test
  void nonStreamingCompletionThroughTheSdk() {
    ChatCompletion c = client.chat().completions().create(ChatCompletionCreateParams.builder()
        .model("router-random-0")
        .addSystemMessage("be brief")
        .addUserMessage("Say hello")
        .temperature(0.2)
        .build());
    assertEquals("hello from strong", c.choices().get(0).message().content().orElseThrow());
    assertEquals(18, c.usage().orElseThrow().totalTokens());
    f.strong.verify(postRequestedFor(urlEqualTo("/v1/chat/completions"))
        .withRequestBody(matchingJsonPath("$.model", equalTo("strong-model")))
        .withRequestBody(matchingJsonPath("$.messages[1].content", equalTo("Say hello")))
        .withHeader("Authorization", equalTo("Bearer sk-strong-secret")));
  }

  @Test
  void streamingCompletionThroughTheSdk() {
    String sse = """
        data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"weak-model","choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"},"finish_reason":null}]}

        data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"weak-model","choices":[{"index":0,"delta":{"content":"lo!"},"finish_reason":"stop"}]}

        data: [DONE]

        """;
    f.weak.stubFor(post(urlEqualTo("/v1/chat/completions")).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", "text/event-stream").withBody(sse)));
    try (StreamResponse<ChatCompletionChunk> stream = client.chat().completions().createStreaming(
        ChatCompletionCreateParams.builder().model("router-random-1").addUserMessage("Say hello").build())) {
      String text = stream.stream()
          .flatMap(chunk -> chunk.choices().stream())
          .map(choice -> choice.delta().content().orElse(""))
          .collect(Collectors.joining());
      assertEquals("Hello!", text);
    }
    f.weak.verify(postRequestedFor(urlEqualTo("/v1/chat/completions"))
        .withRequestBody(matchingJsonPath("$.stream", equalTo("true"))));
  }

  @Test
  void sdkSeesRoutewiseErrorsAsOpenAiErrors() {
    BadRequestException e = assertThrows(BadRequestException.class, () -> client.chat().completions().create(
        ChatCompletionCreateParams.builder().model("router-unknown-0.5").addUserMessage("x").build()));
    assertEquals(400, e.statusCode());
    assertTrue(e.getMessage().contains("Valid routers"), e.getMessage());
  }
}
