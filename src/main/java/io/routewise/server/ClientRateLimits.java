package io.routewise.server;

import io.routewise.config.ClientKey;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/**
 * The named clients' request rate limits ({@code rate_limit: {requests: N, per: minute}}), each held
 * at this replica by the generic cell rate algorithm: a burst of N, then one request each period / N.
 * One compare-and-set a request, no lock and no timer; the clients are the config's, so nothing grows.
 */
final class ClientRateLimits {
  /** A refusal: the client may try again in {@code retryNanos}; its limit is full again in {@code fullNanos}. */
  record Refusal(ClientKey.RateLimit limit, long retryNanos, long fullNanos) {}

  private final Map<String, Cell> cells;
  private final LongSupplier nanoTime;

  ClientRateLimits(List<ClientKey> clients, LongSupplier nanoTime) {
    this.nanoTime = nanoTime;
    long now = nanoTime.getAsLong();
    Map<String, Cell> out = new java.util.HashMap<>();
    for (ClientKey c : clients) {
      if (c.name() != null && c.rateLimit() != null) {
        out.put(c.name(), new Cell(c.rateLimit(), now));
      }
    }
    cells = Map.copyOf(out);
  }

  boolean any() {
    return !cells.isEmpty();
  }

  List<String> clients() {
    return cells.keySet().stream().sorted().toList();
  }

  /** Takes one of {@code client}'s requests: null when its limit allows it (or it has none), else why not. */
  Refusal take(String client) {
    Cell cell = client == null ? null : cells.get(client);
    return cell == null ? null : cell.take(nanoTime.getAsLong());
  }

  /**
   * One client's limit. {@code due} is the theoretical arrival time of the next request: each one
   * taken moves it on by an interval, and a request is allowed while that leaves {@code due} at most
   * one period ahead of now (so a client idle for a period has its whole burst again).
   */
  private static final class Cell {
    private final ClientKey.RateLimit limit;
    private final long interval;
    private final long period;
    private final AtomicLong due;

    Cell(ClientKey.RateLimit limit, long now) {
      this.limit = limit;
      this.period = limit.per().nanos();
      this.interval = Math.max(1, period / limit.requests());
      this.due = new AtomicLong(now);
    }

    Refusal take(long now) {
      while (true) {
        long was = due.get();
        long next = (was - now > 0 ? was : now) + interval; // nanoTime: compared by difference only
        long ahead = next - now;
        if (ahead > period) {
          return new Refusal(limit, ahead - period, was - now);
        }
        if (due.compareAndSet(was, next)) {
          return null;
        }
      }
    }
  }
}
