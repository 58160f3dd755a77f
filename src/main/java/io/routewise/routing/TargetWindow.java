package io.routewise.routing;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.concurrent.atomic.DoubleAdder;
import java.util.concurrent.atomic.LongAdder;

/**
 * The recent past of one router's target traffic on this replica: a ring of {@value #SLICES} time
 * slices covering the window, each with its decisions' win-rate bins, route counts and spend. Memory
 * is fixed (about {@value #SLICES} x {@link WinRateSketch#BINS} counters) whatever the traffic.
 *
 * <p>Request threads write ({@link #decided}, {@link #spent}) without locks; the controller's thread
 * reads ({@link #slices}). A slice is claimed by the first write that falls in its time; a write
 * racing with that claim may land in the slice being replaced and be lost, which happens only when a
 * thread stalls for a whole window between reading the slot and writing.
 */
final class TargetWindow {
  static final int SLICES = 12;

  private final long sliceMillis;
  private final AtomicReferenceArray<Counts> ring = new AtomicReferenceArray<>(SLICES);

  TargetWindow(long windowMillis) {
    this.sliceMillis = Math.max(1, windowMillis / SLICES);
  }

  long sliceMillis() {
    return sliceMillis;
  }

  long index(long nowMillis) {
    return Math.floorDiv(nowMillis, sliceMillis);
  }

  /**
   * One decision: {@code rate} is the router's win rate, or NaN when none was compared with the
   * threshold (a pinned session), which keeps it out of the sketch.
   */
  void decided(long nowMillis, double rate, Route route) {
    Counts c = slice(nowMillis);
    (route == Route.STRONG ? c.strong : c.weak).increment();
    if (!Double.isNaN(rate)) {
      c.bins.incrementAndGet(WinRateSketch.bin(rate));
      recent.set(java.util.concurrent.ThreadLocalRandom.current().nextInt(RECENT), Double.doubleToRawLongBits(rate));
    }
  }

  /**
   * Recent rates, exact, each written over a random one (no counter shared by request threads), so
   * they are a sample of the last few {@value #RECENT} that leans to the latest: where a bin holds
   * ties, they say which values ({@link WinRateSketch#thresholdForShare(double, double[])}).
   */
  private static final int RECENT = 1024;

  private final AtomicLongArray recent = new AtomicLongArray(RECENT);

  {
    for (int i = 0; i < RECENT; i++) {
      recent.set(i, Double.doubleToRawLongBits(Double.NaN)); // none yet: 0 bits would read as rate 0
    }
  }

  /** The recent rates written so far (this replica's own). Tick thread. */
  double[] recentRates() {
    double[] out = new double[RECENT];
    int n = 0;
    for (int i = 0; i < RECENT; i++) {
      double r = Double.longBitsToDouble(recent.get(i));
      if (!Double.isNaN(r)) {
        out[n++] = r;
      }
    }
    return java.util.Arrays.copyOf(out, n);
  }

  /** An answer's cost, counted when its usage arrives. */
  /** More than any one answer costs: such a figure is an upstream's error, not spend. */
  static final double MAX_ANSWER_USD = 10_000;

  void spent(long nowMillis, Route route, double usd) {
    if (!(usd >= 0 && usd < MAX_ANSWER_USD)) {
      return; // an upstream's absurd usage: left out, or every other replica would refuse this window
    }
    Counts c = slice(nowMillis);
    if (route == Route.STRONG) {
      c.spendStrong.add(usd);
      c.answeredStrong.increment();
    } else {
      c.spendWeak.add(usd);
      c.answeredWeak.increment();
    }
  }

  private Counts slice(long nowMillis) {
    long index = index(nowMillis);
    int slot = (int) Math.floorMod(index, (long) SLICES);
    while (true) {
      Counts c = ring.get(slot);
      if (c != null && c.index == index) {
        return c;
      }
      if (c != null && c.index > index) {
        return c; // a clock step backwards: count in the newer slice rather than lose the decision
      }
      Counts fresh = new Counts(index);
      if (ring.compareAndSet(slot, c, fresh)) {
        return fresh;
      }
    }
  }

  /**
   * Drops the slices numbered after {@code index + 1} (the next slice is kept: a request thread may
   * have just entered it): after the wall clock was set back, they hold what was counted before the
   * step. Tick thread only.
   */
  void dropAfter(long index) {
    for (int slot = 0; slot < SLICES; slot++) {
      Counts c = ring.get(slot);
      if (c != null && c.index > index + 1) {
        ring.compareAndSet(slot, c, null);
      }
    }
  }

  /** The slices inside the window ending now, oldest first, as exchanged between replicas. */
  List<WindowSnapshot.Slice> slices(long nowMillis) {
    long current = index(nowMillis);
    List<WindowSnapshot.Slice> out = new ArrayList<>(SLICES);
    for (long i = current - SLICES + 1; i <= current; i++) {
      Counts c = ring.get((int) Math.floorMod(i, (long) SLICES));
      if (c != null && c.index == i) {
        out.add(c.snapshot());
      }
    }
    return out;
  }

  private static final class Counts {
    final long index;
    final AtomicLongArray bins = new AtomicLongArray(WinRateSketch.BINS);
    final LongAdder strong = new LongAdder();
    final LongAdder weak = new LongAdder();
    final DoubleAdder spendStrong = new DoubleAdder();
    final DoubleAdder spendWeak = new DoubleAdder();
    final LongAdder answeredStrong = new LongAdder();
    final LongAdder answeredWeak = new LongAdder();

    Counts(long index) {
      this.index = index;
    }

    WindowSnapshot.Slice snapshot() {
      int n = 0;
      long[] all = new long[WinRateSketch.BINS];
      for (int b = 0; b < all.length; b++) {
        all[b] = bins.get(b);
        if (all[b] != 0) {
          n++;
        }
      }
      int[] idx = new int[n];
      long[] counts = new long[n];
      for (int b = 0, k = 0; b < all.length; b++) {
        if (all[b] != 0) {
          idx[k] = b;
          counts[k++] = all[b];
        }
      }
      return new WindowSnapshot.Slice(index, strong.sum(), weak.sum(), spendStrong.sum(), spendWeak.sum(),
          answeredStrong.sum(), answeredWeak.sum(), idx, counts);
    }
  }
}
