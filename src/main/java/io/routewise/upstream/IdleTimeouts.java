package io.routewise.upstream;

import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import okhttp3.Call;

/**
 * Enforces upstream timeouts — for the response headers, then for each wait on body bytes — with
 * one watchdog thread that cancels calls whose current wait has run too long.
 *
 * <p>Why not OkHttp's read and write timeouts: on a virtual thread each timed socket read is a
 * timed park (a timer scheduled and cancelled) plus okio's process-wide timeout lock taken on
 * every read and write. Measured under load that was ~1.4 context switches per proxied request
 * and ~15 % fewer requests per second (BENCHMARKS.md). Here a read costs two volatile writes and
 * a clock read, and the watchdog wakes once per tick only while calls are in flight.
 *
 * <p>Timeouts fire up to one tick late. Time spent writing to a slow client does not count: only
 * waits on the upstream do, as with a socket read timeout. Getting a connection (DNS, TCP, TLS) is
 * timed separately, against the connect timeout, so a slow connect is "unreachable", not "slow".
 */
public final class IdleTimeouts implements AutoCloseable {
  private static final long MIN_TICK_NANOS = TimeUnit.MILLISECONDS.toNanos(5);
  private static final long MAX_TICK_NANOS = TimeUnit.MILLISECONDS.toNanos(250);

  private static final long NOT_WAITING = Long.MIN_VALUE;

  /** False once setting TCP_QUICKACK failed as unsupported (not Linux): not tried again. */
  private static volatile boolean quickAck = true;

  /**
   * How long a call runs before the client's connection is watched for a disconnect. Watching costs
   * a selector round trip, so calls quicker than this (a sub-millisecond proxy hop) never pay it,
   * while a generation the client gave up on is cancelled within this plus one tick.
   */
  public static final Duration PROBE_CLIENT_AFTER = Duration.ofSeconds(1);

  private final Set<Watch> inFlight = ConcurrentHashMap.newKeySet();
  private final long tickNanos;
  private final Thread watchdog;
  private volatile boolean sleeping;
  private volatile boolean closed;

  /** A tick of 1/50 of the shortest timeout, kept between 5 and 250 ms. */
  public static IdleTimeouts forTimeouts(Duration... timeouts) {
    long shortest = Long.MAX_VALUE;
    for (Duration d : timeouts) {
      shortest = Math.min(shortest, d.toNanos());
    }
    return new IdleTimeouts(Math.clamp(shortest / 50, MIN_TICK_NANOS, MAX_TICK_NANOS));
  }

  IdleTimeouts(long tickNanos) {
    this.tickNanos = tickNanos;
    this.watchdog = Thread.ofPlatform().daemon().name("routewise-upstream-timeouts").start(this::run);
  }

  /**
   * A timer for one call: first {@code connectTimeout} for getting a connection (DNS, TCP, TLS, or
   * a pooled one), then, from {@link #CONNECTED} on, {@code timeout} for each wait on the upstream.
   * It starts counting at {@link Watch#start}.
   */
  Watch newWatch(Duration connectTimeout, Duration timeout, ClientProbe probe) {
    return new Watch(connectTimeout.toNanos(), timeout.toNanos(), probe);
  }

  /**
   * The network interceptor that ends a call's connect phase: OkHttp runs it once a connection is
   * in hand, just before the request is written. Calls are matched by their {@link Watch} tag. A
   * pooled HTTP/1.1 connection is first looked at for bytes past its last answer, and one idle a
   * second or more for the upstream having closed it ({@link StaleConnections}).
   */
  static final okhttp3.Interceptor CONNECTED = chain -> {
    Watch w = chain.request().tag(Watch.class);
    okhttp3.Connection connection = chain.connection();
    if (w != null) {
      w.connected(connection);
      if (w.pooledIdleNanos() >= 0 && connection != null
          && connection.protocol() != okhttp3.Protocol.HTTP_2
          && connection.protocol() != okhttp3.Protocol.H2_PRIOR_KNOWLEDGE) { // h2 has its own pings and GOAWAY,
                                                                           // and frames between answers
        StaleConnections.checkLeftovers(connection, w.pooledIdleNanos());
        if (w.pooledIdleNanos() >= StaleConnections.CHECK_AFTER_IDLE_NANOS) {
          StaleConnections.check(connection);
        }
      }
    }
    return chain.proceed(chain.request());
  };

  /** Tells each call's {@link Watch} that it opened a connection of its own (else it was given a pooled one). */
  static final okhttp3.EventListener.Factory CONNECTS = call -> ConnectStarts.INSTANCE;

  private static final class ConnectStarts extends okhttp3.EventListener {
    static final ConnectStarts INSTANCE = new ConnectStarts();

    @Override
    public void connectStart(Call call, java.net.InetSocketAddress address, java.net.Proxy proxy) {
      Watch w = call.request().tag(Watch.class);
      if (w != null) {
        w.newConnection = true;
      }
    }
  }

  private void run() {
    while (!closed) {
      if (inFlight.isEmpty()) {
        sleeping = true;
        if (inFlight.isEmpty() && !closed) {
          LockSupport.park(this); // until a call starts (or a spurious wake-up: the loop re-checks)
        }
        sleeping = false;
        continue;
      }
      LockSupport.parkNanos(this, tickNanos);
      long now = System.nanoTime();
      for (Watch w : inFlight) {
        try {
          w.expireIfLate(now);
          w.probeIfLong(now);
        } catch (RuntimeException e) {
          // cancel() only closes sockets; should it ever throw, the other calls still need their timeouts
          System.getLogger(IdleTimeouts.class.getName()).log(System.Logger.Level.WARNING, "cancelling an overdue upstream call failed", e);
        }
      }
    }
  }

  private volatile boolean cancelledAll;

  /** Whether {@link #cancelAll} ran: a call failing since was cancelled by the shutdown, not failed by its upstream. */
  boolean cancelledAll() {
    return cancelledAll;
  }

  /** Cancels every call it watches, headers received or not (a shutdown past its grace). */
  void cancelAll() {
    cancelledAll = true;
    for (Watch w : inFlight) {
      Call call = w.call;
      if (call != null) {
        call.cancel();
      }
    }
  }

  @Override
  public void close() {
    closed = true;
    LockSupport.unpark(watchdog);
  }

  /**
   * One call's timer. One request thread drives it; the watchdog only reads it, expires it, and
   * arms its client probe.
   */
  final class Watch implements AutoCloseable {
    private static final int PROBE_IDLE = 0;
    private static final int PROBE_ARMED = 1;
    private static final int PROBE_DONE = 2;
    private static final java.lang.invoke.VarHandle PROBE_STATE;

    static {
      try {
        PROBE_STATE = java.lang.invoke.MethodHandles.lookup().findVarHandle(Watch.class, "probeState", int.class);
      } catch (ReflectiveOperationException e) {
        throw new ExceptionInInitializerError(e);
      }
    }

    private final long timeoutNanos;
    private final ClientProbe probe;
    private volatile int probeState;
    private volatile boolean clientGone;
    private long startedNanos;
    private volatile long limitNanos;
    private volatile long waitingSince = NOT_WAITING;
    private volatile boolean connected;
    private volatile boolean newConnection;
    private long pooledIdleNanos = -1;
    private volatile boolean expired;
    private volatile boolean expiredConnecting;
    private volatile Call call;
    private java.net.Socket socket; // set and used by the request thread only

    private Watch(long connectTimeoutNanos, long timeoutNanos, ClientProbe probe) {
      this.timeoutNanos = timeoutNanos;
      this.limitNanos = connectTimeoutNanos;
      this.probe = probe;
      this.probeState = probe == null ? PROBE_DONE : PROBE_IDLE;
    }

    /** Starts the connect phase for {@code call}, which carries this watch as its tag. */
    void start(Call call) {
      this.call = call;
      startedNanos = System.nanoTime();
      waitingSince = startedNanos;
      inFlight.add(this);
      if (cancelledAll) { // started after the shutdown cancelled every call (a decision that ended just then)
        call.cancel();
      }
      if (sleeping) {
        LockSupport.unpark(watchdog);
      }
    }

    /** A connection is in hand: from now on the upstream's own timeout applies. */
    private void connected(okhttp3.Connection connection) {
      // HTTP/2 reads on OkHttp's own reader thread, with frames of many calls on one socket: leave it be.
      socket = connection == null || connection.protocol() == okhttp3.Protocol.HTTP_2 ? null : connection.socket();
      if (!newConnection && connection instanceof okhttp3.internal.connection.RealConnection pooled) {
        long idleAt = pooled.getIdleAtNs(); // when its last call released it (OkHttp internals, version pinned)
        pooledIdleNanos = idleAt == Long.MAX_VALUE ? -1 : Math.max(0, System.nanoTime() - idleAt);
      }
      if (!connected) {
        limitNanos = timeoutNanos;
        connected = true;
      }
      waitingSince = System.nanoTime();
    }

    /** A read on the upstream begins; returns the time it began. */
    long waiting() {
      long now = System.nanoTime();
      waitingSince = now;
      return now;
    }

    /** The read returned: time from now on (e.g. writing to the client) is not the upstream's. */
    void idle() {
      waitingSince = NOT_WAITING;
    }

    /**
     * How long the pooled connection this call got had sat idle before it; -1 when the call opened
     * a connection of its own (or has none yet).
     */
    long pooledIdleNanos() {
      return connected && !newConnection ? pooledIdleNanos : -1;
    }

    /** Shortens each wait on the upstream from now on to at most {@code nanos} (never lengthens it). */
    void limitWaitsTo(long nanos) {
      limitNanos = Math.min(limitNanos, nanos);
    }

    /** True once this watch cancelled the call waiting on the upstream: the I/O error that follows is a timeout. */
    boolean expired() {
      return expired;
    }

    /**
     * Acknowledges what the upstream has sent so far now, not after the delayed-ACK timer. Called
     * when a body is known to be incomplete: an upstream that leaves Nagle's algorithm on holds its
     * next small segment until this one is acknowledged, and on a pooled connection Linux delays
     * that ACK by ~40 ms, so each such body (or stream event) would wait that long.
     */
    void acknowledge() {
      java.net.Socket s = socket;
      if (s != null && quickAck) {
        try {
          s.setOption(jdk.net.ExtendedSocketOptions.TCP_QUICKACK, true);
        } catch (UnsupportedOperationException | IllegalArgumentException e) {
          quickAck = false; // not Linux
        } catch (java.io.IOException e) {
          // closed under us: the read that follows reports it
        }
      }
    }

    /** True once a connection was in hand for the call: its request went out, or was going. */
    boolean connected() {
      return connected;
    }

    /** True once the call was cancelled because its client disconnected. */
    boolean clientGone() {
      return clientGone;
    }

    /**
     * The client is about to be answered (or the call is over): stop watching its connection. Cheap
     * when the probe was never armed, which is every call quicker than {@link #PROBE_CLIENT_AFTER}.
     */
    void stopProbing() {
      if (PROBE_STATE.compareAndSet(this, PROBE_IDLE, PROBE_DONE) || probeState == PROBE_DONE) {
        return;
      }
      synchronized (this) { // the watchdog may be inside arm(); disarm only once it is done
        if (probeState == PROBE_ARMED) {
          probeState = PROBE_DONE;
          probe.disarm();
        }
      }
    }

    private void probeIfLong(long now) {
      long since = waitingSince;
      if (probeState != PROBE_IDLE || since == NOT_WAITING || now - startedNanos < PROBE_CLIENT_AFTER.toNanos()) {
        return;
      }
      synchronized (this) {
        if (PROBE_STATE.compareAndSet(this, PROBE_IDLE, PROBE_ARMED)) {
          probe.arm(() -> {
            clientGone = true;
            call.cancel();
          });
        }
      }
    }

    /** True once this watch cancelled the call because no connection came within the connect timeout. */
    boolean expiredConnecting() {
      return expiredConnecting;
    }

    private void expireIfLate(long now) {
      long since = waitingSince;
      if (since != NOT_WAITING && !expired && !expiredConnecting && now - since > limitNanos) {
        if (connected) {
          expired = true;
        } else {
          expiredConnecting = true;
        }
        call.cancel();
      }
    }

    @Override
    public void close() {
      waitingSince = NOT_WAITING;
      inFlight.remove(this);
      stopProbing();
    }
  }
}
