package io.routewise.routers;

/** The float dot product every learned router's hot loop uses. */
public final class Dot {
  private Dot() {}

  /**
   * {@code a[off .. off+len) . x[0 .. len)} with four running sums: one sum is bound by the
   * latency of each add; four keep the adder busy. Always the same order, so the same bytes in
   * training and serving.
   */
  public static float dot(float[] a, int off, float[] x, int len) {
    float s0 = 0;
    float s1 = 0;
    float s2 = 0;
    float s3 = 0;
    int j = 0;
    for (; j + 3 < len; j += 4) {
      s0 += a[off + j] * x[j];
      s1 += a[off + j + 1] * x[j + 1];
      s2 += a[off + j + 2] * x[j + 2];
      s3 += a[off + j + 3] * x[j + 3];
    }
    for (; j < len; j++) {
      s0 += a[off + j] * x[j];
    }
    return (s0 + s1) + (s2 + s3);
  }
}
