package io.routewise.config;

import java.time.Duration;
import java.util.List;

/**
 * @param host interface to bind
 * @param port TCP port
 * @param maxBodyBytes larger request bodies get 413
 * @param apiKeys when not empty, every {@code /v1/*} call must carry one of them as its bearer
 *     token (401 otherwise); {@code /health} and {@code /metrics} stay open. Named ones count their
 *     clients' requests, tokens and spend under their names
 * @param shutdownGrace on shutdown, how long requests already in flight may take to finish while new
 *     chat requests get 503; zero stops at once
 * @param corsOrigins browser origins (e.g. {@code https://app.example.com}, or {@code *}) allowed to
 *     call {@code /v1/*} from their pages; empty: no CORS headers, as before
 * @param allowedHosts without {@code apiKeys}, host names (besides addresses, {@code localhost} and
 *     names no public DNS gives) that {@code /v1/*} answers to; {@code *.example.com} for any under it
 * @param accessLog one log line per API request (decision, status, time, request ids), never the prompt
 * @param maxBufferedBodyBytes request bodies and non-streamed upstream answers held in memory at once,
 *     all requests together; a request whose body would pass it gets 503 (so slow or many large
 *     bodies cannot exhaust the heap)
 * @param minBodyBytesPerSecond after {@code bodyGrace}, a request body that brings less than this per
 *     second over a window of {@code bodyGrace} gets 408; zero: no minimum
 * @param maxResponseBytes a non-streamed upstream answer is read whole before it is relayed: past
 *     this many bytes (after decoding) it is dropped and the client gets 502
 * @param bodyGrace how long a body may take before its pace is checked ({@link #DEFAULT_BODY_GRACE}; not
 *     a YAML key)
 * @param maxConnections client connections open at once; a new one past it is closed as soon as it
 *     is accepted; 0: no limit
 * @param headerTimeout a new connection that has not sent its first request's headers within
 *     this is closed, and a kept-alive one whose next request's headers take one to two times this;
 *     zero: no deadline
 * @param shutdownDelay on shutdown, how long {@code /health} says draining while requests are still
 *     served (each answer closing its connection), before new ones are turned away and the grace
 *     begins: the time a load balancer takes to see it; zero: none
 * @param idleTimeout a client connection with nothing read or written for this long is closed (a
 *     kept-alive one between requests, or one whose client stopped reading an answer)
 * @param acceptQueue connections the kernel holds for the listener before they are accepted (the
 *     listen backlog; Linux caps it at {@code net.core.somaxconn})
 */
public record ServerConfig(String host, int port, long maxBodyBytes, List<ClientKey> apiKeys, Duration shutdownGrace,
    List<String> corsOrigins, List<String> allowedHosts, boolean accessLog, long maxBufferedBodyBytes, long minBodyBytesPerSecond,
    long maxResponseBytes, Duration bodyGrace, int maxConnections, Duration headerTimeout, Duration shutdownDelay,
    Duration idleTimeout, int acceptQueue) {
  public static final long DEFAULT_MAX_BODY_BYTES = 4L * 1024 * 1024;
  /**
   * Host suffixes no one can register in public DNS, so a keyless instance answers names under them
   * without {@code allowed_hosts}: reserved ({@code .localhost}, {@code .local} for mDNS, {@code
   * .internal}, {@code .home.arpa}), Kubernetes' service names ({@code .svc}, and with the cluster
   * domain {@code .svc.cluster.local}), and {@code .lan}, undelegated and many routers' default.
   */
  public static final List<String> PRIVATE_HOST_SUFFIXES =
      List.of(".localhost", ".local", ".internal", ".home.arpa", ".svc", ".lan");
  /** Under Kubernetes' default termination grace (30 s), so the drain ends before the SIGKILL. */
  public static final long DEFAULT_SHUTDOWN_GRACE_MS = 25_000;
  /** A mobile link's pace is far above it; a client dripping a body to hold memory is below it. */
  public static final long DEFAULT_MIN_BODY_BYTES_PER_SECOND = 16 * 1024;
  /** Far above any chat completion (128 choices with log-probabilities fit), far below the heap. */
  public static final long DEFAULT_MAX_RESPONSE_BYTES = 64L * 1024 * 1024;
  /** A slow start (a phone waking its radio, a congested link's first window) is not held against a body. */
  public static final Duration DEFAULT_BODY_GRACE = Duration.ofSeconds(10);
  /**
   * Far more clients than two cores serve, and well under the open files a container gets (1,048,576
   * in Docker; a login shell's soft limit can be 1,024: raise it, or this, README).
   */
  public static final int DEFAULT_MAX_CONNECTIONS = 10_000;
  /** A client's headers take milliseconds; a browser's preconnected socket, unused this long, is reopened. */
  public static final long DEFAULT_HEADER_TIMEOUT_MS = 10_000;
  /** Jetty's own: a kept-alive connection's client reuses it well within this. */
  public static final long DEFAULT_IDLE_TIMEOUT_MS = 30_000;
  /**
   * nginx's 511 and more: the JDK's 50 overflowed when 3,000 clients connected at once (a reconnect
   * storm, a replica taking a restarted one's clients), and each SYN dropped waits a second to retry.
   */
  public static final int DEFAULT_ACCEPT_QUEUE = 1_024;

  public ServerConfig {
    apiKeys = List.copyOf(apiKeys);
    corsOrigins = List.copyOf(corsOrigins);
    allowedHosts = List.copyOf(allowedHosts);
  }

  public ServerConfig(String host, int port, long maxBodyBytes) {
    this(host, port, maxBodyBytes, List.of(), Duration.ofMillis(DEFAULT_SHUTDOWN_GRACE_MS), List.of(), List.of(), false,
        defaultBufferedBodyBytes(maxBodyBytes), DEFAULT_MIN_BODY_BYTES_PER_SECOND, DEFAULT_MAX_RESPONSE_BYTES,
        DEFAULT_BODY_GRACE, DEFAULT_MAX_CONNECTIONS, Duration.ofMillis(DEFAULT_HEADER_TIMEOUT_MS), Duration.ZERO,
        Duration.ofMillis(DEFAULT_IDLE_TIMEOUT_MS), DEFAULT_ACCEPT_QUEUE);
  }

  /**
   * An eighth of the heap, and never less than one body of the largest size: a chat body's parsed
   * form and the copy sent upstream take about as much again as its bytes.
   */
  public static long defaultBufferedBodyBytes(long maxBodyBytes) {
    return Math.max(maxBodyBytes, Runtime.getRuntime().maxMemory() / 8);
  }

  public ServerConfig withPort(int newPort) {
    return new ServerConfig(host, newPort, maxBodyBytes, apiKeys, shutdownGrace, corsOrigins, allowedHosts, accessLog,
        maxBufferedBodyBytes, minBodyBytesPerSecond, maxResponseBytes, bodyGrace, maxConnections, headerTimeout,
        shutdownDelay, idleTimeout, acceptQueue);
  }

  public ServerConfig withBodyGrace(Duration grace) {
    return new ServerConfig(host, port, maxBodyBytes, apiKeys, shutdownGrace, corsOrigins, allowedHosts, accessLog,
        maxBufferedBodyBytes, minBodyBytesPerSecond, maxResponseBytes, grace, maxConnections, headerTimeout,
        shutdownDelay, idleTimeout, acceptQueue);
  }
}
