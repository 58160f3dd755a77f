package io.routewise.server;

import io.javalin.http.Context;
import io.routewise.routing.RoutingDecision;

/** Makes each routing decision visible to the client in response headers. */
final class DecisionHeaders {
  private DecisionHeaders() {}

  static void write(Context ctx, RoutingDecision d, String upstreamModel) {
    var res = ctx.res();
    res.setHeader("x-routewise-router", d.router());
    served(ctx, d.upstream(), upstreamModel);
    if (!Double.isNaN(d.strongWinRate()) && !d.fellBack()) { // a pinned turn, a failed router: no estimate
      res.setHeader("x-routewise-win-rate", rateBeside(d.strongWinRate(), d.isDirect() ? Double.NaN : d.threshold()));
    }
    if (!d.isDirect()) { // a direct request: no router, no threshold
      res.setHeader("x-routewise-threshold", thresholdText(d.threshold()));
    }
    if (d.fellBack()) {
      res.setHeader("x-routewise-router-error", d.failureKind());
    }
    if (d.pinned()) {
      res.setHeader("x-routewise-pinned", "true");
    }
    if (d.movedFrom() != null) {
      res.setHeader("x-routewise-moved-from", d.movedFrom()); // it takes no images (or audio, files) of this request
    }
  }

  /**
   * Which upstream answers, by its name and model ({@code strong gpt-4o}): written with the
   * decision, rewritten when a failover changes it.
   */
  static void served(Context ctx, String upstream, String upstreamModel) {
    ctx.res().setHeader("x-routewise-model", upstream + " " + upstreamModel);
  }

  /** A dollar amount to 6 significant digits, in plain notation ({@code 0.0001275}, never {@code 1.275E-4}). */
  static String usd(double amount) {
    return java.math.BigDecimal.valueOf(amount).round(new java.math.MathContext(6)).stripTrailingZeros().toPlainString();
  }

  /**
   * {@link #sixDecimals}, but never on the other side of {@code threshold} than the rate itself:
   * 0.3499996 against α = 0.35 reads 0.349999, not 0.350000 (which would say strong where it went weak).
   */
  static String rateBeside(double rate, double threshold) {
    String shown = sixDecimals(rate);
    if (!(Math.abs(rate - threshold) < 1e-6) // rounding moves it by half a step at most (NaN: no threshold)
        || (rate >= threshold) == (Double.parseDouble(shown) >= threshold)) {
      return shown;
    }
    return java.math.BigDecimal.valueOf(rate)
        .setScale(6, rate >= threshold ? java.math.RoundingMode.CEILING : java.math.RoundingMode.FLOOR).toPlainString();
  }

  /** The last threshold written and its text: a router's threshold rarely changes between requests. */
  private record Shown(double value, String text) {}

  private static volatile Shown lastThreshold = new Shown(0.5, "0.5");

  /** {@link Double#toString(double)} of {@code threshold}, made once while it stays the same. */
  static String thresholdText(double threshold) {
    Shown last = lastThreshold;
    if (Double.compare(last.value(), threshold) == 0) {
      return last.text();
    }
    String text = Double.toString(threshold);
    lastThreshold = new Shown(threshold, text);
    return text;
  }

  /** Like {@code "%.6f"} (half-up on the shortest decimal form), without the Formatter (a hot path). */
  static String sixDecimals(double rate) {
    if (rate >= 0 && rate <= 1) { // a win rate: without BigDecimal, but for a rate next to a half-millionth
      double scaled = rate * 1e6; // within 2e-10 of the shortest decimal form's (rate's ulp, the product's)
      double whole = Math.floor(scaled);
      double fraction = scaled - whole;
      if (Math.abs(fraction - 0.5) > 1e-6) { // half-up can only differ on the other side of a half
        long micros = (long) whole + (fraction > 0.5 ? 1 : 0);
        char[] out = {(char) ('0' + micros / 1_000_000), '.', '0', '0', '0', '0', '0', '0'};
        long rest = micros % 1_000_000;
        for (int i = 7; i >= 2; i--, rest /= 10) {
          out[i] = (char) ('0' + rest % 10);
        }
        return new String(out);
      }
    }
    return Double.isFinite(rate)
        ? java.math.BigDecimal.valueOf(rate).setScale(6, java.math.RoundingMode.HALF_UP).toPlainString()
        : String.format(java.util.Locale.ROOT, "%.6f", rate);
  }
}
