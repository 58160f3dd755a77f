package io.routewise.routers;

/** How a router's raw win-rate estimate, which its priors can push past 0 or 1, becomes a probability. */
public final class WinRates {
  /** Where the bend begins: rates within [EDGE, 1 - EDGE] are left exactly as they are. */
  static final double EDGE = 0.01;

  private WinRates() {}

  /**
   * {@code r} inside (0, 1): unchanged within [EDGE, 1 - EDGE], beyond it bent towards 0 and 1 without
   * reaching them (continuous, slope 1 at the bend, increasing). A hard clamp made every prompt past 1
   * exactly 1: α = 1 then kept them at the top (1 >= 1), so α = 1 did not send everything to the
   * cheapest upstream, and those prompts were tied, their order lost. A NaN stays NaN.
   */
  public static double bounded(double r) {
    if (r > 1 - EDGE) {
      return 1 - EDGE * EDGE / (EDGE + (r - (1 - EDGE)));
    }
    if (r < EDGE) {
      return EDGE * EDGE / (EDGE + (EDGE - r));
    }
    return r;
  }
}
