package io.routewise.embedding;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
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

  /**
   * A directory root made for the service (a package's /var/lib/routewise, root:routewise 0770; a volume
   * mounted root:fsGroup 2775), or root's link to the service's own: root can change anything anyway,
   * so it is trusted there as it is above; another user's stays refused. Checked as the user nobody.
   */
  @Test
  void aDirectoryOrLinkRootOwnsIsNotAnotherUsers() throws IOException {
    assumeTrue(Integer.valueOf(0).equals(Files.getAttribute(tmp, "unix:uid")), "needs root to make root's directories");
    int service = 65534;
    Path shared = Files.createDirectory(tmp.resolve("var-lib-routewise"));
    Files.setPosixFilePermissions(shared, PosixFilePermissions.fromString("rwxrwx---"));
    assertEquals(null, ModelFiles.unsafe(shared, service));
    Path own = Files.createDirectory(tmp.resolve("own"));
    giveAway(own);
    Path link = Files.createSymbolicLink(tmp.resolve("cache"), own);
    assertEquals(null, ModelFiles.unsafe(link, service));
    assertEquals(null, ModelFiles.unsafe(link.toRealPath(), service));
    Path others = Files.createDirectory(tmp.resolve("others"));
    Files.setOwner(others, FileSystems.getDefault().getUserPrincipalLookupService().lookupPrincipalByName("daemon"));
    assertTrue(ModelFiles.unsafe(others, service).contains(others + " belongs to uid"));
  }

  /**
   * A start after the first reuses the verified file without writing a copy of the resource (23–34 MB
   * for an ONNX graph) beside it; only the ownership probe comes and goes.
   */
  @Test
  void aVerifiedFileIsReusedWithoutWritingACopy() throws Exception {
    Path dir = tmp.resolve("models");
    Path first = ModelFiles.extract(TOKENIZER, dir);
    List<String> created = new ArrayList<>();
    try (WatchService watch = FileSystems.getDefault().newWatchService()) {
      dir.register(watch, StandardWatchEventKinds.ENTRY_CREATE);
      assertEquals(first, ModelFiles.extract(TOKENIZER, dir));
      Files.createFile(dir.resolve("done")); // events arrive in order: once this one is seen, all are
      while (!created.contains("done")) {
        WatchKey key = watch.poll(10, TimeUnit.SECONDS);
        assertNotNull(key, "no event for " + dir.resolve("done"));
        key.pollEvents().forEach(e -> created.add(String.valueOf(e.context())));
        key.reset();
      }
    }
    created.removeIf(name -> name.startsWith(".owner-") || name.equals("done"));
    assertEquals(List.of(), created);
    assertArrayEquals(resource(TOKENIZER), Files.readAllBytes(first));
  }

  /**
   * Reuse is by the file's whole content: one changed in place (same size), cut short, grown, or a
   * link in its place is written again; a file of the same name from another jar's resource is not used.
   */
  @Test
  void onlyAFileHoldingExactlyTheResourceIsReused() throws IOException {
    Path dir = tmp.resolve("models");
    Path first = ModelFiles.extract(TOKENIZER, dir);
    byte[] bytes = resource(TOKENIZER);
    byte[] changed = bytes.clone();
    changed[changed.length / 2] ^= 1;
    byte[] grown = java.util.Arrays.copyOf(bytes, bytes.length + 1);
    for (byte[] damaged : List.of(changed, java.util.Arrays.copyOf(bytes, bytes.length - 1), grown)) {
      Files.write(first, damaged);
      assertEquals(first, ModelFiles.extract(TOKENIZER, dir));
      assertArrayEquals(bytes, Files.readAllBytes(first));
    }

    Path planted = Files.write(tmp.resolve("planted.json"), changed);
    Files.delete(first);
    Files.createSymbolicLink(first, planted);
    assertEquals(first, ModelFiles.extract(TOKENIZER, dir));
    assertTrue(Files.isRegularFile(first, LinkOption.NOFOLLOW_LINKS));
    assertArrayEquals(bytes, Files.readAllBytes(first));

    Files.delete(first);
    Path older = Files.write(dir.resolve("0123456789abcdef-" + TOKENIZER), changed);
    assertEquals(first, ModelFiles.extract(TOKENIZER, dir));
    assertArrayEquals(bytes, Files.readAllBytes(first));
    assertArrayEquals(changed, Files.readAllBytes(older));
  }

  @Test
  void anExtractionFailureNamesThePathAndTheReason() throws IOException {
    Path file = Files.writeString(tmp.resolve("models"), "not a directory");
    var e = assertThrows(UncheckedIOException.class, () -> ModelFiles.extract(TOKENIZER, file));
    assertTrue(e.getMessage().endsWith(file + ": exists and is not a directory"), e.getMessage());
  }
}
