package io.routewise.server;

import io.javalin.http.Context;
import io.routewise.routing.RoutingDecision;
import java.util.Locale;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code server.access_log}: one line per API request on the {@code routewise.access} logger, in
 * {@code key=value} form, so a complaint about one answer can be found and joined with the
 * upstream's logs: status, time, the named client key, the decision (router, win rate, threshold, route, model), a
 * failover, the answer's tokens and cost, the upstream's and the client's request ids, an error code. Never the prompt. Values a
 * client chose (its request id, the path) are cut to safe characters, so a line cannot be forged.
 */
final class AccessLog {
  private static final Logger LOG = LoggerFactory.getLogger("routewise.access");
  private static final int MAX_VALUE = 128;

  private AccessLog() {}

  /** Request attribute: how a response that had started went on (e.g. a stream cut off), for the line. */
  static final String OUTCOME = "routewise.outcome";
  /** Request attribute: the answer's usage as counted, for the line. */
  static final String SPENT = "routewise.spent";

  /** An answer's usage, and what it cost in USD (NaN: its upstream has no price). */
  record Spent(io.routewise.upstream.Usage usage, double usd) {}

  static void chat(Context ctx, RoutingDecision d, int status, String errorCode, long receivedNanos) {
    StringBuilder b = start(ctx, status, receivedNanos);
    if (d != null) {
      b.append(" router=").append(d.router());
      if (!Double.isNaN(d.strongWinRate()) && !d.fellBack()) { // a pinned turn, a failed router: no estimate
        b.append(" win_rate=").append(String.format(Locale.ROOT, "%.4f", d.strongWinRate()));
      }
      if (!d.isDirect()) {
        b.append(" threshold=").append(d.threshold());
      }
      String model = ctx.res().getHeader("x-routewise-model"); // "strong gpt-4o", the one that answered
      if (model != null) {
        int space = model.indexOf(' ');
        b.append(" route=").append(space < 0 ? model : model.substring(0, space));
        if (space >= 0) {
          b.append(" model=").append(safe(model.substring(space + 1)));
        }
      }
      String failover = ctx.res().getHeader("x-routewise-failover");
      if (failover != null) {
        b.append(" failover=").append(safe(failover.replace(' ', '_')));
      }
      if (d.fellBack()) {
        b.append(" router_error=").append(safe(d.failureKind()));
      }
      if (d.pinned()) {
        b.append(" pinned=true");
      }
    }
    finish(ctx, b, errorCode);
  }

  static void passthrough(Context ctx, String upstream, int status, String errorCode, long receivedNanos) {
    StringBuilder b = start(ctx, status, receivedNanos).append(" passthrough=").append(upstream);
    finish(ctx, b, errorCode);
  }

  /**
   * A request turned away before its handler ran (a missing or wrong key, an origin or host not allowed): at most {@link
   * #REJECTED_PER_SECOND} lines a second, the rest counted in one line written with the next one
   * turned away after that second.
   * Anyone can send those requests, keyless; unbounded, they were a line each at full request rate.
   */
  static void rejected(Context ctx, int status, String errorCode, Rejections rejections) {
    if (rejections.admit()) {
      finish(ctx, start(ctx, status, ChatCompletionsHandler.began(ctx)), errorCode);
    }
  }

  static final int REJECTED_PER_SECOND = 20;

  /**
   * One server's budget of rejected-request lines (a second's window; atomics only). The count of a
   * second's lines left out is written once that second is over: by the first rejection after it, or
   * by a virtual thread that the second's first left-out line starts, so it comes even if none follows.
   */
  static final class Rejections {
    private final String what;
    private final java.util.concurrent.atomic.AtomicLong second = new java.util.concurrent.atomic.AtomicLong();
    private final java.util.concurrent.atomic.AtomicInteger logged = new java.util.concurrent.atomic.AtomicInteger();
    private final java.util.concurrent.atomic.AtomicInteger left = new java.util.concurrent.atomic.AtomicInteger();

    /** Lines of requests turned away for their key, origin or host. */
    Rejections() {
      this("requests turned away");
    }

    /** {@code what} names the requests in the line that counts those left out. */
    Rejections(String what) {
      this.what = what;
    }

    boolean admit() {
      roll();
      if (logged.incrementAndGet() <= REJECTED_PER_SECOND) {
        return true;
      }
      if (left.getAndIncrement() == 0) {
        // at most one a second, and it lives a second at most
        Thread.ofVirtual().name("routewise-access-summary").start(() -> {
          try {
            Thread.sleep(1_000 - Math.floorMod(System.nanoTime() / 1_000_000L, 1_000L) + 5);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
          roll();
        });
      }
      return false;
    }

    /** Starts a new second's budget once the last one is over, writing how many lines it left out. */
    private void roll() {
      long now = System.nanoTime() / 1_000_000_000L;
      long was = second.get();
      if (was != now && second.compareAndSet(was, now)) {
        logged.set(0);
        int n = left.getAndSet(0);
        if (n > 0) {
          LOG.info("{} more {} in a second were not logged (over {} a second)", n, what, REJECTED_PER_SECOND);
        }
      }
    }
  }

  private static StringBuilder start(Context ctx, int status, long receivedNanos) {
    StringBuilder b = new StringBuilder(256).append(ctx.method()).append(' ').append(safe(ctx.req().getRequestURI()))
        .append(' ').append(status)
        .append(" ms=").append(String.format(Locale.ROOT, "%.1f", (System.nanoTime() - receivedNanos) / 1e6));
    String client = ctx.attribute(ChatCompletionsHandler.CLIENT_NAME); // a configured name: safe as it is
    return client == null ? b : b.append(" client=").append(client);
  }

  private static void finish(Context ctx, StringBuilder b, String errorCode) {
    if (errorCode != null) {
      b.append(" error=").append(safe(errorCode));
    }
    Object outcome = ctx.attribute(OUTCOME);
    if (outcome != null) {
      b.append(" outcome=").append(safe(outcome.toString()));
    }
    Spent spent = ctx.attribute(SPENT);
    if (spent != null) {
      b.append(" prompt_tokens=").append(spent.usage().prompt())
          .append(" completion_tokens=").append(spent.usage().completion());
      if (!Double.isNaN(spent.usd())) {
        b.append(" cost_usd=").append(DecisionHeaders.usd(spent.usd()));
      }
    }
    String requestId = ctx.res().getHeader("x-request-id");
    if (requestId == null && !ctx.res().isCommitted()) {
      requestId = RequestIds.next(); // an error about to be written: the same id in the line and the answer
      ctx.header("x-request-id", requestId);
    }
    if (requestId != null) {
      b.append(" request_id=").append(safe(requestId));
    }
    for (String name : new String[] {"x-client-request-id", "x-request-id"}) {
      String id = ctx.header(name);
      if (id != null) {
        b.append(" client_request_id=").append(safe(id));
        break;
      }
    }
    LOG.info(b.toString());
  }

  /**
   * Letters, digits and {@code - _ . : / @ + %}, at most 128 of them; anything else, {@code =} and
   * spaces included, becomes {@code _}, so a value cannot pass for another field.
   */
  static String safe(String value) {
    int n = Math.min(value.length(), MAX_VALUE);
    StringBuilder out = new StringBuilder(n);
    for (int i = 0; i < n; i++) {
      char c = value.charAt(i);
      boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || "-_.:/@+%".indexOf(c) >= 0;
      out.append(ok ? c : '_');
    }
    return out.toString();
  }
}
