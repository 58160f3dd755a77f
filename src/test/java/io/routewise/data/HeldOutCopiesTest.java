package io.routewise.data;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.routewise.embedding.Embedder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A held-out question's copies, in its own file or another, never train. */
class HeldOutCopiesTest {
  @TempDir
  Path tmp;

  private static final Embedder NONE = new Embedder() {
    @Override
    public float[] embed(String text) {
      return new float[] {text.length()};
    }

    @Override
    public int dimension() {
      return 1;
    }

    @Override
    public String modelId() {
      return "length";
    }
  };

  /** A training set of two files, {@code gold} and {@code pro} (their rows), with gold held out whole. */
  private TrainingSet goldHeldOut(String goldRows, String proRows) throws Exception {
    Path gold = Files.writeString(tmp.resolve("gold.jsonl"), goldRows);
    Path pro = Files.writeString(tmp.resolve("pro.jsonl"), proRows);
    return TrainingSet.load(List.of(gold, pro), Holdout.parse("source:gold"), 0, NONE, false);
  }

  @Test
  void aSourceHeldOutTakesItsQuestionsCopiesInOtherSourcesOutOfTraining() throws Exception {
    TrainingSet set = goldHeldOut("""
        {"id": "g1", "prompt": "What is 2+2?", "outcomes": {"a": 1, "b": 0}}
        {"id": "g2", "prompt": "Name a prime.", "outcomes": {"a": 1, "b": 1}}
        """, """
        {"id": "p1", "prompt": "What is 2+2? ", "outcomes": {"a": 1, "c": 0}}
        {"id": "p2", "prompt": "What is 3+3?", "outcomes": {"a": 0, "c": 1}}
        """);
    assertEquals(List.of(0, 1), set.heldOut(), "measured on the held-out source's own rows");
    assertEquals(List.of(3), set.train(), "pro's copy of g1 (white space aside) trains no more");
    assertEquals(Set.of(0, 1, 2), set.data().withCopies(List.of(0, 1)));
  }

  @Test
  void aMultipleChoiceQuestionsCopyWithMoreOptionsIsTheSameQuestion() throws Exception {
    // MMLU-Pro repeats MMLU questions with six more options: 720 of mmlu-gold's 1,476 questions
    TrainingSet set = goldHeldOut("""
        {"id": "g1", "prompt": "The pulse can be palpated:\\nA. here\\nB. there\\nC. both\\nD. neither\\nAnswer:", "outcomes": {"a": 1, "b": 0}}
        """, """
        {"id": "p1", "prompt": "The pulse can be palpated:\\nA. there\\nB. here\\nC. both\\nD. neither\\nE. never\\nF. always\\nAnswer:", "outcomes": {"a": 1, "b": 1}}
        {"id": "p2", "prompt": "The pulse cannot be palpated:\\nA. here\\nB. there\\nAnswer:", "outcomes": {"a": 0, "b": 1}}
        {"id": "p3", "prompt": "The pulse can be palpated:", "outcomes": {"a": 0, "b": 1}}
        """);
    assertEquals(List.of(0), set.heldOut());
    assertEquals(List.of(2), set.train(), "p1 asks g1's question with other options, p3 without any: neither trains");
  }
}
