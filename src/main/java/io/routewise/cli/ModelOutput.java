package io.routewise.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * Writes a model directory (a router's or a static table's) whole or not at all. The files are
 * written into a new directory beside it, then moved in: a write that fails (a full disk) used to
 * leave the new weights beside the old manifest, a mix that loaded and served other scores without
 * a word. Files of the old model the new one does not write (an mf's weights under a new sw
 * model) go; anything else in the directory (a README) stays.
 */
final class ModelOutput {
  /** What a trainer writes: the manifest and weight files. Only these are replaced or removed. */
  private static final List<String> MODEL_FILE_SUFFIXES = List.of(".f32", ".i8", ".i16", ".bin", ".onnx");

  private ModelOutput() {}

  interface Writer {
    void writeTo(Path dir) throws IOException;
  }

  static void write(Path out, Writer writer) throws IOException {
    Path target = out.toAbsolutePath().normalize();
    Path parent = target.getParent();
    Files.createDirectories(parent);
    if (Files.exists(target) && !Files.isDirectory(target)) {
      throw new IllegalArgumentException("--out " + out + " is a file, not a directory");
    }
    Path staged = Files.createTempDirectory(parent, "." + target.getFileName() + ".new-");
    try {
      writer.writeTo(staged);
      if (!Files.exists(target)) {
        Files.move(staged, target, StandardCopyOption.ATOMIC_MOVE);
        return;
      }
      // From here only renames and deletes. The manifest goes first and comes back last, so a swap
      // cut short leaves a directory that refuses to load, never a mix of two models.
      Files.deleteIfExists(target.resolve("manifest.json"));
      try (Stream<Path> old = Files.list(target)) {
        for (Path f : old.filter(ModelOutput::isModelFile).toList()) {
          Files.delete(f);
        }
      }
      try (Stream<Path> fresh = Files.list(staged)) {
        for (Path f : fresh.filter(f -> !f.getFileName().toString().equals("manifest.json")).toList()) {
          Files.move(f, target.resolve(f.getFileName()), StandardCopyOption.REPLACE_EXISTING);
        }
      }
      Files.move(staged.resolve("manifest.json"), target.resolve("manifest.json"), StandardCopyOption.REPLACE_EXISTING);
    } finally {
      deleteTree(staged);
    }
  }

  private static boolean isModelFile(Path f) {
    String name = f.getFileName().toString();
    return Files.isRegularFile(f) && MODEL_FILE_SUFFIXES.stream().anyMatch(name::endsWith);
  }

  private static void deleteTree(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> all = Files.walk(dir)) {
      for (Path p : all.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }
}
