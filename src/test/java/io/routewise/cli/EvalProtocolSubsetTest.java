package io.routewise.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code eval --protocol} on part of the data: a stand-in with nothing to fold (no dcrouter gsm8k
 * rows) is left out and said; it trained every model and then died on "need equally many scores
 * and outcomes".
 */
class EvalProtocolSubsetTest {
  @TempDir
  Path tmp;

  /** 24 prompts of {@code source(i)}, outcomes of {@code strong} and {@code weak}, run through 3-fold eval --protocol. */
  private LearnedRoutersEndToEndTest.Run protocol(java.util.function.IntFunction<String> source, String strong,
      String weak) throws Exception {
    return protocol(source, strong, weak, i -> i % 3 == 0 ? 0 : 1, i -> i % 4 == 0 ? 1 : 0);
  }

  private LearnedRoutersEndToEndTest.Run protocol(java.util.function.IntFunction<String> source, String strong,
      String weak, java.util.function.IntUnaryOperator strongWins, java.util.function.IntUnaryOperator weakWins)
      throws Exception {
    String[] words = {"algebra", "history", "poem", "python", "chemistry", "travel", "law", "physics"};
    StringBuilder rows = new StringBuilder();
    for (int i = 0; i < 24; i++) {
      rows.append("{\"id\": \"").append(source.apply(i)).append('/').append(i).append("\", \"source\": \"")
          .append(source.apply(i)).append("\", \"prompt\": \"a question on ").append(words[i % words.length]).append(' ')
          .append(i).append("\", \"outcomes\": {\"").append(strong).append("\": ").append(strongWins.applyAsInt(i))
          .append(", \"").append(weak).append("\": ").append(weakWins.applyAsInt(i)).append("}}\n");
    }
    Path data = Files.writeString(tmp.resolve("subset.jsonl"), rows);
    return LearnedRoutersEndToEndTest.run(List.of("eval", "--protocol", data.toString(), "--folds", "3", "--quiet"));
  }

  /**
   * Prompts without text are left out of the protocol's training as train leaves them out (serve scores
   * none): the protocol, "today's recipe", trained mf on what models win on "".
   */
  @Test
  void promptsWithoutTextAreLeftOutOfTrainingAsTrainLeavesThemOut() throws Exception {
    StringBuilder rows = new StringBuilder();
    for (int i = 0; i < 24; i++) {
      String source = i % 2 == 0 ? "mmlu-gold" : "arena-bench-v1";
      String prompt = i % 4 == 1 ? "" : "a question on topic " + i; // 6 of arena's 12 without text
      rows.append("{\"id\": \"").append(source).append('/').append(i).append("\", \"source\": \"").append(source)
          .append("\", \"prompt\": \"").append(prompt).append("\", \"outcomes\": {\"gpt-4-1106-preview\": ")
          .append(i % 3 == 0 ? 0 : 1).append(", \"mixtral-8x7b-instruct-v0.1\": ").append(i % 4 == 0 ? 1 : 0).append("}}\n");
    }
    Path data = Files.writeString(tmp.resolve("blank.jsonl"), rows);
    LearnedRoutersEndToEndTest.Run r = LearnedRoutersEndToEndTest.run(List.of("eval", "--protocol", data.toString(),
        "--folds", "3", "--quiet"));
    assertEquals(0, r.code(), r.err());
    assertTrue(r.err().contains("training on 6 prompts (without mmlu-gold)"), r.err());
    assertTrue(r.err().contains("note: 6 of 24 prompts have no text and are left out of training"), r.err());
  }

  /**
   * A held-out prompt without text is scored as serve routes it, to the top, by every router: length
   * read its blanks as the shortest prompts (weak first) and mf scored them as text. Here only the
   * blank prompts need the strong model, so sending them first is the whole gain.
   */
  @Test
  void heldOutPromptsWithoutTextAreScoredAsServeRoutesThem() throws Exception {
    StringBuilder rows = new StringBuilder();
    for (int i = 0; i < 24; i++) {
      String source = i % 2 == 0 ? "mmlu-gold" : "arena-bench-v1";
      boolean blank = i % 4 == 0; // 6 of mmlu-gold's 12, of 1 to 6 spaces
      String prompt = blank ? " ".repeat(i / 4 + 1) : "a question on topic " + i;
      rows.append("{\"id\": \"").append(source).append('/').append(i).append("\", \"source\": \"").append(source)
          .append("\", \"prompt\": \"").append(prompt).append("\", \"outcomes\": {\"gpt-4-1106-preview\": ")
          .append(blank || i % 3 == 0 ? 1 : 0).append(", \"mixtral-8x7b-instruct-v0.1\": ").append(blank ? 0 : i % 3 == 0 ? 1 : 0)
          .append("}}\n");
    }
    Path data = Files.writeString(tmp.resolve("blank-held.jsonl"), rows);
    LearnedRoutersEndToEndTest.Run r = LearnedRoutersEndToEndTest.run(List.of("eval", "--protocol", data.toString(),
        "--folds", "3", "--quiet"));
    assertEquals(0, r.code(), r.err());
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("\\| length \\| (\\S+) \\|").matcher(r.out());
    assertTrue(m.find(), r.out());
    assertEquals(0.750, Double.parseDouble(m.group(1)), 1e-9, "length sends the blank prompts strong first (the best its"
        + " quantile thresholds reach): " + r.out());
  }

  @Test
  void aStandInWithoutRowsIsLeftOutAndSaid() throws Exception {
    LearnedRoutersEndToEndTest.Run r = protocol(i -> i % 2 == 0 ? "mmlu-gold" : "arena-bench-v1", "gpt-4-1106-preview",
        "mixtral-8x7b-instruct-v0.1");
    assertEquals(0, r.code(), r.err());
    assertTrue(r.err().contains("note: GSM8K: dcrouter gsm8k left out: 0 prompt(s) with outcomes of"), r.err());
    assertTrue(r.out().contains("MMLU: mmlu-gold (3-fold)") && !r.out().contains("GSM8K"), r.out());
  }

  /** Strong and weak of one quality: APGR is undefined, n/a in the table (it printed NaN), as null is in the JSON. */
  @Test
  void anUndefinedApgrReadsNotAvailable() throws Exception {
    LearnedRoutersEndToEndTest.Run r = protocol(i -> "mmlu-gold", "gpt-4-1106-preview", "mixtral-8x7b-instruct-v0.1",
        i -> i % 2, i -> (i + 1) % 2);
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains("n/a") && !r.out().contains("NaN"), r.out());
  }

  /** No stand-in at all (one source that is none): the K fold trainings had nothing to hold out or score. */
  @Test
  void withoutAnyStandInNoFoldIsTrained() throws Exception {
    LearnedRoutersEndToEndTest.Run r = protocol(i -> "zeroeval-crux", "gpt-4o-2024-05-13", "llama-3.1-8b-instruct");
    assertEquals(0, r.code(), r.err());
    assertEquals(0, r.err().lines().filter(l -> l.contains("(fold ")).count(), r.err());
    assertTrue(r.out().contains("zeroeval-crux (source held out)"), r.out());
  }

  /**
   * Data with none of the protocol's stand-ins or sources (your own labels): nothing is held out or
   * scored; it printed a table of no column, its means NaN, and exit 0 (and --json wrote that table).
   */
  @Test
  void dataWithNoneOfTheProtocolsSourcesIsRefusedNotATableOfNothing() throws Exception {
    LearnedRoutersEndToEndTest.Run r = protocol(i -> "my-labels", "gpt-4o-2024-05-13", "llama-3.1-8b-instruct");
    assertEquals(2, r.code(), r.out() + r.err());
    assertTrue(r.err().contains("subset.jsonl") && r.err().contains("zeroeval-crux"), r.err());
    assertTrue(!r.out().contains("NaN"), r.out());
  }

  /**
   * A pair the training of only some folds scored (its one outcome sits in one fold): the folds that
   * could not place it left their rows at score 0, and the column printed an APGR computed on those
   * zeros; it is "–", as for a pair no training scored.
   */
  @Test
  void aPairSomeFoldsCannotPlaceHasNoApgrRatherThanOneOnZeros() throws Exception {
    String[] words = {"algebra", "history", "poem", "python", "chemistry", "travel", "law", "physics"};
    StringBuilder rows = new StringBuilder();
    for (int i = 0; i < 24; i++) {
      rows.append("{\"id\": \"mmlu-gold/").append(i).append("\", \"source\": \"mmlu-gold\", \"prompt\": \"a question on ")
          .append(words[i % words.length]).append(' ').append(i).append("\", \"outcomes\": {\"gpt-4-1106-preview\": ")
          .append(i % 3 == 0 ? 0 : 1).append(", \"mixtral-8x7b-instruct-v0.1\": ").append(i % 4 == 0 ? 1 : 0);
      if (i == 0) { // the default pair, scored on this prompt alone
        rows.append(", \"gpt-4o-2024-05-13\": 1, \"llama-3.1-8b-instruct\": 0");
      }
      rows.append("}}\n");
    }
    Path data = Files.writeString(tmp.resolve("one-fold-pair.jsonl"), rows);
    LearnedRoutersEndToEndTest.Run r = LearnedRoutersEndToEndTest.run(
        List.of("eval", "--protocol", data.toString(), "--folds", "3", "--quiet"));
    assertEquals(0, r.code(), r.err());
    String row = r.out().lines().filter(l -> l.startsWith("| mf, default pair |")).findFirst().orElseThrow(() ->
        new AssertionError(r.out()));
    // the MMLU 3-fold column: two of three folds' trainings scored the default pair, the third could not
    assertEquals("–", row.split("\\|")[2].trim(), r.out());
  }
}
