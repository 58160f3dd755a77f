package io.routewise.cli;

import static io.routewise.cli.LearnedRoutersEndToEndTest.run;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.routewise.cli.LearnedRoutersEndToEndTest.Run;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What train, distill and replay do with bad input and bad options (a review of the offline
 * commands): one line naming the problem and exit 2, before the work, and never a model or a data
 * file damaged. On the default static table, so each run takes a second.
 */
class TrainInputsTest {
  static final Path OUTCOMES = LearnedRoutersEndToEndTest.OUTCOMES;

  @TempDir
  Path tmp;

  private static Run train(String... args) {
    List<String> all = new ArrayList<>(List.of("train"));
    all.addAll(List.of(args));
    all.addAll(List.of("--quiet"));
    return run(all);
  }

  private static void assertUsageError(Run r, String expected) {
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains(expected), r.err());
    assertFalse(r.err().contains("\tat "), "no stack trace: " + r.err());
  }

  private Path data(String... lines) throws Exception {
    Path f = Files.createTempFile(tmp, "data", ".jsonl");
    Files.writeString(f, String.join("\n", lines) + "\n");
    return f;
  }

  @Test
  void anInfiniteScoreIsRefusedNamingItsLine() throws Exception {
    // 1e400 parses as infinity: training diverged and wrote a model of NaN with exit 0
    Path f = data("{\"prompt\": \"a\", \"outcomes\": {\"x\": 1, \"y\": 0}}",
        "{\"prompt\": \"b\", \"outcomes\": {\"x\": 1e400, \"y\": 0}}");
    Path out = tmp.resolve("mf");
    assertUsageError(train("mf", "--data", f.toString(), "--out", out.toString(), "--holdout", "none"),
        "line 2: the outcome of 'x' must be a finite number");
    assertFalse(Files.exists(out));
  }

  @Test
  void optionsOutOfRangeAreUsageErrorsBeforeAnyWork() {
    String out = tmp.resolve("m").toString();
    String d = OUTCOMES.toString();
    assertUsageError(train("mf", "--data", d, "--out", out, "--lr", "NaN"), "--lr must be a number > 0, got NaN");
    assertUsageError(train("mf", "--data", d, "--out", out, "--dim", "-3"), "--dim must be at least 1, got -3");
    assertUsageError(train("mf", "--data", d, "--out", out, "--iterations", "0"), "--iterations must be at least 1");
    assertUsageError(train("mf", "--data", d, "--out", out, "--length-prior", "NaN"), "--length-prior must be a number >= 0");
    assertUsageError(train("sw", "--data", d, "--out", out, "--temperature", "0"), "--temperature must be a number > 0");
    assertUsageError(train("bert", "--data", d, "--out", out, "--batch", "0"), "--batch must be at least 1, got 0");
    assertUsageError(train("bert", "--data", d, "--out", out, "--hidden", "-1"), "--hidden must be at least 0");
    assertUsageError(train("mf", "--data", d, "--out", out, "--holdout", "fraction:abc"),
        "holdout fraction must be a number in (0, 1), got 'abc'");
    assertUsageError(train("mf", "--data", d, "--out", out, "--truncation", "bogus"),
        "truncation must be head or head_tail, got 'bogus'");
    assertUsageError(run(List.of("eval", "--protocol", d, "--folds", "1")), "--folds must be at least 2, got 1");
    assertFalse(Files.exists(tmp.resolve("m")));
  }

  @Test
  void aStrongModelTypoIsRefusedInsteadOfReplacedByTheFirstModel() {
    Path out = tmp.resolve("mf");
    assertUsageError(train("mf", "--data", OUTCOMES.toString(), "--out", out.toString(), "--strong-model",
        "strong-modle"), "--strong-model strong-modle is not a model of");
    assertFalse(Files.exists(out));
  }

  /**
   * Data without the default pair (gpt-4o-2024-05-13, llama-3.1-8b-instruct): the manifest's
   * default_strong was the data's first model id and default_weak its last, here the middling model
   * and the one that never wins, whatever their results; serve falls back on this pair for upstreams
   * it cannot place. It is now the models that won the most and the fewest battles, said on stderr.
   */
  @Test
  void withoutTheDefaultPairTheManifestsPairIsTheDatasStrongestAndWeakestModel() throws Exception {
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < 24; i++) {
      lines.add("{\"id\": \"q" + i + "\", \"prompt\": \"question " + "x".repeat(i * 7) + "\", \"outcomes\": "
          + "{\"mid\": " + (i % 2) + ", \"weakest\": 0, \"top\": 1}}");
    }
    Path f = data(lines.toArray(String[]::new));
    for (String kind : List.of("sw", "mf")) {
      Path out = tmp.resolve(kind);
      Run r = train(kind, "--data", f.toString(), "--out", out.toString(), "--holdout", "none", "--iterations", "20");
      assertEquals(0, r.code(), r.err());
      var m = io.routewise.routers.ModelDir.json().readTree(out.resolve("manifest.json").toFile());
      assertEquals("top", m.path("default_strong").asText(), kind);
      assertEquals("weakest", m.path("default_weak").asText(), kind);
      assertTrue(r.err().contains("default pair is top (strong) and weakest (weak)"), r.err());
    }
  }

  /**
   * A prompt without text trained mf on what models win on "" (which serve never asks: such a request
   * goes to the top unscored), without a word. It is left out of training, said.
   */
  @Test
  void promptsWithoutTextAreLeftOutOfTrainingSaid() throws Exception {
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < 24; i++) {
      String prompt = i < 2 ? " ".repeat(i) : "question " + "x".repeat(i * 7);
      lines.add("{\"id\": \"q" + i + "\", \"prompt\": \"" + prompt + "\", \"outcomes\": "
          + "{\"a\": " + (i % 2) + ", \"b\": 0}}");
    }
    Path out = tmp.resolve("mf");
    Run r = train("mf", "--data", data(lines.toArray(String[]::new)).toString(), "--out", out.toString(), "--holdout",
        "none", "--iterations", "20");
    assertEquals(0, r.code(), r.err());
    assertTrue(r.err().contains("note: 2 of 24 prompts have no text and are left out of training"), r.err());
    var m = io.routewise.routers.ModelDir.json().readTree(out.resolve("manifest.json").toFile());
    assertEquals(22, m.path("training").path("prompts_train").asInt(), m.toString());
  }

  /** Every prompt without text: the refusal says so, not that --holdout left nothing (it held out none). */
  @Test
  void dataWhosePromptsAllLackTextIsRefusedSayingSo() throws Exception {
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < 6; i++) {
      lines.add("{\"id\": \"q" + i + "\", \"prompt\": \" \", \"outcomes\": {\"a\": " + (i % 2) + ", \"b\": 0}}");
    }
    Run r = train("mf", "--data", data(lines.toArray(String[]::new)).toString(), "--out", tmp.resolve("mf").toString(),
        "--holdout", "none");
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("no prompt with text to train on"), r.err());
  }

  @Test
  void theHeldOutFileIsNeverADataFile() throws Exception {
    Path f = Files.copy(OUTCOMES, tmp.resolve("victim.jsonl"));
    byte[] before = Files.readAllBytes(f);
    assertUsageError(train("mf", "--data", f.toString(), "--out", tmp.resolve("mf").toString(), "--heldout-out",
        f.toString()), "--heldout-out " + f + " is a --data file");
    assertArrayEquals(before, Files.readAllBytes(f));
  }

  @Test
  void theSameFileTwiceIsRefusedRatherThanCountedTwice() {
    assertUsageError(train("mf", "--data", OUTCOMES.toString(), OUTCOMES.toAbsolutePath().toString(), "--out",
        tmp.resolve("mf").toString()), "is given twice");
  }

  @Test
  void battleRowsNameTheirOwnLineAndNeedTwoModels() throws Exception {
    String p = "\"prompt\": \"same text\"";
    Path bad = data("{" + p + ", \"model_a\": \"a\", \"model_b\": \"b\", \"winner\": \"model_a\"}",
        "{\"prompt\": \"other\", \"model_a\": \"a\", \"model_b\": \"b\", \"winner\": \"model_b\"}",
        "{" + p + ", \"model_a\": \"a\", \"model_b\": \"b\", \"winner\": \"model_x\"}");
    assertUsageError(train("mf", "--data", bad.toString(), "--out", tmp.resolve("m1").toString()),
        "line 3: winner must be model_a, model_b, tie or tie (bothbad), got 'model_x'");
    Path noB = data("{" + p + ", \"model_a\": \"a\", \"winner\": \"model_a\"}");
    assertUsageError(train("mf", "--data", noB.toString(), "--out", tmp.resolve("m2").toString()),
        "line 1: a battle needs \"model_a\" and \"model_b\"");
    Path same = data("{" + p + ", \"model_a\": \"a\", \"model_b\": \"a\", \"winner\": \"tie\"}");
    assertUsageError(train("mf", "--data", same.toString(), "--out", tmp.resolve("m3").toString()),
        "line 1: model_a and model_b are both 'a'");
  }

  /** Prompts of one length left the length scale a std of 1e-6: every other length scored ~0 (always weak), exit 0. */
  @Test
  void promptsAllOfOneLengthOrASinglePromptAreRefusedBeforeTraining() throws Exception {
    Path oneLength = data("{\"prompt\": \"aaaa\", \"outcomes\": {\"x\": 1, \"y\": 0}}",
        "{\"prompt\": \"bbbb\", \"outcomes\": {\"x\": 1, \"y\": 1}}",
        "{\"prompt\": \"cccc\", \"outcomes\": {\"x\": 0, \"y\": 0}}");
    Path single = data("{\"prompt\": \"Prove it.\", \"outcomes\": {\"x\": 1, \"y\": 0}}");
    for (String kind : List.of("mf", "sw")) {
      Path out = tmp.resolve(kind);
      assertUsageError(train(kind, "--data", oneLength.toString(), "--out", out.toString(), "--holdout", "none",
          "--iterations", "5", "--dim", "2"), "all 3 prompts to train on are 4 characters long");
      assertUsageError(train(kind, "--data", single.toString(), "--out", out.toString(), "--holdout", "none",
          "--iterations", "5", "--dim", "2"), "one prompt to train on");
      assertFalse(Files.exists(out), "nothing written");
    }
  }

  @Test
  void aFileNotInUtf8NamesItsLine() throws Exception {
    Path f = tmp.resolve("latin1.jsonl");
    Files.write(f, ("{\"prompt\": \"a\", \"outcomes\": {\"x\": 1, \"y\": 0}}\n"
        + "{\"prompt\": \"caf\u00e9\", \"outcomes\": {\"x\": 1, \"y\": 0}}\n").getBytes(StandardCharsets.ISO_8859_1));
    assertUsageError(train("mf", "--data", f.toString(), "--out", tmp.resolve("mf").toString()), "line 2: not UTF-8");
  }

  /** A compressed file is said to be one: its error advised converting it from Latin-1. */
  @Test
  void aGzipFileIsSaidToBeCompressed() throws Exception {
    Path f = tmp.resolve("data.jsonl.gz");
    try (var gz = new java.util.zip.GZIPOutputStream(Files.newOutputStream(f))) {
      gz.write("{\"prompt\": \"a\", \"outcomes\": {\"x\": 1, \"y\": 0}}\n".getBytes(StandardCharsets.UTF_8));
    }
    assertUsageError(train("mf", "--data", f.toString(), "--out", tmp.resolve("mf").toString()),
        "data.jsonl.gz: is gzip-compressed, not JSON lines; decompress it first");
  }

  @Test
  void aSourceRescaledBecauseOfOneScoreOutsideZeroOneIsSaid() throws Exception {
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < 150; i++) {
      lines.add("{\"prompt\": \"question " + i + "\", \"source\": \"s\", \"outcomes\": {\"x\": " + (i == 7 ? 10 : 1)
          + ", \"y\": " + (i % 2) + "}}");
    }
    Path f = data(lines.toArray(String[]::new));
    Run r = train("mf", "--data", f.toString(), "--out", tmp.resolve("mf").toString(), "--holdout", "none",
        "--iterations", "5", "--dim", "2");
    assertEquals(0, r.code(), r.err());
    assertTrue(r.err().contains("source s: scores in [0, 10], 1 of 300 outside [0, 1]: rescaled") && r.err().contains("typos?"),
        r.err());
  }

  @Test
  void aDivergedRunLeavesTheModelItWouldReplaceWhole() throws Exception {
    Path out = tmp.resolve("mf");
    Run first = train("mf", "--data", OUTCOMES.toString(), "--out", out.toString(), "--holdout", "none",
        "--iterations", "5", "--dim", "2", "--strong-model", "strong-model", "--weak-model", "weak-model");
    assertEquals(0, first.code(), first.err());
    Files.writeString(out.resolve("README.md"), "how this model was made");
    List<byte[]> before = new ArrayList<>();
    List<Path> files = Files.list(out).sorted().toList();
    for (Path p : files) {
      before.add(Files.readAllBytes(p));
    }
    Run diverged = train("mf", "--data", OUTCOMES.toString(), "--out", out.toString(), "--holdout", "none",
        "--iterations", "20", "--dim", "2", "--lr", "1e30", "--force");
    assertUsageError(diverged, "training diverged");
    assertEquals(files, Files.list(out).sorted().toList());
    for (int i = 0; i < files.size(); i++) {
      assertArrayEquals(before.get(i), Files.readAllBytes(files.get(i)), files.get(i).toString());
    }
    try (var siblings = Files.list(tmp)) {
      assertTrue(siblings.noneMatch(p -> p.getFileName().toString().startsWith(".mf.new-")), "no staging left behind");
    }
  }

  @Test
  void aModelOfAnotherKindIsNotReplacedEvenWithForce() throws Exception {
    Path mf = Files.createDirectories(tmp.resolve("some-mf"));
    Files.writeString(mf.resolve("manifest.json"), "{\"kind\": \"mf\"}");
    Run r = run(List.of("distill", "--out", mf.toString(), "--force", "--quiet"));
    assertUsageError(r, "holds a mf model, not a static_embedding");
    assertEquals("{\"kind\": \"mf\"}", Files.readString(mf.resolve("manifest.json")));
    assertUsageError(train("sw", "--data", OUTCOMES.toString(), "--out", mf.toString(), "--force"),
        "holds a mf model, not a sw_ranking");
  }

  @Test
  void replayRefusesARateThatLeavesAWindowEmpty() throws Exception {
    Path prompts = data("{\"prompt\": \"a\"}", "{\"prompt\": \"b\"}");
    Run r = run(List.of("replay", "--router", "length", "--phase", prompts.toString(), "--strong-share", "0.5",
        "--window-s", "5", "--rate", "0.05", "--quiet"));
    assertUsageError(r, "at least one request a window");
    // each bad option named on its own, as the other commands name theirs
    assertUsageError(run(List.of("replay", "--router", "length", "--phase", prompts.toString(), "--strong-share", "1.5",
        "--quiet")), "routewise replay: --strong-share must be in [0, 1], got 1.5");
    assertUsageError(run(List.of("replay", "--router", "length", "--phase", prompts.toString(), "--strong-share", "0.5",
        "--tolerance", "-1", "--quiet")), "--tolerance must be in (0, 1), got -1.0");
  }

  @Test
  void aMissingInputOrAFileInTheWayOfAnOutputIsOneLineNamingIt() throws Exception {
    // distill read its --align files after minutes of distilling; an output under a file said only its path
    assertUsageError(run(List.of("distill", "--out", tmp.resolve("t").toString(), "--align",
        tmp.resolve("nope.jsonl").toString(), "--quiet")), "no such file: " + tmp.resolve("nope.jsonl"));
    Path file = Files.writeString(tmp.resolve("afile"), "x");
    assertUsageError(run(List.of("score", "--router", "length", "--input", LearnedRoutersEndToEndTest.PROMPTS.toString(),
        "--output", file.resolve("o.jsonl").toString(), "--quiet")), "cannot use " + file + ": a file is in the way");
  }

  @Test
  void scoreNeverWritesOverItsInput() throws Exception {
    // score --input p.jsonl --output p.jsonl replaced the prompts with {"id","score"} lines, exit 0 (label refuses it)
    Path prompts = data("{\"id\": \"a\", \"prompt\": \"What is 2+2?\"}", "{\"id\": \"b\", \"prompt\": \"Prove it.\"}");
    String before = Files.readString(prompts);
    assertUsageError(run(List.of("score", "--router", "length", "--input", prompts.toString(), "--output",
        tmp.resolve(".").resolve(prompts.getFileName()).toString(), "--quiet")), "--output is --input");
    assertEquals(before, Files.readString(prompts));
  }

  @Test
  void aHeldOutSourceThatIsNotInTheDataIsRefused() {
    // a typo held out nothing and trained on the very source meant to be kept out, exit 0
    assertUsageError(train("mf", "--data", OUTCOMES.toString(), "--out", tmp.resolve("mf").toString(), "--holdout",
        "source:synthetic-c", "--iterations", "5", "--dim", "2"), "no source [synthetic-c] in --data (its sources: "
        + "synthetic-a, synthetic-b)");
  }
}
