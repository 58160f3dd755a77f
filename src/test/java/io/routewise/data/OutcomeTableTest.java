package io.routewise.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OutcomeTableTest {
  @TempDir
  Path tmp;

  @Test
  void gradedScoresStayAsTheyAreAndAJudgesScaleIsMappedOntoZeroToOne() throws Exception {
    Path graded = Files.writeString(tmp.resolve("graded.jsonl"), """
        {"id": "g1", "prompt": "a", "outcomes": {"x": 1.0, "y": 0.0}}
        {"id": "g2", "prompt": "b", "outcomes": {"x": 0.5}}
        """);
    Path judged = Files.writeString(tmp.resolve("judged.jsonl"), """
        {"id": "j1", "prompt": "c", "outcomes": {"x": 10, "y": 1}}
        {"id": "j2", "prompt": "d", "outcomes": {"x": 4, "y": 7}}
        """);
    Dataset data = DatasetReader.read(java.util.List.of(graded, judged));
    OutcomeTable t = OutcomeTable.of(data);
    int x = data.modelIndex("x");
    int y = data.modelIndex("y");
    assertEquals(1.0, t.score(0, x), 1e-6);
    assertEquals(0.0, t.score(0, y), 1e-6);
    assertEquals(0.5, t.score(1, x), 1e-6);
    assertTrue(Double.isNaN(t.score(1, y)), "y has no score on g2");
    assertEquals(1.0, t.score(2, x), 1e-6, "10 on the judged source's 1..10");
    assertEquals(0.0, t.score(2, y), 1e-6);
    assertEquals(3.0 / 9, t.score(3, x), 1e-6);
    assertEquals(6.0 / 9, t.score(3, y), 1e-6);
  }

  @Test
  void aModelScoredAloneOnItsPromptsIsAModelOfTheDataWithItsScores() throws Exception {
    // what 'label --upstreams one' writes: one outcome a prompt, no pair to battle
    Path alone = Files.writeString(tmp.resolve("alone.jsonl"), """
        {"id": "a1", "prompt": "a", "outcomes": {"solo": 0.75}}
        {"id": "a2", "prompt": "b", "outcomes": {"solo": 0.25}}
        """);
    Dataset data = DatasetReader.read(java.util.List.of(alone));
    assertEquals(java.util.List.of("solo"), data.models());
    OutcomeTable t = OutcomeTable.of(data);
    assertEquals(0.75, t.score(0, data.modelIndex("solo")), 1e-6);
    assertEquals(0.25, t.score(1, data.modelIndex("solo")), 1e-6);
  }

  @Test
  void linesOfOneIdAreOnePromptTheLaterOutcomesWinning() throws Exception {
    // what a labeling run cut off while completing a prompt leaves: a second line of its id
    Path labels = Files.writeString(tmp.resolve("labels.jsonl"), """
        {"id": "q", "prompt": "a", "outcomes": {"x": 0.5}}
        {"id": "r", "prompt": "b", "outcomes": {"x": 1.0, "y": 0.0}}
        {"id": "q", "prompt": "a", "outcomes": {"x": 0.25, "y": 1.0}}
        """);
    Dataset data = DatasetReader.read(java.util.List.of(labels));
    assertEquals(2, data.prompts().size());
    assertEquals(java.util.Map.of("x", 0.25, "y", 1.0), data.prompts().get(0).outcomes());
    OutcomeTable t = OutcomeTable.of(data);
    assertEquals(0.25, t.score(0, data.modelIndex("x")), 1e-6);
    assertEquals(2, DatasetReader.readPrompts(labels).size(), "eval reads it alike");
    Files.writeString(labels, """
        {"id": "q", "prompt": "a", "outcomes": {"x": 0.5}}
        {"id": "q", "prompt": "not a", "outcomes": {"y": 0.5}}
        """);
    var e = org.junit.jupiter.api.Assertions.assertThrows(java.io.IOException.class,
        () -> DatasetReader.read(java.util.List.of(labels)));
    assertTrue(e.getMessage().contains("line 2: id 'q' is an earlier line's, with another prompt"), e.getMessage());
  }

  /**
   * Prompts to score or calibrate on: an id given twice (a file concatenated twice) counted each of
   * its prompts twice in calibrate's shares, and gave score two rows of one id. Text without an id
   * repeats as traffic does.
   */
  @Test
  void anIdGivenTwiceToPromptsIsRefusedButRepeatedTextIsTraffic() throws Exception {
    Path prompts = Files.writeString(tmp.resolve("prompts.jsonl"), """
        {"prompt": "hi"}
        {"prompt": "hi"}
        {"id": "a", "prompt": "what is 2 + 2?"}
        {"id": "b", "prompt": "why?"}
        """);
    assertEquals(4, DatasetReader.readPrompts(prompts).size());
    Files.writeString(prompts, Files.readString(prompts) + "{\"id\": \"a\", \"prompt\": \"what is 2 + 2?\"}\n");
    var e = org.junit.jupiter.api.Assertions.assertThrows(java.io.IOException.class,
        () -> DatasetReader.readPrompts(prompts));
    assertTrue(e.getMessage().endsWith("line 5: id 'a' is line 3's too"), e.getMessage());
  }

  @Test
  void aPromptWithoutAnIdIsNamedByItsTextAsLabelNamesIt() throws Exception {
    // score's output joins label's (and stays put when lines are added above it)
    Path prompts = Files.writeString(tmp.resolve("prompts.jsonl"), """
        {"prompt": "what is 2 + 2?"}
        {"id": "given", "prompt": "b"}
        """);
    var read = DatasetReader.readPrompts(prompts);
    assertEquals(PromptRecord.textId("what is 2 + 2?"), read.get(0).id());
    assertTrue(read.get(0).id().matches("p-[0-9a-f]{12}"), read.get(0).id());
    assertEquals("given", read.get(1).id());
    org.junit.jupiter.api.Assertions.assertNotEquals(PromptRecord.textId("what is 2 + 2 ?"), read.get(0).id());
  }

  @Test
  void aLineWithoutResultsOrWithAScoreThatIsNotANumberIsAnErrorNamingIt() throws Exception {
    Path prompts = Files.writeString(tmp.resolve("prompts.jsonl"), "{\"id\": \"a\", \"prompt\": \"x\"}\n");
    var e = org.junit.jupiter.api.Assertions.assertThrows(java.io.IOException.class,
        () -> DatasetReader.read(java.util.List.of(prompts)));
    assertTrue(e.getMessage().contains("line 1: no \"outcomes\"") && e.getMessage().contains("routewise label"),
        e.getMessage());
    Path text = Files.writeString(tmp.resolve("text.jsonl"), """
        {"id": "a", "prompt": "x", "outcomes": {"m": 1, "partial": null}}
        {"id": "b", "prompt": "y", "outcomes": {"m": "0.5"}}
        """);
    e = org.junit.jupiter.api.Assertions.assertThrows(java.io.IOException.class,
        () -> DatasetReader.read(java.util.List.of(text)));
    assertTrue(e.getMessage().contains("line 2: the outcome of 'm' must be a number, got \"0.5\""), e.getMessage());
  }

  @Test
  void aByteOrderMarkIsReadPastAndBadJsonIsPlacedByOurLineAlone() throws Exception {
    Path bom = Files.writeString(tmp.resolve("bom.jsonl"), "\uFEFF{\"id\": \"a\", \"prompt\": \"x\", \"outcomes\": {\"m\": 1}}\n");
    assertEquals(1, DatasetReader.read(java.util.List.of(bom)).prompts().size());
    Path bad = Files.writeString(tmp.resolve("bad.jsonl"), "{\"id\": \"a\", \"prompt\": \"x\", \"outcomes\": {\"m\": 1}}\n{\"id\": oops}\n");
    var e = org.junit.jupiter.api.Assertions.assertThrows(java.io.IOException.class,
        () -> DatasetReader.read(java.util.List.of(bad)));
    assertTrue(e.getMessage().contains("line 2: not JSON: ") && !e.getMessage().contains("line: 1"), e.getMessage());
    // what follows a line's object was dropped silently (serve refuses it with a 400)
    Path trailing = Files.writeString(tmp.resolve("trailing.jsonl"),
        "{\"id\": \"a\", \"prompt\": \"hello\", \"outcomes\": {\"m\": 1}} trailing garbage\n");
    var t = org.junit.jupiter.api.Assertions.assertThrows(java.io.IOException.class,
        () -> DatasetReader.read(java.util.List.of(trailing)));
    assertTrue(t.getMessage().contains("line 1: not JSON: "), t.getMessage());
  }

  @Test
  void aPromptKnownOnlyFromBattlesGivesEachModelItsShareOfWins() throws Exception {
    Path battles = Files.writeString(tmp.resolve("arena.jsonl"), """
        {"prompt": "p", "model_a": "x", "model_b": "y", "winner": "model_a"}
        {"prompt": "p", "model_a": "x", "model_b": "z", "winner": "tie"}
        {"prompt": "p", "model_a": "y", "model_b": "z", "winner": "model_b"}
        """);
    Dataset data = DatasetReader.read(java.util.List.of(battles));
    OutcomeTable t = OutcomeTable.of(data);
    assertEquals(0.75, t.score(0, data.modelIndex("x")), 1e-6, "a win and a tie in two battles");
    assertEquals(0.0, t.score(0, data.modelIndex("y")), 1e-6);
    assertEquals(0.75, t.score(0, data.modelIndex("z")), 1e-6);
  }
}
