package io.routewise.routers.random;

import io.routewise.routers.RouterContext;
import io.routewise.routing.Prompt;
import io.routewise.routing.Router;
import java.util.concurrent.ThreadLocalRandom;

/**
 * RouteLLM's baseline: a uniform random win rate, independent of the prompt. At threshold alpha it
 * sends a share of 1 - alpha of requests to the strong model.
 */
public final class RandomRouter implements Router {
  public static final String NAME = "random";

  public static Router create(RouterContext context) {
    return new RandomRouter();
  }

  @Override
  public double strongWinRate(Prompt prompt) {
    return ThreadLocalRandom.current().nextDouble();
  }
}
