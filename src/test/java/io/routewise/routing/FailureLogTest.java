package io.routewise.routing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class FailureLogTest {

  @Test
  void logsTheFirstFailureOfEachKindAndThenStaysQuiet() {
    List<String> lines = new ArrayList<>();
    FailureLog log = new FailureLog(lines::add);

    for (int i = 0; i < 5; i++) {
      log.routerFailed("causal_llm", "timeout", new RouterException("timeout", "judge did not answer"));
    }
    log.routerFailed("causal_llm", "http_5xx", new RouterException("http_5xx", "judge answered HTTP 500"));
    log.routerFailed("mf", "timeout", new RouterException("timeout", "slow"));

    assertEquals(3, lines.size(), lines.toString());
    assertTrue(lines.get(0).contains("causal_llm failed (timeout): judge did not answer"), lines.get(0));
    assertTrue(lines.get(1).contains("(http_5xx)"), lines.get(1));
    assertTrue(log.logged("mf", "timeout"));
  }

  @Test
  void routingServiceReportsARouterFailureToTheLogOnce() {
    List<String> lines = new ArrayList<>();
    Router failing = prompt -> {
      throw new RouterException("no_rating", "no rating");
    };
    try (RoutingService service = new RoutingService(java.util.Map.of("causal_llm", failing), "causal_llm", 0.5,
        new FailureLog(lines::add))) {
      RoutingDecision first = service.decide(service.specFor("router-causal_llm-0.5"), Prompt.of("hi"));
      service.decide(service.specFor("router-causal_llm-0.5"), Prompt.of("hi again"));
      assertEquals(Route.STRONG, first.route());
      assertEquals("no_rating", first.failureKind());
    }
    assertEquals(1, lines.size(), lines.toString());
  }
}
