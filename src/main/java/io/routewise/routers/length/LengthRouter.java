package io.routewise.routers.length;

import io.routewise.routers.RouterContext;
import io.routewise.routing.Prompt;
import io.routewise.routing.Router;

/**
 * A cheap baseline: the longer the prompt, the likelier it needs the strong model.
 * {@code rate = chars / (chars + half_length)}, so a prompt of {@code half_length} characters scores
 * 0.5. Every learned router's quality is reported beside this one and random. Config:
 * {@code routers: {length: {half_length: 500}}}.
 */
public final class LengthRouter implements Router {
  public static final String NAME = "length";

  private final double halfLength;

  public LengthRouter(double halfLength) {
    this.halfLength = halfLength;
  }

  public static Router create(RouterContext ctx) {
    return new LengthRouter(ctx.settings().number("half_length", 500, 1, 1e9));
  }

  @Override
  public double strongWinRate(Prompt prompt) {
    double n = prompt.text().length();
    return n / (n + halfLength);
  }
}
