package io.routewise.embedding;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Files unpacked from the jar are loaded back from disk: from a directory another user can change,
 * the file checked is not necessarily the file loaded. Another user's directories are made here by
 * chown, so those tests need root (CI and the dev box run as root) and are skipped otherwise.
 */
class ModelFilesTest {
  static final String TOKENIZER = EmbeddingModel.MINILM_L6_Q.tokenizerResource();

  @TempDir
  Path tmp;

  /** Gives {@code p} to the user nobody, as if that user had made it; skips the test where we cannot. */
  static void giveAway(Path p) {
    try {
      Files.setOwner(p, FileSystems.getDefault().getUserPrincipalLookupService().lookupPrincipalByName("nobody"));
    } catch (IOException | UnsupportedOperationException e) {
      assumeTrue(false, "cannot chown to nobody here: " + e);
    }
  }

  static byte[] resource(String name) throws IOException {
    try (InputStream in = ModelFiles.class.getClassLoader().getResourceAsStream(name)) {
      return in.readAllBytes();
    }
  }

  /** The reported case: another user made /tmp/routewise first, and this one's models directory is in it. */
  @Test
  void extractRefusesADirectoryInsideOneAnotherUserOwns() throws IOException {
    Path shared = Files.createDirectory(tmp.resolve("routewise"));
    Path dir = Files.createDirectory(shared.resolve("models"));
    giveAway(shared);
    var e = assertThrows(UncheckedIOException.class, () -> ModelFiles.extract(TOKENIZER, dir));
    assertTrue(e.getMessage().contains(shared + " belongs to uid"), e.getMessage());
  }

  @Test
  void extractRefusesADirectoryAnotherUserOwns() throws IOException {
    Path dir = Files.createDirectory(tmp.resolve("models"));
    giveAway(dir);
    var e = assertThrows(UncheckedIOException.class, () -> ModelFiles.extract(TOKENIZER, dir));
    assertTrue(e.getMessage().contains(dir + " belongs to uid"), e.getMessage());
  }

  @Test
  void extractRefusesALinkToADirectoryAnotherUserOwns() throws IOException {
    Path elsewhere = Files.createDirectory(tmp.resolve("elsewhere"));
    giveAway(elsewhere);
    Path link = Files.createSymbolicLink(tmp.resolve("models"), elsewhere);
    var e = assertThrows(UncheckedIOException.class, () -> ModelFiles.extract(TOKENIZER, link));
    assertTrue(e.getMessage().contains(elsewhere + " belongs to uid"), e.getMessage());
  }

  @Test
  void extractRefusesADirectoryEveryUserCanWrite() throws IOException {
    Path dir = Files.createDirectory(tmp.resolve("models"));
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxrwxrwx"));
    var e = assertThrows(UncheckedIOException.class, () -> ModelFiles.extract(TOKENIZER, dir));
    assertTrue(e.getMessage().contains(dir + " is writable by every user"), e.getMessage());
  }

  /** Directories it makes are this user's alone; a different file under the extracted name is replaced. */
  @Test
  void extractMakesOwnerOnlyDirectoriesAndReplacesAFileThatDiffers() throws IOException {
    Path dir = tmp.resolve("a").resolve("models");
    Path first = ModelFiles.extract(TOKENIZER, dir);
    for (Path p : new Path[] {tmp.resolve("a"), dir}) {
      assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(p)), p.toString());
    }
    Files.writeString(first, "{\"planted\": true}");
    Path again = ModelFiles.extract(TOKENIZER, dir);
    assertEquals(first, again);
    assertArrayEquals(resource(TOKENIZER), Files.readAllBytes(again));
  }

  @Test
  void anExtractionFailureNamesThePathAndTheReason() throws IOException {
    Path file = Files.writeString(tmp.resolve("models"), "not a directory");
    var e = assertThrows(UncheckedIOException.class, () -> ModelFiles.extract(TOKENIZER, file));
    assertTrue(e.getMessage().endsWith(file + ": exists and is not a directory"), e.getMessage());
  }
}
