package io.routewise.server;

import io.routewise.routing.RouteSpec;
import io.routewise.routing.RoutingService;
import io.routewise.upstream.UpstreamClient;
import io.routewise.upstream.Usage;
import java.util.List;
import java.util.Map;

/**
 * Where an answer's usage is counted: the token and cost counters of the upstream that answered it,
 * and the spend of the router's target for an auto request. Savings count only where the router's
 * choice answered: not a named upstream, nor a failover (a strong outage that sends traffic to a
 * cheaper upstream is not routing saving money).
 */
final class AnswerSpend implements StoredResponses.UsageMeter {
  private final RoutingService routing;
  private final io.routewise.metrics.RoutewiseMetrics metrics;
  private final Map<String, UpstreamClient> upstreams = new java.util.HashMap<>();

  private final io.routewise.routing.ClientBudgets budgets;

  AnswerSpend(RoutingService routing, List<UpstreamClient> upstreams, io.routewise.metrics.RoutewiseMetrics metrics,
      io.routewise.routing.ClientBudgets budgets) {
    this.routing = routing;
    this.metrics = metrics;
    this.budgets = budgets;
    upstreams.forEach(u -> this.upstreams.put(u.name(), u));
  }

  /**
   * Counts {@code usage} of an answer from {@code upstream} (ignored for an upstream no longer
   * configured), routed for the named client key {@code client} (null: none); returns its cost in
   * USD (NaN: the upstream has no price).
   */
  double counted(String upstream, Usage usage, RouteSpec spec, boolean routersChoice, String client) {
    UpstreamClient u = upstreams.get(upstream);
    if (u == null) {
      return Double.NaN;
    }
    u.listener().tokens(upstream, usage, routersChoice);
    io.routewise.config.Price price = u.config().price();
    double cost = price == null ? Double.NaN : usage.cost(price);
    if (price != null) {
      routing.answered(spec, upstream, cost);
    }
    clientSpent(client, usage, cost);
    return cost;
  }

  /** A named client's share of an answer: its tokens and spend, and its budget's (null: no named key). */
  private void clientSpent(String client, Usage usage, double cost) {
    if (client != null) {
      metrics.clientAnswered(client, usage.prompt(), usage.completion(), cost);
      budgets.spent(client, cost, usage.prompt(), usage.completion());
    }
  }

  /** What named clients may spend. */
  io.routewise.routing.ClientBudgets budgets() {
    return budgets;
  }

  /**
   * Counts {@code usage} of an answer passed through to {@code upstream} for a model it prices at
   * {@code price}: tokens and spend (the client's too, and its budget's), never a saving or a
   * target's (no router chose it); returns its cost in USD.
   */
  double passedThrough(String upstream, Usage usage, io.routewise.config.Price price, String client) {
    double cost = usage.cost(price);
    metrics.passedThrough(upstream, usage.prompt(), usage.completion(), cost);
    clientSpent(client, usage, cost);
    return cost;
  }

  @Override
  public void counted(StoredResponses.AwaitedUsage awaited, Usage usage) {
    if (awaited.model() != null) { // passed through: at its model's price, if this replica's config has one
      UpstreamClient u = upstreams.get(awaited.upstream());
      io.routewise.config.Price price = u == null ? null : u.config().priceOf(awaited.model());
      if (price != null) {
        passedThrough(awaited.upstream(), usage, price, awaited.client());
      } else if (u != null) { // this replica's config has no price for it: its tokens, and a spend left uncounted
        metrics.passedThrough(awaited.upstream(), usage.prompt(), usage.completion(), Double.NaN);
        unmetered(awaited.upstream());
      }
      return;
    }
    counted(awaited.upstream(), usage, awaited.spec(), awaited.routersChoice(), awaited.client());
  }

  @Override
  public void lost(StoredResponses.AwaitedUsage awaited) {
    unmetered(awaited.upstream());
  }

  @Override
  public void finishedWithout(StoredResponses.AwaitedUsage awaited, io.routewise.routing.ClientBudgets.Hold hold) {
    unmetered(awaited.upstream());
    if (hold != null) {
      if (budgets().refusesUnmetered(awaited.client())) { // its cost unseen, as a routed answer without usage
        budgets().left(hold);
      }
      hold.close();
    }
  }

  @Override
  public void givenUp(StoredResponses.AwaitedUsage awaited, io.routewise.routing.ClientBudgets.Hold hold) {
    unmetered(awaited.upstream());
    if (hold != null) {
      budgets().left(hold);
      hold.close();
    }
  }

  /** A whole answer from {@code upstream} without usage: its tokens and dollars go uncounted. */
  void unmetered(String upstream) {
    UpstreamClient u = upstreams.get(upstream);
    if (u != null) {
      u.listener().unmetered(upstream);
    }
  }
}
