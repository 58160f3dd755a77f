package io.routewise.routers.sw;

/**
 * Maximum-likelihood Bradley-Terry strengths from a weighted win matrix, by Newton's method.
 * {@code wins[i * n + j]} is the (weighted) number of times i beat j; a tie counts a half win each
 * way, as in FastChat's and RouteLLM's {@code compute_elo_mle_with_tie}. A ridge of
 * {@code 1e-6 x total weight} on the log-strengths keeps the solution finite when one player never
 * loses, and fixes the scale's origin; it moves win rates by far less than 1e-4 otherwise.
 *
 * <p>Elo ratings are {@code 1000 + 400 / ln(10) * theta}, so the win rate of i over j is
 * {@code 1 / (1 + 10^((r_j - r_i) / 400)) = sigmoid(theta_i - theta_j)}.
 */
public final class BradleyTerry {
  public static final double RIDGE = 1e-6;

  private BradleyTerry() {}

  /** Log-strengths theta (natural log), one per player. */
  public static double[] fit(double[] wins, int n) {
    double total = 0;
    for (double w : wins) {
      total += w;
    }
    double lambda = Math.max(RIDGE * total, 1e-12);
    double[] theta = new double[n];
    double[] grad = new double[n];
    double[] hess = new double[n * n];
    for (int iter = 0; iter < 100; iter++) {
      java.util.Arrays.fill(grad, 0);
      java.util.Arrays.fill(hess, 0);
      for (int i = 0; i < n; i++) {
        grad[i] -= lambda * theta[i];
        hess[i * n + i] += lambda;
        for (int j = i + 1; j < n; j++) {
          double wij = wins[i * n + j];
          double wji = wins[j * n + i];
          double nij = wij + wji;
          if (nij == 0) {
            continue;
          }
          double p = 1 / (1 + Math.exp(theta[j] - theta[i]));
          double g = wij - nij * p;
          grad[i] += g;
          grad[j] -= g;
          double h = nij * p * (1 - p);
          hess[i * n + i] += h;
          hess[j * n + j] += h;
          hess[i * n + j] -= h;
          hess[j * n + i] -= h;
        }
      }
      double[] step = solve(hess, grad, n);
      double max = 0;
      for (double s : step) {
        max = Math.max(max, Math.abs(s));
      }
      double scale = max > 4 ? 4 / max : 1; // damped: no step moves a strength by more than e^4
      for (int i = 0; i < n; i++) {
        theta[i] += scale * step[i];
      }
      if (max < 1e-10) {
        break;
      }
    }
    return theta;
  }

  public static double elo(double theta) {
    return 1000 + 400 / Math.log(10) * theta;
  }

  /** Win rate of a player rated {@code rStrong} over one rated {@code rWeak}. */
  public static double eloWinRate(double rStrong, double rWeak) {
    return 1 / (1 + Math.pow(10, (rWeak - rStrong) / 400));
  }

  /** Solves A x = b for symmetric positive definite A (Gaussian elimination, partial pivoting). */
  static double[] solve(double[] aIn, double[] bIn, int n) {
    double[] a = aIn.clone();
    double[] b = bIn.clone();
    for (int col = 0; col < n; col++) {
      int piv = col;
      for (int r = col + 1; r < n; r++) {
        if (Math.abs(a[r * n + col]) > Math.abs(a[piv * n + col])) {
          piv = r;
        }
      }
      if (piv != col) {
        for (int c = 0; c < n; c++) {
          double t = a[col * n + c];
          a[col * n + c] = a[piv * n + c];
          a[piv * n + c] = t;
        }
        double t = b[col];
        b[col] = b[piv];
        b[piv] = t;
      }
      double d = a[col * n + col];
      for (int r = col + 1; r < n; r++) {
        double f = a[r * n + col] / d;
        if (f == 0) {
          continue;
        }
        for (int c = col; c < n; c++) {
          a[r * n + c] -= f * a[col * n + c];
        }
        b[r] -= f * b[col];
      }
    }
    double[] x = new double[n];
    for (int r = n - 1; r >= 0; r--) {
      double s = b[r];
      for (int c = r + 1; c < n; c++) {
        s -= a[r * n + c] * x[c];
      }
      x[r] = s / a[r * n + r];
    }
    return x;
  }
}
