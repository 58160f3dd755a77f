package io.routewise.routers.causal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.routewise.config.ConfigLoader;
import io.routewise.config.ConfigNode;
import io.routewise.config.ConfigProblems;
import io.routewise.config.RoutewiseConfig;
import io.routewise.routers.RouterCatalog;
import io.routewise.routing.Router;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CausalLlmConfigTest {

  private static String yaml(String causal) {
    return """
        upstreams:
          strong: {base_url: http://localhost:9001/v1, api_key: sk-s, model: gpt-4-1106-preview}
          weak: {base_url: http://localhost:9002/v1, api_key: sk-w, model: mixtral-8x7b}
        routing: {router: causal_llm, threshold: 0.5}
        routers:
          causal_llm: %s
        """.formatted(causal);
  }

  private static Map<String, Router> load(String causal, Map<String, String> env, ConfigProblems problems) {
    RoutewiseConfig config = new ConfigLoader(env).parse(yaml(causal), "test");
    return RouterCatalog.standard().load(config, id -> null, problems);
  }

  private static List<String> problemsOf(Map<String, Object> values) {
    ConfigProblems problems = new ConfigProblems();
    ConfigNode node = new ConfigNode("routers.causal_llm", values, problems);
    Optional<CausalLlmSettings> settings = CausalLlmSettings.read(node);
    node.rejectUnknownKeys();
    assertEquals(problems.isEmpty(), settings.isPresent());
    return problems.list();
  }

  @Test
  void theCatalogBuildsTheRouterFromTheIssuesYamlExample() {
    ConfigProblems problems = new ConfigProblems();
    Map<String, Router> routers = load("{base_url: http://localhost:8000/v1, api_key: \"${JUDGE_KEY:-none}\", "
        + "model: routellm-causal, timeout_ms: 2000}", Map.of(), problems);
    assertTrue(problems.isEmpty(), problems.list().toString());
    CausalLlmRouter router = assertInstanceOf(CausalLlmRouter.class, routers.get("causal_llm"));
    try {
      CausalLlmSettings s = router.settings();
      assertEquals("http://localhost:8000/v1", s.baseUrl().toString());
      assertEquals("routellm-causal", s.model());
      assertFalse(s.hasApiKey());
      assertEquals(Duration.ofMillis(2000), s.timeout());
      assertEquals(32, s.maxConcurrency());
      assertEquals(20, s.topLogprobs());
      assertEquals(JudgeTemplate.ROUTELLM, s.template());
    } finally {
      routers.values().forEach(Router::close);
    }
  }

  @Test
  void theApiKeyComesFromTheEnvironmentWhenSet() {
    ConfigProblems problems = new ConfigProblems();
    Map<String, Router> routers = load("{base_url: http://localhost:8000/v1, api_key: \"${JUDGE_KEY:-none}\", "
        + "model: m}", Map.of("JUDGE_KEY", "sk-judge"), problems);
    CausalLlmRouter router = (CausalLlmRouter) routers.get("causal_llm");
    assertTrue(router.settings().hasApiKey());
    assertEquals("sk-judge", router.settings().apiKey().value());
    router.close();
  }

  @Test
  void theCatalogReportsMissingKeysAndUnknownKeysTogether() {
    ConfigProblems problems = new ConfigProblems();
    Map<String, Router> routers = load("{timeout: 5}", Map.of(), problems);
    assertTrue(routers.isEmpty());
    List<String> list = problems.list();
    assertTrue(list.contains("routers.causal_llm.base_url: is required (an http:// or https:// URL)"), list.toString());
    assertTrue(list.contains("routers.causal_llm.model: is required"), list.toString());
    assertTrue(list.stream().anyMatch(p -> p.startsWith("routers.causal_llm.timeout: unknown key")), list.toString());
  }

  @Test
  void aRouterEntryThatIsNotAMappingIsReportedByTheCatalog() {
    ConfigProblems problems = new ConfigProblems();
    assertTrue(load("5", Map.of(), problems).isEmpty());
    assertTrue(problems.list().contains("routers.causal_llm: must be a mapping, got '5'"), problems.list().toString());
  }

  @Test
  void missingBaseUrlIsReportedWithItsKey() {
    assertEquals(List.of("routers.causal_llm.base_url: is required (an http:// or https:// URL)"),
        problemsOf(Map.of("model", "m")));
  }

  @Test
  void outOfRangeNumbersAreReportedWithTheirKeysAndValues() {
    List<String> problems = problemsOf(Map.of("base_url", "ftp://judge", "model", "m", "timeout_ms", 0,
        "max_concurrency", "many", "top_logprobs", 500));
    assertEquals(List.of(
        "routers.causal_llm.base_url: must be an http:// or https:// URL with a host, got 'ftp://judge'",
        "routers.causal_llm.timeout_ms: must be between 1 and 600000, got 0",
        "routers.causal_llm.max_concurrency: must be an integer, got 'many'",
        "routers.causal_llm.top_logprobs: must be between 1 and 100, got 500"), problems);
  }

  @Test
  void aUserTemplateWithoutTheQuestionPlaceholderIsRejected(@TempDir Path dir) throws Exception {
    Path user = Files.writeString(dir.resolve("user.txt"), "Rate this: {prompt}");
    List<String> problems = problemsOf(Map.of("base_url", "http://judge", "model", "m",
        "user_prompt_file", user.toString()));
    assertEquals(1, problems.size(), problems.toString());
    assertEquals("routers.causal_llm.user_prompt_file: '" + user + "' must contain {question} where the "
        + "user's prompt goes", problems.getFirst());
  }

  @Test
  void anUnreadablePromptFileIsReportedWithItsPath(@TempDir Path dir) {
    Path missing = dir.resolve("nope.txt");
    List<String> problems = problemsOf(Map.of("base_url", "http://judge", "model", "m",
        "system_prompt_file", missing.toString()));
    assertEquals(1, problems.size(), problems.toString());
    assertTrue(problems.getFirst().startsWith("routers.causal_llm.system_prompt_file: cannot read '" + missing + "'"),
        problems.getFirst());
  }

  @Test
  void theDefaultTemplateIsRouteLlmsPromptPairWithOneQuestionPlaceholder() {
    assertTrue(JudgeTemplate.ROUTELLM.system().startsWith("[Instruction]\nBased on the question provided below"));
    assertEquals("[Question]\nhi\n\nPrediction:\n", JudgeTemplate.ROUTELLM.userMessage("hi"));
  }
}
