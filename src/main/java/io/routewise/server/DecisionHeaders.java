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
    res.setHeader("x-routewise-win-rate", String.format(java.util.Locale.ROOT, "%.6f", d.strongWinRate()));
    res.setHeader("x-routewise-threshold", Double.toString(d.threshold()));
    if (d.fellBack()) {
      res.setHeader("x-routewise-router-error", d.failureKind());
    }
  }
}
