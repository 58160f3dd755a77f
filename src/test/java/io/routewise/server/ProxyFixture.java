package io.routewise.server;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import com.github.tomakehurst.wiremock.client.WireMock;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;

import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.core.WireMockConfiguration;
import io.routewise.Routewise;
import io.routewise.TestConfigs;
import io.routewise.embedding.EmbedderSource;
import io.routewise.routers.RouterCatalog;
import io.routewise.routing.RouterException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/**
 * Two WireMock upstreams (strong, weak) and a routewise in front of them, all on loopback. Besides
 * the standard routers it loads {@code fixed} (always 0.5) and {@code broken} (always throws), and
 * knows {@code scored}, whose win rate is the prompt itself ("0.42"), loaded when the YAML names it.
 */
public final class ProxyFixture implements AutoCloseable {
  static final String COMPLETION = """
      {"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"%s",
       "choices":[{"index":0,"message":{"role":"assistant","content":"hello from %s"},"finish_reason":"stop"}],
       "usage":{"prompt_tokens":11,"completion_tokens":7,"total_tokens":18}}""";

  public final WireMockServer strong = new WireMockServer(WireMockConfiguration.options().dynamicPort().bindAddress("127.0.0.1"));
  public final WireMockServer weak = new WireMockServer(WireMockConfiguration.options().dynamicPort().bindAddress("127.0.0.1"));
  public final Routewise routewise;
  final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  public ProxyFixture(String extraYaml) {
    this(extraYaml, id -> null);
  }

  /** With more keys in the {@code server} map, e.g. {@code "api_keys: [k]"}. */
  public ProxyFixture(String extraYaml, String serverKeys) {
    this(extraYaml, serverKeys, id -> null);
  }

  /** With real embedders, for the learned routers. */
  public ProxyFixture(String extraYaml, EmbedderSource embedders) {
    this(extraYaml, null, embedders);
  }

  /** With more keys in the {@code routing} map, e.g. {@code "session_pinning: true"}. */
  public static ProxyFixture withRouting(String extraYaml, String routingKeys) {
    return edited(extraYaml, yaml -> TestConfigs.withRouting(yaml, routingKeys));
  }

  /** With the whole YAML passed through {@code edit} last (to add upstream keys, say). */
  public static ProxyFixture edited(String extraYaml, java.util.function.UnaryOperator<String> edit) {
    return new ProxyFixture(extraYaml, null, edit, id -> null);
  }

  /** With more keys in the {@code server} map, and the loaded config passed through {@code edit}. */
  public static ProxyFixture configured(String serverKeys,
      java.util.function.UnaryOperator<io.routewise.config.RoutewiseConfig> edit) {
    return new ProxyFixture("", serverKeys, java.util.function.UnaryOperator.identity(), edit, id -> null);
  }

  private ProxyFixture(String extraYaml, String serverKeys, EmbedderSource embedders) {
    this(extraYaml, serverKeys, java.util.function.UnaryOperator.identity(), embedders);
  }

  private ProxyFixture(String extraYaml, String serverKeys, java.util.function.UnaryOperator<String> edit,
      EmbedderSource embedders) {
    this(extraYaml, serverKeys, edit, java.util.function.UnaryOperator.identity(), embedders);
  }

  private ProxyFixture(String extraYaml, String serverKeys, java.util.function.UnaryOperator<String> edit,
      java.util.function.UnaryOperator<io.routewise.config.RoutewiseConfig> configEdit, EmbedderSource embedders) {
    strong.start();
    weak.start();
    stubCompletions();
    RouterCatalog catalog = RouterCatalog.standard()
        .with("fixed", ctx -> prompt -> 0.5)
        .with("broken", ctx -> prompt -> {
          throw new RouterException("boom", "router exploded");
        })
        .with("scored", ctx -> prompt -> Double.parseDouble(prompt.text()));
    String yaml = TestConfigs.yaml(strong.baseUrl() + "/v1", weak.baseUrl() + "/v1", withTestRouters(extraYaml));
    yaml = edit.apply(yaml);
    routewise = Routewise.start(configEdit.apply(
            TestConfigs.config(serverKeys == null ? yaml : TestConfigs.withServer(yaml, serverKeys))),
        catalog, embedders, () -> {});
  }

  /** Adds fixed and broken to a {@code routers: {...}} line of the extra YAML, or a line of their own. */
  private static String withTestRouters(String extraYaml) {
    return extraYaml.startsWith("routers: {")
        ? "routers: {fixed: {}, broken: {}, " + extraYaml.substring("routers: {".length())
        : "routers: {fixed: {}, broken: {}}\n" + extraYaml;
  }

  void stubCompletions() {
    strong.resetAll();
    weak.resetAll();
    strong.stubFor(WireMock.post(urlEqualTo("/v1/chat/completions")).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", "application/json").withHeader("x-request-id", "req-strong")
        .withBody(COMPLETION.formatted("strong-model", "strong"))));
    weak.stubFor(WireMock.post(urlEqualTo("/v1/chat/completions")).willReturn(aResponse().withStatus(200)
        .withHeader("Content-Type", "application/json")
        .withBody(COMPLETION.formatted("weak-model", "weak"))));
  }

  public String url(String path) {
    return "http://127.0.0.1:" + routewise.port() + path;
  }

  public HttpResponse<String> post(String path, String body) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create(url(path)))
        .header("Content-Type", "application/json")
        .header("Authorization", "Bearer sk-client-key")
        .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
  }

  public HttpResponse<String> chat(String model, String prompt) throws Exception {
    return post("/v1/chat/completions",
        "{\"model\":\"" + model + "\",\"messages\":[{\"role\":\"user\",\"content\":\"" + prompt + "\"}]}");
  }

  /** A chat request that names its session in the X-Session-Id header. */
  public HttpResponse<String> chatInSession(String model, String prompt, String session) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create(url("/v1/chat/completions")))
        .header("Content-Type", "application/json").header("X-Session-Id", session)
        .POST(HttpRequest.BodyPublishers.ofString(
            "{\"model\":\"" + model + "\",\"messages\":[{\"role\":\"user\",\"content\":\"" + prompt + "\"}]}"))
        .build(), HttpResponse.BodyHandlers.ofString());
  }

  public HttpResponse<String> get(String path) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create(url(path))).GET().build(), HttpResponse.BodyHandlers.ofString());
  }

  @Override
  public void close() {
    routewise.close();
    strong.stop();
    weak.stop();
  }
}
