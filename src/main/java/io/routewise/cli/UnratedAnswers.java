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
import java.util.concurrent.atomic.AtomicLong;

/**
 * Answers {@code label} bought that the judge gave no rating for, kept beside the output in
 * {@code <output>.unrated} (one {@code {"id","model","prompt_sha256","answer"}} line each) so that a
 * rerun asks the judge again without buying them again. An answer is used only for the same prompt
 * text it was bought for. The file is rewritten with what is still unrated when a run ends, and
 * removed once nothing is.
 */
final class UnratedAnswers implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();

  private final Path file;
  /** id, model and the prompt's hash -> the answer. */
  private final Map<String, String> kept = new ConcurrentHashMap<>();
  private final AtomicLong reused = new AtomicLong();
  private BufferedWriter out;

  private UnratedAnswers(Path file) {
    this.file = file;
  }

  static Path fileFor(Path output) {
    return output.resolveSibling(output.getFileName() + ".unrated");
  }

  /** What earlier runs kept for {@code output}; a line cut off by an interrupted run is skipped. */
  static UnratedAnswers open(Path output) throws IOException {
    UnratedAnswers a = new UnratedAnswers(fileFor(output));
    if (Files.exists(a.file)) {
      for (String raw : Files.readString(a.file, StandardCharsets.UTF_8).split("\n")) {
        JsonNode line;
        try {
          line = raw.isBlank() ? null : JSON.readTree(raw);
        } catch (IOException cutOff) {
          continue;
        }
        if (line instanceof ObjectNode o && o.path("answer").isTextual()) {
          a.kept.put(key(o.path("id").asText(), o.path("model").asText(), o.path("prompt_sha256").asText()),
              o.get("answer").asText());
        }
      }
    }
    return a;
  }

  /** How many answers are kept. */
  int size() {
    return kept.size();
  }

  /** How many kept answers this run sent to the judge instead of buying them again. */
  long reused() {
    return reused.get();
  }

  /** The answer kept for this prompt and model, or null. */
  String answer(String id, String model, String prompt) {
    String a = kept.get(key(id, model, sha256(prompt)));
    if (a != null) {
      reused.incrementAndGet();
    }
    return a;
  }

  /** Keeps an answer the judge did not rate, at once (an interrupted run keeps it too). */
  synchronized void keep(String id, String model, String prompt, String answer) throws IOException {
    String sha = sha256(prompt);
    if (kept.put(key(id, model, sha), answer) != null) {
      return; // kept already (this run reused it)
    }
    if (out == null) {
      out = Files.newBufferedWriter(file, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    }
    ObjectNode line = JSON.createObjectNode().put("id", id).put("model", model).put("prompt_sha256", sha)
        .put("answer", answer);
    out.write(JSON.writeValueAsString(line));
    out.newLine();
    out.flush();
  }

  /** The judge rated it: no longer kept. */
  void rated(String id, String model, String prompt) {
    kept.remove(key(id, model, sha256(prompt)));
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
      String[] f = k.split("\u0000", 3);
      String text = prompts.get(f[0]);
      return text != null && !sha256(text).equals(f[2]);
    });
    if (kept.isEmpty()) {
      Files.deleteIfExists(file);
      return;
    }
    StringBuilder content = new StringBuilder();
    kept.forEach((k, answer) -> {
      String[] f = k.split("\u0000", 3);
      try {
        content.append(JSON.writeValueAsString(JSON.createObjectNode().put("id", f[0]).put("model", f[1])
            .put("prompt_sha256", f[2]).put("answer", answer))).append('\n');
      } catch (IOException e) {
        throw new IllegalStateException(e);
      }
    });
    Path next = file.resolveSibling(file.getFileName() + ".next");
    Files.writeString(next, content, StandardCharsets.UTF_8);
    Files.move(next, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
  }

  @Override
  public void close() throws IOException {
    close(false, Map.of());
  }

  private static String key(String id, String model, String sha) {
    return id + "\u0000" + model + "\u0000" + sha;
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
