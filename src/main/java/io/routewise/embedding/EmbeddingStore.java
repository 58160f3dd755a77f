package io.routewise.embedding;

import java.io.DataInputStream;
import java.io.BufferedInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HashMap;
import java.util.Map;

/**
 * A persistent embedding cache for offline commands (train, score, eval): vectors are appended to
 * one file per model and settings, keyed by the text's SHA-256 prefix, so the 15k training prompts
 * are embedded once across many training and evaluation runs. Not used by {@code serve}.
 *
 * <p>File format: repeated records of 16 key bytes and {@code dimension} big-endian float32.
 */
public final class EmbeddingStore extends ForwardingEmbedder {
  private final Path file;
  private final Map<ByteBuffer, float[]> map = new HashMap<>();
  /** Unbuffered: each record goes out in one append of its own (see {@link #embed}). */
  private java.io.OutputStream out;

  public EmbeddingStore(Embedder delegate, Path file) {
    super(delegate);
    this.file = file;
    int dim = delegate.dimension();
    try {
      ModelFiles.privateDir(file.toAbsolutePath().getParent());
      long whole = 0;
      if (Files.exists(file)) {
        try (DataInputStream in = new DataInputStream(new BufferedInputStream(Files.newInputStream(file), 1 << 16))) {
          while (true) {
            byte[] k = new byte[16];
            float[] v = new float[dim];
            try {
              in.readFully(k);
              for (int i = 0; i < dim; i++) {
                v[i] = in.readFloat();
              }
            } catch (EOFException e) {
              break;
            }
            map.put(ByteBuffer.wrap(k), v);
            whole += 16 + 4L * dim;
          }
        }
        if (Files.size(file) > whole) {
          // A torn last record from an interrupted run: cut it, or every record appended after it
          // would be read misaligned (garbage vectors under garbage keys).
          try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.truncate(whole);
          }
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read embedding store " + file + ": " + ModelFiles.why(e), e);
    }
  }

  private static ByteBuffer key(String text) {
    try {
      byte[] d = MessageDigest.getInstance("SHA-256").digest(TextBytes.of(text));
      return ByteBuffer.wrap(java.util.Arrays.copyOf(d, 16));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  @Override
  public synchronized float[] embed(String text) {
    ByteBuffer k = key(text);
    float[] v = map.get(k);
    if (v != null) {
      return v;
    }
    v = delegate.embed(text);
    map.put(k, v);
    try {
      if (out == null) {
        out = Files.newOutputStream(file, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
      }
      // The whole record in one write: another run appending to the same store (the default directory
      // is shared) then lands before or after it. Through a 64 KB buffer, its chunks cut records in two,
      // and every record after the cut read back misaligned, one of them under a real key.
      ByteBuffer record = ByteBuffer.allocate(16 + 4 * v.length);
      record.put(k.array());
      for (float x : v) {
        record.putFloat(x);
      }
      out.write(record.array());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot append to embedding store " + file, e);
    }
    return v;
  }

  public synchronized boolean contains(String text) {
    return map.containsKey(key(text));
  }

  public synchronized void flush() {
    try {
      if (out != null) {
        out.flush();
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Override
  public synchronized void close() {
    flush();
    try {
      if (out != null) {
        out.close();
      }
    } catch (IOException ignored) {
      // closing
    }
    delegate.close();
  }
}
