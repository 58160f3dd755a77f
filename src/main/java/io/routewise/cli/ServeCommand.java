package io.routewise.cli;

import io.routewise.Routewise;
import io.routewise.config.RoutewiseConfig;
import io.routewise.routers.RouterCatalog;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** {@code routewise serve}: starts the proxy and runs until stopped. */
@Command(name = "serve", mixinStandardHelpOptions = true, description = "Run the routing proxy.")
public final class ServeCommand implements Callable<Integer> {
  private static final Logger LOG = LoggerFactory.getLogger(ServeCommand.class);

  @Mixin
  ConfigOptions options;

  @Override
  public Integer call() throws InterruptedException {
    Startup start = Startup.load(options.config, options.port);
    if (start == null) {
      return Startup.PROBLEM;
    }
    RoutewiseConfig cfg = start.config();
    Routewise running;
    try {
      running = Routewise.start(start.checked(), start.embedders(), start.embedders()::close);
    } catch (RuntimeException e) {
      start.embedders().close();
      String why = listenProblem(e, cfg.server().host(), cfg.server().port());
      if (why != null) {
        Startup.refused(why);
        return Startup.PROBLEM;
      }
      throw e;
    }
    List<io.routewise.config.UpstreamConfig> ladder = RouterCatalog.inLadderOrder(cfg);
    LOG.info("routewise listening on {} with routers {} (default {} at {}); {}",
        listenAddress(cfg.server().host(), running.port()), running.routing().routerNames(), cfg.routing().router(),
        cfg.routing().threshold(), ladder.size() == 2 ? "strong=" + cfg.strong().model() + " weak=" + cfg.weak().model()
            : ladder.size() + " upstreams, from " + ladder.get(0).name() + " (" + ladder.get(0).model() + ") to "
                + ladder.get(ladder.size() - 1).name() + " (" + ladder.get(ladder.size() - 1).model() + ")");
    startWarnings(cfg, running.port()).forEach(LOG::warn);
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      running.close();
      stopped.countDown();
    }, "routewise-shutdown"));
    stopped.await();
    return 0;
  }

  /**
   * What a start warns of once it knows its port (serve's bound one, check's configured one): no
   * client keys while listening beyond loopback, upstreams that would be called without credentials.
   */
  static List<String> startWarnings(RoutewiseConfig cfg, int port) {
    List<String> out = new java.util.ArrayList<>();
    if (cfg.server().apiKeys().isEmpty() && !loopback(cfg.server().host())) {
      // Anyone who can reach the port spends the upstreams' keys.
      String host = cfg.server().host();
      out.add("no server.api_keys and listening on " + (host.contains(":") && !host.startsWith("[") ? "[" + host + "]"
          : host) + ", not only loopback: any client that reaches port " + port + " is served on the upstreams' keys (set server.api_keys, e.g. from "
          + "ROUTEWISE_API_KEY, or host: 127.0.0.1); /v1/* answers only addresses and the host names it knows "
          + "(server.allowed_hosts)");
    }
    out.addAll(keylessUpstreams(RouterCatalog.inLadderOrder(cfg)));
    return out;
  }

  /**
   * An https upstream with an empty api_key and no headers of its own gets no credentials at all:
   * most likely {@code ${OPENAI_API_KEY}} set to an empty string, which passes as "no key" (a local
   * server's), and every call would be a 401. One that needs none says {@code none}.
   */
  static List<String> keylessUpstreams(List<io.routewise.config.UpstreamConfig> upstreams) {
    return upstreams.stream()
        .filter(u -> u.apiKey().isBlank() && u.headers().isEmpty() && "https".equals(u.baseUrl().getScheme()))
        .map(u -> "upstreams." + u.name() + ".api_key is empty or left out, so calls to " + u.baseUrl().getHost()
            + " carry no credentials (no api_key line, or an environment variable set to \"\"?); write api_key: none"
            + " if it needs none")
        .toList();
  }

  /** Why the server could not listen, for a start that failed with {@code e}; null when that was not it. */
  static String listenProblem(Throwable e, String host, int port) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof java.nio.channels.UnresolvedAddressException) {
        return "cannot listen on " + listenAddress(host, port) + ": server.host '" + host + "' does not resolve";
      }
      if (t instanceof java.net.BindException b) {
        String said = String.valueOf(b.getMessage());
        return "cannot listen on " + listenAddress(host, port) + " (" + said + "); " + (said.contains("assign")
            ? "server.host is not an address of this machine (0.0.0.0: all of them, 127.0.0.1: this one only)"
            : said.contains("ermission") ? "a port below 1024 needs privileges routewise does not have (server.port, --port)"
            : "is another process using the port? (server.port, --port)");
      }
    }
    return null;
  }

  /** {@code host:port} as a URL writes it: an IPv6 address in brackets ({@code [::1]:6060}; {@code ::1:6060} reads as one address). */
  static String listenAddress(String host, int port) {
    return (host.indexOf(':') >= 0 && !host.startsWith("[") ? "[" + host + "]" : host) + ":" + port;
  }

  static boolean loopback(String host) {
    try {
      return java.net.InetAddress.getByName(host).isLoopbackAddress();
    } catch (java.net.UnknownHostException e) {
      return false;
    }
  }
}
