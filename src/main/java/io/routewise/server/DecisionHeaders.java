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
      res.setHeader("x-routewise-win-rate", sixDecimals(d.strongWinRate()));
    }
    if (!d.isDirect()) { // a direct request: no router, no threshold
      res.setHeader("x-routewise-threshold", Double.toString(d.threshold()));
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

  /** Like {@code "%.6f"} (half-up on the shortest decimal form), without the Formatter (a hot path). */
  static String sixDecimals(double rate) {
    return Double.isFinite(rate)
        ? java.math.BigDecimal.valueOf(rate).setScale(6, java.math.RoundingMode.HALF_UP).toPlainString()
        : String.format(java.util.Locale.ROOT, "%.6f", rate);
  }
}
