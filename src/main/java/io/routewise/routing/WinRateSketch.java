package io.routewise.routing;

/**
 * A quantile sketch of win rates: counts in a fixed set of bins, evenly spaced in log-odds
 * ({@code ln(p / (1 - p))} from -8 to 8, plus one bin below and one above), so it resolves rates
 * near 0 and 1 as finely as rates near 0.5. Its memory is {@link #BINS} counters however many rates
 * it holds, two sketches merge by adding their counts, and a window of them slides by dropping old
 * ones. {@link #thresholdForShare} answers, to within one bin and interpolating inside it, which
 * threshold sends a given share of the counted rates strong.
 *
 * <p>Not thread-safe: the controller builds one per estimate on its own thread; the counts that
 * request threads write live in {@link TargetWindow}.
 */
public final class WinRateSketch {
  /** Inner bins spanning log-odds [-8, 8] (rates from 0.00034 to 0.99966), plus the two outer ones. */
  public static final int BINS = 1024 + 2;
  private static final double LOGIT_MIN = -8;
  private static final double LOGIT_MAX = 8;
  private static final int INNER = BINS - 2;
  private static final double WIDTH = (LOGIT_MAX - LOGIT_MIN) / INNER;

  private final double[] weights = new double[BINS];
  private double total;
  /** How far from the share asked the last threshold sends, where a tie leaves nothing nearer (0 otherwise). */
  private double missedBy;

  /** The bin of a rate in [0, 1]. */
  public static int bin(double rate) {
    if (!(rate > 0)) {
      return 0;
    }
    if (rate >= 1) {
      return BINS - 1;
    }
    double logit = Math.log(rate / (1 - rate));
    if (logit < LOGIT_MIN) {
      return 0;
    }
    if (logit >= LOGIT_MAX) {
      return BINS - 1;
    }
    return 1 + Math.min(INNER - 1, (int) ((logit - LOGIT_MIN) / WIDTH));
  }

  /** Adds {@code weight} rates that fell in {@code bin}. */
  public void add(int bin, double weight) {
    weights[bin] += weight;
    total += weight;
  }

  public void add(double rate) {
    add(bin(rate), 1);
  }

  /** The weight counted so far. */
  public double total() {
    return total;
  }

  /**
   * The threshold α such that about {@code share} of the counted rates are {@code >= α}: found by
   * walking the bins from the top, and inside the bin where the share is reached, by assuming the
   * rates spread evenly (in log-odds). 1 for a share of 0 (only a certain win goes strong), 0 for a
   * share of 1, NaN when nothing is counted.
   */
  public double thresholdForShare(double share) {
    return thresholdForShare(share, null);
  }

  /**
   * As {@link #thresholdForShare(double)}, but where {@code recent} (exact rates, a sample of those
   * counted; null: none) shows ties in the bin where the share is reached, the threshold cuts
   * between two of their values instead, at the share nearest the one wanted: a router of few
   * distinct scores (a judge's rating read without log-probabilities) puts a whole tie in one bin,
   * where aiming inside it sent all of it or none by where the tie happened to sit (a 30 % target
   * got 100 %). Without ties, the bin's rates are taken to spread evenly, as before.
   */
  public double thresholdForShare(double share, double[] recent) {
    missedBy = 0;
    if (total <= 0) {
      return Double.NaN;
    }
    if (share <= 0) {
      return 1.0;
    }
    if (share >= 1) {
      return 0.0;
    }
    double wanted = share * total;
    double above = 0;
    for (int b = BINS - 1; b >= 0; b--) {
      double w = weights[b];
      if (w > 0 && above + w >= wanted) {
        double fraction = (wanted - above) / w; // of this bin's rates, the top fraction go strong
        double[] tied = recent == null ? null : cutBetweenTies(b, fraction, recent);
        if (tied == null) {
          return interpolate(b, fraction);
        }
        missedBy = Math.abs(tied[1] - fraction) * w / total;
        return tied[0];
      }
      above += w;
    }
    return 0.0;
  }

  /**
   * Where {@code recent}'s rates in bin {@code b} hold a tie: the threshold halfway between the two
   * neighbouring values (or a value and the bin's edge) whose cut sends the share of them nearest
   * {@code fraction} strong (the smaller share on a draw), so α approached from either side passes
   * the tie in a finite time, and the fraction of them it sends; null without a tie there.
   */
  private static double[] cutBetweenTies(int b, double fraction, double[] recent) {
    double[] in = java.util.Arrays.stream(recent).filter(r -> bin(r) == b).sorted().toArray();
    boolean tie = false;
    for (int i = 1; i < in.length && !tie; i++) {
      tie = in[i] == in[i - 1];
    }
    if (!tie) {
      return null;
    }
    int n = in.length;
    int best = n; // cut before index i: in[i..] go strong; n sends none of them
    for (int i = n - 1; i >= 0; i--) {
      if (i > 0 && in[i - 1] == in[i]) {
        continue; // not a cut: a tie goes one way whole
      }
      if (Math.abs((n - i) / (double) n - fraction) < Math.abs((n - best) / (double) n - fraction)) {
        best = i;
      }
    }
    double below = best == 0 ? interpolate(b, 1) : in[best - 1];
    double above = best == n ? interpolate(b, 0) : in[best];
    return new double[] {(below + above) / 2, (n - best) / (double) n};
  }

  /**
   * How far, in share, the last {@link #thresholdForShare} is expected to fall from the share asked
   * because a tie left no threshold nearer; 0 when none did.
   */
  public double missedBy() {
    return missedBy;
  }

  /** The rate {@code fraction} of the way down from the top of bin {@code b}. */
  private static double interpolate(int b, double fraction) {
    if (b == 0) { // [0, sigmoid(LOGIT_MIN)): linear in the rate itself
      return sigmoid(LOGIT_MIN) * (1 - fraction);
    }
    if (b == BINS - 1) { // [sigmoid(LOGIT_MAX), 1]
      double lo = sigmoid(LOGIT_MAX);
      return 1 - (1 - lo) * fraction;
    }
    double top = LOGIT_MIN + b * WIDTH;
    return sigmoid(top - fraction * WIDTH);
  }

  private static double sigmoid(double x) {
    return 1 / (1 + Math.exp(-x));
  }
}
