package io.routewise.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.routewise.routers.ModelDir;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Provenance of the cross-validated figures a manifest records ({@code train --crossval}): the table
 * {@code eval --protocol --json} writes says which embedding (and a table's fingerprint) and mf recipe
 * it measured, and {@code train} refuses a table of another embedding. Before, it held only columns
 * and APGRs, and the static table's figures went into a MiniLM model without a word (a review of the
 * shipped models' provenance).
 */
class CrossvalProvenanceTest {
  @TempDir
  Path tmp;

  private Path data() throws Exception {
    return protocolData(tmp);
  }

  /** 24 prompts of the MMLU and MT Bench stand-ins in {@code dir}, enough for a 3-fold eval --protocol. */
  static Path protocolData(Path dir) throws Exception {
    String[] words = {"algebra", "history", "poem", "python", "chemistry", "travel", "law", "physics"};
    StringBuilder rows = new StringBuilder();
    for (int i = 0; i < 24; i++) {
      String source = i % 2 == 0 ? "mmlu-gold" : "arena-bench-v1";
      rows.append("{\"id\": \"").append(source).append('/').append(i).append("\", \"source\": \"").append(source)
          .append("\", \"prompt\": \"a question on ").append(words[i % words.length]).append(' ').append(i)
          .append("\", \"outcomes\": {\"gpt-4-1106-preview\": ").append(i % 3 == 0 ? 0 : 1)
          .append(", \"mixtral-8x7b-instruct-v0.1\": ").append(i % 4 == 0 ? 1 : 0).append("}}\n");
    }
    return Files.writeString(dir.resolve("subset.jsonl"), rows);
  }

  /** A table run on the default static table (and latent size 8). */
  private Path protocolTable(Path data) {
    Path json = tmp.resolve("crossval.json");
    LearnedRoutersEndToEndTest.Run r = LearnedRoutersEndToEndTest.run(List.of("eval", "--protocol", data.toString(),
        "--folds", "3", "--dim", "8", "--quiet", "--embedding-cache", tmp.resolve("cache").toString(),
        "--json", json.toString()));
    assertEquals(0, r.code(), r.err());
    return json;
  }

  /** The protocol's JSON says what it measured: the embedding (and a table's fingerprint) and the mf recipe. */
  @Test
  void theProtocolTableRecordsItsEmbeddingAndRecipe() throws Exception {
    JsonNode table = ModelDir.json().readTree(protocolTable(data()).toFile());
    assertTrue(table.toString().contains("minilm-l6-static"),
        "the table does not say which embedding it was run on: " + table.fieldNames().next() + " ... keys "
            + iterableKeys(table));
    assertTrue(table.toString().contains("\"dim\""), "the table does not record the mf recipe (dim): keys "
        + iterableKeys(table));
  }

  /** A MiniLM mf given the static table's cross-validated figures is refused (or at least not silent). */
  @Test
  void trainRefusesAProtocolTableOfAnotherEmbedding() throws Exception {
    Path data = data();
    Path json = protocolTable(data);
    Path out = tmp.resolve("mf-minilm");
    LearnedRoutersEndToEndTest.Run r = LearnedRoutersEndToEndTest.run(List.of("train", "mf", "--data", data.toString(),
        "--holdout", "none", "--embedding-model", "all-minilm-l6-v2-q", "--quiet", "--embedding-cache",
        tmp.resolve("cache").toString(), "--crossval", json.toString(), "--out", out.toString()));
    boolean recordedSilently = r.code() == 0 && Files.exists(out.resolve("manifest.json"))
        && ModelDir.json().readTree(out.resolve("manifest.json").toFile()).has("crossval")
        && !r.err().contains("minilm-l6-static");
    assertNotEquals(true, recordedSilently,
        "train mf on all-minilm-l6-v2-q recorded a protocol table run on minilm-l6-static as its crossval, silently");
  }

  private static String iterableKeys(JsonNode n) {
    StringBuilder sb = new StringBuilder();
    n.fieldNames().forEachRemaining(k -> sb.append(k).append(' '));
    return sb.toString().trim();
  }
}
