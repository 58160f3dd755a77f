package io.routewise.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Bad files and paths given to the offline commands: one line naming the file, exit 2, said before the work. */
class CliInputRobustnessTest {
  @TempDir
  Path tmp;

  private Path bench() throws Exception {
    StringBuilder rows = new StringBuilder();
    for (int i = 0; i < 12; i++) {
      rows.append("{\"id\": \"b/").append(i).append("\", \"prompt\": \"question ").append("x".repeat(i + 1))
          .append("\", \"outcomes\": {\"claude-3-5-sonnet-20241022\": ").append(i % 2).append(", \"gemini-1.5-flash\": ")
          .append(i % 3 == 0 ? 1 : 0).append("}}\n");
    }
    return Files.writeString(tmp.resolve("bench.jsonl"), rows);
  }

  private LearnedRoutersEndToEndTest.Run evalWithPrices(Path prices) throws Exception {
    return LearnedRoutersEndToEndTest.run(List.of("eval", "--router", "length", "--bench", bench().toString(),
        "--prices", prices.toString(), "--strong", "claude-3-5-sonnet-20241022", "--weak", "gemini-1.5-flash",
        "--quiet"));
  }

  /** A prices file cut short: it printed Jackson's two lines ("at [Source: REDACTED ...]"), naming no file. */
  @Test
  void aPricesFileThatIsNotJsonIsOneLineNamingIt() throws Exception {
    Path prices = Files.writeString(tmp.resolve("prices.json"), "{\"models\": {\"a\": {");
    LearnedRoutersEndToEndTest.Run r = evalWithPrices(prices);
    assertEquals(2, r.code(), r.out() + r.err());
    assertTrue(r.err().contains("prices.json"), r.err());
    assertEquals(1, r.err().strip().lines().count(), r.err());
  }

  /**
   * A price of 1e400 (read as infinity): it passed the file's check and failed later as "prices must be
   * finite and non-negative: Infinity, 0.6, ...", naming neither the file nor the model.
   */
  @Test
  void anInfinitePriceIsRefusedNamingTheFileAndModel() throws Exception {
    Path prices = Files.writeString(tmp.resolve("prices.json"), "{\"models\": {"
        + "\"claude-3-5-sonnet-20241022\": {\"input_usd_per_mtok\": 1e400, \"output_usd_per_mtok\": 15},"
        + "\"gemini-1.5-flash\": {\"input_usd_per_mtok\": 0.075, \"output_usd_per_mtok\": 0.3}}}");
    LearnedRoutersEndToEndTest.Run r = evalWithPrices(prices);
    assertEquals(2, r.code(), r.out() + r.err());
    assertTrue(r.err().contains("prices.json") && r.err().contains("claude-3-5-sonnet-20241022"), r.err());
  }

  /**
   * An outcome outside [0, 1] (a 7 typed among 0/1 scores) was taken as it was without a word: it moved
   * the strong model's quality and every APGR, where train says so and rescales. eval says so too.
   */
  @Test
  void evalSaysWhenOutcomesLeaveTheUnitRange() throws Exception {
    Path typo = Files.writeString(tmp.resolve("typo.jsonl"), Files.readString(bench())
        .replaceFirst("\"claude-3-5-sonnet-20241022\": 1", "\"claude-3-5-sonnet-20241022\": 7"));
    LearnedRoutersEndToEndTest.Run r = LearnedRoutersEndToEndTest.run(List.of("eval", "--router", "length", "--bench",
        typo.toString(), "--strong", "claude-3-5-sonnet-20241022", "--weak", "gemini-1.5-flash", "--quiet"));
    assertEquals(0, r.code(), r.out() + r.err());
    assertTrue(r.err().contains("note: 1 of 24 outcomes of claude-3-5-sonnet-20241022, gemini-1.5-flash are outside"
        + " [0, 1] (they span [0, 7])"), r.err());
    r = LearnedRoutersEndToEndTest.run(List.of("eval", "--router", "length", "--bench", bench().toString(),
        "--strong", "claude-3-5-sonnet-20241022", "--weak", "gemini-1.5-flash", "--quiet"));
    assertFalse(r.err().contains("outside [0, 1]"), r.err());
  }

  /** The N-way note on prompts left out named no model: which one lacks outcomes is what to fix. */
  @Test
  void evalOverALadderNamesTheModelsWhoseOutcomesAreMissing() throws Exception {
    StringBuilder rows = new StringBuilder();
    for (int i = 0; i < 12; i++) {
      rows.append("{\"id\": \"b/").append(i).append("\", \"prompt\": \"question ").append("x".repeat(i + 1))
          .append("\", \"outcomes\": {\"strong-model\": 1, \"weak-model\": ").append(i % 2)
          .append(i < 3 ? "" : ", \"mid-model\": " + (i % 3 == 0 ? 1 : 0)).append("}}\n");
    }
    Path bench = Files.writeString(tmp.resolve("ladder.jsonl"), rows);
    LearnedRoutersEndToEndTest.Run r = LearnedRoutersEndToEndTest.run(List.of("eval", "--router", "length", "--bench",
        bench.toString(), "--prices", "src/test/resources/fixtures/synthetic-prices.json", "--strong", "strong-model",
        "--weak", "weak-model", "--models", "mid-model", "--quiet"));
    assertEquals(0, r.code(), r.out() + r.err());
    assertTrue(r.err().contains("note: 3 of 12 prompts lack an outcome for one of the models and are left out"
        + " (mid-model: 3)"), r.err());
  }

  /** 24 prompts of the MMLU and MT Bench stand-ins, enough for a 3-fold eval --protocol. */
  private Path protocolData() throws Exception {
    return CrossvalProvenanceTest.protocolData(tmp);
  }

  /**
   * {@code eval --protocol --json} into a directory that does not exist: every other output (score's,
   * --plot, --scores-dir, --heldout-out) makes its directories, this one failed only after the whole
   * protocol had run (~10 minutes on the shipped data), exit 2 and the JSON lost.
   */
  @Test
  void protocolJsonGoesIntoANewDirectoryAsTheOtherOutputsDo() throws Exception {
    Path data = protocolData();
    Path json = tmp.resolve("results/crossval/cv.json");
    LearnedRoutersEndToEndTest.Run r = LearnedRoutersEndToEndTest.run(List.of("eval", "--protocol", data.toString(),
        "--folds", "3", "--quiet", "--json", json.toString()));
    assertEquals(0, r.code(), r.err());
    assertTrue(Files.isRegularFile(json), r.err());
  }

  /** --json naming a directory is refused before the run, not after it. */
  @Test
  void protocolJsonThatIsADirectoryIsRefusedBeforeTheRun() throws Exception {
    Path data = protocolData();
    Path dir = Files.createDirectories(tmp.resolve("out"));
    LearnedRoutersEndToEndTest.Run r = LearnedRoutersEndToEndTest.run(List.of("eval", "--protocol", data.toString(),
        "--folds", "3", "--quiet", "--json", dir.toString()));
    assertEquals(2, r.code(), r.out() + r.err());
    assertTrue(r.err().contains("--json") && r.err().contains(dir.toString()), r.err());
    assertFalse(r.err().contains("training on"), r.err());
  }

  /**
   * {@code distill --weighting zipf --sif-a 0}: SIF's a / (a + p) is 0 for every token, so every prompt
   * embeds alike; it distilled for minutes and wrote that table, exit 0. A negative or NaN a is as
   * meaningless. Refused at once, naming the flag.
   */
  @Test
  void distillRefusesASifAThatIsNotPositive() throws Exception {
    for (String a : List.of("0", "-0.5", "NaN")) {
      Path out = tmp.resolve("table-" + a);
      LearnedRoutersEndToEndTest.Run r = LearnedRoutersEndToEndTest.run(List.of("distill", "--out", out.toString(),
          "--weighting", "zipf", "--sif-a", a, "--quiet"));
      assertEquals(2, r.code(), a + ": " + r.out() + r.err());
      assertTrue(r.err().contains("--sif-a"), r.err());
      assertFalse(Files.exists(out), a);
    }
  }

  /** label --input naming a directory said only "routewise label: Is a directory": which of its paths, it did not say. */
  @Test
  void labelNamesAnInputThatIsADirectory() throws Exception {
    Path config = Files.writeString(tmp.resolve("label.yaml"), """
        upstreams:
          strong: {base_url: "http://127.0.0.1:9/v1", model: gpt-4o, api_key: x}
          weak: {base_url: "http://127.0.0.1:9/v1", model: "llama3.1:8b", api_key: x}
          judge: {base_url: "http://127.0.0.1:9/v1", model: judge-model, api_key: x}
        """);
    Path dir = Files.createDirectories(tmp.resolve("prompts"));
    LearnedRoutersEndToEndTest.Run r = LearnedRoutersEndToEndTest.run(List.of("label", "--config", config.toString(),
        "--judge", "judge", "--quiet", "--input", dir.toString(), "--output", tmp.resolve("out.jsonl").toString()));
    assertEquals(2, r.code(), r.out() + r.err());
    assertTrue(r.err().contains(dir.toString()), r.err());
  }

  /**
   * A benchmark line cut off mid-object said "line 3: not JSON: ... (start marker at [Source: REDACTED
   * (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION` disabled); line: 1, column: 41])": a "line 1" beside
   * our line 3, and Jackson's feature and class names (NaN, a second object on the line) addressed to a
   * Java programmer, not to whoever wrote the file.
   */
  @Test
  void aLineThatIsNotJsonIsSaidInTheFilesTermsOnly() throws Exception {
    String good = "{\"id\": \"g\", \"prompt\": \"q\", \"outcomes\": {\"a\": 1, \"b\": 0}}\n";
    for (String bad : List.of("{\"id\": \"x\", \"prompt\": \"hi\", \"outcomes\": {",
        "{\"id\": \"x\", \"prompt\": \"hi\", \"outcomes\": {\"a\": NaN}}",
        "{\"id\": \"x\", \"prompt\": \"hi\"} {\"id\": \"y\"}")) {
      Path bench = Files.writeString(tmp.resolve("bad.jsonl"), good + good.replace("\"g\"", "\"h\"") + bad + "\n" + good);
      LearnedRoutersEndToEndTest.Run r = LearnedRoutersEndToEndTest.run(List.of("calibrate", "--router", "length",
          "--input", bench.toString(), "--strong-percent", "30", "--quiet"));
      assertEquals(2, r.code(), r.out() + r.err());
      String err = r.err().strip();
      assertEquals(1, err.lines().count(), err);
      assertTrue(err.contains("bad.jsonl: line 3: not JSON"), err);
      assertFalse(err.contains("line: 1") || err.contains("Source") || err.contains("`"), err);
    }
  }

  /**
   * {@code distill --align} with a line that is not JSON: only the file's existence was checked up front,
   * so it distilled every vocabulary token through MiniLM first (22 s on 2 cores) and then failed on the
   * file's line 2. Said at once, as a bad --corpus file is.
   */
  @Test
  void distillReadsItsAlignFilesBeforeDistilling() throws Exception {
    Path prompts = Files.writeString(tmp.resolve("align.jsonl"), "{\"prompt\": \"a question\"}\n{\"prompt\": \n");
    Path out = tmp.resolve("table");
    long start = System.nanoTime();
    LearnedRoutersEndToEndTest.Run r = LearnedRoutersEndToEndTest.run(List.of("distill", "--out", out.toString(),
        "--align", prompts.toString(), "--quiet"));
    long seconds = (System.nanoTime() - start) / 1_000_000_000L;
    assertEquals(2, r.code(), r.out() + r.err());
    assertTrue(r.err().contains("align.jsonl: line 2"), r.err());
    assertTrue(seconds < 5, "failed after " + seconds + " s: the vocabulary was distilled first");
    assertFalse(Files.exists(out));
  }
}
