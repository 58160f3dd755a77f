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
 * written into a new directory beside it (beside where a symlinked --out really lies, so that
 * moving them in is a rename on one file system, which needs no space), then moved in: a write that
 * fails (a full disk) used to leave the new weights beside the old manifest, a mix that loaded and
 * served other scores without a word. The files the old model wrote and the new one does not (an
 * older recipe's weights) go; anything else in the directory (a README, an exported ONNX model)
 * stays.
 */
final class ModelOutput {
  /** What routewise's trainers and distill write besides the manifest. Only these are removed. */
  private static final List<String> WRITTEN_SUFFIXES = List.of(".f32", ".i8");

  private ModelOutput() {}

  interface Writer {
    void writeTo(Path dir) throws IOException;
  }

  static void write(Path out, Writer writer) throws IOException {
    Path target = out.toAbsolutePath().normalize();
    if (Files.exists(target)) {
      target = target.toRealPath();
      if (!Files.isDirectory(target)) {
        throw new IllegalArgumentException("--out " + out + " is a file, not a directory");
      }
    } else {
      Files.createDirectories(target.getParent());
      target = target.getParent().toRealPath().resolve(target.getFileName());
    }
    // createDirectory, not createTempDirectory: that one is 0700, so a model trained in the container
    // (or as another user) could not be read by serve elsewhere; this one follows the umask, as before
    Path staged = target.getParent().resolve("." + target.getFileName() + ".new-"
        + Long.toHexString(java.util.concurrent.ThreadLocalRandom.current().nextLong()));
    Files.createDirectory(staged);
    boolean swapping = false;
    try {
      writer.writeTo(staged);
      if (!Files.exists(target)) {
        Files.move(staged, target, StandardCopyOption.ATOMIC_MOVE);
        return;
      }
      // From here only renames and deletes. The manifest goes first and comes back last, so a swap
      // cut short leaves a directory that refuses to load, never a mix of two models.
      swapping = true;
      boolean hadModel = Files.deleteIfExists(target.resolve("manifest.json"));
      if (hadModel) {
        try (Stream<Path> old = Files.list(target)) {
          for (Path f : old.filter(ModelOutput::isWritten).toList()) {
            Files.delete(f);
          }
        }
      }
      try (Stream<Path> fresh = Files.list(staged)) {
        for (Path f : fresh.filter(f -> !f.getFileName().toString().equals("manifest.json")).toList()) {
          Files.move(f, target.resolve(f.getFileName()), StandardCopyOption.REPLACE_EXISTING);
        }
      }
      Files.move(staged.resolve("manifest.json"), target.resolve("manifest.json"), StandardCopyOption.REPLACE_EXISTING);
      swapping = false;
    } catch (IOException | RuntimeException e) {
      if (swapping) { // the old model is gone: keep the new one where it is, and say where
        throw new IOException("replacing the model in " + out + " failed part-way (" + e.getMessage()
            + "); the new model is whole in " + staged + ": move its files into " + out, e);
      }
      throw e;
    } finally {
      if (!swapping) {
        deleteTree(staged);
      }
    }
  }

  private static boolean isWritten(Path f) {
    String name = f.getFileName().toString();
    return Files.isRegularFile(f) && WRITTEN_SUFFIXES.stream().anyMatch(name::endsWith);
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
