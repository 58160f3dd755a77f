package io.routewise.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.routewise.upstream.Usage;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The background responses a replica awaits the usage of: bounded in number and time, each counted once. */
class StoredResponsesTest {
  private final AtomicLong now = new AtomicLong();
  private final List<String> counted = new ArrayList<>();
  private final List<String> lost = new ArrayList<>();
  private final StoredResponses stored = new StoredResponses(100, null, new StoredResponses.UsageMeter() {
    @Override
    public void counted(StoredResponses.AwaitedUsage awaited, Usage usage) {
      counted.add(awaited.upstream() + ":" + usage.prompt());
    }

    @Override
    public void lost(StoredResponses.AwaitedUsage awaited) {
      lost.add(awaited.upstream());
    }
  }, () -> null, now::get);

  /** Awaits {@code id}'s usage, its record naming the id as its upstream (to tell them apart here). */
  private void await(String id) {
    stored.awaitUsage(id, new StoredResponses.AwaitedUsage(id, true, null));
  }

  @Test
  void anAutoRequestsRecordNamesTheTargetThatSpendsIt() {
    assertEquals("mf", new StoredResponses.AwaitedUsage("mini", true, "mf").spec().router());
    assertTrue(new StoredResponses.AwaitedUsage("mini", true, "mf").spec().auto());
    assertEquals(null, new StoredResponses.AwaitedUsage("strong", false, null).spec());
  }

  /**
   * The shared record names the client key it was routed for; one without (no named keys, or written
   * by a build before them, in a rolling upgrade) reads as before, and so is still written.
   */
  @Test
  void theSharedRecordCarriesTheClientAndOneWithoutReadsAsBefore() {
    var named = new StoredResponses.AwaitedUsage("mini", true, "mf", "search");
    assertEquals(named, StoredResponses.AwaitedUsage.decoded(named.encoded()));
    var unnamed = new StoredResponses.AwaitedUsage("weak", false, null);
    assertEquals("weak\t0\t", unnamed.encoded(), "as a build before client names wrote it");
    assertEquals(unnamed, StoredResponses.AwaitedUsage.decoded("weak\t0\t"));
    assertEquals(new StoredResponses.AwaitedUsage("weak", true, "mf"), StoredResponses.AwaitedUsage.decoded("weak\t1\tmf\t"));
    var passed = new StoredResponses.AwaitedUsage("strong", false, null, null, "gpt-4o-mini");
    assertEquals("strong\t0\t\t\tgpt-4o-mini", passed.encoded());
    assertEquals(passed, StoredResponses.AwaitedUsage.decoded(passed.encoded()));
    assertEquals(null, StoredResponses.AwaitedUsage.decoded("weak\t1\tmf\tsearch\tm\tmore"));
    assertEquals(null, StoredResponses.AwaitedUsage.decoded("weak\t1"));
  }

  @Test
  void eachIsCountedOnceAndOneFinishedWithoutUsageIsLostOnce() {
    await("a");
    await("b");
    stored.finished("a", new Usage(7, 1));
    stored.finished("a", new Usage(7, 1));
    stored.finished("b", null);
    stored.finished("b", null);
    assertEquals(List.of("a:7"), counted);
    assertEquals(List.of("b"), lost);
    assertFalse(stored.awaitsUsage("a"));
  }

  /** Given up an hour after its last poll (counted unmetered then); a poll keeps one awaited. */
  @Test
  void oneNotPolledForAnHourIsGivenUpAndAPollKeepsItAwaited() {
    long hour = StoredResponses.AWAIT_TTL.toNanos();
    await("polled");
    await("forgotten");
    now.addAndGet(hour - 10);
    assertTrue(stored.awaitsUsage("polled"));
    now.addAndGet(20);
    assertFalse(stored.awaitsUsage("forgotten"));
    assertEquals(List.of("forgotten"), lost);
    assertTrue(stored.awaitsUsage("polled"), "polled within the hour");
    now.addAndGet(hour);
    await("new");
    assertEquals(List.of("forgotten", "polled"), lost);
  }

  /**
   * What a background response holds of its client's budget: released, not charged, when a cancel
   * shows no usage (it stays awaited: usage may yet come); charged when no one polls it for the hour
   * (a client that left before it had the id, or reads webhooks: the upstream billed it, unseen), and
   * at once when its client left while its id was being written. Before, each held for the hour and
   * was never charged (an operator trial).
   */
  @Test
  void aBackgroundResponsesHoldIsReleasedWhenCancelledAndChargedWhenGivenUpOrAbandoned() throws Exception {
    io.routewise.routing.ClientBudgets budgets = new io.routewise.routing.ClientBudgets(java.util.Map.of("batch",
        new io.routewise.config.ClientKey.Budget(1, io.routewise.config.ClientKey.Period.DAY)), System::currentTimeMillis);
    io.routewise.config.Price price = new io.routewise.config.Price(1000, 1000); // 0.001 a token
    var timeouts = io.routewise.upstream.IdleTimeouts.forTimeouts(java.time.Duration.ofSeconds(5));
    var http = io.routewise.upstream.HttpClients.shared(new io.routewise.config.ClientConfig(1, java.time.Duration.ofSeconds(1)));
    var strong = new io.routewise.upstream.UpstreamClient(new io.routewise.config.UpstreamConfig("strong",
        java.net.URI.create("http://127.0.0.1:9/v1"), io.routewise.config.Secret.of("none"), "m",
        java.time.Duration.ofSeconds(1), java.time.Duration.ofSeconds(1), java.util.Map.of(), price, null, false),
        http, timeouts, io.routewise.upstream.UpstreamListener.NONE);
    AnswerSpend spend = new AnswerSpend(null, List.of(strong), new io.routewise.metrics.RoutewiseMetrics(), budgets);
    StoredResponses withBudgets = new StoredResponses(100, null, spend, () -> null, now::get);
    java.util.function.Supplier<io.routewise.routing.ClientBudgets.Hold> hold =
        () -> budgets.hold("batch", 0, 100, 1, false, List.of(price));
    var usage = new StoredResponses.AwaitedUsage("strong", false, null, "batch", "m"); // passed through, at m

    withBudgets.awaitUsage("cancelled", usage, hold.get().handOver());
    assertEquals(0.1, budgets.held("batch"), 1e-12);
    withBudgets.released("cancelled");
    assertEquals(0.0, budgets.held("batch"), 1e-12, "cancelled without usage: held no more");
    assertTrue(withBudgets.awaitsUsage("cancelled"), "its usage may yet come");
    assertEquals(0.0, budgets.spentThisPeriod("batch"));

    withBudgets.awaitUsage("forgotten", usage, hold.get().handOver());
    now.addAndGet(StoredResponses.AWAIT_TTL.toNanos() + 1);
    // as serve wires it: the client's next request of any kind gives it up (before, only a Responses
    // request did, and a client reading webhooks that then sent chat alone had it held period after period)
    budgets.beforeHold(withBudgets::sweep);
    hold.get().close(); // a chat request of the same client, released unspent
    assertEquals(0.1, budgets.spentThisPeriod("batch"), 1e-12, "given up: charged what it held");
    assertEquals(0.0, budgets.held("batch"), 1e-12);

    withBudgets.awaitUsage("left", usage, hold.get().handOver());
    withBudgets.abandoned("left", budgets);
    assertEquals(0.2, budgets.spentThisPeriod("batch"), 1e-12, "its client never had the id: charged now");
    assertEquals(0.0, budgets.held("batch"), 1e-12);
    withBudgets.finished("left", new Usage(50, 50));
    assertEquals(0.2, budgets.spentThisPeriod("batch"), 1e-12, "its usage, seen after all, is not charged again");
    withBudgets.awaitUsage("polled", usage, hold.get().handOver());
    withBudgets.finished("polled", new Usage(50, 50));
    assertEquals(0.3, budgets.spentThisPeriod("batch"), 1e-12, "control: a polled one's usage is its client's");
    io.routewise.upstream.HttpClients.shutdown(http);
    timeouts.close();
  }

  @Test
  void pastTheBoundTheLeastRecentlyPolledIsGivenUp() {
    for (int i = 0; i <= StoredResponses.MAX_AWAITED; i++) {
      await("r" + i);
      if (i == 1) {
        now.incrementAndGet();
        stored.awaitsUsage("r0"); // polled: no longer the eldest
      }
    }
    assertEquals(List.of("r1"), lost);
    assertTrue(stored.awaitsUsage("r0"));
  }
}
