package io.routewise;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import redis.clients.jedis.Jedis;

/**
 * A real {@code redis-server} (the Debian package) on a free loopback port, with no persistence, for
 * the tests of shared state. {@link #kill()} is SIGKILL, as a crashed or partitioned Redis looks to
 * its clients; {@link #restart()} brings it back, empty, on the same port.
 *
 * <p>The binary comes from {@code REDIS_SERVER}, else the {@code PATH}, else {@code /usr/bin}. There is
 * no skipping: without it the tests fail and say how to install it ({@code .ci/run} does).
 */
public final class RedisServer implements AutoCloseable {
  private final Path binary;
  private final int port;
  private final Path dir;
  private Process process;

  private RedisServer(Path binary, int port, Path dir) {
    this.binary = binary;
    this.port = port;
    this.dir = dir;
  }

  public static RedisServer start() throws Exception {
    RedisServer r = new RedisServer(binary(), freePort(), Files.createTempDirectory("routewise-redis"));
    r.launch();
    return r;
  }

  public int port() {
    return port;
  }

  /** The URL for {@code state.redis}. */
  public String url() {
    return "redis://127.0.0.1:" + port + "/0";
  }

  /** A plain client for the test's own checks. */
  public Jedis client() {
    return new Jedis(new redis.clients.jedis.HostAndPort("127.0.0.1", port),
        redis.clients.jedis.DefaultJedisClientConfig.builder().protocol(redis.clients.jedis.RedisProtocol.RESP2).build());
  }

  /** Makes Redis answer nobody for {@code seconds} (DEBUG SLEEP), on a thread of its own; returns at once. */
  public Thread stall(double seconds) {
    Thread t = Thread.ofPlatform().daemon().start(() -> {
      try (Jedis j = new Jedis(new redis.clients.jedis.HostAndPort("127.0.0.1", port),
          redis.clients.jedis.DefaultJedisClientConfig.builder().protocol(redis.clients.jedis.RedisProtocol.RESP2)
              .socketTimeoutMillis((int) (seconds * 1000) + 5_000).build())) {
        redis.clients.jedis.commands.ProtocolCommand debug = () -> "DEBUG".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        j.sendCommand(debug, "SLEEP", Double.toString(seconds));
      }
    });
    return t;
  }

  /** SIGKILL, and wait for the process to be gone: every connection to it is reset. */
  public void kill() throws InterruptedException {
    if (process != null && process.isAlive()) {
      process.destroyForcibly().waitFor();
    }
  }

  /** A fresh, empty Redis on the same port. */
  public void restart() throws Exception {
    kill();
    launch();
  }

  private void launch() throws Exception {
    Path log = dir.resolve("redis.log");
    process = new ProcessBuilder(List.of(binary.toString(), "--port", Integer.toString(port), "--bind", "127.0.0.1",
        "--save", "", "--appendonly", "no", "--protected-mode", "no", "--daemonize", "no", "--dir", dir.toString(),
        "--loglevel", "warning", "--enable-debug-command", "local")) // DEBUG SLEEP plays a slow Redis
        .redirectErrorStream(true).redirectOutput(log.toFile()).start();
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (true) {
      try (Jedis j = client()) {
        if ("PONG".equals(j.ping())) {
          return;
        }
      } catch (RuntimeException notYet) {
        if (!process.isAlive() || System.nanoTime() > deadline) {
          throw new IllegalStateException("redis-server on port " + port + " did not start: "
              + (Files.exists(log) ? Files.readString(log) : "(no log)"), notYet);
        }
        Thread.sleep(20);
      }
    }
  }

  static Path binary() {
    String env = System.getenv("REDIS_SERVER");
    if (env != null && !env.isBlank()) {
      return Path.of(env);
    }
    for (String dir : System.getenv().getOrDefault("PATH", "").split(java.io.File.pathSeparator)) {
      Path p = Path.of(dir.isEmpty() ? "." : dir, "redis-server");
      if (Files.isExecutable(p)) {
        return p;
      }
    }
    for (String p : new String[] {"/usr/bin/redis-server", "/usr/sbin/redis-server", "/usr/local/bin/redis-server"}) {
      if (Files.isExecutable(Path.of(p))) {
        return Path.of(p);
      }
    }
    throw new IllegalStateException("redis-server not found (REDIS_SERVER, PATH, /usr/bin): the shared-state tests "
        + "run a real one. Install the Debian package: apt-get install redis-server (.ci/run does it when it is missing).");
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  @Override
  public void close() throws Exception {
    kill();
    try (var files = Files.walk(dir)) {
      files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }
}
