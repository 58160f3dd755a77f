package io.routewise.state;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.routewise.RedisServer;
import io.routewise.config.Secret;
import io.routewise.config.StateConfig;
import io.routewise.routing.StateStore;
import io.routewise.routing.WindowSnapshot;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import redis.clients.jedis.Jedis;

/** The Redis store against a real redis-server on loopback. */
class RedisStateStoreTest {
  private static RedisServer redis;

  @BeforeAll
  static void startRedis() throws Exception {
    redis = RedisServer.start();
  }

  @AfterAll
  static void stopRedis() throws Exception {
    redis.close();
  }

  @BeforeEach
  void empty() {
    try (Jedis j = redis.client()) {
      j.flushAll();
    }
  }

  private static StateConfig config(String url, long syncMs) {
    return new StateConfig(Secret.of(url), Duration.ofMillis(syncMs), Duration.ofMillis(500), Duration.ofMillis(10),
        "routewise");
  }

  private static WindowSnapshot window(String replica, double alpha, long strong) {
    return new WindowSnapshot(replica, 1_000L, alpha, 5_000, "strong_share=0.3", List.of(
        new WindowSnapshot.Slice(41, strong, 7, 0.25, 0.01, strong, 7, new int[] {3, 700}, new long[] {2, strong}),
        new WindowSnapshot.Slice(42, 0, 1, 0, 0, 0, 0, new int[0], new long[0])));
  }

  @Test
  void eachReplicaGetsTheOthersWindowsButNotItsOwn() throws Exception {
    try (RedisStateStore a = new RedisStateStore(config(redis.url(), 1000));
        RedisStateStore b = new RedisStateStore(config(redis.url(), 1000))) {
      assertEquals(List.of(), a.exchange("mf", window("ra", 0.4, 5)));
      List<WindowSnapshot> seenByB = b.exchange("mf", window("rb", 0.6, 9));
      assertEquals(1, seenByB.size());
      WindowSnapshot fromA = seenByB.get(0);
      assertEquals("ra", fromA.replica());
      assertEquals(0.4, fromA.alpha());
      assertEquals(2, fromA.slices().size());
      assertEquals(5, fromA.slices().get(0).strong());
      assertArrayEquals(new int[] {3, 700}, fromA.slices().get(0).bins());
      assertArrayEquals(new long[] {2, 5}, fromA.slices().get(0).counts());
      assertEquals(0.25, fromA.slices().get(0).spendStrong());
      assertEquals("rb", a.exchange("mf", window("ra", 0.4, 5)).get(0).replica());
      assertEquals(List.of(), a.exchange("bert", window("ra", 0.4, 5)), "windows are per router");
    }
  }

  /**
   * Each replica's rate-limit lines are read before its own are written (what it grants itself depends
   * on them), expire as its windows do, and a line no replica writes is left out.
   */
  @Test
  void eachReplicaReadsTheOthersRequestsBeforeWritingItsOwn() throws Exception {
    try (RedisStateStore a = new RedisStateStore(config(redis.url(), 1000));
        RedisStateStore b = new RedisStateStore(config(redis.url(), 1000)); Jedis j = redis.client()) {
      assertEquals(Map.of(), a.shareRequests("ra", others -> {
        assertEquals(Map.of(), others);
        return Map.of("batch", new StateStore.Requests(3, 5, true));
      }));
      java.util.concurrent.atomic.AtomicReference<Map<String, Map<String, StateStore.Requests>>> given =
          new java.util.concurrent.atomic.AtomicReference<>();
      Map<String, Map<String, StateStore.Requests>> seenByB = b.shareRequests("rb", others -> {
        given.set(others);
        return Map.of("batch", new StateStore.Requests(0, 2, false));
      });
      assertEquals(Map.of("ra", Map.of("batch", new StateStore.Requests(3, 5, true))), seenByB);
      assertEquals(seenByB, given.get());
      j.set("routewise:requests:ra", "batch 3 5 1\nbatch x 1 0\nother 1 2 7\nthird -1 0 0\nfourth 4 4 0\n"
          + "fifth 1 1 0 250\nsixth 1 1 0 -1\n");
      assertEquals(Map.of("ra", Map.of("batch", new StateStore.Requests(3, 5, true),
          "fourth", new StateStore.Requests(4, 4, false), "fifth", new StateStore.Requests(1, 1, false, 250))),
          b.shareRequests("rb", others -> Map.of("batch", new StateStore.Requests(0, 2, false, 7_000))));
      assertEquals(Map.of("rb", Map.of("batch", new StateStore.Requests(0, 2, false, 7_000))),
          a.shareRequests("ra", others -> Map.of()), "how far the limit stood spent goes with the line");
      b.shareRequests("rb", others -> Map.of());
      long ttl = j.pttl("routewise:requests:rb");
      assertTrue(ttl > 0 && ttl <= RedisStateStore.windowTtl(Duration.ofMillis(1000)).toMillis(), "expires: " + ttl);
      assertEquals(Map.of("rb", Map.of()), a.shareRequests("ra", others -> Map.of()), "b wrote no client this time");
    }
  }

  /**
   * A Redis that answers but refuses writes (maxmemory reached; a read-only replica after a
   * failover) fails the exchange and the check, as one that is gone does, so the sync marks it down
   * and says so. Its write errors were not read: it counted as up while no replica saw the others.
   */
  @Test
  void aRedisThatRefusesWritesFailsTheExchange() throws Exception {
    try (RedisStateStore a = new RedisStateStore(config(redis.url(), 1000)); Jedis admin = redis.client()) {
      a.exchange("mf", window("ra", 0.4, 5));
      a.ping();
      String before = admin.configGet("maxmemory").get("maxmemory");
      admin.configSet("maxmemory", "1");
      try {
        Exception e = assertThrows(Exception.class, () -> a.exchange("mf", window("ra", 0.4, 5)));
        assertTrue(e.getMessage().startsWith("OOM"), e.getMessage());
        assertThrows(Exception.class, a::ping);
      } finally {
        admin.configSet("maxmemory", before);
      }
      a.exchange("mf", window("ra", 0.4, 5));
      a.ping();
    }
  }

  /** A Redis user not allowed INFO (managed Redis may limit it) still shares state: the version is only a warning's. */
  @Test
  void aUserWithoutInfoStillSharesState() throws Exception {
    try (AclUser user = aclUser("noinfo", "~*", "+@all", "-info");
        RedisStateStore s = new RedisStateStore(config(user.url(), 1000))) {
      s.ping();
      assertEquals("weak", s.pinIfAbsent("sess", "weak", Duration.ofMinutes(1)).upstream());
      s.ping();
    }
  }

  /**
   * A user whose ACL leaves out the incarnation key (one written from the key list before it had
   * one): the refusal was read as "a Redis older than 7" and incarnation() answered null, so a Redis
   * restarted empty went unnoticed every period, without a word. Only SET NX GET's syntax error (or
   * an unknown command) means an old Redis; any other refusal is a failure the sync reports.
   */
  @Test
  void aRefusedIncarnationKeyIsAFailureNotAnOldRedis() throws Exception {
    try (AclUser user = aclUser("noincarnation", "+@all", "~routewise:window:*", "~routewise:replicas:*",
            "~routewise:alive", "~routewise:pin:*");
        RedisStateStore s = new RedisStateStore(config(user.url(), 1000))) {
      s.ping(); // the store answers and takes writes
      Exception e = assertThrows(Exception.class, s::incarnation);
      assertTrue(e.getMessage().startsWith("NOPERM"), e.getMessage());
      assertTrue(s.takesPins());
    }
  }

  /**
   * A user whose ACL leaves out the pin keys: the store reads as up (its windows are shared) while
   * every pin lookup and write fails, counted as session_pin_lookups_total{result="error"} with no
   * warning (an INFO line once a minute from the sync's offers). Said once, as a warning.
   */
  @Test
  void aRedisThatRefusesPinsIsSaidOnceAsAWarning() throws Exception {
    try (AclUser user = aclUser("nopins", "+@all", "~routewise:window:*", "~routewise:replicas:*",
            "~routewise:alive", "~routewise:incarnation");
        RedisStateStore s = new RedisStateStore(config(user.url(), 1000));
        io.routewise.StderrCapture log = new io.routewise.StderrCapture()) {
      s.ping();
      assertEquals(List.of(), s.exchange("mf", window("ra", 0.4, 5)));
      for (int i = 0; i < 3; i++) {
        String session = "sess" + i;
        assertThrows(Exception.class, () -> s.pinIfAbsent(session, "weak", Duration.ofMinutes(1)));
        assertThrows(Exception.class, () -> s.pin(session));
      }
      String text = log.text();
      assertTrue(text.contains("WARN") && text.contains("refuses session pins") && text.contains("NOPERM"), text);
      assertEquals(text.indexOf("refuses session pins"), text.lastIndexOf("refuses session pins"), "said once: " + text);
    }
  }

  /**
   * An operator who grants routewise's Redis user the keys the README names (Several replicas, The
   * Responses API), each kind as a pattern, has a store that works: every call the sync and the pin
   * threads make is allowed. The sync's write of {@code <prefix>:alive} (made when session pinning is
   * all that uses Redis) was named nowhere, so such a user read as a Redis down for good: pins never
   * shared, routewise_state_redis_up 0.
   */
  @Test
  void aUserGrantedTheKeysTheReadmeNamesCanMakeEveryCall() throws Exception {
    String readme = java.nio.file.Files.readString(java.nio.file.Path.of("README.md"));
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("`<(?:key_)?prefix>:([^`]+)`").matcher(readme);
    java.util.Set<String> patterns = new java.util.TreeSet<>();
    while (m.find()) {
      patterns.add("~routewise:" + m.group(1).replaceAll("<[^>]*>", "*"));
    }
    List<String> rules = new java.util.ArrayList<>(patterns);
    rules.add("+@all");
    try (AclUser user = aclUser("readmekeys", rules.toArray(String[]::new));
        RedisStateStore s = new RedisStateStore(config(user.url(), 1000))) {
      s.ping();
      assertTrue(s.incarnation() != null);
      assertEquals(List.of(), s.exchange("mf", window("ra", 0.4, 5)));
      assertEquals("weak", s.pinIfAbsent("sess", "weak", Duration.ofMinutes(1)).upstream());
      assertEquals("weak", s.pin("sess").upstream());
      s.putUsage("00ff", "r", Duration.ofMinutes(1));
      assertTrue(s.claimUsage("00ff", Duration.ofMinutes(1)));
      s.shareSpend("ra", Map.of("alice:1700000000", new StateStore.Spend(1.0, Duration.ofMinutes(1))));
      s.shareHolds("ra", Map.of("alice", new StateStore.Held(0.5, 1)));
      s.shareRequests("ra", others -> Map.of());
    }
  }

  /**
   * The version is checked until INFO answers: a first INFO that timed out (a Redis slow at that
   * moment) left the check done for good, so a Redis 6.2 was never found out: pins were not switched
   * off, and every first turn's pin write failed while the store read as up. The Debian package is
   * Redis 7, so a scripted Redis 6.2 speaks the few commands the store sends.
   */
  @Test
  void aVersionCheckThatFailedIsMadeAgainAtTheNextCall() throws Exception {
    try (Redis62 old = new Redis62(1); RedisStateStore s = new RedisStateStore(config(old.url(), 1000))) {
      assertThrows(Exception.class, s::ping, "the first INFO is not answered within the timeout");
      assertTrue(s.takesPins(), "nothing known yet");
      s.ping();
      assertFalse(s.takesPins(), "Redis 6.2 has no SET NX GET: pins stay per replica");
      assertNull(s.incarnation(), "nor an incarnation key: an old Redis, not a failure");
    }
  }

  /**
   * A Redis 6.2 on loopback, scripted: the first {@code stalledInfos} INFO calls get no answer;
   * SET with NX and GET answers the syntax error 6.2 does.
   */
  private static final class Redis62 implements AutoCloseable {
    private final java.net.ServerSocket server;
    private final java.util.concurrent.atomic.AtomicInteger stalled;

    Redis62(int stalledInfos) throws java.io.IOException {
      server = new java.net.ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress());
      stalled = new java.util.concurrent.atomic.AtomicInteger(stalledInfos);
      Thread.ofPlatform().daemon().start(() -> {
        while (!server.isClosed()) {
          try {
            java.net.Socket c = server.accept();
            Thread.ofPlatform().daemon().start(() -> serve(c));
          } catch (java.io.IOException closed) {
            return;
          }
        }
      });
    }

    String url() {
      return "redis://127.0.0.1:" + server.getLocalPort() + "/0";
    }

    private void serve(java.net.Socket c) {
      try (c; var in = new java.io.DataInputStream(new java.io.BufferedInputStream(c.getInputStream()));
          var out = c.getOutputStream()) {
        while (true) {
          List<String> cmd = new java.util.ArrayList<>();
          int n = Integer.parseInt(line(in).substring(1));
          for (int i = 0; i < n; i++) {
            byte[] arg = new byte[Integer.parseInt(line(in).substring(1))];
            in.readFully(arg);
            line(in);
            cmd.add(new String(arg, java.nio.charset.StandardCharsets.UTF_8));
          }
          String name = cmd.get(0).toUpperCase(java.util.Locale.ROOT);
          String reply;
          if (name.equals("INFO")) {
            if (stalled.getAndDecrement() > 0) {
              continue; // no answer: the client times out and drops the connection
            }
            String info = "# Server\r\nredis_version:6.2.14\r\nrun_id:0123456789abcdef\r\n";
            reply = "$" + info.length() + "\r\n" + info + "\r\n";
          } else if (name.equals("HELLO")) { // Jedis's handshake
            reply = "*14\r\n" + resp2("server", "redis", "version", "6.2.14", "proto", ":2", "id", ":7", "mode",
                "standalone", "role", "master", "modules") + "*0\r\n";
          } else if (name.equals("SET") && cmd.stream().anyMatch("GET"::equalsIgnoreCase)
              && cmd.stream().anyMatch("NX"::equalsIgnoreCase)) {
            reply = "-ERR syntax error\r\n";
          } else if (name.equals("CLIENT") || name.equals("PSETEX") || name.equals("SET")) {
            reply = "+OK\r\n";
          } else {
            reply = "-ERR unknown command '" + cmd.get(0) + "'\r\n";
          }
          out.write(reply.getBytes(java.nio.charset.StandardCharsets.UTF_8));
          out.flush();
        }
      } catch (Exception closed) {
        // the client went away
      }
    }

    /** Bulk strings (":n" an integer), as RESP2 writes an array's items. */
    private static String resp2(String... items) {
      StringBuilder b = new StringBuilder();
      for (String i : items) {
        b.append(i.startsWith(":") ? i : "$" + i.length() + "\r\n" + i).append("\r\n");
      }
      return b.toString();
    }

    private static String line(java.io.DataInputStream in) throws java.io.IOException {
      StringBuilder b = new StringBuilder();
      int ch;
      while ((ch = in.read()) != '\n') {
        if (ch < 0) {
          throw new java.io.EOFException();
        }
        if (ch != '\r') {
          b.append((char) ch);
        }
      }
      return b.toString();
    }

    @Override
    public void close() throws java.io.IOException {
      server.close();
    }
  }

  @Test
  void theServersVersionIsReadFromInfo() throws Exception {
    assertEquals("6.2.14", RedisStateStore.serverVersion("# Server\r\nredis_version:6.2.14\r\nredis_mode:standalone\r\n"));
    assertEquals(6, RedisStateStore.major("6.2.14"));
    assertNull(RedisStateStore.serverVersion("# Server\r\n"));
    try (Jedis j = redis.client()) {
      String version = RedisStateStore.serverVersion(j.info("server"));
      assertTrue(RedisStateStore.major(version) >= 7, "the tests' redis-server (pins need 7.0): " + version);
    }
  }

  @Test
  void aReplicaThatStopsPublishingDropsOutOfTheMergeAndTheSet() throws Exception {
    try (RedisStateStore a = new RedisStateStore(config(redis.url(), 100));
        RedisStateStore b = new RedisStateStore(config(redis.url(), 100))) {
      a.exchange("mf", window("ra", 0.4, 5));
      assertEquals(1, b.exchange("mf", window("rb", 0.6, 9)).size());
      Thread.sleep(RedisStateStore.windowTtl(Duration.ofMillis(100)).toMillis() + 300); // a is gone
      assertEquals(List.of(), b.exchange("mf", window("rb", 0.6, 9)));
      try (Jedis j = redis.client()) {
        assertEquals(java.util.Set.of("rb"), j.smembers("routewise:replicas:mf"));
      }
    }
  }

  /**
   * Two replicas whose rate-limit lines had expired (a Redis out of reach for longer than their life)
   * and that exchange again at the same moment each find the other's line gone: neither may drop the
   * other from the set once its line is back, or a third replica (and each of them at its next
   * exchange) no longer sees it, and grants itself the share that replica holds. A prune read before
   * its own write dropped both: each read the other's line gone, then removed it after it was written.
   */
  @Test
  void twoReplicasBackAtOnceAfterTheirLinesExpiredKeepEachOtherListed() throws Exception {
    try (RedisStateStore a = new RedisStateStore(config(redis.url(), 1000));
        RedisStateStore b = new RedisStateStore(config(redis.url(), 1000));
        RedisStateStore c = new RedisStateStore(config(redis.url(), 1000)); Jedis j = redis.client()) {
      Map<String, StateStore.Requests> line = Map.of("batch", new StateStore.Requests(1, 2, true));
      a.shareRequests("ra", others -> line);
      b.shareRequests("rb", others -> line);
      j.del("routewise:requests:ra", "routewise:requests:rb"); // both lines expired, both still listed
      a.shareRequests("ra", others -> {
        assertEquals(Map.of(), others, "b's line is gone");
        try { // b's exchange runs while a's runs: each reads before the other writes
          assertEquals(Map.of(), b.shareRequests("rb", bOthers -> line), "a's line is gone");
        } catch (Exception e) {
          throw new AssertionError(e);
        }
        return line;
      });
      assertEquals(java.util.Set.of("ra", "rb"), j.smembers("routewise:requests-replicas"));
      assertEquals(java.util.Set.of("ra", "rb"), c.shareRequests("rc", others -> Map.of()).keySet(),
          "a third replica sees both");
    }
  }

  /** A window this build cannot read (another version's) is left out of the merge, and said once. */
  @Test
  void anUnreadableWindowIsLeftOutAndSaidOnce() throws Exception {
    try (RedisStateStore a = new RedisStateStore(config(redis.url(), 1000)); Jedis j = redis.client();
        io.routewise.StderrCapture log = new io.routewise.StderrCapture()) {
      j.sadd("routewise:replicas:sw", "r-next");
      j.set("routewise:window:sw:r-next", "rw2 r-next 1000 0.5 5000 strong_share=0.3 extra");
      for (int i = 0; i < 3; i++) {
        assertEquals(List.of(), a.exchange("sw", window("ra", 0.4, 5)));
      }
      String text = log.text();
      assertTrue(text.contains("replica r-next's window for router-sw-auto is not one this build reads"), text);
      assertEquals(text.indexOf("r-next's window"), text.lastIndexOf("r-next's window"), "said once: " + text);
    }
  }

  @Test
  void aSessionIsPinnedOnceAndThePinCarriesItsRemainingLife() throws Exception {
    try (RedisStateStore a = new RedisStateStore(config(redis.url(), 1000));
        RedisStateStore b = new RedisStateStore(config(redis.url(), 1000))) {
      assertNull(a.pin("abc"));
      StateStore.Pin first = a.pinIfAbsent("abc", "weak", Duration.ofMinutes(5));
      assertEquals("weak", first.upstream());
      StateStore.Pin second = b.pinIfAbsent("abc", "strong", Duration.ofMinutes(5));
      assertEquals("weak", second.upstream(), "set if absent: the first pin holds");
      StateStore.Pin read = b.pin("abc");
      assertEquals("weak", read.upstream());
      assertTrue(read.remainingMillis() > 0 && read.remainingMillis() <= Duration.ofMinutes(5).toMillis());
      try (Jedis j = redis.client()) {
        assertEquals("weak", j.get("routewise:pin:abc"));
      }
    }
  }

  @Test
  void theDatabaseAndPrefixInTheConfigAreTheOnesWrittenTo() throws Exception {
    StateConfig cfg = new StateConfig(Secret.of("redis://127.0.0.1:" + redis.port() + "/3"), Duration.ofSeconds(1),
        Duration.ofMillis(500), Duration.ofMillis(10), "team-a");
    try (RedisStateStore s = new RedisStateStore(cfg); Jedis j = redis.client()) {
      s.pinIfAbsent("x", "strong", Duration.ofMinutes(1));
      assertNull(j.get("team-a:pin:x"), "not in database 0");
      j.select(3);
      assertEquals("strong", j.get("team-a:pin:x"));
    }
  }

  @Test
  void aKilledRedisFailsFastAndTheSameStoreWorksAgainOnceItIsBack() throws Exception {
    try (RedisStateStore s = new RedisStateStore(config(redis.url(), 1000))) {
      s.exchange("mf", window("ra", 0.4, 5));
      redis.kill();
      long start = System.nanoTime();
      assertThrows(Exception.class, () -> s.exchange("mf", window("ra", 0.4, 5)));
      assertThrows(Exception.class, s::ping);
      assertThrows(Exception.class, () -> s.pin("abc"));
      long ms = (System.nanoTime() - start) / 1_000_000;
      assertTrue(ms < 3 * 500 + 1_000, "three calls to a dead Redis took " + ms + " ms (timeout 500 ms each)");
      redis.restart();
      s.ping();
      assertEquals(List.of(), s.exchange("mf", window("ra", 0.4, 5)));
    }
  }

  @Test
  void aConnectionLeftIdleAcrossARedisRestartIsReplacedWithoutFailingTheCall() throws Exception {
    try (RedisStateStore s = new RedisStateStore(config(redis.url(), 1000))) {
      assertEquals("strong", s.pinIfAbsent("abc", "strong", Duration.ofMinutes(1)).upstream());
      redis.kill();
      redis.restart(); // nothing called meanwhile: this thread's connection still looks open
      assertNull(s.pin("abc"), "the restarted Redis has no pins; the broken connection is not an error");
      assertEquals("weak", s.pinIfAbsent("abc", "weak", Duration.ofMinutes(1)).upstream());
      assertEquals("weak", s.pin("abc").upstream());
    }
  }

  /** A Redis user (password pw) with {@code rules}, deleted on close: the store's URL logs in as it. */
  private record AclUser(String name, String url) implements AutoCloseable {
    @Override
    public void close() {
      try (Jedis admin = redis.client()) {
        admin.aclDelUser(name);
      }
    }
  }

  private static AclUser aclUser(String name, String... rules) {
    try (Jedis admin = redis.client()) {
      String[] all = new String[rules.length + 2];
      all[0] = "on";
      all[1] = ">pw";
      System.arraycopy(rules, 0, all, 2, rules.length);
      admin.aclSetUser(name, all);
    }
    return new AclUser(name, redis.url().replace("redis://", "redis://" + name + ":pw@"));
  }
}
