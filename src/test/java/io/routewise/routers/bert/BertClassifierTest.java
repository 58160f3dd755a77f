package io.routewise.routers.bert;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.routewise.TestConfigs;
import io.routewise.config.ConfigProblems;
import io.routewise.config.RoutewiseConfig;
import io.routewise.embedding.Truncation;
import io.routewise.routers.ModelDir;
import io.routewise.routers.RouterCatalog;
import io.routewise.routing.Prompt;
import io.routewise.routing.Router;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The classifier form against a real (tiny, untrained) BERT exported to ONNX: see src/test/python. */
class BertClassifierTest {
  static final Path TINY = tinyDir();

  static Path tinyDir() {
    try {
      return Path.of(BertClassifierTest.class.getResource("/bert-tiny-cls/model.onnx").toURI()).getParent();
    } catch (java.net.URISyntaxException e) {
      throw new IllegalStateException(e);
    }
  }

  static Map<String, Router> load(String routersYaml, ConfigProblems problems) {
    RoutewiseConfig cfg = TestConfigs.config(TestConfigs.yaml("http://127.0.0.1:1/v1", "http://127.0.0.1:2/v1",
        "routers: " + routersYaml));
    return RouterCatalog.standard().load(cfg, id -> null, problems);
  }

  @Test
  void tokenIdsAndLogitsMatchTheGeneratorsNumpyReference() throws Exception {
    JsonNode expected = ModelDir.json().readTree(TINY.resolve("expected.json").toFile());
    try (BertClassifier c = BertClassifier.load(TINY, 0, Truncation.HEAD, 1)) {
      assertEquals(512, c.maxTokens());
      assertEquals(java.util.List.of("LABEL_0", "LABEL_1", "LABEL_2"), c.labels());
      for (JsonNode cs : expected.path("cases")) {
        long[] ids = new long[cs.path("ids").size()];
        for (int i = 0; i < ids.length; i++) {
          ids[i] = cs.path("ids").get(i).asLong();
        }
        assertArrayEquals(ids, c.tokenIds(cs.path("text").asText()), cs.path("text").asText());
        float[] logits = c.logits(cs.path("text").asText());
        for (int l = 0; l < 3; l++) {
          assertEquals(cs.path("logits").get(l).asDouble(), logits[l], 1e-3, cs.path("text").asText() + " label " + l);
        }
      }
    }
  }

  @Test
  void theRouterReadsOneMinusTheLastTwoProbabilitiesByDefault() throws Exception {
    ConfigProblems problems = new ConfigProblems();
    Map<String, Router> routers = load("{bert: {model_dir: \"" + TINY + "\"}}", problems);
    problems.throwIfAny();
    BertRouter r = (BertRouter) routers.get("bert");
    try {
      assertEquals(BertRouter.Form.CLASSIFIER, r.form());
      JsonNode expected = ModelDir.json().readTree(TINY.resolve("expected.json").toFile());
      for (JsonNode cs : expected.path("cases")) {
        float[] l = new float[3];
        for (int i = 0; i < 3; i++) {
          l[i] = (float) cs.path("logits").get(i).asDouble();
        }
        double[] p = LabelReading.softmax(l);
        assertEquals(1 - p[1] - p[2], r.strongWinRate(Prompt.of(cs.path("text").asText())), 1e-4);
      }
    } finally {
      routers.values().forEach(Router::close);
    }
  }

  @Test
  void weakOkLabelsFromTheConfigChangeTheReading() throws Exception {
    ConfigProblems problems = new ConfigProblems();
    Map<String, Router> routers = load("{bert: {model_dir: \"" + TINY + "\", weak_ok_labels: [LABEL_2], max_tokens: 64,"
        + " truncation: head_tail, threads: 1}}", problems);
    problems.throwIfAny();
    BertRouter r = (BertRouter) routers.get("bert");
    try {
      Prompt q = Prompt.of("what is the capital of france?");
      double[] p = r.probabilities(q);
      assertEquals(1 - p[2], r.strongWinRate(q), 1e-6);
      assertNotEquals(1 - p[1] - p[2], r.strongWinRate(q), 1e-3);
    } finally {
      routers.values().forEach(Router::close);
    }
  }

  @Test
  void aLongPromptIsCutToTheTokenBudget() throws Exception {
    try (BertClassifier c = BertClassifier.load(TINY, 16, Truncation.HEAD_TAIL, 1)) {
      long[] ids = c.tokenIds("hello ".repeat(100) + "france");
      assertEquals(16, ids.length);
      assertEquals(101, ids[0]);
      assertEquals(102, ids[15]);
      assertEquals(2605, ids[14]); // the tail keeps the last word
      assertTrue(Double.isFinite(c.logits("hello ".repeat(1000))[0]));
    }
  }

  @Test
  void aManifestCanGiveTheLabelReading(@TempDir Path tmp) throws Exception {
    Path dir = copyTiny(tmp);
    Files.writeString(dir.resolve("manifest.json"),
        "{\"format_version\": 1, \"kind\": \"bert\", \"form\": \"classifier\", \"weak_ok_labels\": [2]}");
    ConfigProblems problems = new ConfigProblems();
    Map<String, Router> routers = load("{bert: {model_dir: \"" + dir + "\"}}", problems);
    problems.throwIfAny();
    try {
      assertArrayEquals(new double[] {1, 1, 0}, ((BertRouter) routers.get("bert")).reading().weights());
    } finally {
      routers.values().forEach(Router::close);
    }
  }

  @Test
  void concurrentDecisionsEqualSequentialOnes() throws Exception {
    ConfigProblems problems = new ConfigProblems();
    Map<String, Router> routers = load("{bert: {model_dir: \"" + TINY + "\"}}", problems);
    problems.throwIfAny();
    Router r = routers.get("bert");
    try {
      String[] prompts = new String[64];
      double[] expected = new double[prompts.length];
      for (int i = 0; i < prompts.length; i++) {
        prompts[i] = "question number " + i + " about " + "the capital of france ".repeat(i % 7);
        expected[i] = r.strongWinRate(Prompt.of(prompts[i]));
      }
      double[] got = new double[prompts.length];
      try (var pool = java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor()) {
        var futures = new java.util.ArrayList<java.util.concurrent.Future<?>>();
        for (int rep = 0; rep < 4; rep++) {
          for (int i = 0; i < prompts.length; i++) {
            int k = i;
            futures.add(pool.submit(() -> {
              got[k] = r.strongWinRate(Prompt.of(prompts[k]));
              return null;
            }));
          }
        }
        for (var f : futures) {
          f.get();
        }
      }
      assertArrayEquals(expected, got, 1e-6);
    } finally {
      routers.values().forEach(Router::close);
    }
  }

  static Path copyTiny(Path tmp) throws Exception {
    Path dir = tmp.resolve("cls");
    Files.createDirectories(dir);
    for (String f : new String[] {"model.onnx", "tokenizer.json", "config.json"}) {
      Files.copy(TINY.resolve(f), dir.resolve(f));
    }
    return dir;
  }
}
