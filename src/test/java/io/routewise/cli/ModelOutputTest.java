package io.routewise.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A model directory is replaced whole, and only what a model of routewise's wrote goes. */
class ModelOutputTest {
  @TempDir
  Path tmp;

  private static ModelOutput.Writer model(String weights) {
    return dir -> {
      Files.writeString(dir.resolve(weights), "new");
      Files.writeString(dir.resolve("manifest.json"), "{\"kind\": \"mf\"}");
    };
  }

  private static List<String> names(Path dir) throws IOException {
    try (var files = Files.list(dir)) {
      return files.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  @Test
  void anOldModelsWeightsGoAndEverythingElseStays() throws Exception {
    Path out = Files.createDirectories(tmp.resolve("mf"));
    Files.writeString(out.resolve("manifest.json"), "{\"kind\": \"mf\"}");
    Files.writeString(out.resolve("old_weights.f32"), "old");
    Files.writeString(out.resolve("README.md"), "how it was made");
    ModelOutput.write(out, model("model_bias.f32"));
    assertEquals(List.of("README.md", "manifest.json", "model_bias.f32"), names(out));
    assertEquals(List.of("mf"), names(tmp), "no staging left beside it");
  }

  @Test
  void aDirectoryWithoutAManifestLosesNothing() throws Exception {
    // docs/bert.md's export: an ONNX classifier and its tokenizer, no manifest yet (review: both were deleted)
    Path out = Files.createDirectories(tmp.resolve("bert"));
    Files.writeString(out.resolve("model.onnx"), "exported");
    Files.writeString(out.resolve("pytorch_model.bin"), "weights");
    Files.writeString(out.resolve("extra.f32"), "someone's");
    ModelOutput.write(out, model("w2.f32"));
    assertEquals(List.of("extra.f32", "manifest.json", "model.onnx", "pytorch_model.bin", "w2.f32"), names(out));
  }

  @Test
  void aWriteThatFailsLeavesTheOldModelAsItWas() throws Exception {
    Path out = Files.createDirectories(tmp.resolve("mf"));
    Files.writeString(out.resolve("manifest.json"), "{\"kind\": \"mf\"}");
    Files.writeString(out.resolve("model_bias.f32"), "old");
    IOException full = assertThrows(IOException.class, () -> ModelOutput.write(out, dir -> {
      Files.writeString(dir.resolve("model_bias.f32"), "half");
      throw new IOException("No space left on device");
    }));
    assertEquals("No space left on device", full.getMessage());
    assertEquals("old", Files.readString(out.resolve("model_bias.f32")));
    assertEquals(List.of("mf"), names(tmp));
  }

  @Test
  void aSymlinkedOutIsWrittenWhereItPointsAndStaysALink() throws Exception {
    Path real = Files.createDirectories(tmp.resolve("volume/mf"));
    Files.writeString(real.resolve("manifest.json"), "{\"kind\": \"mf\"}");
    Path link = Files.createSymbolicLink(tmp.resolve("mf"), real);
    ModelOutput.write(link, model("model_bias.f32"));
    assertTrue(Files.isSymbolicLink(link));
    assertEquals("new", Files.readString(real.resolve("model_bias.f32")));
    assertEquals(List.of("mf"), names(tmp.resolve("volume")), "staged beside the real directory, and gone");
  }

  @Test
  void aNewModelIsReadableByOthersAsDirectoriesMadeHereAre() throws Exception {
    // createTempDirectory made it 0700: a model trained in the container could not be served by the host's user
    Path out = tmp.resolve("mf");
    ModelOutput.write(out, model("model_bias.f32"));
    Path sibling = Files.createDirectory(tmp.resolve("made-here"));
    assertEquals(Files.getPosixFilePermissions(sibling), Files.getPosixFilePermissions(out));
  }
}
