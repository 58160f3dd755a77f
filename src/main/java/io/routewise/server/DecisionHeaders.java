package io.routewise.server;

import io.javalin.http.Context;
import io.routewise.routing.RoutingDecision;

/** Makes each routing decision visible to the client in response headers. */
final class DecisionHeaders {
  private DecisionHeaders() {}

  static void write(Context ctx, RoutingDecision d, String upstreamModel) {
    var res = ctx.res();
    res.setHeader("x-routewise-router", d.router());
    res.setHeader("x-routewise-model", d.route().label() + " " + upstreamModel);
    res.setHeader("x-routewise-win-rate", sixDecimals(d.strongWinRate()));
    res.setHeader("x-routewise-threshold", Double.toString(d.threshold()));
    if (d.fellBack()) {
      res.setHeader("x-routewise-router-error", d.failureKind());
    }
  }

  /** Like {@code "%.6f"} for a rate in [0, 1], without the Formatter (a hot path). */
  static String sixDecimals(double rate) {
    if (!(rate >= 0 && rate <= 1)) {
      return String.format(java.util.Locale.ROOT, "%.6f", rate);
    }
    long micros = Math.round(rate * 1_000_000);
    if (micros >= 1_000_000) {
      return "1.000000";
    }
    char[] out = {'0', '.', '0', '0', '0', '0', '0', '0'};
    for (int i = 7; micros > 0; i--, micros /= 10) {
      out[i] = (char) ('0' + micros % 10);
    }
    return new String(out);
  }
}
