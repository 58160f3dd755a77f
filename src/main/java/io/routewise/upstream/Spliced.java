package io.routewise.upstream;

import java.util.Arrays;

/**
 * A request body made of slices of other arrays, written to the upstream slice by slice: a chat
 * request is the client's bytes with one value replaced, and sending it this way spares a copy of
 * the whole body (a prompt of megabytes held twice while its upstream answered).
 */
public final class Spliced {
  private final byte[][] arrays;
  private final int[] offsets;
  private final int[] lengths;
  private final long length;

  private Spliced(Builder b) {
    this.arrays = b.arrays;
    this.offsets = b.offsets;
    this.lengths = b.lengths;
    this.length = b.length;
  }

  /** A body of at most {@code slices} slices, added in order. */
  public static Builder builder(int slices) {
    return new Builder(slices);
  }

  public static final class Builder {
    private final byte[][] arrays;
    private final int[] offsets;
    private final int[] lengths;
    private int n;
    private long length;

    private Builder(int slices) {
      arrays = new byte[slices][];
      offsets = new int[slices];
      lengths = new int[slices];
    }

    /** {@code array[offset, offset + len)} next. */
    public Builder add(byte[] array, int offset, int len) {
      if (offset < 0 || len < 0 || offset + len > array.length) {
        throw new IllegalArgumentException("slice out of its array");
      }
      arrays[n] = array;
      offsets[n] = offset;
      lengths[n++] = len;
      length += len;
      return this;
    }

    public Spliced build() {
      if (n != arrays.length) {
        throw new IllegalStateException(n + " of " + arrays.length + " slices added");
      }
      return new Spliced(this);
    }
  }

  public long length() {
    return length;
  }

  /** Writes every slice (again on each call: a retried request writes its body again). */
  void writeTo(okio.BufferedSink sink) throws java.io.IOException {
    for (int i = 0; i < arrays.length; i++) {
      sink.write(arrays[i], offsets[i], lengths[i]);
    }
  }

  /** The body as one array. */
  public byte[] toBytes() {
    byte[] out = new byte[(int) length];
    int at = 0;
    for (int i = 0; i < arrays.length; i++) {
      System.arraycopy(arrays[i], offsets[i], out, at, lengths[i]);
      at += lengths[i];
    }
    return out;
  }

  @Override
  public String toString() {
    return "Spliced[" + length + " bytes in " + arrays.length + " slices: " + Arrays.toString(lengths) + "]";
  }
}
