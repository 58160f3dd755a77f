package io.routewise.routers;

/**
 * How long a prompt is, as the learned routers read it: {@code z = (ln(1 + chars) - mean) / std},
 * with the mean and spread of the training prompts. Characters, not tokens, so the feature does not
 * depend on which embedding (and tokenizer) a router was trained on.
 */
public record LengthScale(double mean, double std) {
  public LengthScale {
    if (!(std > 0) || !Double.isFinite(mean)) {
      throw new IllegalArgumentException("length scale needs a finite mean and a positive std: " + mean + ", " + std);
    }
  }

  /** The standardized log length of {@code text}. */
  public double z(String text) {
    return z(text.length());
  }

  public double z(int chars) {
    return (Math.log1p(chars) - mean) / std;
  }

  /** The scale of a set of texts' lengths. */
  public static LengthScale of(java.util.List<String> texts) {
    double s = 0;
    double ss = 0;
    for (String t : texts) {
      double l = Math.log1p(t.length());
      s += l;
      ss += l * l;
    }
    int n = Math.max(1, texts.size());
    double mean = s / n;
    double var = ss / n - mean * mean;
    return new LengthScale(mean, Math.sqrt(Math.max(var, 1e-12)));
  }
}
