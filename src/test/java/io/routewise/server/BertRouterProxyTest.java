package io.routewise.server;

import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.routewise.routers.bert.BertClassifier;
import io.routewise.embedding.Truncation;
import io.routewise.routers.bert.LabelReading;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** {@code router-bert-α} through the proxy, on the tiny ONNX classifier of the test resources. */
class BertRouterProxyTest {
  private static final String PROMPT = "what is the capital of france?";
  private static Path tiny;
  private static ProxyFixture f;

  @BeforeAll
  static void start() throws Exception {
    tiny = Path.of(BertRouterProxyTest.class.getResource("/bert-tiny-cls/model.onnx").toURI()).getParent();
    f = new ProxyFixture("routers: {bert: {model_dir: \"" + tiny + "\"}}"); // fixed and broken: the fixture's
  }

  @AfterAll
  static void stop() {
    f.close();
  }

  private static long calls(com.github.tomakehurst.wiremock.WireMockServer s) {
    return s.countRequestsMatching(postRequestedFor(urlEqualTo("/v1/chat/completions")).build()).getCount();
  }

  @Test
  void thresholdZeroRoutesStrongAndOneRoutesWeakWithTheClassifiersWinRate() throws Exception {
    f.stubCompletions();
    double expected;
    try (BertClassifier c = BertClassifier.load(tiny, 0, Truncation.HEAD, 1)) {
      expected = LabelReading.ROUTELLM.strongWinRate(c.logits(PROMPT));
    }
    assertTrue(expected > 0 && expected < 1, "the tiny model gives an undecided rate: " + expected);

    HttpResponse<String> strong = f.chat("router-bert-0", PROMPT);
    assertEquals(200, strong.statusCode());
    assertEquals("bert", strong.headers().firstValue("x-routewise-router").orElseThrow());
    assertEquals(expected, Double.parseDouble(strong.headers().firstValue("x-routewise-win-rate").orElseThrow()), 1e-5);
    assertEquals("strong strong-model", strong.headers().firstValue("x-routewise-model").orElseThrow());
    assertTrue(strong.body().contains("hello from strong"));
    assertEquals(1, calls(f.strong));
    assertEquals(0, calls(f.weak));

    HttpResponse<String> weak = f.chat("router-bert-1", PROMPT);
    assertEquals(200, weak.statusCode());
    assertEquals("bert", weak.headers().firstValue("x-routewise-router").orElseThrow());
    assertEquals(expected, Double.parseDouble(weak.headers().firstValue("x-routewise-win-rate").orElseThrow()), 1e-5);
    assertEquals("weak weak-model", weak.headers().firstValue("x-routewise-model").orElseThrow());
    assertTrue(weak.body().contains("hello from weak"));
    assertEquals(1, calls(f.strong));
    assertEquals(1, calls(f.weak));
  }

  @Test
  void aThresholdJustAboveAndBelowTheRateSplitsTheSamePrompt() throws Exception {
    f.stubCompletions();
    String rate = f.chat("router-bert-0", PROMPT).headers().firstValue("x-routewise-win-rate").orElseThrow();
    double r = Double.parseDouble(rate);
    assertEquals("strong strong-model", f.chat("router-bert-" + (r - 0.001), PROMPT).headers()
        .firstValue("x-routewise-model").orElseThrow());
    assertEquals("weak weak-model", f.chat("router-bert-" + (r + 0.001), PROMPT).headers()
        .firstValue("x-routewise-model").orElseThrow());
  }
}
