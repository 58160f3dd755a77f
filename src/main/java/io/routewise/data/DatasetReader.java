package io.routewise.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads JSON Lines training or benchmark files, each line either
 *
 * <ul>
 *   <li>the outcomes format: {@code {"id","source","category","prompt","outcomes":{model: score}}}, or
 *   <li>a Chatbot-Arena battle: {@code {"prompt","model_a","model_b","winner"}} with winner
 *       {@code model_a | model_b | tie | tie (bothbad)}; {@code prompt} may also be a list of user turns
 *       (the first is used). Battles on the same prompt text are grouped under one prompt.
 * </ul>
 *
 * Lines that are neither are errors naming the file and line number.
 */
public final class DatasetReader {
  // one object a line: what follows it ({...} garbage, or a second object) is an error, not dropped
  private static final ObjectMapper JSON = new ObjectMapper()
      .enable(com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

  private DatasetReader() {}

  /** The prompt records of outcomes-format files (battle rows give records with empty outcomes). */
  public static List<PromptRecord> readPrompts(Path file) throws IOException {
    OneFile out = new OneFile(file);
    forEachLine(file, out::add);
    return out.records;
  }

  /**
   * A file's outcomes-format records in order, lines of one id merged into the first: a labeling run
   * cut off while completing a prompt leaves a second line of its id, with the later outcomes (they win).
   * Counted twice, its earlier outcomes would weigh double in training, and could fall on both sides of a
   * hold-out. One id with two prompts is an error, and so is an id given twice to lines without outcomes
   * (prompts to score or calibrate on: a file concatenated twice would count each prompt twice; a
   * prompt without an id, named by its text, may repeat, as traffic does).
   */
  private static final class OneFile {
    final Path file;
    final List<PromptRecord> records = new ArrayList<>();
    final Map<String, Integer> byId = new HashMap<>();
    /** Lines without outcomes, by their given id: the line it was first given on. */
    final Map<String, Integer> promptLines = new HashMap<>();

    OneFile(Path file) {
      this.file = file;
    }

    void add(int line, JsonNode node) throws IOException {
      PromptRecord r = record(file, line, node);
      if (node.hasNonNull("id") && !node.has("outcomes")) {
        Integer earlier = promptLines.putIfAbsent(r.id(), line);
        if (earlier != null) {
          throw new IOException(file + ": line " + line + ": id '" + r.id() + "' is line " + earlier + "'s too");
        }
      }
      Integer at = node.hasNonNull("id") && node.has("outcomes") ? byId.putIfAbsent(r.id(), records.size()) : null;
      if (at == null) {
        records.add(r);
        return;
      }
      PromptRecord first = records.get(at);
      if (!first.prompt().equals(r.prompt())) {
        throw new IOException(file + ": line " + line + ": id '" + r.id() + "' is an earlier line's, with another prompt");
      }
      Map<String, Double> outcomes = new LinkedHashMap<>(first.outcomes());
      outcomes.putAll(r.outcomes());
      records.set(at, new PromptRecord(first.id(), first.source(), first.category(), first.prompt(), outcomes));
    }
  }

  public static Dataset read(List<Path> files) throws IOException {
    for (int i = 0; i < files.size(); i++) {
      for (int j = 0; j < i; j++) {
        if (Files.exists(files.get(i)) && Files.exists(files.get(j)) && Files.isSameFile(files.get(i), files.get(j))) {
          // two globs that overlap: each prompt would count twice, in training and in a hold-out
          throw new IOException(files.get(i) + " is given twice (as " + files.get(j) + " too)");
        }
      }
    }
    Dataset.Builder b = new Dataset.Builder();
    for (Path f : files) {
      Map<String, List<Battle>> battlesByPrompt = new LinkedHashMap<>();
      Map<String, Integer> firstLine = new HashMap<>();
      OneFile records = new OneFile(f);
      forEachLine(f, (line, node) -> {
        if (node.has("outcomes")) {
          records.add(line, node);
        } else if (!node.has("model_a") && !node.has("model_b")) {
          throw new IOException(f + ": line " + line + ": no \"outcomes\" (nor a battle's model_a, model_b and "
              + "winner): prompts without results train and evaluate nothing; 'routewise label' gets them");
        } else {
          String text = promptText(f, line, node);
          String modelA = node.path("model_a").isTextual() ? node.get("model_a").asText() : "";
          String modelB = node.path("model_b").isTextual() ? node.get("model_b").asText() : "";
          if (modelA.isBlank() || modelB.isBlank()) {
            throw new IOException(f + ": line " + line + ": a battle needs \"model_a\" and \"model_b\", each a model id");
          }
          if (modelA.equals(modelB)) {
            throw new IOException(f + ": line " + line + ": model_a and model_b are both '" + modelA
                + "': a battle is between two models");
          }
          battlesByPrompt.computeIfAbsent(text, k -> new ArrayList<>()).add(new Battle(line, modelA, modelB, node));
          firstLine.putIfAbsent(text, line);
        }
      });
      for (PromptRecord r : records.records) {
        b.prompt(r);
        b.outcomes(r.outcomes());
      }
      String source = f.getFileName().toString().replaceFirst("\\.jsonl$", "");
      for (var e : battlesByPrompt.entrySet()) {
        b.prompt(new PromptRecord(source + "/" + firstLine.get(e.getKey()), source, null, e.getKey(), Map.of()));
        for (Battle n : e.getValue()) {
          int a = b.model(n.modelA());
          int c = b.model(n.modelB());
          switch (n.node().path("winner").asText()) {
            case "model_a" -> b.battle(a, c, false);
            case "model_b" -> b.battle(c, a, false);
            case "tie", "tie (bothbad)" -> b.battle(a, c, true);
            default -> throw new IOException(f + ": line " + n.line()
                + ": winner must be model_a, model_b, tie or tie (bothbad), got '" + n.node().path("winner").asText() + "'");
          }
        }
      }
    }
    return b.build();
  }

  /** A battle row and the line it was read from. */
  private record Battle(int line, String modelA, String modelB, JsonNode node) {}

  private interface LineHandler {
    void accept(int line, JsonNode node) throws IOException;
  }

  private static void forEachLine(Path file, LineHandler handler) throws IOException {
    if (Files.isDirectory(file)) {
      throw new IOException(file + ": a directory, not a file of JSON lines");
    }
    try (BufferedReader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
      String s;
      int line = 0;
      while (true) {
        try {
          s = r.readLine();
        } catch (java.nio.charset.CharacterCodingException e) {
          throw Utf8Text.notUtf8(file);
        }
        if (s == null) {
          break;
        }
        line++;
        if (line == 1 && s.startsWith("\uFEFF")) {
          s = s.substring(1); // a byte-order mark, as some editors write UTF-8
        }
        if (s.isBlank()) {
          continue;
        }
        JsonNode node;
        try {
          node = JSON.readTree(s);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
          // the message without Jackson's location: its "line 1" is the line's own, beside ours
          throw new IOException(file + ": line " + line + ": not JSON: " + jsonProblem(e)
              + (e.getLocation() == null ? "" : " (column " + e.getLocation().getColumnNr() + ")"), e);
        }
        if (!node.isObject()) {
          throw new IOException(file + ": line " + line + ": expected a JSON object");
        }
        handler.accept(line, node);
      }
    }
  }

  /**
   * Jackson's message on a line of a file that is not JSON, for whoever wrote the file (JsonMessages),
   * its "line 1" (the line's own, beside the file's line said before it) left out.
   */
  public static String jsonProblem(com.fasterxml.jackson.core.JsonProcessingException e) {
    String s = io.routewise.config.JsonMessages.readable(e.getOriginalMessage()).replace("line 1, column ", "column ");
    return s.substring(0, s.length() - 1); // its full stop: the column follows
  }

  private static String promptText(Path file, int line, JsonNode node) throws IOException {
    JsonNode p = node.get("prompt");
    if (p != null && p.isArray() && !p.isEmpty()) {
      p = p.get(0);
    }
    if (p == null || !p.isTextual()) {
      throw new IOException(file + ": line " + line + ": needs a \"prompt\" string"
          + (node.has("outcomes") || node.has("model_a") ? "" : " (and \"outcomes\", or model_a/model_b/winner)"));
    }
    return p.asText();
  }

  private static PromptRecord record(Path file, int line, JsonNode node) throws IOException {
    String prompt = promptText(file, line, node);
    Map<String, Double> outcomes = new LinkedHashMap<>();
    JsonNode o = node.get("outcomes");
    if (o != null) {
      if (!o.isObject()) {
        throw new IOException(file + ": line " + line + ": \"outcomes\" must be an object of model to score");
      }
      var it = o.fields();
      while (it.hasNext()) {
        var e = it.next();
        if (e.getValue().isNumber() && Double.isFinite(e.getValue().asDouble())) {
          outcomes.put(e.getKey(), e.getValue().asDouble());
        } else if (e.getValue().isNumber()) { // 1e400: Jackson reads it as infinity, and training diverges on it
          throw new IOException(file + ": line " + line + ": the outcome of '" + e.getKey() + "' must be a finite "
              + "number, got " + e.getValue());
        } else if (!e.getValue().isNull()) { // null: no result, as a partial run leaves; anything else is a mistake
          throw new IOException(file + ": line " + line + ": the outcome of '" + e.getKey() + "' must be a number, got "
              + e.getValue());
        }
      }
    }
    String id = node.hasNonNull("id") ? node.get("id").asText() : PromptRecord.textId(prompt);
    String source = node.hasNonNull("source") ? node.get("source").asText()
        : file.getFileName().toString().replaceFirst("\\.jsonl$", "");
    String category = node.hasNonNull("category") ? node.get("category").asText() : null;
    return new PromptRecord(id, source, category, prompt, outcomes);
  }
}
