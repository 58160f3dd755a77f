package io.routewise.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Answers {@code label} bought that the judge gave no rating for, kept beside the output in
 * {@code <output>.unrated} (one {@code {"id","model","upstream_model","prompt_sha256","answer"}} line
 * each) so that a rerun asks the judge again without buying them again. An answer is used only for
 * the same prompt text and the same upstream model it was bought from. The file is rewritten with what is still unrated when a run ends, and
 * removed once nothing is.
 */
final class UnratedAnswers implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();

  private final Path file;
  /** id, outcome id, the upstream's model and the prompt's hash -> the answer. */
  private final Map<String, String> kept = new ConcurrentHashMap<>();
  private BufferedWriter out;
  /** The file ends inside a line (a run killed mid-write): the next line written starts a new one. */
  private boolean cutOff;

  private UnratedAnswers(Path file) {
    this.file = file;
  }

  static Path fileFor(Path output) {
    return output.resolveSibling(output.getFileName() + ".unrated");
  }

  /**
   * What earlier runs kept for {@code output}, less the answers whose outcome {@code written} (its
   * lines by id) holds already; a line cut off by an interrupted run is skipped.
   */
  static UnratedAnswers open(Path output, Map<String, ObjectNode> written) throws IOException {
    return open(output, written, Map.of());
  }

  /**
   * As {@link #open(Path, Map)}, an answer kept under an old outcome id read as kept under its new
   * one ({@code moved}: {@code <old id>\u0000<upstream model> -> new id}, label's moved ids), so an
   * earlier build's unrated answers are rated, not bought again.
   */
  static UnratedAnswers open(Path output, Map<String, ObjectNode> written, Map<String, String> moved) throws IOException {
    UnratedAnswers a = new UnratedAnswers(fileFor(output));
    if (Files.exists(a.file)) {
      // decoded leniently: a line cut inside a character is skipped as any cut line is
      String content = new String(Files.readAllBytes(a.file), StandardCharsets.UTF_8);
      a.cutOff = !content.isEmpty() && !content.endsWith("\n");
      for (String raw : content.split("\n")) {
        JsonNode line;
        try {
          line = raw.isBlank() ? null : JSON.readTree(raw);
        } catch (IOException cutOff) {
          continue;
        }
        if (line instanceof ObjectNode o && o.path("answer").isTextual()) {
          String id = o.path("id").asText();
          String model = moved.getOrDefault(o.path("model").asText() + "\u0000" + o.path("upstream_model").asText(),
              o.path("model").asText());
          if (!written.getOrDefault(id, JSON.createObjectNode()).path("outcomes").has(model)) {
            a.kept.put(key(id, model, o.path("upstream_model").asText(), o.path("prompt_sha256").asText()),
                o.get("answer").asText());
          }
        }
      }
    }
    return a;
  }

  /** How many answers are kept. */
  int size() {
    return kept.size();
  }

  /** The answer {@code upstreamModel} gave to this prompt, kept under outcome id {@code model}; or null. */
  String answer(String id, String model, String upstreamModel, String prompt) {
    return kept.get(key(id, model, upstreamModel, sha256(prompt)));
  }

  /** Keeps an answer the judge did not rate, at once (an interrupted run keeps it too). */
  synchronized void keep(String id, String model, String upstreamModel, String prompt, String answer) throws IOException {
    String sha = sha256(prompt);
    if (kept.put(key(id, model, upstreamModel, sha), answer) != null) {
      return; // kept already (this run sent it to the judge again)
    }
    if (out == null) {
      out = Files.newBufferedWriter(file, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
      if (cutOff) {
        out.newLine();
      }
    }
    out.write(PromptFiles.jsonLine(JSON, line(id, model, upstreamModel, sha, answer)));
    out.newLine();
    out.flush();
  }

  /** An outcomes line was written: the answers it rated are no longer kept. */
  void written(ObjectNode line) {
    String id = line.path("id").asText();
    kept.keySet().removeIf(k -> k.startsWith(id + "\u0000") && line.path("outcomes").has(k.split("\u0000", 4)[1]));
  }

  /**
   * Ends the run's writes; with {@code compact}, rewrites the file with what is still unrated (none:
   * removed), less the answers to a prompt whose text in {@code prompts} (id -> text) has changed.
   */
  synchronized void close(boolean compact, Map<String, String> prompts) throws IOException {
    if (out != null) {
      out.close();
      out = null;
    }
    if (!compact) {
      return;
    }
    kept.keySet().removeIf(k -> {
      String[] f = k.split("\u0000", 4);
      String text = prompts.get(f[0]);
      return text != null && !sha256(text).equals(f[3]);
    });
    if (kept.isEmpty()) {
      Files.deleteIfExists(file);
      return;
    }
    StringBuilder content = new StringBuilder();
    for (var e : kept.entrySet()) {
      String[] f = e.getKey().split("\u0000", 4);
      content.append(PromptFiles.jsonLine(JSON, line(f[0], f[1], f[2], f[3], e.getValue()))).append('\n');
    }
    Path next = file.resolveSibling(file.getFileName() + ".next");
    Files.writeString(next, content, StandardCharsets.UTF_8);
    Files.move(next, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
  }

  @Override
  public void close() throws IOException {
    close(false, Map.of());
  }

  private static ObjectNode line(String id, String model, String upstreamModel, String sha, String answer) {
    return JSON.createObjectNode().put("id", id).put("model", model).put("upstream_model", upstreamModel)
        .put("prompt_sha256", sha).put("answer", answer);
  }

  private static String key(String id, String model, String upstreamModel, String sha) {
    return id + "\u0000" + model + "\u0000" + upstreamModel + "\u0000" + sha;
  }

  private static String sha256(String text) {
    try {
      return java.util.HexFormat.of().formatHex(
          java.security.MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8)));
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
