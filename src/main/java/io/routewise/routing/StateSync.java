package io.routewise.routing;

import io.routewise.config.TargetConfig;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one background thread that drives the targets: every {@code period} it steps each
 * {@link TargetController}, and with a {@link StateStore} it first exchanges each controller's
 * window with the other replicas. The request path never waits for it: requests read the last α.
 *
 * <p>When the store fails or is slower than its timeout, every controller steps on this replica's
 * window alone, one log line and {@link StateListener#sharedStateDown} say so, and each later
 * period tries the store again; the first exchange that works rejoins (one more line). Pin lookups
 * ask {@link #storeUp()} and skip the store while it is down.
 */
public final class StateSync implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(StateSync.class);

  private final List<TargetController> controllers;
  private final StateStore store;
  private final Duration period;
  private final StateListener listener;
  private final ScheduledExecutorService thread;
  private volatile boolean up;
  /**
   * The store's incarnations seen lately (sync thread only; the most recent last, at most
   * {@link #INCARNATIONS_KEPT}): an endpoint whose INFO comes from one of several nodes (a proxy in
   * front of a cluster) names a few in turn, and only one never seen is a lost state.
   */
  private final java.util.LinkedHashSet<String> incarnations = new java.util.LinkedHashSet<>();
  static final int INCARNATIONS_KEPT = 64;
  private volatile SessionPins pins;
  private volatile ClientBudgets budgets;
  private volatile ClientRateLimits rateLimits;
  /** The store's evicted_keys at its last sight, per incarnation, most recent last (sync thread only). */
  private final java.util.LinkedHashMap<String, Long> evictedKeys = new java.util.LinkedHashMap<>(16, 0.75f, true);
  private long lastEvictionWarning;
  private boolean everUp;
  private boolean reportedDown;
  /** The budgets last reported blind, so each change is said once. */
  private final java.util.Set<String> unmetered = new java.util.HashSet<>();
  /** The targets last reported out of reach. */
  private final java.util.Set<String> outOfReach = new java.util.HashSet<>();

  /**
   * @param store where windows are shared, or null for local state only
   */
  public StateSync(Collection<TargetController> controllers, StateStore store, Duration period, StateListener listener) {
    this.controllers = List.copyOf(controllers);
    this.store = store;
    this.period = period;
    this.listener = listener;
    this.thread = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "routewise-state-sync");
      t.setDaemon(true);
      return t;
    });
  }

  /**
   * Runs one sync now (so the store's state is known before the first request: bounded by the
   * store's timeout), then one every period.
   */
  public StateSync start() {
    runOnce();
    thread.scheduleWithFixedDelay(this::runSafely, period.toMillis(), period.toMillis(), TimeUnit.MILLISECONDS);
    return this;
  }

  /** Whether state is shared through a store at all. */
  public boolean shared() {
    return store != null;
  }

  /** Whether the last exchange with the store worked (false without a store). */
  public boolean storeUp() {
    return up;
  }

  public Duration period() {
    return period;
  }

  private void runSafely() {
    try {
      runOnce();
    } catch (RuntimeException | Error e) {
      // A bug must not stop the schedule: α would freeze silently.
      LOG.error("state sync failed; retrying next period", e);
    }
  }

  /** One period's work: exchange (when shared) and step every controller. */
  public void runOnce() {
    List<TargetController> pending = new ArrayList<>(controllers);
    if (store != null) {
      try {
        ClientBudgets b = budgets;
        ClientRateLimits limits = rateLimits;
        if (controllers.isEmpty() && b == null && limits == null) {
          store.ping();
        }
        for (TargetController c : controllers) {
          WindowSnapshot mine = c.snapshot();
          List<WindowSnapshot> others = store.exchange(c.router(), mine);
          c.tick(mine, others);
          pending.remove(c);
        }
        if (b != null) {
          b.exchange(store); // what is not added now is at the next sync that works
        }
        if (limits != null) {
          limits.exchange(store);
        }
        SessionPins p = pins;
        // asked only for pins (targets need neither), and acted on only once the whole sync worked
        String incarnationNow = p == null ? null : store.incarnation();
        long evictedNow = p == null ? -1 : store.evictedKeys();
        markUp();
        if (p != null) { // each catches the store's failures itself: the sync worked, the next one retries
          if (incarnationChanged(incarnationNow)) { // said after "answers again", which a restart's first sync says too
            LOG.info("shared state: {} restarted or lost its keys (flushed, a replica promoted): it may lack pins "
                + "written lately, so this replica offers it its pins again", store.describe());
            p.storeLostState();
          } else if (evicted(incarnationNow, evictedNow)) {
            p.storeEvicted();
          }
          p.offerUnshared();
        }
      } catch (Exception e) {
        ClientBudgets b = budgets;
        if (b != null) {
          b.forgetOthersHolds(); // a failure before the budgets' exchange too: they may have ended since
        }
        ClientRateLimits limits = rateLimits;
        if (limits != null) {
          limits.forgetOthers(); // each holds its clients' limits alone until an exchange works again
        }
        markDown(e);
      }
    }
    for (TargetController c : pending) {
      c.tick(c.snapshot(), null);
    }
    for (TargetController c : controllers) {
      reportMetering(c);
    }
  }

  /** Whether {@code now} is an incarnation never seen: the store lost its state since the last period. */
  private boolean incarnationChanged(String now) {
    if (now == null) {
      return false;
    }
    boolean first = incarnations.isEmpty();
    boolean seen = incarnations.remove(now);
    incarnations.add(now); // the most recently seen last: the one dropped is the longest unseen
    if (incarnations.size() > INCARNATIONS_KEPT) {
      incarnations.remove(incarnations.iterator().next());
    }
    return !first && !seen;
  }

  /**
   * Whether the store evicted keys since the last period: its count grew under one incarnation (a
   * node behind a proxy counts its own, a restart counts afresh). Said at most once a minute.
   */
  private boolean evicted(String incarnation, long now) {
    if (now < 0) {
      return false;
    }
    Long before = evictedKeys.put(incarnation == null ? "" : incarnation, now);
    if (evictedKeys.size() > INCARNATIONS_KEPT) {
      evictedKeys.remove(evictedKeys.keySet().iterator().next());
    }
    if (before == null || now <= before) {
      return false;
    }
    long at = System.nanoTime();
    if (lastEvictionWarning == 0 || at - lastEvictionWarning > TimeUnit.MINUTES.toNanos(1)) {
      lastEvictionWarning = at;
      LOG.warn("shared state: {} evicted {} keys since the last sync (its maxmemory is reached): session pins may be "
          + "among them, so a session may change upstream; this replica offers its pins again at their sessions' next "
          + "turns. Give Redis more memory (README: state)", store.describe(), now - before);
    }
    return true;
  }

  /**
   * The session pins to keep in step with the store, on the sync thread after each period whose
   * exchange worked: all they hold offered again when the store lost its state, re-checked at their
   * next turns when it evicted keys, and those it has not taken yet (made while it was down) offered.
   */
  public void shareWith(SessionPins pins) {
    this.pins = pins;
  }

  /** Named clients' rate limits, whose requests are added up with the other replicas' at every period's exchange. */
  public void shareWith(ClientRateLimits rateLimits) {
    rateLimits.syncEvery(period); // a share spent says to retry at the next sync
    this.rateLimits = rateLimits;
  }

  /** Named clients' budgets, whose spend is added up with the other replicas' at every period's exchange. */
  public void shareWith(ClientBudgets budgets) {
    budgets.syncEvery(period); // a refusal only a sync can lift says when it is
    this.budgets = budgets;
  }

  private void reportMetering(TargetController c) {
    if (c.outOfReach() && c.tied() && outOfReach.add(c.router())) {
      LOG.warn("router-{}-auto: its target {} = {} is out of reach: its router's scores tie, so no α sends that share "
          + "(a decision the router failed on, or with no text to score, counts as strong at any α: see "
          + "routewise_router_failures_total); α {} sends the nearest a threshold can ({} strong in the window)", c.router(), c.target().kind().key(),
          c.target().value(), c.alpha(), String.format(java.util.Locale.ROOT, "%.3f", c.observedShare()));
    } else if (c.outOfReach() && outOfReach.add(c.router())) {
      TargetConfig t = c.target();
      LOG.warn("router-{}-auto: its target {} = {} is out of reach: α is held at {} (min_alpha {}, max_alpha {}) and the "
          + "window shows a strong share of {} and {} USD/h; widen the bounds or change the target",
          c.router(), t.kind().key(), t.value(), c.alpha(), t.minAlpha(), t.maxAlpha(),
          String.format(java.util.Locale.ROOT, "%.3f", c.observedShare()),
          String.format(java.util.Locale.ROOT, "%.4f", c.observedUsdPerHour()));
    } else if (!c.outOfReach() && outOfReach.remove(c.router())) {
      LOG.info("router-{}-auto: its target is within reach again (α {})", c.router(), c.alpha());
    }
    if (c.unmetered() && unmetered.add(c.router())) {
      LOG.warn("router-{}-auto: its budget has decisions but no answer with usage in the window (streams without "
          + "stream_usage: true, or upstreams that send no usage): α stays at {} until one is metered", c.router(),
          c.alpha());
    } else if (!c.unmetered() && unmetered.remove(c.router())) {
      LOG.info("router-{}-auto: answers are metered again; its budget steers α", c.router());
    }
  }

  private void markUp() {
    if (!up) {
      up = true;
      if (everUp || reportedDown) {
        LOG.info("shared state: {} answers again; replicas share their target windows, pins and client spend again",
            store.describe());
      } else {
        LOG.info("shared state: {} (sync every {} ms)", store.describe(), period.toMillis());
      }
      everUp = true;
      reportedDown = false;
      listener.sharedStateUp(store.describe());
    }
  }

  private void markDown(Exception e) {
    if (up || !reportedDown) {
      up = false;
      reportedDown = true;
      LOG.warn("shared state: {} unavailable ({}); each replica holds its targets and pins on its own until it is back",
          store.describe(), reason(e));
      listener.sharedStateDown(store.describe(), e);
    }
  }

  /**
   * Why a store call failed, for the log: its message, and the root cause where that says more (the
   * client's "Failed to create socket." hides a host name that does not resolve).
   */
  static String reason(Throwable e) {
    String said = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    Throwable root = e;
    while (root.getCause() != null && root.getCause() != root) {
      root = root.getCause();
    }
    if (root == e || (root.getMessage() != null && said.contains(root.getMessage()))) {
      return said;
    }
    return said + ": " + root.getClass().getSimpleName() + (root.getMessage() == null ? "" : ": " + root.getMessage());
  }

  /**
   * Stops the thread, after one last exchange of the clients' spend and requests (bounded by the
   * store's timeout): else what the last answers cost here was in no replica's sum, and the requests
   * let through since the last sync in no replica's count. The store is closed by its owner.
   */
  @Override
  public void close() {
    ClientBudgets b = budgets;
    ClientRateLimits limits = rateLimits;
    if ((b != null || limits != null) && store != null && !thread.isShutdown()) { // closed twice (Routewise's close, its state's): once
      thread.execute(() -> {
        if (b != null) {
          try {
            b.exchange(store);
          } catch (Exception e) {
            LOG.warn("shared state: {} did not take this replica's last client spend ({})", store.describe(), reason(e));
          }
        }
        if (limits != null) {
          try {
            limits.exchange(store);
          } catch (Exception e) {
            LOG.warn("shared state: {} did not take this replica's last client requests ({})", store.describe(),
                reason(e));
          }
        }
      });
      thread.shutdown(); // the periodic sync is dropped; the last exchange runs
      try {
        thread.awaitTermination(5, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    thread.shutdownNow();
    try {
      thread.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
