package io.routewise.cli;

/**
 * Range checks for numeric command-line options, as usage errors (exit 2) naming the option: out of
 * range, they crashed deep inside a run (a negative array size, a division by zero) or, worse, wrote
 * a model or a report of NaN with exit 0.
 */
final class OptionChecks {
  private OptionChecks() {}

  static void atLeast(String option, long value, long min) {
    if (value < min) {
      throw new IllegalArgumentException(option + " must be at least " + min + ", got " + value);
    }
  }

  static void atLeast(String option, double value, double min) {
    if (!(Double.isFinite(value) && value >= min)) {
      throw new IllegalArgumentException(option + " must be a number >= " + num(min) + ", got " + value);
    }
  }

  static void above(String option, double value, double min) {
    if (!(Double.isFinite(value) && value > min)) {
      throw new IllegalArgumentException(option + " must be a number > " + num(min) + ", got " + value);
    }
  }

  static void within(String option, double value, double min, double max) {
    if (!(value >= min && value <= max)) {
      throw new IllegalArgumentException(option + " must be in [" + num(min) + ", " + num(max) + "], got " + value);
    }
  }

  private static String num(double v) {
    return v == Math.rint(v) ? Long.toString((long) v) : Double.toString(v);
  }
}
