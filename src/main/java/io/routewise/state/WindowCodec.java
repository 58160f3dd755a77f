package io.routewise.state;

import io.routewise.routing.WindowSnapshot;
import java.util.ArrayList;
import java.util.List;

/**
 * The text form of a {@link WindowSnapshot} in Redis: readable with {@code redis-cli GET}, a few
 * bytes per non-empty win-rate bin.
 *
 * <pre>
 * rw1 &lt;replica&gt;~&lt;target&gt; &lt;startedAtMillis&gt; &lt;alpha&gt; &lt;sliceMillis&gt;
 * &lt;slice&gt; &lt;strong&gt; &lt;weak&gt; &lt;spendStrong&gt; &lt;spendWeak&gt; &lt;answeredStrong&gt; &lt;answeredWeak&gt; &lt;bin:count,...|-&gt;
 * ...
 * </pre>
 *
 * The target ({@code strong_share=0.3}) came later, so it rides in the replica's field: the builds
 * before it read {@code <replica>~<target>} as an opaque id and still merge, and a field without it
 * reads as target unknown, so replicas of both builds keep merging during a rolling upgrade. Header
 * fields past the fifth are ignored, for the same reason.
 */
final class WindowCodec {
  private static final String VERSION = "rw1";

  private WindowCodec() {}

  static String encode(WindowSnapshot s) {
    StringBuilder sb = new StringBuilder(64 + s.slices().size() * 256);
    sb.append(VERSION).append(' ').append(s.replica());
    if (s.target() != null) {
      sb.append('~').append(s.target());
    }
    sb.append(' ').append(s.startedAtMillis()).append(' ').append(s.alpha()).append(' ').append(s.sliceMillis());
    for (WindowSnapshot.Slice c : s.slices()) {
      sb.append('\n').append(c.index()).append(' ').append(c.strong()).append(' ').append(c.weak()).append(' ')
          .append(c.spendStrong()).append(' ').append(c.spendWeak()).append(' ').append(c.answeredStrong())
          .append(' ').append(c.answeredWeak()).append(' ');
      if (c.bins().length == 0) {
        sb.append('-');
      }
      for (int i = 0; i < c.bins().length; i++) {
        if (i > 0) {
          sb.append(',');
        }
        sb.append(c.bins()[i]).append(':').append(c.counts()[i]);
      }
    }
    return sb.toString();
  }

  /** @throws IllegalArgumentException when {@code text} is not a snapshot of this version */
  static WindowSnapshot decode(String text) {
    String[] lines = text.split("\n");
    String[] head = lines[0].split(" ");
    if (head.length < 5 || !head[0].equals(VERSION)) {
      throw new IllegalArgumentException("not a " + VERSION + " window");
    }
    List<WindowSnapshot.Slice> slices = new ArrayList<>(lines.length - 1);
    for (int l = 1; l < lines.length; l++) {
      String[] f = lines[l].split(" ");
      if (f.length != 8) {
        throw new IllegalArgumentException("slice line " + l + " has " + f.length + " fields");
      }
      int[] bins;
      long[] counts;
      if (f[7].equals("-")) {
        bins = new int[0];
        counts = new long[0];
      } else {
        String[] pairs = f[7].split(",");
        bins = new int[pairs.length];
        counts = new long[pairs.length];
        for (int i = 0; i < pairs.length; i++) {
          int colon = pairs[i].indexOf(':');
          bins[i] = Integer.parseInt(pairs[i], 0, colon, 10);
          counts[i] = Long.parseLong(pairs[i], colon + 1, pairs[i].length(), 10);
          if (bins[i] < 0 || bins[i] >= io.routewise.routing.WinRateSketch.BINS || counts[i] < 0 || counts[i] > MAX_COUNT) {
            throw new IllegalArgumentException("bad bin " + pairs[i]);
          }
        }
      }
      slices.add(new WindowSnapshot.Slice(Long.parseLong(f[0]), count(f[1]), count(f[2]), usd(f[3]), usd(f[4]),
          count(f[5]), count(f[6]), bins, counts));
    }
    int tilde = head[1].indexOf('~');
    double alpha = Double.parseDouble(head[3]);
    long sliceMillis = Long.parseLong(head[4]);
    if (!(alpha >= 0 && alpha <= 1) || sliceMillis <= 0) {
      throw new IllegalArgumentException("alpha " + head[3] + ", slice " + head[4]);
    }
    return new WindowSnapshot(tilde < 0 ? head[1] : head[1].substring(0, tilde), Long.parseLong(head[2]), alpha,
        sliceMillis, tilde < 0 ? null : head[1].substring(tilde + 1), slices);
  }

  /**
   * More decisions than one replica makes in a slice: a window of such numbers is not ours (anyone
   * who can write the key could otherwise steer every replica's α, or overflow the merged sums).
   */
  static final long MAX_COUNT = 1L << 40;

  private static long count(String field) {
    long n = Long.parseLong(field);
    if (n < 0 || n > MAX_COUNT) {
      throw new IllegalArgumentException("count " + field);
    }
    return n;
  }

  private static double usd(String field) {
    double usd = Double.parseDouble(field);
    if (!(usd >= 0 && usd < 1e12)) { // NaN and infinities too
      throw new IllegalArgumentException("spend " + field);
    }
    return usd;
  }
}
