package io.routewise.embedding;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

/**
 * Copies a classpath resource (an ONNX graph, a tokenizer.json) to a file once, so ONNX Runtime can
 * map it from disk instead of holding a second copy as a Java byte array. Files are named by the
 * resource's SHA-256, so a changed jar never reuses a stale file and concurrent starts agree.
 *
 * <p>A file is loaded from a directory only another user cannot write to: see {@link #privateDir}.
 */
public final class ModelFiles {
  private ModelFiles() {}

  private static final int S_IFMT = 0170000;
  private static final int S_IFLNK = 0120000;
  private static final int STICKY = 01000;

  /**
   * {@code java.io.tmpdir/routewise-USER}: this user's own, so that another user's directory of the
   * same name (one they made first, or can write to) is never where this one's files are loaded from.
   */
  public static Path defaultRoot() {
    String user = System.getProperty("user.name", "").replaceAll("[^A-Za-z0-9._-]", "_");
    return Path.of(System.getProperty("java.io.tmpdir"), "routewise-" + user);
  }

  /** {@code java.io.tmpdir/routewise-USER/models}, the default extraction directory. */
  public static Path defaultDir() {
    return defaultRoot().resolve("models");
  }

  /** {@code java.io.tmpdir/routewise-USER/embeddings}, the offline commands' default embedding store. */
  public static Path defaultStoreDir() {
    return defaultRoot().resolve("embeddings");
  }

  public static Path extract(String resource, Path dir) {
    try {
      MessageDigest sha = MessageDigest.getInstance("SHA-256");
      dir = privateDir(dir);
      Path extracted = extracted(dir, resource);
      if (extracted != null) { // a start after the first: nothing is written
        return extracted;
      }
      Path tmp = Files.createTempFile(dir, "extract-", ".part");
      try (InputStream raw = resourceStream(resource); DigestInputStream in = new DigestInputStream(raw, sha)) {
        Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
      }
      String digest = HexFormat.of().formatHex(sha.digest()).substring(0, 16);
      Path target = dir.resolve(digest + "-" + resource);
      // Reused only when byte-identical: a file damaged under the same name is replaced.
      if (Files.isRegularFile(target, LinkOption.NOFOLLOW_LINKS) && Files.mismatch(target, tmp) == -1) {
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
      throw new UncheckedIOException("cannot extract " + resource + " to " + dir + ": " + why(e), e);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * A file extracted before (named for a resource of this name) that holds exactly the resource's
   * bytes, or null: one damaged, replaced, or from another jar's resource is not reused.
   */
  private static Path extracted(Path dir, String resource) throws IOException {
    List<Path> candidates = new ArrayList<>();
    try (var files = Files.newDirectoryStream(dir, p -> p.getFileName().toString().endsWith("-" + resource))) {
      files.forEach(candidates::add);
    }
    for (Path file : candidates) {
      if (Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) {
        try (InputStream expected = resourceStream(resource);
            InputStream actual = Files.newInputStream(file, LinkOption.NOFOLLOW_LINKS)) {
          if (sameBytes(expected, actual)) {
            return file;
          }
        }
      }
    }
    return null;
  }

  private static boolean sameBytes(InputStream a, InputStream b) throws IOException {
    byte[] x = new byte[64 * 1024];
    byte[] y = new byte[x.length];
    while (true) {
      int n = a.readNBytes(x, 0, x.length);
      if (b.readNBytes(y, 0, n) != n || Arrays.mismatch(x, 0, n, y, 0, n) != -1) {
        return false;
      }
      if (n < x.length) {
        return b.read() == -1;
      }
    }
  }

  /**
   * Makes {@code dir} (missing directories owner-only, 0700) and checks that no other user can change
   * what is in it: it is this user's or root's, not writable by others, and every directory above it
   * (and above where its links lead) belongs to this user or root and is not writable by others unless
   * sticky, like /tmp. Otherwise whoever owns or can write such a directory could swap the files
   * read back from it between their check and their use. Without POSIX attributes (Windows, whose
   * temp directory is per user) the directory is only made.
   *
   * @return {@code dir}, absolute
   * @throws IOException naming the directory and why it is not safe
   */
  public static Path privateDir(Path dir) throws IOException {
    Path abs = dir.toAbsolutePath().normalize();
    boolean unix = FileSystems.getDefault().supportedFileAttributeViews().contains("unix");
    if (!Files.isDirectory(abs)) {
      Path missing = abs;
      while (missing.getParent() != null && !Files.exists(missing.getParent(), LinkOption.NOFOLLOW_LINKS)) {
        missing = missing.getParent();
      }
      for (Path p = missing; ; p = p.resolve(abs.getName(p.getNameCount()))) {
        try {
          if (unix) {
            Files.createDirectory(p, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
          } else {
            Files.createDirectory(p);
          }
        } catch (FileAlreadyExistsException e) {
          if (!Files.isDirectory(p)) {
            throw new FileSystemException(p.toString(), null, "exists and is not a directory");
          }
        }
        if (p.equals(abs)) {
          break;
        }
      }
    }
    if (!unix) {
      return abs;
    }
    int me = myUid(abs);
    String unsafe = unsafe(abs, me);
    if (unsafe == null && !abs.toRealPath().equals(abs)) {
      unsafe = unsafe(abs.toRealPath(), me);
    }
    if (unsafe != null) {
      throw new IOException(unsafe + ", so another user could replace the files read from " + abs
          + "; make it yours alone (chmod 700) or use a directory of your own");
    }
    return abs;
  }

  /** What lets another user change {@code dir}'s entries, or null. */
  static String unsafe(Path dir, int me) throws IOException {
    for (Path p = dir; p != null; p = p.getParent()) {
      Map<String, Object> a = Files.readAttributes(p, "unix:uid,mode", LinkOption.NOFOLLOW_LINKS);
      int uid = (Integer) a.get("uid");
      int mode = (Integer) a.get("mode");
      // root can change anything whatever it owns: its directory (one made for this user's group, a volume's
      // mount point) or its link is no other user's
      if (uid != me && uid != 0) {
        return p + " belongs to uid " + uid + ", not to this user (uid " + me + ")";
      }
      if ((mode & S_IFMT) == S_IFLNK) {
        continue; // a link's own mode means nothing; where it leads is checked through the real path
      }
      if ((mode & 02) != 0 && (p.equals(dir) || (mode & STICKY) == 0)) {
        return p + " is writable by every user (mode " + Integer.toOctalString(mode & 07777) + ")";
      }
    }
    return null;
  }

  /** This process's uid: the owner of a file it makes in {@code dir}. */
  private static int myUid(Path dir) throws IOException {
    Path probe;
    try {
      probe = Files.createTempFile(dir, ".owner-", ".probe");
    } catch (AccessDeniedException e) {
      Map<String, Object> a = Files.readAttributes(dir, "unix:uid,mode");
      throw new IOException(dir + " is not writable by this user (it belongs to uid " + a.get("uid") + ", mode "
          + Integer.toOctalString((Integer) a.get("mode") & 07777) + "); use a directory of your own", e);
    }
    try {
      return (Integer) Files.getAttribute(probe, "unix:uid");
    } finally {
      Files.deleteIfExists(probe);
    }
  }

  /** An I/O failure's message with its reason: the JDK gives only the path for some (EACCES, EEXIST). */
  public static String why(IOException e) {
    if (e instanceof FileSystemException f && f.getReason() == null && f.getFile() != null) {
      String reason = switch (f) {
        case AccessDeniedException x -> "permission denied";
        case FileAlreadyExistsException x -> "already exists";
        case NoSuchFileException x -> "no such file or directory";
        case NotDirectoryException x -> "not a directory";
        default -> f.getClass().getSimpleName();
      };
      return f.getMessage() + ": " + reason;
    }
    return e.getMessage();
  }

  private static InputStream resourceStream(String resource) throws IOException {
    InputStream in = ModelFiles.class.getClassLoader().getResourceAsStream(resource);
    if (in == null) {
      throw new IOException("resource " + resource + " is not on the classpath (is its langchain4j-embeddings jar missing?)");
    }
    return in;
  }
}
