package io.routewise.state;

import io.routewise.config.StateConfig;
import io.routewise.routing.StateStore;
import io.routewise.routing.WindowSnapshot;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import redis.clients.jedis.ClientSetInfoConfig;
import redis.clients.jedis.DefaultJedisClientConfig;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.JedisClientConfig;
import redis.clients.jedis.Pipeline;
import redis.clients.jedis.RedisProtocol;
import redis.clients.jedis.Response;
import redis.clients.jedis.exceptions.JedisConnectionException;
import redis.clients.jedis.params.SetParams;
import redis.clients.jedis.util.JedisURIHelper;

/**
 * The shared state in Redis (Jedis). Each calling thread (the sync thread, the two pin threads) has
 * its own connection, opened on first use and dropped after any failure so that the next call
 * reconnects; every connect and reply is bounded by {@code state.timeout_ms}.
 *
 * <p>Keys, under {@code state.key_prefix} ({@code routewise} by default):
 * <ul>
 *   <li>{@code <prefix>:window:<router>:<replica>}: one replica's window of that router's target
 *       traffic ({@link WindowCodec}), rewritten every sync and expiring {@link #windowTtl} after the
 *       last, so a replica that stops stops counting within a few periods;
 *   <li>{@code <prefix>:replicas:<router>}: a set of the replica ids that published a window; ids
 *       whose window has expired are removed by the next replica that finds them gone;
 *   <li>{@code <prefix>:pin:<session hash>}: the pinned upstream's name ({@code strong}, {@code weak}
 *       or another entry of {@code upstreams:}), set if absent, expiring with the pin;
 *   <li>{@code <prefix>:usage:<response id hash>}: what a background response's usage is to be
 *       counted as, while it is polled (an hour after the last poll);
 *   <li>{@code <prefix>:usage-claim:<response id hash>}: set if absent by the replica that counts it;
 *   <li>{@code <prefix>:spend:<client>:<period start, epoch seconds>}: a hash of what a named client
 *       with a budget spent in that period at each replica (replica id to USD), kept a day past it;
 *   <li>{@code <prefix>:held:<replica>}: what one replica's requests under way hold of each named
 *       client's budget (a line each: client, USD, how many), rewritten every sync and expiring as
 *       its window does; {@code <prefix>:held-replicas}: the replica ids that wrote one, as above;
 *   <li>{@code <prefix>:requests:<replica>}: how many requests of each named client with a rate
 *       limit one replica let through since it started, how many more it may before its next sync,
 *       whether the client asked there lately and how far its limit stood spent ahead (nanoseconds; a
 *       line each), rewritten every sync and expiring as its window does;
 *       {@code <prefix>:requests-replicas}: their ids, as above;
 *   <li>{@code <prefix>:alive}: written by {@link #ping}, expiring as a window does;
 *   <li>{@code <prefix>:incarnation}: a random id, set if absent and never expiring: when it changes,
 *       Redis lost its keys ({@link #incarnation}).
 * </ul>
 * Each replica merges every live window itself, slice by slice, so N replicas need no coordinator.
 */
public final class RedisStateStore implements StateStore {
  private final URI uri;
  private final Duration replyTimeout;
  private final JedisClientConfig clientConfig;
  private final String prefix;
  private final long windowTtlMillis;
  private final String address;
  private final ThreadLocal<Jedis> connection = new ThreadLocal<>();
  private final Set<Jedis> open = ConcurrentHashMap.newKeySet();
  private volatile boolean closed;
  private final java.util.concurrent.atomic.AtomicBoolean versionChecked = new java.util.concurrent.atomic.AtomicBoolean();
  private volatile boolean pinsRefused; // a Redis before 7.0: no SET NX GET
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(RedisStateStore.class);
  /** Replicas whose windows were unreadable, each said once (the sync thread's; bounded). */
  private final Set<String> unreadable = java.util.concurrent.ConcurrentHashMap.newKeySet();

  public RedisStateStore(StateConfig config) {
    this.uri = config.redisUri();
    this.replyTimeout = config.timeout();
    int timeout = (int) Math.min(Integer.MAX_VALUE, config.timeout().toMillis());
    DefaultJedisClientConfig.Builder b = DefaultJedisClientConfig.builder()
        .connectionTimeoutMillis(timeout)
        .socketTimeoutMillis(timeout)
        .clientName("routewise")
        .clientSetInfoConfig(ClientSetInfoConfig.DISABLED)
        .protocol(RedisProtocol.RESP2) // the replies these commands are read as (Jedis then sends HELLO 2)
        .ssl(JedisURIHelper.isRedisSSLScheme(uri));
    if (JedisURIHelper.hasDbIndex(uri)) {
      b.database(JedisURIHelper.getDBIndex(uri));
    }
    String password = JedisURIHelper.getPassword(uri);
    if (password != null) {
      b.user(JedisURIHelper.getUser(uri)).password(password);
    }
    this.clientConfig = b.build();
    this.prefix = config.keyPrefix();
    this.windowTtlMillis = windowTtl(config.sync()).toMillis();
    this.address = "redis at " + config.redisAddress();
  }

  /** How long a replica's window outlives its last sync: three periods, at least two seconds. */
  static Duration windowTtl(Duration sync) {
    return Duration.ofMillis(Math.max(2_000, 3 * sync.toMillis()));
  }

  @Override
  public List<WindowSnapshot> exchange(String router, WindowSnapshot mine) throws Exception {
    return call(j -> {
      Map<String, String> others = publish(j, prefix + ":replicas:" + router, mine.replica(),
          id -> windowKey(router, id), WindowCodec.encode(mine));
      List<WindowSnapshot> out = new ArrayList<>(others.size());
      others.forEach((id, v) -> {
        try {
          out.add(WindowCodec.decode(v));
        } catch (RuntimeException notOurs) {
          // another version of routewise, or not ours: leave it out of the merge, and say so once
          if (unreadable.size() < 64 && unreadable.add(router + " " + id)) {
            LOG.warn("shared state: replica {}'s window for router-{}-auto is not one this build reads (another "
                + "routewise version, during a rolling upgrade?); left out of the merge", id, router);
          }
        }
      });
      return out;
    });
  }

  /**
   * Writes this replica's {@code value} under its key ({@code keyOf} its id), expiring as a window
   * does, lists it in the set {@code replicas}, and reads every other listed replica's value in one
   * more round trip: by replica id, those whose key is still there (ids whose key expired leave
   * the set).
   */
  private Map<String, String> publish(Jedis j, String replicas, String replica,
      java.util.function.Function<String, String> keyOf, String value) {
    Set<String> ids;
    try (Pipeline p = j.pipelined()) {
      Response<String> written = p.psetex(keyOf.apply(replica), windowTtlMillis, value);
      Response<Long> listed = p.sadd(replicas, replica);
      p.expire(replicas, 86_400); // a namespace nobody writes to any more goes away after a day
      Response<Set<String>> members = p.smembers(replicas);
      p.sync();
      // A Redis that answers but refuses writes (maxmemory reached: OOM; a read-only replica after
      // a failover: READONLY) throws here, so the sync marks it down like one that is gone; read
      // alone, it looked up while no replica saw the others' values.
      written.get();
      listed.get();
      ids = members.get();
    }
    List<String> others = new ArrayList<>(ids);
    others.remove(replica);
    Map<String, String> out = new LinkedHashMap<>();
    if (others.isEmpty()) {
      return out;
    }
    List<String> values = j.mget(others.stream().map(keyOf).toArray(String[]::new));
    List<String> gone = new ArrayList<>();
    for (int i = 0; i < others.size(); i++) {
      if (values.get(i) == null) {
        gone.add(others.get(i));
      } else {
        out.put(others.get(i), values.get(i));
      }
    }
    if (!gone.isEmpty()) {
      j.srem(replicas, gone.toArray(String[]::new));
    }
    return out;
  }

  /** A write, not a PING: a Redis that refuses writes (full, read-only) cannot hold pins either. */
  @Override
  public void ping() throws Exception {
    call(j -> j.psetex(prefix + ":alive", windowTtlMillis, "1"));
  }

  /**
   * The incarnation key, created with a random value where absent (a Redis that lost its keys lost
   * this one too), and the server's run_id, new at every start: a Redis restarted from a snapshot,
   * or a replica promoted in its place, has the key but may lack the pins written since.
   */
  @Override
  public String incarnation() throws Exception {
    String mine = Long.toHexString(java.util.concurrent.ThreadLocalRandom.current().nextLong());
    return call(j -> {
      String key;
      try {
        String before = j.setGet(prefix + ":incarnation", mine, SetParams.setParams().nx());
        key = before == null ? mine : before;
      } catch (redis.clients.jedis.exceptions.JedisDataException e) {
        if (olderThan7(e)) {
          return null; // SET NX GET needs Redis 7, as pins do (said at the first connection)
        }
        throw e; // refused (an ACL without the key: NOPERM) or not now (LOADING): the sync says so
      }
      return key + "/" + runId(j);
    });
  }

  /** Whether a refused SET NX GET is a Redis before 7.0's answer: 6.2 and older read it as a syntax error. */
  static boolean olderThan7(redis.clients.jedis.exceptions.JedisDataException e) {
    String m = e.getMessage() == null ? "" : e.getMessage();
    return m.startsWith("ERR syntax error") || m.startsWith("ERR unknown command");
  }

  /** {@code evicted_keys} from INFO stats; -1 where INFO is refused or does not say. */
  @Override
  public long evictedKeys() throws Exception {
    return call(j -> {
      String info;
      try {
        info = j.info("stats");
      } catch (redis.clients.jedis.exceptions.JedisDataException refused) {
        return -1L;
      }
      String v = infoField(info, "evicted_keys");
      try {
        return v == null ? -1L : Long.parseLong(v);
      } catch (NumberFormatException e) {
        return -1L;
      }
    });
  }

  /** A field's value in an INFO reply, or null. */
  static String infoField(String info, String field) {
    for (String line : info.split("\r?\n")) {
      if (line.startsWith(field + ":")) {
        return line.substring(field.length() + 1).strip();
      }
    }
    return null;
  }

  /** The server's run_id; empty where INFO is refused (some managed services rename it): the key alone then. */
  private static String runId(Jedis j) {
    String info;
    try {
      info = j.info("server");
    } catch (redis.clients.jedis.exceptions.JedisDataException refused) {
      return "";
    }
    String id = infoField(info, "run_id");
    return id == null ? "" : id;
  }

  @Override
  public Pin pin(String session) throws Exception {
    return pins(List.of(session)).get(session);
  }

  /** Pipelined: a batch of lookups is one round trip. */
  @Override
  public Map<String, Pin> pins(java.util.Collection<String> sessions) throws Exception {
    return call(j -> {
      List<Response<String>> routes = new ArrayList<>(sessions.size());
      List<Response<Long>> ttls = new ArrayList<>(sessions.size());
      try (Pipeline p = j.pipelined()) {
        for (String s : sessions) {
          routes.add(p.get(pinKey(s)));
          ttls.add(p.pttl(pinKey(s)));
        }
        p.sync();
      }
      Map<String, Pin> found = new LinkedHashMap<>();
      int i = 0;
      try {
        for (String s : sessions) {
          String upstream = routes.get(i).get();
          long left = ttls.get(i++).get();
          found.put(s, upstream == null || left <= 0 ? null : new Pin(upstream, left));
        }
      } catch (redis.clients.jedis.exceptions.JedisDataException refused) {
        throw pinsRefused("lookups", refused);
      }
      return found;
    });
  }

  /** Null in the one case {@link #pinAllIfAbsent} answers nothing: the pin it found expired before its PTTL. */
  @Override
  public Pin pinIfAbsent(String session, String upstream, Duration ttl) throws Exception {
    return pinAllIfAbsent(Map.of(session, new Pin(upstream, ttl.toMillis()))).get(session);
  }

  /** Pipelined, so a replica's whole cache (100,000 pins by default) goes in a few round trips per thousand. */
  @Override
  public Map<String, Pin> pinAllIfAbsent(Map<String, Pin> offers) throws Exception {
    return call(j -> {
      Map<String, Pin> held = new LinkedHashMap<>();
      List<Response<String>> befores = new ArrayList<>(offers.size());
      List<Response<Long>> ttls = new ArrayList<>(offers.size());
      try (Pipeline p = j.pipelined()) {
        for (Map.Entry<String, Pin> o : offers.entrySet()) {
          String key = pinKey(o.getKey());
          // SET NX GET (Redis >= 7.0): creates the pin and says whose it is in one command
          befores.add(p.setGet(key, o.getValue().upstream(), SetParams.setParams().nx().px(o.getValue().remainingMillis())));
          ttls.add(p.pttl(key));
        }
        p.sync();
      }
      int i = 0;
      try {
        for (Map.Entry<String, Pin> o : offers.entrySet()) {
          String before = befores.get(i).get();
          long left = ttls.get(i++).get();
          if (before != null && left == -2) {
            continue; // the pin it found expired before its PTTL: nothing holds, so no answer (offered again)
          }
          held.put(o.getKey(), before == null ? o.getValue()
              : new Pin(before, left > 0 ? left : o.getValue().remainingMillis()));
        }
      } catch (redis.clients.jedis.exceptions.JedisDataException refused) {
        throw pinsRefused("writes", refused);
      }
      pinRefusalSaid.set(false); // a write worked: a refusal later is said again
      return held;
    });
  }

  /** Whether a refusal of pin calls was said since the last pin write that worked. */
  private final java.util.concurrent.atomic.AtomicBoolean pinRefusalSaid = new java.util.concurrent.atomic.AtomicBoolean();

  /**
   * A Redis that answers but refuses pin calls (an ACL without the pin keys, an old Redis not found
   * out) while the sync finds it up: counted only as pin lookups' {@code error} before, with no
   * warning. Said once, until a pin write works again.
   */
  private RuntimeException pinsRefused(String what, redis.clients.jedis.exceptions.JedisDataException refused) {
    if (pinRefusalSaid.compareAndSet(false, true)) {
      LOG.warn("shared state: {} refuses session pins ({}: {}); sessions are pinned per replica while it does, and "
          + "may change upstream across replicas. Let routewise's Redis user read and write {}:pin:*", address, what,
          refused.getMessage(), prefix);
    }
    return refused;
  }

  @Override
  public void putUsage(String key, String record, Duration ttl) throws Exception {
    call(j -> j.psetex(usageKey(key), Math.max(1, ttl.toMillis()), record));
  }

  /** Pipelined: the record and whether a claim on it was made, in one round trip. */
  @Override
  public String usage(String key) throws Exception {
    return call(j -> {
      Response<String> record;
      Response<Boolean> claimed;
      try (Pipeline p = j.pipelined()) {
        record = p.get(usageKey(key));
        claimed = p.exists(claimKey(key));
        p.sync();
      }
      return Boolean.TRUE.equals(claimed.get()) ? USAGE_CLAIMED : record.get();
    });
  }

  @Override
  public void keepUsage(String key, Duration ttl) throws Exception {
    call(j -> j.pexpire(usageKey(key), Math.max(1, ttl.toMillis())));
  }

  @Override
  public boolean claimUsage(String key, Duration ttl) throws Exception {
    return call(j -> "OK".equals(j.set(claimKey(key), "1",
        SetParams.setParams().nx().px(Math.max(1, ttl.toMillis())))));
  }

  /**
   * Pipelined: for every key, this replica's spend, the expiry and every replica's, in one round
   * trip. A value no replica writes (not a number, negative, infinite) is left out; a key that is not
   * a hash (written by something else) is left out of the answer, and said once.
   */
  @Override
  public Map<String, Map<String, Double>> shareSpend(String replica, Map<String, Spend> mine) throws Exception {
    return call(j -> {
      Map<String, List<Response<?>>> all = new java.util.LinkedHashMap<>();
      try (Pipeline p = j.pipelined()) {
        mine.forEach((key, spend) -> all.put(key, List.of(p.hset(spendKey(key), replica, Double.toString(spend.usd())),
            p.pexpire(spendKey(key), Math.max(1, spend.ttl().toMillis())), p.hgetAll(spendKey(key)))));
        p.sync();
      }
      Map<String, Map<String, Double>> out = new java.util.LinkedHashMap<>();
      for (Map.Entry<String, List<Response<?>>> e : all.entrySet()) {
        Map<?, ?> fields;
        try {
          // read, so that a Redis refusing writes (OOM, READONLY) throws and the sync marks it down:
          // else a spend never written looked shared
          e.getValue().get(0).get();
          e.getValue().get(1).get();
          fields = (Map<?, ?>) e.getValue().get(2).get();
        } catch (redis.clients.jedis.exceptions.JedisDataException wrong) {
          if (wrong.getMessage() == null || !wrong.getMessage().startsWith("WRONGTYPE")) {
            throw wrong;
          }
          if (wrongTypeSaid.add(e.getKey())) { // one key out of place is that client's, not the whole store's
            LOG.warn("shared state: {} is not a hash of replicas' spend (another program wrote it?): client budget "
                + "{} is held on this replica's spend alone until it is gone", spendKey(e.getKey()), e.getKey());
          }
          continue;
        }
        Map<String, Double> byReplica = new java.util.LinkedHashMap<>();
        fields.forEach((id, v) -> {
          try {
            double d = Double.parseDouble(String.valueOf(v));
            if (d >= 0 && d < Double.POSITIVE_INFINITY) {
              byReplica.put(String.valueOf(id), d);
            }
          } catch (NumberFormatException ignored) {
            // not a replica's
          }
        });
        out.put(e.getKey(), byReplica);
      }
      return out;
    });
  }

  /**
   * This replica's holds go in one key that expires as its window does ({@link #windowTtl}), so a
   * replica that stops holds nothing within a few periods; the set of replicas that wrote one is
   * read, and every other one's read in one more round trip (ids whose key expired leave the set).
   */
  @Override
  public OthersHolds shareHolds(String replica, Map<String, Held> mine) throws Exception {
    return call(j -> {
      StringBuilder value = new StringBuilder();
      mine.forEach((client, held) -> value.append(client).append(' ').append(held.usd()).append(' ')
          .append(held.inFlight()).append('\n'));
      Map<String, Held> out = new LinkedHashMap<>();
      Map<String, String> others = publish(j, prefix + ":held-replicas", replica, this::heldKey, value.toString());
      for (String v : others.values()) {
        for (String line : v.split("\n")) {
          String[] f = line.split(" ");
          try {
            double usd = Double.parseDouble(f[1]);
            int inFlight = Integer.parseInt(f[2]);
            if (f.length == 3 && usd >= 0 && usd < Double.POSITIVE_INFINITY && inFlight >= 0) {
              out.merge(f[0], new Held(usd, inFlight), (a, b) -> new Held(a.usd() + b.usd(), a.inFlight() + b.inFlight()));
            }
          } catch (RuntimeException notOurs) {
            // not a replica's line: left out
          }
        }
      }
      return new OthersHolds(others.size(), out);
    });
  }

  /**
   * One key a replica, a line a client, as {@link #shareHolds}, but read before this replica's is
   * written (three round trips: the ids, their lines, the write; a fourth where a listed line had
   * expired, to drop its id): what it writes depends on what the others hold. A line no replica
   * writes is left out.
   */
  @Override
  public Map<String, Map<String, Requests>> shareRequests(String replica,
      java.util.function.Function<Map<String, Map<String, Requests>>, Map<String, Requests>> decide) throws Exception {
    return call(j -> {
      String replicas = prefix + ":requests-replicas";
      List<String> others = new ArrayList<>(j.smembers(replicas));
      others.remove(replica);
      Map<String, Map<String, Requests>> out = new LinkedHashMap<>();
      List<String> gone = new ArrayList<>();
      if (!others.isEmpty()) {
        List<String> values = j.mget(others.stream().map(this::requestsKey).toArray(String[]::new));
        for (int i = 0; i < others.size(); i++) {
          if (values.get(i) != null) {
            out.put(others.get(i), requests(values.get(i)));
          } else {
            gone.add(others.get(i)); // its key expired: it stopped
          }
        }
      }
      StringBuilder value = new StringBuilder();
      decide.apply(out).forEach((client, r) -> value.append(client).append(' ').append(r.let()).append(' ')
          .append(r.granted()).append(' ').append(r.asked() ? 1 : 0).append(' ').append(r.aheadNanos()).append('\n'));
      Response<List<String>> still;
      try (Pipeline p = j.pipelined()) {
        Response<String> written = p.psetex(requestsKey(replica), windowTtlMillis, value.toString());
        Response<Long> listed = p.sadd(replicas, replica);
        p.expire(replicas, 86_400); // a namespace nobody writes to any more goes away after a day
        // gone ones are looked at again once this one is written, so two replicas back at once keep each other
        still = gone.isEmpty() ? null : p.mget(gone.stream().map(this::requestsKey).toArray(String[]::new));
        p.sync();
        written.get(); // a Redis refusing writes (OOM, READONLY) throws: the exchange failed
        listed.get();
      }
      if (still != null) {
        List<String> stopped = new ArrayList<>();
        for (int i = 0; i < gone.size(); i++) {
          if (still.get().get(i) == null) {
            stopped.add(gone.get(i));
          }
        }
        if (!stopped.isEmpty()) {
          j.srem(replicas, stopped.toArray(String[]::new));
        }
      }
      return out;
    });
  }

  /**
   * One replica's lines: client, requests let through, requests granted, 1 when the client asked there,
   * and the nanoseconds its limit stood spent ahead (none on a line without them).
   */
  private static Map<String, Requests> requests(String value) {
    Map<String, Requests> counts = new LinkedHashMap<>();
    for (String line : value.split("\n")) {
      String[] f = line.split(" ");
      try {
        long let = Long.parseLong(f[1]);
        long granted = Long.parseLong(f[2]);
        long ahead = f.length == 5 ? Long.parseLong(f[4]) : 0;
        if ((f.length == 4 || f.length == 5) && let >= 0 && granted >= 0 && ahead >= 0
            && (f[3].equals("0") || f[3].equals("1"))) {
          counts.put(f[0], new Requests(let, granted, f[3].equals("1"), ahead));
        }
      } catch (RuntimeException notOurs) {
        // not a replica's line: left out
      }
    }
    return counts;
  }

  String requestsKey(String replica) {
    return prefix + ":requests:" + replica;
  }

  String heldKey(String replica) {
    return prefix + ":held:" + replica;
  }

  /** Spend keys already said to be of another type (bounded: one per client and period). */
  private final Set<String> wrongTypeSaid = ConcurrentHashMap.newKeySet();

  String spendKey(String key) {
    return prefix + ":spend:" + key;
  }

  String usageKey(String key) {
    return prefix + ":usage:" + key;
  }

  String claimKey(String key) {
    return prefix + ":usage-claim:" + key;
  }

  @Override
  public boolean takesPins() {
    return !pinsRefused;
  }

  @Override
  public String describe() {
    return address;
  }

  String windowKey(String router, String replica) {
    return prefix + ":window:" + router + ":" + replica;
  }

  String pinKey(String session) {
    return prefix + ":pin:" + session;
  }

  private interface Call<T> {
    T run(Jedis j) throws Exception;
  }

  /**
   * Runs on this thread's connection; any failure closes it, so the next call starts afresh. A
   * connection that was idle across a Redis restart is found broken only when used: that call is
   * run once more on a new connection (every call here is safe to repeat), except after a timeout,
   * which a second try would only double.
   */
  private <T> T call(Call<T> body) throws Exception {
    if (closed) {
      throw new IllegalStateException("state store closed");
    }
    Jedis j = connection.get();
    if (j != null) {
      try {
        if (!versionChecked.get()) {
          checkVersion(j);
        }
        return body.run(j);
      } catch (Exception | Error e) {
        drop(j);
        if (!(e instanceof JedisConnectionException) || timedOut(e)) {
          throw e;
        }
      }
    }
    // each reply due whole within the timeout of its request, not only each read: a reply trickled in
    // pieces held the calling thread (the sync's) for as long as it took, Redis still counted up
    redis.clients.jedis.DefaultJedisSocketFactory sockets = new redis.clients.jedis.DefaultJedisSocketFactory(
        new HostAndPort(uri.getHost(), uri.getPort() < 0 ? 6379 : uri.getPort()), clientConfig);
    j = new Jedis(() -> {
      java.net.Socket s = sockets.createSocket();
      try {
        return new ReplyDeadlineSocket(s, replyTimeout);
      } catch (java.io.IOException e) {
        closeQuietly(s);
        throw new JedisConnectionException(e);
      }
    }, clientConfig);
    connection.set(j);
    open.add(j);
    try {
      if (!versionChecked.get()) {
        checkVersion(j);
      }
      return body.run(j);
    } catch (Exception | Error e) {
      drop(j);
      throw e;
    }
  }

  /**
   * Pins need Redis 7.0 (SET with NX and GET together); on an older one every first turn's pin
   * fails, and sessions are kept per replica only: said once, at the first INFO answered. One not
   * answered (a timeout, a reset, BUSY) fails its call and is asked again at the next; before, it
   * was asked once whatever came of it, so an old Redis slow at that moment was never found out.
   */
  private void checkVersion(Jedis j) {
    String version;
    try {
      version = serverVersion(j.info("server"));
    } catch (redis.clients.jedis.exceptions.JedisDataException refused) {
      String m = refused.getMessage() == null ? "" : refused.getMessage();
      if (m.startsWith("BUSY") || m.startsWith("LOADING")) {
        throw refused; // not now: asked again at the next call
      }
      // an ACL user without INFO (managed Redis may limit it): the store works all the same
      versionChecked.set(true);
      LOG.debug("shared state: {} did not say its version ({})", address, m);
      return;
    }
    if (!versionChecked.compareAndSet(false, true)) {
      return; // another thread's connection checked it meanwhile
    }
    if (version != null && major(version) < 7) {
      pinsRefused = true;
      LOG.warn("shared state: {} runs Redis {}; session pins need 7.0 or later (SET NX GET), so each replica keeps "
          + "its own (targets are shared as usual)", address, version);
    }
  }

  /** {@code redis_version} from an INFO reply, or null. */
  static String serverVersion(String info) {
    return infoField(info, "redis_version");
  }

  static int major(String version) {
    int dot = version.indexOf('.');
    try {
      return Integer.parseInt(dot < 0 ? version : version.substring(0, dot));
    } catch (NumberFormatException e) {
      return Integer.MAX_VALUE; // not a version we can read: no warning
    }
  }

  private static boolean timedOut(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof SocketTimeoutException) {
        return true;
      }
    }
    return false;
  }

  private void drop(Jedis j) {
    connection.remove();
    open.remove(j);
    closeQuietly(j);
  }

  private static void closeQuietly(java.io.Closeable c) {
    try {
      c.close();
    } catch (java.io.IOException | RuntimeException ignored) {
      // already broken
    }
  }

  private static void closeQuietly(Jedis j) {
    try {
      j.close();
    } catch (RuntimeException ignored) {
      // already broken
    }
  }

  @Override
  public void close() {
    closed = true;
    for (Jedis j : open) {
      closeQuietly(j);
    }
    open.clear();
  }
}
