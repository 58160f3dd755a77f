package io.routewise.embedding;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * Copies a classpath resource (an ONNX graph, a tokenizer.json) to a file once, so ONNX Runtime can
 * map it from disk instead of holding a second copy as a Java byte array. Files are named by the
 * resource's SHA-256, so a changed jar never reuses a stale file and concurrent starts agree.
 */
public final class ModelFiles {
  private ModelFiles() {}

  /** {@code java.io.tmpdir/routewise/models}, the default extraction directory. */
  public static Path defaultDir() {
    return Path.of(System.getProperty("java.io.tmpdir"), "routewise", "models");
  }

  public static Path extract(String resource, Path dir) {
    try {
      MessageDigest sha = MessageDigest.getInstance("SHA-256");
      Files.createDirectories(dir);
      Path tmp = Files.createTempFile(dir, "extract-", ".part");
      try (InputStream raw = resourceStream(resource); DigestInputStream in = new DigestInputStream(raw, sha)) {
        Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
      }
      String digest = HexFormat.of().formatHex(sha.digest()).substring(0, 16);
      Path target = dir.resolve(digest + "-" + resource);
      // Reused only when byte-identical: a file planted or damaged under the same name is replaced.
      if (Files.exists(target) && Files.mismatch(target, tmp) == -1) {
        Files.delete(tmp);
        return target;
      }
      try {
        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
      }
      return target;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot extract " + resource + " to " + dir + ": " + e.getMessage(), e);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static InputStream resourceStream(String resource) throws IOException {
    InputStream in = ModelFiles.class.getClassLoader().getResourceAsStream(resource);
    if (in == null) {
      throw new IOException("resource " + resource + " is not on the classpath (is its langchain4j-embeddings jar missing?)");
    }
    return in;
  }
}
