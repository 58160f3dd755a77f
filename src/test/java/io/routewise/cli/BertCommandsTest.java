package io.routewise.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.routewise.Main;
import io.routewise.embedding.Truncation;
import io.routewise.routers.ModelDir;
import io.routewise.routers.bert.BertClassifier;
import io.routewise.routers.bert.LabelReading;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code score}, {@code eval} and {@code train bert} with {@code --router bert=DIR}, in process. */
class BertCommandsTest {
  static final Path TINY = tiny();

  static Path tiny() {
    try {
      return Path.of(BertCommandsTest.class.getResource("/bert-tiny-cls/model.onnx").toURI()).getParent();
    } catch (java.net.URISyntaxException e) {
      throw new IllegalStateException(e);
    }
  }

  static final List<String> PROMPTS = List.of("what is the capital of france?", "prove the theorem", "hello",
      "what is the derivative of x squared?", "name a prime number", "explain quantum entanglement",
      "write a poem about rain", "sort a list in python", "who wrote hamlet?", "integrate sin x from 0 to pi",
      "translate hello into french", "why is the sky blue?");

  static Path bench(Path tmp) throws Exception {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < PROMPTS.size(); i++) {
      sb.append(new com.fasterxml.jackson.databind.ObjectMapper().writeValueAsString(java.util.Map.of("id", "p" + i, "source", "t", "prompt",
          PROMPTS.get(i), "outcomes", java.util.Map.of("big", 1.0, "small", i % 3 == 0 ? 0.0 : 1.0)))).append('\n');
    }
    Path f = tmp.resolve("bench.jsonl");
    Files.writeString(f, sb.toString());
    return f;
  }

  static int run(PrintStream out, String... args) {
    PrintStream old = System.out;
    System.setOut(out);
    try {
      return new CommandLine(new Main()).execute(args);
    } finally {
      System.setOut(old);
    }
  }

  @Test
  void scoreWritesTheClassifiersWinRateForEachPrompt(@TempDir Path tmp) throws Exception {
    Path in = bench(tmp);
    Path out = tmp.resolve("scores.jsonl");
    int rc = run(System.out, "score", "--router", "bert=" + TINY, "--input", in.toString(), "--output",
        out.toString(), "--quiet");
    assertEquals(0, rc);
    List<String> lines = Files.readAllLines(out);
    assertEquals(PROMPTS.size(), lines.size());
    try (BertClassifier c = BertClassifier.load(TINY, 0, Truncation.HEAD, 1)) {
      for (int i = 0; i < lines.size(); i++) {
        JsonNode row = ModelDir.json().readTree(lines.get(i));
        assertEquals("p" + i, row.path("id").asText());
        assertEquals(LabelReading.ROUTELLM.strongWinRate(c.logits(PROMPTS.get(i))), row.path("score").asDouble(), 1e-6);
      }
    }
  }

  @Test
  void evalReportsBertBesideTheBaselines(@TempDir Path tmp) throws Exception {
    Path in = bench(tmp);
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    int rc = run(new PrintStream(buf, true, StandardCharsets.UTF_8), "eval", "--router", "bert=" + TINY, "--bench",
        in.toString(), "--strong", "big", "--weak", "small", "--quiet", "--scores-dir", tmp.resolve("s").toString());
    String table = buf.toString(StandardCharsets.UTF_8);
    assertEquals(0, rc, table);
    assertTrue(table.contains("bert=" + TINY), table);
    assertTrue(table.contains("random"), table);
    assertTrue(table.contains("APGR") || table.contains("apgr"), table);
    try (var files = Files.list(tmp.resolve("s"))) {
      assertTrue(files.anyMatch(f -> f.getFileName().toString().startsWith("bert")));
    }
  }

  @Test
  void aBadBertDirectoryFailsTheCommandWithTheReason(@TempDir Path tmp) throws Exception {
    Path in = bench(tmp);
    PrintStream oldErr = System.err;
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
    int rc;
    try {
      rc = run(System.out, "score", "--router", "bert=" + tmp.resolve("nope"), "--input", in.toString(),
          "--output", tmp.resolve("o.jsonl").toString(), "--quiet");
    } finally {
      System.setErr(oldErr);
    }
    assertTrue(rc != 0);
    assertTrue(err.toString(StandardCharsets.UTF_8).contains("model directory not found"), err.toString());
  }

  @Test
  void trainBertWritesADirectoryThatScores(@TempDir Path tmp) throws Exception {
    Path data = Path.of(BertCommandsTest.class.getResource("/fixtures/synthetic-outcomes.jsonl").toURI());
    Path dir = tmp.resolve("bert");
    int rc = run(System.out, "train", "bert", "--data", data.toString(), "--holdout", "source:synthetic-b",
        "--strong-model", "strong-model", "--weak-model", "weak-model", "--pairs", "default", "--epochs", "50",
        "--lr", "0.03", "--hidden", "16", "--embedding-cache", tmp.resolve("emb").toString(), "--out", dir.toString(),
        "--quiet");
    assertEquals(0, rc);
    JsonNode m = ModelDir.json().readTree(dir.resolve("manifest.json").toFile());
    assertEquals("bert", m.path("kind").asText());
    assertEquals("head", m.path("form").asText());
    assertTrue(m.path("heldout").path("half_tie").path("apgr").asDouble() > 0.6, m.toString());
    Path out = tmp.resolve("scores.jsonl");
    assertEquals(0, run(System.out, "score", "--router", "bert=" + dir, "--input", data.toString(), "--output",
        out.toString(), "--quiet", "--embedding-cache", tmp.resolve("emb").toString()));
    assertEquals(160, Files.readAllLines(out).size());
  }
}
