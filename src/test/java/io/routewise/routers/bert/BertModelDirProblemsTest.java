package io.routewise.routers.bert;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.routewise.config.ConfigProblems;
import io.routewise.routers.ModelDir;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A corrupt or mismatched bert directory stops the start with one clear problem naming the file. */
class BertModelDirProblemsTest {

  static String problemFor(Path dir, String extra) {
    ConfigProblems problems = new ConfigProblems();
    Map<String, ?> loaded = BertClassifierTest.load("{bert: {model_dir: \"" + dir + "\"" + extra + "}}", problems);
    assertTrue(loaded.isEmpty(), "nothing is loaded when a router fails");
    String all = String.join("\n", problems.list());
    assertTrue(all.startsWith("routers.bert"), all);
    return all;
  }

  static void assertMentions(String problem, String... parts) {
    for (String p : parts) {
      assertTrue(problem.contains(p), "expected '" + p + "' in: " + problem);
    }
  }

  @Test
  void labelsInConfigThatDoNotMatchTheModelsLogits(@TempDir Path tmp) throws Exception {
    Path dir = BertClassifierTest.copyTiny(tmp);
    Files.writeString(dir.resolve("config.json"), "{\"id2label\": {\"0\": \"weak\", \"1\": \"strong\"}}");
    assertMentions(problemFor(dir, ""), "model.onnx", "id2label has 2 labels");
  }

  @Test
  void aTruncatedOnnxFile(@TempDir Path tmp) throws Exception {
    Path dir = BertClassifierTest.copyTiny(tmp);
    byte[] bytes = Files.readAllBytes(dir.resolve("model.onnx"));
    Files.write(dir.resolve("model.onnx"), java.util.Arrays.copyOf(bytes, bytes.length / 3));
    assertMentions(problemFor(dir, ""), "model.onnx", "cannot run the ONNX model");
  }

  @Test
  void aConfigWithoutId2label(@TempDir Path tmp) throws Exception {
    Path dir = BertClassifierTest.copyTiny(tmp);
    Files.writeString(dir.resolve("config.json"), "{\"model_type\": \"bert\"}");
    assertMentions(problemFor(dir, ""), "config.json", "id2label");
  }

  @Test
  void aMissingTokenizer(@TempDir Path tmp) throws Exception {
    Path dir = BertClassifierTest.copyTiny(tmp);
    Files.delete(dir.resolve("tokenizer.json"));
    assertMentions(problemFor(dir, ""), "tokenizer.json", "missing");
  }

  @Test
  void aWeakOkLabelTheModelDoesNotHave() throws Exception {
    assertMentions(problemFor(BertClassifierTest.TINY, ", weak_ok_labels: [3]"), "weak_ok_labels", "out of range");
    assertMentions(problemFor(BertClassifierTest.TINY, ", weak_ok_labels: [tie]"), "'tie'", "LABEL_0");
  }

  /**
   * No label, or every label, meaning "the weak model is fine" leaves the classifier out of the
   * decision: the rate was 1 for every prompt (strong even at α = 1) or 0 (weak at any α above 0),
   * loaded without a word.
   */
  @Test
  void weakOkLabelsThatLeaveTheRateConstant() throws Exception {
    assertMentions(problemFor(BertClassifierTest.TINY, ", weak_ok_labels: []"), "weak_ok_labels", "none of");
    assertMentions(problemFor(BertClassifierTest.TINY, ", weak_ok_labels: [LABEL_0, 1, 2]"), "weak_ok_labels",
        "every label");
  }

  @Test
  void aManifestOfAnotherRouter(@TempDir Path tmp) throws Exception {
    Path dir = BertClassifierTest.copyTiny(tmp);
    Files.writeString(dir.resolve("manifest.json"), "{\"format_version\": 1, \"kind\": \"mf\"}");
    assertMentions(problemFor(dir, ""), "manifest.json", "kind is 'mf', expected 'bert'");
  }

  @Test
  void aDirectoryWithNeitherManifestNorModel(@TempDir Path tmp) throws Exception {
    assertMentions(problemFor(tmp, ""), "neither manifest.json nor model.onnx");
    assertMentions(problemFor(tmp.resolve("absent"), ""), "model directory not found");
  }

  @Test
  void aHeadWhoseWeightFileIsShort(@TempDir Path tmp) throws Exception {
    var m = ModelDir.newManifest("bert");
    m.put("form", "head");
    m.putObject("embedding").put("model", "all-minilm-l6-v2-q").put("dimension", 4);
    m.putArray("models").add("a").add("b");
    m.putArray("labels").add("strong_better").add("tie").add("weak_better");
    m.putArray("strong_win_weights").add(1).add(0.5).add(0);
    new BertHead(4, 0, 3, new float[0], new float[0], new float[12], new float[3]).save(tmp, m);
    ModelDir.writeManifest(tmp, m);
    Files.write(tmp.resolve("w2.f32"), new byte[20]);
    assertMentions(problemFor(tmp, ""), "w2.f32", "has 20 bytes, expected 48");
  }

  @Test
  void aHeadWithoutItsReading(@TempDir Path tmp) throws Exception {
    var m = ModelDir.newManifest("bert");
    m.putObject("embedding").put("model", "all-minilm-l6-v2-q").put("dimension", 4);
    m.putArray("models").add("a").add("b");
    m.putArray("labels").add("strong_better").add("tie").add("weak_better");
    new BertHead(4, 0, 3, new float[0], new float[0], new float[12], new float[3]).save(tmp, m);
    ModelDir.writeManifest(tmp, m);
    String p = problemFor(tmp, "");
    assertMentions(p, "manifest.json", "strong_win_weights");
    assertEquals(1, p.lines().count());
  }

  /** A classifier's manifest.json with {@code body} after its kind and form. */
  static Path classifierWithManifest(Path tmp, String body) throws Exception {
    Path dir = BertClassifierTest.copyTiny(tmp);
    Files.writeString(dir.resolve("manifest.json"),
        "{\"format_version\": 1, \"kind\": \"bert\", \"form\": \"classifier\", " + body + "}");
    return dir;
  }

  /**
   * A manifest's weak_ok_labels that is not a list ("1,2", a hand edit) was ignored: the default
   * reading loaded in its place, without a word.
   */
  @Test
  void aManifestWeakOkLabelsThatIsNotAListStopsTheStartNamingTheFile(@TempDir Path tmp) throws Exception {
    Path dir = classifierWithManifest(tmp.resolve("text"), "\"weak_ok_labels\": \"1,2\"");
    assertMentions(problemFor(dir, ""), dir.resolve("manifest.json").toString(), "weak_ok_labels");
    // a label it lacks was said as "weak_ok_labels: ...", read as the config's key the operator never set
    dir = classifierWithManifest(tmp.resolve("range"), "\"weak_ok_labels\": [7]");
    assertMentions(problemFor(dir, ""), dir.resolve("manifest.json").toString(), "weak_ok_labels", "out of range");
  }

  /**
   * A manifest's max_tokens or truncation out of range, or of another JSON type, stopped the start as
   * the config's routers.bert.truncation (which the operator never wrote) or as "max_tokens" of the
   * directory, or loaded: "256" as 256, true as a budget of 1. Each is now the manifest's, named.
   */
  @Test
  void aManifestTokenBudgetOrTruncationThatIsWrongStopsTheStartNamingTheFileAndTheKey(@TempDir Path tmp)
      throws Exception {
    String[][] cases = {
        {"\"truncation\": \"middle\"", "truncation"},
        {"\"truncation\": 1", "truncation"},
        {"\"max_tokens\": 4096", "max_tokens"},
        {"\"max_tokens\": \"256\"", "max_tokens"},
        {"\"max_tokens\": true", "max_tokens"}};
    for (int i = 0; i < cases.length; i++) {
      Path dir = classifierWithManifest(tmp.resolve("c" + i), cases[i][0]);
      String p = problemFor(dir, "");
      assertMentions(p, dir.resolve("manifest.json").toString(), "\"" + cases[i][1] + "\"");
      assertTrue(!p.contains("routers.bert." + cases[i][1]), p);
    }
  }

  /** strong_win_weights were read with asDouble: a quoted "0.5" loaded as 0.5, true as 1. */
  @Test
  void aHeadsStrongWinWeightOfAnotherJsonTypeStopsTheStart(@TempDir Path tmp) throws Exception {
    var m = ModelDir.newManifest("bert");
    m.put("form", "head");
    m.putObject("embedding").put("model", "all-minilm-l6-v2-q").put("dimension", 4);
    m.putArray("models").add("a").add("b");
    m.putArray("labels").add("strong_better").add("tie").add("weak_better");
    m.putArray("strong_win_weights").add(1).add("0.5").add(false);
    new BertHead(4, 0, 3, new float[0], new float[0], new float[12], new float[3]).save(tmp, m);
    ModelDir.writeManifest(tmp, m);
    assertMentions(problemFor(tmp, ""), "manifest.json", "strong_win_weights");
  }
}
