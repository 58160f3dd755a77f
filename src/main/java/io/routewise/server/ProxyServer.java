package io.routewise.server;

import java.util.List;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.javalin.Javalin;
import io.javalin.compression.CompressionStrategy;
import io.javalin.http.Context;
import io.javalin.http.HandlerType;
import io.javalin.http.HttpResponseException;
import io.routewise.config.RoutingConfig;
import io.routewise.config.ServerConfig;
import io.routewise.config.SessionPinning;
import io.routewise.metrics.RoutewiseMetrics;
import io.routewise.routing.ClientRateLimits;
import io.routewise.routing.RouteSpec;
import io.routewise.routing.RoutingDecision;
import io.routewise.routing.RoutingService;
import io.routewise.upstream.Cooldowns;
import io.routewise.upstream.RoutedApi;
import io.routewise.upstream.UpstreamClient;
import java.io.IOException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The HTTP face of routewise: OpenAI's chat-completions and models endpoints, plus {@code /v1/route},
 * {@code /health} and {@code /metrics}. Every error leaves in OpenAI's shape; the mapping from
 * exceptions to statuses lives here and nowhere else.
 */
public final class ProxyServer implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(ProxyServer.class);
  private static final ObjectMapper MAPPER = new ObjectMapper();

  private final Javalin app;
  private final InFlightRequests inFlight;
  private final java.time.Duration shutdownGrace;
  private final java.time.Duration shutdownDelay;
  /**
   * Shutting down, within {@code server.shutdown_delay_ms}: {@code /health} says draining while
   * requests are still served, each answer closing its connection, until load balancers have seen it.
   */
  private volatile boolean leaving;
  private final List<UpstreamClient> upstreams;
  private final RoutingService routing;
  private final java.util.concurrent.atomic.AtomicBoolean closing = new java.util.concurrent.atomic.AtomicBoolean();
  private final java.util.concurrent.CountDownLatch closed = new java.util.concurrent.CountDownLatch(1);

  /**
   * @param upstreams the chat upstreams in the order of {@code routing}'s ladder, most capable first
   * @param routingConfig failover, its cooldown, passthrough's endpoints and session pinning
   * @param passthrough the upstream that other {@code /v1} endpoints are sent to unchanged, or null
   *     for none (they are 404s)
   */
  public ProxyServer(ServerConfig config, RoutingService routing, List<UpstreamClient> upstreams,
      RoutewiseMetrics metrics, RoutingConfig routingConfig, UpstreamClient passthrough) {
    this(config, routing, upstreams, metrics, routingConfig, passthrough,
        new io.routewise.routing.ClientBudgets(java.util.Map.of(), System::currentTimeMillis));
  }

  /** @param budgets what named clients may spend: past it, their routed requests get 429 */
  public ProxyServer(ServerConfig config, RoutingService routing, List<UpstreamClient> upstreams,
      RoutewiseMetrics metrics, RoutingConfig routingConfig, UpstreamClient passthrough,
      io.routewise.routing.ClientBudgets budgets) {
    this(config, routing, upstreams, metrics, routingConfig, passthrough, budgets,
        new ClientRateLimits(config.apiKeys(), System::nanoTime));
  }

  /**
   * @param budgets what named clients may spend: past it, their routed requests get 429
   * @param rateLimits how many requests named clients may make: past it, they get 429 (shared by the
   *     replicas when a state sync exchanges them)
   */
  public ProxyServer(ServerConfig config, RoutingService routing, List<UpstreamClient> upstreams,
      RoutewiseMetrics metrics, RoutingConfig routingConfig, UpstreamClient passthrough,
      io.routewise.routing.ClientBudgets budgets, ClientRateLimits rateLimits) {
    this.upstreams = List.copyOf(upstreams);
    this.routing = routing;
    this.shutdownGrace = config.shutdownGrace();
    this.shutdownDelay = config.shutdownDelay();
    ConnectionGuard guard = new ConnectionGuard(config.maxConnections(), config.headerTimeout().toMillis(),
        metrics::connectionClosed);
    metrics.clientConnections(guard::open);
    this.inFlight = new InFlightRequests(config.headerTimeout().isPositive() ? guard : null);
    RequestBodies bodies = new RequestBodies(config.maxBodyBytes(), config.maxBufferedBodyBytes(),
        config.minBodyBytesPerSecond(), config.bodyGrace().toNanos(), metrics::bodyRefused);
    metrics.bufferedBodies(bodies::buffered);
    boolean failover = routingConfig.failover();
    Cooldowns cooldowns = null;
    if (failover && routingConfig.failoverCooldown().toNanos() > 0) {
      java.util.Map<String, java.time.Duration> tryLimits = new java.util.LinkedHashMap<>();
      // a try may connect twice (a closed idle connection) and wait twice (for headers, then a stream's first bytes)
      upstreams.forEach(u -> tryLimits.put(u.name(), u.config().connectTimeout().plus(u.config().timeout()).multipliedBy(2)));
      cooldowns = new Cooldowns(tryLimits, routingConfig.failoverCooldown(), System::nanoTime, LOG::warn, "upstream",
          "(routing.failover_cooldown_ms); requests chosen for it go to its failover upstream until a try answers");
      metrics.cooling(List.copyOf(tryLimits.keySet()), cooldowns::coolingGauge);
    }
    SessionPinning pinning = routingConfig.sessionPinning();
    List<String> passthroughEndpoints = routingConfig.passthroughEndpoints();
    // Stored responses and conversations made through passthrough live at its upstream.
    String responsesHome = passthrough != null && PassthroughHandler.serves(passthroughEndpoints, "responses") ? passthrough.name() : null;
    String conversationsHome =
        passthrough != null && PassthroughHandler.serves(passthroughEndpoints, "conversations") ? passthrough.name() : null;
    metrics.clients(config.apiKeys().stream().map(io.routewise.config.ClientKey::name)
        .filter(java.util.Objects::nonNull).toList());
    AnswerSpend spend = new AnswerSpend(routing, upstreams, metrics, budgets);
    StoredResponses stored = new StoredResponses(StoredResponses.MAX_ENTRIES, routing, spend);
    budgets.afterExchange(() -> {
      stored.releaseCountedElsewhere();
      stored.sweep();
    });
    budgets.beforeHold(stored::sweep);
    // one for every handler: an upstream that serves chat and passthrough is told of once per interval
    UpstreamFailureLog failures = new UpstreamFailureLog();
    ChatCompletionsHandler chat =
        new ChatCompletionsHandler(routing, upstreams, metrics, bodies, config.maxResponseBytes(), failover, cooldowns,
            inFlight, config.accessLog(), pinning, stored, spend, responsesHome, conversationsHome, budgets, failures);
    // A stored response's retrieve, cancel, input items and delete go where it is stored.
    java.util.Map<String, PassthroughHandler> storedAt = new java.util.HashMap<>();
    for (UpstreamClient u : upstreams) {
      storedAt.put(u.name(), new PassthroughHandler(u, List.of("responses"), metrics, bodies, inFlight,
          config.accessLog(), model -> routewiseModel(model, routing), null, stored, spend, failures));
    }
    metrics.inFlight(inFlight::count);
    byte[] models = modelsBody(routing, upstreams);
    byte[] health = json(MAPPER.createObjectNode().put("status", "ok")
        .set("routers", MAPPER.valueToTree(routing.routerNames())));
    // While draining, a load balancer's health check takes this instance out of rotation.
    byte[] draining = json(MAPPER.createObjectNode().put("status", "draining")
        .set("routers", MAPPER.valueToTree(routing.routerNames())));
    PassthroughHandler other = passthrough == null ? null
        : new PassthroughHandler(passthrough, passthroughEndpoints, metrics, bodies, inFlight, config.accessLog(),
            model -> routewiseModel(model, routing), new PassthroughHandler.RoutedResponses() {
              @Override
              public boolean continuesRouted(byte[] body) {
                String previous = PassthroughHandler.topLevelString(body, "previous_response_id");
                String at = previous == null ? null : stored.upstreamOf(previous);
                return at != null && !at.equals(passthrough.name());
              }

              @Override
              public void handle(Context ctx, RequestBodies.Body body) throws IOException {
                chat.handle(ctx, RoutedApi.RESPONSES, body);
              }
            }, stored, spend, failures); // its own background responses await their usage there too
    this.app = Javalin.create(cfg -> {
      cfg.startup.showJavalinBanner = false;
      cfg.concurrency.useVirtualThreads = true;
      cfg.http.maxRequestSize = config.maxBodyBytes();
      cfg.http.compressionStrategy = CompressionStrategy.NONE;
      cfg.jetty.host = config.host();
      cfg.jetty.port = config.port();
      cfg.jetty.modifyServletContextHandler(context -> context.insertHandler(inFlight));
      cfg.jetty.modifyServer(server -> {
        server.setErrorHandler(new JsonErrorHandler(metrics::refused, config.corsOrigins()));
        // the connectors exist once the server starts; a bean added before they start is on every connection
        server.addEventListener(new org.eclipse.jetty.util.component.LifeCycle.Listener() {
          @Override
          public void lifeCycleStarting(org.eclipse.jetty.util.component.LifeCycle event) {
            for (org.eclipse.jetty.server.Connector connector : server.getConnectors()) {
              guard.attach(connector);
              if (connector instanceof org.eclipse.jetty.server.AbstractConnector c) {
                c.setIdleTimeout(config.idleTimeout().toMillis());
              }
              if (connector instanceof org.eclipse.jetty.server.ServerConnector c) {
                c.setAcceptQueueSize(config.acceptQueue()); // Jetty's 0 is the JDK's 50
              }
            }
          }
        });
      });
      if (!config.corsOrigins().isEmpty()) {
        cfg.bundledPlugins.enableCors(cors -> cors.addRule(rule -> {
          rule.path = "/v1/*";
          if (config.corsOrigins().contains("*")) {
            rule.anyHost();
          } else {
            rule.allowHost(config.corsOrigins().get(0),
                config.corsOrigins().subList(1, config.corsOrigins().size()).toArray(String[]::new));
          }
          // What a page reads besides the body: the decision, the request id, the limits.
          for (String h : new String[] {"x-routewise-router", "x-routewise-model", "x-routewise-win-rate",
              "x-routewise-threshold", "x-routewise-router-error", "x-routewise-failover", "x-routewise-pinned",
              "x-routewise-moved-from", "x-routewise-cost-usd", "x-request-id",
              "retry-after", "retry-after-ms", "x-should-retry", "x-ratelimit-limit-requests", "x-ratelimit-remaining-requests",
              "x-ratelimit-reset-requests", "x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens",
              "x-ratelimit-reset-tokens", "openai-processing-ms"}) {
            rule.exposeHeader(h);
          }
          // and every other header relayed (x-ratelimit-* is a prefix: x-ratelimit-remaining at OpenRouter and
          // Together): "*" covers all on a request without credentials, which is every one the rule lets through
          rule.exposeHeader("*");
          rule.maxAge = 600;
        }));
      }
      // A page a browser loads from anywhere can POST here (a form-like request needs no preflight):
      // a request that names an Origin not in cors_origins is refused before it spends anything.
      // Programs (SDKs, curl, servers) send no Origin. A page reached by DNS rebinding sends none on
      // its GETs either, but names its own host: a keyless instance refuses hosts it does not know.
      // Requests turned away before their handler (host, origin, key) are access-logged within one budget.
      AccessLog.Rejections rejections = config.accessLog() ? new AccessLog.Rejections() : null;
      if (config.apiKeys().isEmpty() && !config.corsOrigins().contains("*")) {
        KnownHosts hosts = new KnownHosts(config.allowedHosts(), config.corsOrigins());
        cfg.routes.beforeMatched("/v1/*", ctx -> requireKnownHost(ctx, hosts, refused(ctx, metrics, rejections)));
      }
      java.util.Set<String> warnedOrigins = java.util.concurrent.ConcurrentHashMap.newKeySet();
      cfg.routes.beforeMatched("/v1/*", ctx -> {
        if (ctx.method() != HandlerType.OPTIONS && ctx.header("Origin") != null) { // programs send none
          requireAllowedOrigin(ctx, config.corsOrigins(), refused(ctx, metrics, rejections), warnedOrigins);
        }
      });
      // A preflight matches no route, so the check above never saw it: one from an origin not listed went
      // uncounted and unlogged, and a page that sends a key (always preflighted) never showed up at all.
      cfg.routes.before("/v1/*", ctx -> {
        if (ctx.method() == HandlerType.OPTIONS && ctx.header("Origin") != null) {
          requireAllowedOrigin(ctx, config.corsOrigins(), refused(ctx, metrics, rejections), warnedOrigins);
        }
      });
      if (!config.apiKeys().isEmpty()) {
        // A named client's key left blank matches no request (an empty bearer token least of all), yet
        // keeps this check on: a mapping of unset keys refuses everyone rather than no one.
        ClientKeys keys = new ClientKeys(config.apiKeys());
        ClientRateLimits limits = rateLimits;
        metrics.clientRateLimits(limits.clients());
        // a budget of their own: a key holder's runaway job cannot crowd the failed logins out of the log
        AccessLog.Rejections overLimit = config.accessLog() ? new AccessLog.Rejections("requests over a rate_limit") : null;
        // Once a route has matched, so that CORS headers are on the 401 too and a page can read it,
        // and a browser's preflight (answered by the CORS plugin, never with a key) passes.
        cfg.routes.beforeMatched("/v1/*", ctx -> requireKey(ctx, keys, limits, rejections, overLimit,
            pinning.enabled(), metrics));
      }
      cfg.routes.post("/v1/chat/completions", chat::handle);
      if (responsesHome == null) {
        // else passthrough has it: the upstream's own models go there as before, routewise's are routed
        cfg.routes.post("/v1/responses", ctx -> chat.handle(ctx, RoutedApi.RESPONSES, null));
      }
      io.javalin.http.Handler storedResponse = ctx -> {
        String at = stored.upstreamOf(ctx.pathParam("id"));
        if (at != null) {
          storedAt.get(at).handle(ctx);
        } else if (responsesHome != null) {
          other.handle(ctx); // stored there, if anywhere this replica knows of
        } else {
          throw new ApiException(404, "invalid_request_error", "Response with id '" + AccessLog.safe(ctx.pathParam("id"))
              + "' not found: this routewise did not relay it (another replica, or before a restart, may have), and"
              + " no routing.passthrough that serves responses is there to ask.", null, "response_not_found");
        }
      };
      for (HandlerType method : new HandlerType[] {HandlerType.GET, HandlerType.POST, HandlerType.DELETE}) {
        cfg.routes.addHttpHandler(method, "/v1/responses/{id}", storedResponse);
        cfg.routes.addHttpHandler(method, "/v1/responses/{id}/<rest>", storedResponse);
      }
      for (String path : new String[] {"/v1/responses/{id}", "/v1/responses/{id}/<rest>"}) {
        // else Jetty answers HEAD from the GET route, which would send the upstream a HEAD
        cfg.routes.addHttpHandler(HandlerType.HEAD, path, ctx -> {
          throw notAllowed(ctx.header("Allow", "GET, POST, DELETE"), "GET, POST, DELETE");
        });
      }
      // routewise's own answers carry a request id too, as the upstreams' do
      cfg.routes.post("/v1/route", ctx -> route(ctx.header("x-request-id", RequestIds.next()), routing, upstreams,
          bodies, inFlight));
      io.javalin.http.Handler modelList = ctx -> {
        io.routewise.config.ClientKey restricted = ctx.attribute(ChatCompletionsHandler.CLIENT_MODELS);
        ctx.header("x-request-id", RequestIds.next()).contentType("application/json")
            .result(restricted == null ? models : allowedModels(models, restricted));
      };
      // OpenAI's models.retrieve: routewise's own ids (any valid router-<name>-<α>) and the upstreams'
      // models answer here; other ids go to the passthrough upstream if there is one.
      io.javalin.http.Handler model = ctx -> {
        io.routewise.config.ClientKey restricted = ctx.attribute(ChatCompletionsHandler.CLIENT_MODELS);
        if (restricted != null && !restricted.allowsModel(ctx.pathParam("id"))) { // as OpenAI hides a model not yours
          throw new ApiException(404, "invalid_request_error", "The model '" + ctx.pathParam("id") + "' does not "
              + "exist or client '" + restricted.name() + "' may not use it (server.api_keys." + restricted.name()
              + ".models).", "model", "model_not_found");
        }
        byte[] body = modelBody(ctx.pathParam("id"), routing, upstreams);
        if (body != null) {
          ctx.header("x-request-id", RequestIds.next()).contentType("application/json").result(body);
        } else if (other != null && other.serves("models")) { // a model routewise does not know is the upstream's
          if (ctx.method() == HandlerType.HEAD) {
            // as any HEAD the upstream would have to answer: its GET is passed through, its HEAD is not
            throw notAllowed(ctx.header("Allow", "GET"), "GET");
          }
          other.handle(ctx);
        } else {
          throw new ApiException(404, "invalid_request_error", "The model '" + ctx.pathParam("id")
              + "' does not exist here. Use router-<router>-<threshold> or one of GET /v1/models.", "model",
              "model_not_found");
        }
      };
      io.javalin.http.Handler healthCheck = ctx -> {
        boolean up = !inFlight.draining() && !leaving;
        ctx.status(up ? 200 : 503).contentType("application/json").result(up ? health : draining);
      };
      io.javalin.http.Handler scrape = ctx -> ctx.contentType("text/plain; version=0.0.4; charset=utf-8")
          .result(metrics.scrape());
      // HEAD answers as GET without the body (uptime probes use it); registered before passthrough's HEAD 405.
      for (HandlerType method : new HandlerType[] {HandlerType.GET, HandlerType.HEAD}) {
        cfg.routes.addHttpHandler(method, "/v1/models", modelList);
        cfg.routes.addHttpHandler(method, "/v1/models/<id>", model);
        cfg.routes.addHttpHandler(method, "/health", healthCheck);
        cfg.routes.addHttpHandler(method, "/metrics", scrape);
      }
      if (other != null) {
        // After the routes above, which win for their own paths and methods.
        for (HandlerType method : new HandlerType[] {HandlerType.GET, HandlerType.POST, HandlerType.DELETE,
            HandlerType.PUT, HandlerType.PATCH}) {
          cfg.routes.addHttpHandler(method, "/v1/*", other::handle);
        }
        // Jetty would answer HEAD itself from the GET route, without asking the upstream.
        cfg.routes.addHttpHandler(HandlerType.HEAD, "/v1/*", ctx -> {
          throw notAllowed(ctx);
        });
      }
      cfg.routes.exception(ApiException.class, (e, ctx) -> clientError(ctx, bodies, e));
      cfg.routes.exception(HttpResponseException.class, (e, ctx) -> clientError(ctx, bodies, switch (e.getStatus()) {
        case 404 -> notFound(ctx);
        case 405 -> notAllowed(ctx);
        default -> new ApiException(e.getStatus(), e.getStatus() >= 500 ? "server_error" : "invalid_request_error",
            e.getMessage(), null, null);
      }));
      cfg.routes.exception(Exception.class, (e, ctx) -> {
        LOG.error("unexpected error on {} {}", ctx.method(), ctx.path(), e);
        error(ctx, new ApiException(500, "server_error", "Internal error in routewise.", null, null));
      });
      cfg.http.prefer405over404 = true;
    });
  }

  /**
   * The clients' keys ({@code server.api_keys}), found by the SHA-256 of the token a request carries:
   * one lookup however many there are, and its time tells nothing of a key (how far a digest matches
   * says nothing of how far a token does). Every key of a named client finds that client.
   */
  static final class ClientKeys {
    /** A key's client: its name (null for a key of a list) and the scope of the sessions it names. */
    record Client(String name, byte[] scope, io.routewise.config.ClientKey restricted) {}

    private final java.util.Map<String, Client> byDigest = new java.util.HashMap<>();

    ClientKeys(List<io.routewise.config.ClientKey> clients) {
      for (io.routewise.config.ClientKey c : clients) {
        // a named client's sessions are its own under any of its keys: a rotated key keeps its pins
        Client named = c.name() == null ? null
            : new Client(c.name(), ("client " + c.name()).getBytes(java.nio.charset.StandardCharsets.UTF_8),
                c.models() != null ? c : null);
        for (io.routewise.config.Secret key : c.keys()) {
          byte[] bytes = key.value().getBytes(java.nio.charset.StandardCharsets.UTF_8);
          byDigest.put(digest(bytes), named != null ? named : new Client(null, bytes, null));
        }
      }
    }

    /** The client whose key {@code token} is, or null. */
    Client find(byte[] token) {
      return token == null ? null : byDigest.get(digest(token));
    }

    private static String digest(byte[] bytes) {
      try {
        return new String(java.security.MessageDigest.getInstance("SHA-256").digest(bytes),
            java.nio.charset.StandardCharsets.ISO_8859_1);
      } catch (java.security.NoSuchAlgorithmException e) {
        throw new IllegalStateException(e); // every JDK has SHA-256
      }
    }
  }

  /**
   * The 401 unless the request carries one of {@code keys}; with {@code scopeSessions}, its client's
   * scope (a named client's, whichever of its keys it sent; else the key itself) is kept as the
   * request's {@link ChatCompletionsHandler#CLIENT_KEY}, so that one client's session ids cannot read
   * or set another's pins. A named key's request is counted under its name, kept as {@link
   * ChatCompletionsHandler#CLIENT_NAME} for its answer's usage and the access log.
   */
  private static void requireKey(Context ctx, ClientKeys keys, ClientRateLimits limits,
      AccessLog.Rejections rejections, AccessLog.Rejections overLimit, boolean scopeSessions,
      RoutewiseMetrics metrics) {
    String auth = ctx.header("Authorization");
    byte[] given = auth != null && auth.regionMatches(true, 0, "Bearer ", 0, 7)
        ? auth.substring(7).trim().getBytes(java.nio.charset.StandardCharsets.UTF_8) : null;
    ClientKeys.Client client = keys.find(given);
    if (client == null) {
      metrics.accessRefused("invalid_api_key");
      if (rejections != null) {
        AccessLog.rejected(ctx, 401, "invalid_api_key", rejections); // a failed login is what an operator looks for first
      }
      throw new ApiException(401, "invalid_request_error", given == null
          ? "You didn't provide an API key. Send it as 'Authorization: Bearer <key>' (server.api_keys)."
          : "Incorrect API key provided.", null, "invalid_api_key");
    }
    if (scopeSessions) {
      ctx.attribute(ChatCompletionsHandler.CLIENT_KEY, client.scope());
    }
    if (client.restricted() != null) {
      ctx.attribute(ChatCompletionsHandler.CLIENT_MODELS, client.restricted());
    }
    if (client.name() != null) {
      ctx.attribute(ChatCompletionsHandler.CLIENT_NAME, client.name());
      metrics.clientRequest(client.name());
      ClientRateLimits.Refusal refusal = limits.take(client.name());
      if (refusal != null) {
        throw rateLimited(ctx, client.name(), refusal, overLimit, metrics);
      }
      ClientRateLimits.Standing standing = limits.standing(client.name());
      if (standing != null) { // as OpenAI's answers say it, in place of the upstream's account's
        ctx.header("x-ratelimit-limit-requests", Long.toString(standing.limit().requests()))
            .header("x-ratelimit-remaining-requests", Long.toString(standing.remaining()))
            .header("x-ratelimit-reset-requests", duration(standing.fullNanos()));
      }
    }
  }

  /**
   * The 429 of a client over its rate limit, before anything is read or decided: with OpenAI's
   * headers for it, so the SDKs wait just as long before they retry.
   */
  private static ApiException rateLimited(Context ctx, String client, ClientRateLimits.Refusal refusal,
      AccessLog.Rejections rejections, RoutewiseMetrics metrics) {
    metrics.clientRateLimited(client);
    if (rejections != null) {
      AccessLog.rejected(ctx, 429, "rate_limit_exceeded", rejections);
    }
    long millis = Math.max(1, (refusal.retryNanos() + 999_999) / 1_000_000);
    io.routewise.config.ClientKey.RateLimit limit = refusal.limit();
    ctx.header("Retry-After", Long.toString((millis + 999) / 1000))
        .header("retry-after-ms", Long.toString(millis))
        .header("x-ratelimit-limit-requests", Long.toString(limit.requests()))
        .header("x-ratelimit-remaining-requests", "0")
        .header("x-ratelimit-reset-requests", duration(refusal.fullNanos()));
    ApiException e = new ApiException(429, "requests", "Client '" + client + "' is over its rate limit of "
        + limit.requests() + " requests per " + limit.per().key() + " (server.api_keys." + client
        + ".rate_limit); try again in " + duration(refusal.retryNanos()) + ".", null, "rate_limit_exceeded");
    // The SDKs wait out a retry-after under a minute; a longer one they replace by their own backoff of
    // seconds, and their retries could only meet this 429 again
    return millis < SDK_LONGEST_WAIT_MS ? e : e.retryUseless();
  }

  /** The longest Retry-After the OpenAI SDKs wait before a retry (past it, they back off for seconds). */
  private static final long SDK_LONGEST_WAIT_MS = 60_000;

  /** A wait as OpenAI's rate-limit headers write it: 20ms, 1.5s, 6m0s, 1h2m3s. */
  static String duration(long nanos) {
    long millis = Math.max(1, (nanos + 999_999) / 1_000_000);
    if (millis < 1_000) {
      return millis + "ms";
    }
    if (millis < 60_000) {
      return java.math.BigDecimal.valueOf(millis, 3).stripTrailingZeros().toPlainString() + "s";
    }
    long seconds = (millis + 999) / 1000;
    String minutes = (seconds / 60 % 60) + "m" + (seconds % 60) + "s";
    return seconds >= 3_600 ? seconds / 3_600 + "h" + minutes : minutes;
  }

  /** Counts a 403 refusal ({@code origin_not_allowed}, {@code host_not_allowed}) and writes its access-log line. */
  private static java.util.function.Consumer<String> refused(Context ctx, RoutewiseMetrics metrics,
      AccessLog.Rejections rejections) {
    return code -> {
      metrics.accessRefused(code);
      if (rejections != null) {
        AccessLog.rejected(ctx, 403, code, rejections);
      }
    };
  }

  /** How many origins refused are each logged once (a page's mistyped origin in cors_origins); past them, none. */
  private static final int WARNED_ORIGINS = 100;

  /**
   * A browser's request (it has an {@code Origin}), its preflight included, from an origin {@code
   * server.cors_origins} does not list: 403, logged once for each of the first {@link #WARNED_ORIGINS}
   * origins (a typo in cors_origins shows in the log).
   */
  private static void requireAllowedOrigin(Context ctx, List<String> allowed, java.util.function.Consumer<String> refused,
      java.util.Set<String> warned) {
    String origin = ctx.header("Origin");
    if (origin == null || allowed.contains("*") || listed(allowed, origin)) {
      return;
    }
    refused.accept("origin_not_allowed");
    String shown = origin.length() > 100 ? origin.substring(0, 100) + "..." : origin;
    if (warned.size() < WARNED_ORIGINS && warned.add(shown)) {
      LOG.warn("refused a {} from a page at '{}' (403 origin_not_allowed): list its origin in server.cors_origins to"
          + " allow it (said once per origin)", ctx.method() == HandlerType.OPTIONS ? "CORS preflight" : "request",
          AccessLog.safe(shown));
    }
    throw new ApiException(403, "invalid_request_error", "Requests from pages at '" + AccessLog.safe(shown)
        + "' are refused: list the origin in server.cors_origins to allow it.", null, "origin_not_allowed");
  }

  /**
   * On a keyless instance, a request for a host name routewise does not know: 403. By DNS rebinding a
   * page whose name was pointed at routewise is same-origin with it, and its GETs (fetches, frames,
   * over plain HTTP with neither {@code Origin} nor {@code Sec-Fetch-*}) read the models and the
   * passthrough's files with the upstream's key; its requests still name its own host. With keys the
   * page has none to send. A reverse proxy may name the host it was asked for in {@code
   * X-Forwarded-Host} or {@code Forwarded} (nginx's default {@code Host} is its {@code proxy_pass}
   * host, often an address, always known): when there, it must be known too, which can only refuse more.
   */
  private static void requireKnownHost(Context ctx, KnownHosts hosts, java.util.function.Consumer<String> refused) {
    if (ctx.method() == HandlerType.OPTIONS) {
      return;
    }
    String host = hosts.unknownOf(ctx.header("Host"), ctx.req().getHeaders("X-Forwarded-Host"),
        ctx.req().getHeaders("Forwarded"));
    if (host == null) {
      return;
    }
    refused.accept("host_not_allowed");
    String shown = host.length() > 100 ? host.substring(0, 100) + "..." : host;
    if (hosts.warnNow(System.nanoTime())) { // an operator whose clients use a name not listed hears it
      LOG.warn("refused a request for host '{}' (403 host_not_allowed): without server.api_keys, /v1/* answers only"
          + " addresses and known names; list the names clients use in server.allowed_hosts (said at most once a minute)",
          AccessLog.safe(shown));
    }
    throw new ApiException(403, "invalid_request_error", "This routewise has no server.api_keys, so it answers only"
        + " host names it knows (against DNS rebinding): '" + AccessLog.safe(shown) + "' is not one. Add it to"
        + " server.allowed_hosts, or set server.api_keys.", null, "host_not_allowed");
  }

  static boolean listed(List<String> allowed, String origin) {
    for (String a : allowed) {
      if (sameOrigin(a, origin)) {
        return true;
      }
    }
    return false;
  }

  /**
   * Whether {@code origin} is the configured {@code allowed}, as the CORS rule matches it (which lets
   * its preflight through): case aside, a scheme's default port aside, and {@code *.} standing for
   * one label, as Javalin's rule has it. Compared as strings, the 403 refused pages whose preflight
   * had passed; any depth let a page two labels down spend, its answer then thrown away by the browser.
   */
  static boolean sameOrigin(String allowed, String origin) {
    String a = plainOrigin(allowed);
    String o = plainOrigin(origin);
    if (!origin.trim().equals(origin.trim().toLowerCase(java.util.Locale.ROOT))) {
      return false; // the rule reads an Origin as sent (a browser's is lower case), and answers 400 to one it does not match
    }
    int wildcard = a.indexOf("://*.");
    if (wildcard < 0) {
      return a.equals(o);
    }
    String scheme = a.substring(0, wildcard + 3);
    String suffix = a.substring(wildcard + 4); // ".example.com"
    if (!(o.startsWith(scheme) && o.endsWith(suffix) && o.length() > scheme.length() + suffix.length())) {
      return false;
    }
    return o.substring(scheme.length(), o.length() - suffix.length()).indexOf('.') < 0;
  }

  static String plainOrigin(String origin) {
    String o = origin.trim().toLowerCase(java.util.Locale.ROOT);
    if (o.startsWith("https://") && o.endsWith(":443")) {
      return o.substring(0, o.length() - 4);
    }
    if (o.startsWith("http://") && o.endsWith(":80")) {
      return o.substring(0, o.length() - 3);
    }
    return o;
  }

  private static ApiException notFound(Context ctx) {
    return new ApiException(404, "invalid_request_error",
        "Unknown request URL: " + ctx.method() + " " + ctx.path() + ".", null, "unknown_url");
  }

  /** The 405, with the {@code Allow} header HTTP asks for: the methods the path does take. */
  static ApiException notAllowed(Context ctx) {
    String path = ctx.path();
    if (path.length() > 1 && path.endsWith("/")) { // routes match with a trailing slash too (/health/)
      path = path.substring(0, path.length() - 1);
    }
    String allow = path.equals("/v1/chat/completions") || path.equals("/v1/route") || path.equals("/v1/responses") ? "POST"
        : path.startsWith("/v1/responses/") ? "GET, POST, DELETE" // a stored response's (with passthrough, its other methods pass)
        : path.equals("/v1/models") || path.startsWith("/v1/models/") || path.equals("/health")
            || path.equals("/metrics") ? "GET, HEAD"
        : "GET, POST, PUT, PATCH, DELETE"; // passthrough
    return notAllowed(ctx.header("Allow", allow), allow);
  }

  static ApiException notAllowed(Context ctx, String allow) {
    String path = ctx.path();
    return new ApiException(405, "invalid_request_error",
        "Method " + ctx.method() + " is not allowed on " + path + "; use " + allow + ".", null, "method_not_allowed");
  }

  public ProxyServer start() {
    app.start();
    return this;
  }

  public int port() {
    return app.port();
  }

  /**
   * Stops serving: after {@code server.shutdown_delay_ms} of {@code /health} saying draining while
   * requests are still served, new chat requests get 503, requests in flight
   * get up to {@code server.shutdown_grace_ms} to finish, then the server stops and whatever
   * is left is cut off. Once only: a later or concurrent call waits for the first to finish.
   */
  @Override
  public void close() {
    if (!closing.compareAndSet(false, true)) {
      awaitClosed();
      return;
    }
    try {
      if (shutdownDelay.isPositive()) {
        leaving = true;
        inFlight.closeConnections(); // answers to requests that came before too
        LOG.info("shutting down: /health answers 503 for {} ms while requests are still served "
            + "(server.shutdown_delay_ms), then new ones are turned away", shutdownDelay.toMillis());
        Thread.sleep(shutdownDelay.toMillis());
      }
      // A request whose client has its whole answer is counted until its handler's thread is done and
      // Jetty has finished with it, a moment after the last byte (and the connection's close) reached the
      // client; read at once, the count named a /health poll just answered as a request being waited for.
      long start = System.nanoTime();
      int running = inFlight.await(shutdownGrace.compareTo(SETTLE) < 0 ? shutdownGrace : SETTLE);
      if (running > 0 && shutdownGrace.isPositive()) {
        LOG.info("shutting down: waiting up to {} ms for {} request(s) in flight", shutdownGrace.toMillis(),
            running);
      }
      int left = inFlight.drain(shutdownGrace.minusNanos(System.nanoTime() - start));
      if (left > 0) {
        LOG.warn("shutting down: {} request(s) still in flight after {} ms are cut off", left,
            shutdownGrace.toMillis());
        // Their upstream calls are cancelled first, so each ends as routewise's own (a 503 shutting_down,
        // or that error event in its stream), counted and logged, before the server stops; stopped with
        // them waiting on their upstreams, they were cut with no word, and counted as clients that left.
        if (!upstreams.isEmpty()) {
          upstreams.get(0).cancelAllCalls();
        }
        // and a decision still waiting on a judge ends now, as the 503, not when the judge's timeout
        // (longer than the wait below) ends it after the server has stopped and closed its connection
        routing.cancelCalls();
        inFlight.drain(CUT_OFF_WAIT);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      app.stop();
      closed.countDown();
    }
  }

  /** How long the shutdown lets requests finishing their last moments end before it says how many it waits for. */
  private static final java.time.Duration SETTLE = java.time.Duration.ofMillis(100);

  /** How long requests cut off at the end of the grace get to end as routewise's 503 (or error event) once their calls are cancelled. */
  private static final java.time.Duration CUT_OFF_WAIT = java.time.Duration.ofSeconds(1);

  private void awaitClosed() {
    try {
      closed.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /**
   * {@code POST /v1/route}: the decision for a chat body, without calling any upstream. {@code route}
   * and {@code upstream} both name the chosen upstream ({@code route} as it always has, strong|weak
   * with two), {@code model} is the id it would be sent.
   */
  private static void route(Context ctx, RoutingService routing, List<UpstreamClient> upstreams,
      RequestBodies bodies, InFlightRequests inFlight) throws IOException {
    ChatRequest request;
    try (RequestBodies.Body body = bodies.read(ctx)) {
      request = ResponsesRequestParser.isResponsesBody(body.bytes())
          ? ResponsesRequestParser.parse(body.bytes()) : ChatRequestParser.parse(body.bytes());
    }
    ChatCompletionsHandler.requireAllowedModel(ctx, request.model(), false);
    RoutingService.Preview preview;
    try {
      // abandoned (a flood of /v1/route, clients that time out), a decision would still take a scoring thread
      preview = routing.preview(ChatCompletionsHandler.spec(routing, request),
          request.routingPrompt(), new ClientDisconnectProbe(ctx.req()));
    } catch (io.routewise.routing.ClientGoneException e) {
      // a shutdown that cuts requests off closes their connections too: not the client leaving
      throw inFlight.draining() ? ApiException.shuttingDown() : ChatCompletionsHandler.clientGone(ctx.res(), e.getMessage());
    }
    RoutingDecision d = preview.decision();
    UpstreamClient upstream = upstreams.stream().filter(u -> u.name().equals(d.upstream())).findFirst().orElseThrow();
    ObjectNode out = MAPPER.createObjectNode().put("router", d.router());
    if (d.fellBack() || d.isDirect()) {
      out.putNull("strong_win_rate"); // no estimate: the router failed (the request goes strong), or none was asked
    } else {
      out.put("strong_win_rate", d.strongWinRate());
    }
    if (d.isDirect()) {
      out.putNull("threshold");
    } else {
      out.put("threshold", d.threshold());
    }
    out.put("route", d.upstream())
        .put("model", upstream.config().model())
        .put("upstream", upstream.name());
    if (d.fellBack()) {
      out.put("router_error", d.failureKind());
    }
    if (d.movedFrom() != null) {
      out.put("moved_from", d.movedFrom());
    }
    if (routing.ladder().size() > 2 && !d.isDirect()) {
      out.put("ladder_rule", routing.ladderRule(d.router()).kind().configName());
    }
    if (preview.topWinRates() != null) { // a ladder: what the rule chose from, per upstream below the top
      ObjectNode rates = out.putObject("top_win_rates");
      io.routewise.routing.Ladder ladder = routing.ladder();
      for (int i = 1; i < ladder.size(); i++) {
        rates.put(ladder.rung(i).upstream(), preview.topWinRates()[i]);
      }
    }
    ctx.contentType("application/json").result(json(out));
  }

  /** Any error answer of routewise's own: a client's after its unread body is dropped. */
  private static void clientError(Context ctx, RequestBodies bodies, ApiException e) {
    unread(ctx, e, bodies);
    error(ctx, e);
  }

  /**
   * A request turned away before its body was read (a 401, 404 or 405, a path passthrough does not
   * serve): the body is read on and dropped first, as for a 413, so a client sending it all before
   * reading hears the error rather than a reset, which the SDKs retry. Not when the connection
   * closes anyway, and at once when the body was read already.
   */
  private static void unread(Context ctx, ApiException e, RequestBodies bodies) {
    if (e.status() >= 400 && e.status() < 500 && e.status() != 499 && !ctx.res().isCommitted()
        && !"close".equalsIgnoreCase(ctx.res().getHeader("Connection"))) {
      bodies.discard(ctx);
    }
  }

  private static void error(Context ctx, ApiException e) {
    if (ctx.res().getHeader("x-request-id") == null && !ctx.res().isCommitted()) {
      ctx.header("x-request-id", RequestIds.next()); // an error is what a client most often reports
    }
    if (e.isRetryUseless() && !ctx.res().isCommitted()) {
      ctx.header("x-should-retry", "false");
    }
    if ("shutting_down".equals(e.code()) && !ctx.res().isCommitted() && ctx.res().getHeader("Retry-After") == null) {
      // a 503's standard hint: the retry, on a new connection, goes to another instance; one second
      // is about the SDKs' own first back-off, and a proxy or script that honours only the header waits no longer
      ctx.header("Retry-After", "1");
    }
    ctx.status(e.status()).contentType("application/json").result(OpenAiErrors.body(e));
  }

  /**
   * Whether chat would take {@code model} as routewise's own, and what is wrong with it: null when it is
   * not routewise's (the upstream's to read), "" for a valid router id (or a direct upstream's when
   * served), else why chat refuses it (no such router, a bad α, the prefix in another case): a typo of
   * routewise's own, which no upstream can know either (GET /v1/models/{id} answers it 404).
   */
  private static String routewiseModel(String model, RoutingService routing) {
    boolean own = RouteSpec.isRouteSpec(model) || routing.directUpstreams() && model.startsWith(RouteSpec.DIRECT_PREFIX);
    try {
      // a name that is not routewise's is parsed only for a near miss (" router-mf-0.5", ROUTER-mf-0.5), not cached
      if (own) {
        routing.specFor(model);
      } else {
        RouteSpec.parse(model, routing.routerNames());
        if (routing.directUpstreams()) {
          RouteSpec.parseDirect(model, List.of());
        }
      }
      return own ? "" : null;
    } catch (RouteSpec.InvalidRouteSpecException e) {
      return e.getMessage();
    }
  }

  /** One model object for {@code id}, or null when it is neither a valid router id nor an upstream's model. */
  private static byte[] modelBody(String id, RoutingService routing, List<UpstreamClient> upstreams) {
    // routewise's own namespace, as chat reads it: the passthrough upstream cannot know router-nope-0.5
    // (or ROUTER-mf-0.5) either; router-<name>-auto only for a router with a target
    String invalid = routewiseModel(id, routing);
    if (invalid != null && !invalid.isEmpty()) {
      throw new ApiException(404, "invalid_request_error", invalid, "model", "model_not_found");
    }
    String owner = null;
    if (RouteSpec.isRouteSpec(id)) {
      owner = "routewise";
    } else if (routing.directUpstreams() && id.startsWith(RouteSpec.DIRECT_PREFIX)) {
      owner = "routewise:" + routing.specFor(id).upstream();
    }
    for (UpstreamClient u : upstreams) {
      if (owner == null && u.config().model().equals(id)) {
        owner = "routewise:" + u.name();
      }
    }
    return owner == null ? null : json(MAPPER.createObjectNode().put("id", id).put("object", "model")
        .put("created", 0).put("owned_by", owner));
  }

  private static byte[] modelsBody(RoutingService routing, List<UpstreamClient> upstreams) {
    ObjectNode root = MAPPER.createObjectNode().put("object", "list");
    ArrayNode data = root.putArray("data");
    for (String r : routing.routerNames()) {
      data.addObject()
          .put("id", new RouteSpec(r, routing.defaultThreshold()).modelId())
          .put("object", "model").put("created", 0).put("owned_by", "routewise");
      if (routing.targets().containsKey(r)) {
        data.addObject().put("id", RouteSpec.auto(r).modelId())
            .put("object", "model").put("created", 0).put("owned_by", "routewise");
      }
    }
    if (routing.directUpstreams()) {
      for (UpstreamClient u : upstreams) {
        data.addObject().put("id", RouteSpec.direct(u.name()).modelId()).put("object", "model").put("created", 0)
            .put("owned_by", "routewise:" + u.name());
      }
    }
    java.util.Set<String> listed = new java.util.HashSet<>();
    for (UpstreamClient u : upstreams) {
      if (listed.add(u.config().model())) { // two upstreams may serve one model (two hosts of it)
        data.addObject().put("id", u.config().model()).put("object", "model").put("created", 0)
            .put("owned_by", "routewise:" + u.name());
      }
    }
    return json(root);
  }

  /** The model list {@code all} as {@code client} sees it: only the ids its {@code models} allows. */
  private static byte[] allowedModels(byte[] all, io.routewise.config.ClientKey client) {
    try {
      ObjectNode root = (ObjectNode) MAPPER.readTree(all);
      ArrayNode data = (ArrayNode) root.get("data");
      for (int i = data.size() - 1; i >= 0; i--) {
        if (!client.allowsModel(data.get(i).path("id").asText())) {
          data.remove(i);
        }
      }
      return json(root);
    } catch (java.io.IOException e) {
      throw new IllegalStateException(e); // routewise's own list
    }
  }

  private static byte[] json(Object node) {
    try {
      return MAPPER.writeValueAsBytes(node);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }
}
