package io.routewise.server;

import io.javalin.http.Context;
import io.routewise.config.SessionPinning;
import io.routewise.metrics.RoutewiseMetrics;
import io.routewise.routing.ClientBudgets;
import io.routewise.routing.ClientGoneException;
import io.routewise.routing.RouteSpec;
import io.routewise.routing.RoutingDecision;
import io.routewise.routing.RoutingService;
import io.routewise.upstream.Cooldowns;
import io.routewise.upstream.IdleTimeouts;
import io.routewise.upstream.RoutedApi;
import io.routewise.upstream.UpstreamClient;
import io.routewise.upstream.UpstreamException;
import io.routewise.upstream.UpstreamResponse;
import io.routewise.upstream.Usage;
import jakarta.servlet.http.HttpServletResponse;
import org.eclipse.jetty.ee10.servlet.ServletContextRequest;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code POST /v1/chat/completions}: parse just enough of the body to route, decide, forward the
 * client's bytes with only {@code model} replaced, and relay the upstream's status, body and
 * selected headers back. Streams are relayed chunk by chunk as they arrive. A client that goes away
 * cancels the upstream call: seen by a failed write mid-stream, or by {@link ClientDisconnectProbe}
 * while waiting on the upstream. Runs on a virtual thread, so the blocking I/O is cheap.
 *
 * <p>With failover on, a request whose upstream cannot be reached, or answers 429 or 5xx, goes once
 * to another upstream before anything has reached the client: the next more capable one on the
 * ladder, or, from the top, the next below it (with two upstreams: the other one). A timeout does
 * not (the client has already waited the upstream's whole timeout).
 */
final class ChatCompletionsHandler {
  private final RoutingService routing;
  /** Most capable first, as {@link RoutingService#ladder()} orders them. */
  private final List<UpstreamClient> ladder;
  private final Map<String, UpstreamClient> byName = new HashMap<>();
  /** Every upstream's price (null: none), the dearest of which a request's hold takes until it is routed. */
  private final java.util.List<io.routewise.config.Price> allPrices;
  private final RoutewiseMetrics metrics;
  private final RequestBodies bodies;
  private final long maxResponseBytes;
  private final boolean failover;
  /** Upstreams skipped after failures in a row; null when failover or its cooldown is off. */
  private final Cooldowns cooldowns;
  private final InFlightRequests inFlight;
  private final boolean accessLog;
  private final UpstreamFailureLog failures;
  /** The upstreams' keys, masked wherever an upstream's text reaches the client or the log. */
  private final SecretValues secrets;
  private final SessionPinning pinning;
  /** Where each Responses answer this replica relayed is stored: a continuation goes there. */
  private final StoredResponses stored;
  private final AnswerSpend spend;
  /** The passthrough upstream's name when it serves responses (else null): where responses this replica did not relay may be. */
  private final String responsesHome;
  /** The passthrough upstream's name when it serves conversations (else null): where they were created. */
  private final String conversationsHome;
  private final ClientBudgets budgets;

  /**
   * @param ladder the upstream clients, most capable first (the routing service's ladder order)
   * @param cooldowns with failover, the upstreams it skips for a while after failures in a row; null for none
   * @param pinning where requests name their session ({@code routing.session_pinning})
   * @param stored where the Responses answers relayed here are stored (recorded as they go by)
   * @param spend where answers' usage is counted
   * @param responsesHome the passthrough upstream's name if it serves {@code responses}, else null
   * @param conversationsHome the passthrough upstream's name if it serves {@code conversations}, else null
   * @param budgets what named clients may spend: past it, their requests get 429
   * @param failures the server's one log of upstream failures, shared with passthrough: one line per interval per upstream
   */
  ChatCompletionsHandler(RoutingService routing, List<UpstreamClient> ladder,
      RoutewiseMetrics metrics, RequestBodies bodies, long maxResponseBytes, boolean failover,
      Cooldowns cooldowns, InFlightRequests inFlight, boolean accessLog, SessionPinning pinning, StoredResponses stored,
      AnswerSpend spend, String responsesHome, String conversationsHome, ClientBudgets budgets,
      UpstreamFailureLog failures) {
    this.failures = failures;
    this.budgets = budgets;
    this.stored = stored;
    this.spend = spend;
    this.responsesHome = responsesHome;
    this.conversationsHome = conversationsHome;
    this.cooldowns = cooldowns;
    this.secrets = SecretValues.of(ladder.stream().map(UpstreamClient::config).toList());
    this.pinning = pinning;
    this.maxResponseBytes = maxResponseBytes;
    this.routing = routing;
    this.ladder = List.copyOf(ladder);
    ladder.forEach(u -> byName.put(u.name(), u));
    allPrices = ladder.stream().map(u -> u.config().price()).toList(); // nulls kept: unpriced
    this.metrics = metrics;
    this.bodies = bodies;
    this.failover = failover;
    this.inFlight = inFlight;
    this.accessLog = accessLog;
  }

  void handle(Context ctx) throws IOException {
    handle(ctx, RoutedApi.CHAT_COMPLETIONS, null);
  }

  /**
   * Routes a chat-completions or Responses request.
   *
   * @param read its body when it was read already (to tell a Responses request for routewise from
   *     one for the passthrough upstream), else null
   */
  void handle(Context ctx, RoutedApi api, RequestBodies.Body read) throws IOException {
    long received = began(ctx);
    RoutingDecision decision = null;
    RouteSpec spec = null;
    int status = 500;
    String error = null;
    RequestBodies.Body body = read;
    UpstreamClient chosen = null;
    long chosenTry = Cooldowns.NOT_COOLING;
    ClientBudgets.Hold hold = null;
    try {
      if (inFlight.draining()) {
        // Close the connection too, so a pooling client's next attempt opens one to another instance.
        ctx.header("Connection", "close");
        throw ApiException.shuttingDown();
      }
      overBudget(ctx);
      if (body == null) {
        body = bodies.read(ctx);
      }
      ChatRequest request = api == RoutedApi.RESPONSES
          ? ResponsesRequestParser.parse(body.bytes()) : ChatRequestParser.parse(body.bytes());
      requireAllowedModels(ctx, api, request, body.bytes());
      spec = spec(routing, request);
      ClientDisconnectProbe probe = new ClientDisconnectProbe(ctx.req());
      String home = storedAt(request);
      // before the decision, which counts as routed, may steer a target, pin a session or ask a judge
      hold = hold(ctx, body.bytes(), request.previousResponseId() != null || request.conversation(),
          pricesFor(spec, home), budgets, metrics);
      try {
        // A decision queued behind a scoring backlog is withdrawn if its client leaves meanwhile.
        decision = home != null ? routing.held(spec, home)
            : routing.decide(spec, request.routingPrompt(), probe, session(ctx, request));
        if (decision.nanos() >= IdleTimeouts.PROBE_CLIENT_AFTER.toNanos() && probe.goneWithin(10)) {
          // A slow decision (a causal_llm judge timing out): the client that gave up meanwhile (an SDK
          // timeout, then its retry) would still have its answer bought from the upstream, for nobody.
          throw new ClientGoneException();
        }
      } catch (ClientGoneException e) {
        // A shutdown that cuts requests off closes their connections too: that is not the client leaving.
        throw inFlight.draining() ? ApiException.shuttingDown() : clientGone(ctx.res(), e.getMessage());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw clientGone(ctx.res(), "interrupted while routing");
      }
      if (inFlight.cutOff()) {
        // decided after the shutdown's grace ran out (a judge's slow answer): no answer is bought for a
        // client whose connection the server is about to close
        throw ApiException.shuttingDown();
      }
      chosen = byName.get(decision.upstream());
      DecisionHeaders.write(ctx, decision, chosen.config().model());
      // A request that named its upstream gets that upstream's answer, whatever it is; so does one that
      // continues what only that upstream stored (another would not find it).
      boolean mayFailOver = failover && !spec.isDirect() && home == null;
      // held at the dearer of where it goes and where it may fail over to: a failover is not checked
      // against the budget again (held at a free upstream's nothing, 39 of 40 then failed over past it)
      UpstreamClient backup = mayFailOver && hold != ClientBudgets.Hold.NONE
          ? likelyBackup(chosen, request) : null;
      hold.reprice(chosen.config().price(), backup == null ? null : backup.config().price());
      // One that is down is not tried while it cools: the nearest on its failover path that does not
      // cool answers; all of them down, a 503 at once.
      chosenTry = mayFailOver && cooldowns != null ? cooldowns.claim(chosen.name()) : Cooldowns.NOT_COOLING;
      List<UpstreamClient> path = chosenTry == Cooldowns.SKIPPED
          ? failoverPath(chosen, request) : List.of(); // empty too when no other takes the request's images or audio
      if (!path.isEmpty()) {
        Backup other = claimBackup(chosen, request);
        if (other == null) {
          long nanos = cooldowns.retryIn(chosen.name()).toNanos();
          for (UpstreamClient u : path) {
            nanos = Math.min(nanos, cooldowns.retryIn(u.name()).toNanos());
          }
          // whole seconds, rounded up: a try's cooldown of exactly failover_cooldown_ms says that, not a second more
          ctx.header("Retry-After", Long.toString(Math.max(1, (nanos + 999_999_999) / 1_000_000_000)));
          throw ApiException.upstreamsCooling(chosen.name(), path.stream().map(UpstreamClient::name).toList());
        }
        status = failOverWithTry(ctx, request, body, chosen, spec, received, "cooldown", other);
      } else {
        status = forward(ctx, request, body, chosen, spec, received, mayFailOver);
      }
    } catch (ApiException e) {
      status = e.status();
      error = e.code();
      throw e;
    } catch (IOException | RuntimeException e) {
      // answered as a 500 by the server's handler, or the client went away: counted either way
      error = "internal";
      throw e;
    } finally {
      if (hold != null) {
        hold.close();
      }
      if (body != null) {
        body.close();
      }
      if (cooldowns != null && chosen != null) {
        // a try that never reported (its client left mid-call) goes to the next request, not held for the
        // upstream's whole time limit while it may be up again (a no-op once the try answered or failed)
        cooldowns.giveBack(chosen.name(), chosenTry);
      }
      // A request that ended before its decision (a client gone from the scoring queue) still names its router.
      metrics.request(decision != null ? decision.router() : spec != null ? spec.router() : "none",
          decision == null ? "none" : decision.upstream(), status);
      if (accessLog) {
        AccessLog.chat(ctx, decision, status, error, received);
      }
    }
  }

  /**
   * When Jetty began reading this request, so that the overhead metric covers its parsing and the
   * route's filters too, not only this handler; now, when Jetty does not say.
   */
  static long began(Context ctx) {
    long now = System.nanoTime();
    ServletContextRequest r = ServletContextRequest.getServletContextRequest(ctx.req());
    long begin = r == null ? now : r.getBeginNanoTime();
    return begin - now <= 0 ? begin : now; // nanoTime values compare by difference
  }

  /**
   * A named client that spent its budget for this period: 429 {@code insufficient_quota}, as OpenAI
   * answers an account out of credit, with {@code Retry-After} at the next period and {@code
   * x-should-retry: false}, so the SDKs do not retry it at once.
   */
  private void overBudget(Context ctx) {
    overBudget(ctx, budgets, metrics);
  }

  /** {@link #overBudget(Context)}: also for what passthrough meters (a model the upstream prices). */
  static void overBudget(Context ctx, ClientBudgets budgets, RoutewiseMetrics metrics) {
    String client = ctx.attribute(CLIENT_NAME);
    long millis = budgets.exhaustedFor(client);
    if (millis > 0) {
      throw budgetSpent(ctx, client, millis, budgets, metrics);
    }
  }

  /** The 429 of {@link #overBudget}, its budget renewing in {@code millis}. */
  private static ApiException budgetSpent(Context ctx, String client, long millis,
      ClientBudgets budgets, RoutewiseMetrics metrics) {
    metrics.clientBudgetRefused(client, RoutewiseMetrics.BudgetRefusal.SPENT);
    long seconds = (millis + 999) / 1000;
    ctx.header("Retry-After", Long.toString(seconds));
    return new ApiException(429, "insufficient_quota", "Client '" + client + "' has spent its budget of "
        + DecisionHeaders.usd(budgets.budget(client)) + " USD for this period (server.api_keys." + client
        + ".budget); it renews in " + seconds + " s.", null, "insufficient_quota").retryUseless();
  }

  /**
   * What a request of a client with a budget holds of it while under way: its likely cost ({@link
   * CostEstimate}) at the dearest of {@code prices}, where it may go (repriced once it is known), kept
   * as the request's {@link #HOLD}. Refused when its client's budget is spent (as above), or when
   * that client's requests in flight would spend what is left: a 429 {@code rate_limit_exceeded}
   * the SDKs retry after a second, by when some may have ended; or, when only the next sync can
   * lift it (this replica's share spent, the holds all at other replicas), once that sync is due.
   */
  static ClientBudgets.Hold hold(Context ctx, byte[] body, boolean continues,
      java.util.Collection<io.routewise.config.Price> prices, ClientBudgets budgets,
      RoutewiseMetrics metrics) {
    String client = ctx.attribute(CLIENT_NAME);
    if (client == null || Double.isNaN(budgets.budget(client))) {
      return ClientBudgets.Hold.NONE; // no body read for it
    }
    CostEstimate.Output output = CostEstimate.output(body);
    ClientBudgets.Hold hold = budgets.hold(client, CostEstimate.promptTokens(body),
        output.maxTokens(), output.choices(), continues,
        new ClientBudgets.Rates(CostEstimate.carriesAudio(body), output.audio(), CostEstimate.asksCacheWrite(body)), prices);
    if (hold.admitted()) {
      ctx.attribute(HOLD, hold);
      return hold;
    }
    if (hold.spentFor() > 0) {
      budgets.exhaustedFor(client); // its log line, once a period
      throw budgetSpent(ctx, client, hold.spentFor(), budgets, metrics);
    }
    metrics.clientBudgetRefused(client, RoutewiseMetrics.BudgetRefusal.IN_FLIGHT);
    // whole seconds, rounded up: a retry before the sync meets the same refusal
    ctx.header("Retry-After", Long.toString(Math.max(1, (hold.untilSync() + 999) / 1000)));
    if (hold.heldByOthers() <= 0 && hold.replicas() > 1) { // none under way: this replica's share is spent till it syncs
      throw new ApiException(429, "requests", "Client '" + client + "' may spend no more at this replica until it next "
          + "syncs (server.api_keys." + client + ".budget): " + DecisionHeaders.usd(hold.left()) + " USD is left this "
          + "period, " + hold.replicas() + " replicas share it between syncs, and this one's share is spent; retry after "
          + "the next sync.", null, "rate_limit_exceeded");
    }
    String shared = hold.replicas() == 1 ? ""
        : "; " + hold.replicas() + " replicas share what was left until they next sync, and this one's share is held";
    throw new ApiException(429, "requests", "Client '" + client + "' has requests under way that may spend the rest "
        + "of its budget (server.api_keys." + client + ".budget): " + DecisionHeaders.usd(hold.left())
        + " USD is left this period, and they hold " + DecisionHeaders.usd(hold.heldByOthers())
        + " USD of it until they end" + shared + "; retry when they have.", null,
        "rate_limit_exceeded");
  }

  /** The request attribute holding its {@link ClientBudgets.Hold}, when its client has a budget. */
  static final String HOLD = "routewise.budget-hold";

  /** The prices of where a request may go: the upstream it names, what it continues, else any. */
  private java.util.Collection<io.routewise.config.Price> pricesFor(RouteSpec spec, String home) {
    String only = spec.isDirect() ? spec.upstream() : home; // as routing has it: a named upstream first
    UpstreamClient u = only == null ? null : byName.get(only);
    if (u != null) {
      return java.util.Collections.singletonList(u.config().price());
    }
    return allPrices;
  }

  /** The most an upstream's error body is waited for, to be logged: a stalled one must not hold up a failover. */
  static final java.time.Duration ERROR_TEXT_WAIT = java.time.Duration.ofSeconds(1);

  /**
   * The request attribute holding whose sessions a request's are, when keys are set: its named client's
   * (the same under each of its keys), else the server API key it carried (its bytes).
   */
  static final String CLIENT_KEY = "routewise.client-key";

  /** The request attribute holding the name of the server API key it carried, when the keys are named. */
  static final String CLIENT_NAME = "routewise.client-name";
  /** The request's named client when its {@code models} restricts what it may name (a ClientKey). */
  static final String CLIENT_MODELS = "routewise.client-models";

  /**
   * For a client restricted to some models: the model the request names, the upstream a conversation
   * goes to whatever the model names (a way around α), a hosted tool's model (image_generation).
   */
  private void requireAllowedModels(Context ctx, RoutedApi api, ChatRequest request, byte[] body) {
    io.routewise.config.ClientKey restricted = ctx.attribute(CLIENT_MODELS);
    if (restricted == null) {
      return;
    }
    requireAllowedModel(ctx, request.model(), storedAt(request) != null);
    if (request.conversation() && conversationsHome != null
        && !restricted.allowsModel(RouteSpec.direct(conversationsHome).modelId())) {
      throw new ApiException(403, "invalid_request_error", "Client '" + restricted.name() + "' may not continue a "
          + "conversation: it goes to the " + conversationsHome + " upstream whatever the model, and "
          + RouteSpec.direct(conversationsHome).modelId() + " is not in server.api_keys." + restricted.name()
          + ".models.", "conversation", "model_not_allowed");
    }
    if (api == RoutedApi.RESPONSES) {
      for (String model : PassthroughHandler.nestedModels(body)) {
        requireAllowedModel(ctx, model, true);
      }
    }
  }

  /**
   * The 403 of a named client whose {@code server.api_keys} entry's {@code models} leaves out the
   * model its request names. None named: nothing to refuse where {@code noneIsFine} (a passthrough
   * body, a continued response), else refused (chat would take the default router and α).
   */
  static void requireAllowedModel(Context ctx, String model, boolean noneIsFine) {
    io.routewise.config.ClientKey client = ctx.attribute(CLIENT_MODELS);
    if (client != null && model == null && !noneIsFine) {
      throw new ApiException(403, "invalid_request_error", "Client '" + client.name() + "' must name one of its models "
          + "(server.api_keys." + client.name() + ".models: " + String.join(", ", client.models()) + ").",
          "model", "model_not_allowed");
    }
    if (client != null && model != null && !client.allowsModel(model)) {
      throw new ApiException(403, "invalid_request_error", "Client '" + client.name() + "' may not use the model '"
          + model + "' (server.api_keys." + client.name() + ".models: " + String.join(", ", client.models()) + ").",
          "model", "model_not_allowed");
    }
  }

  /**
   * The session a request names, for pinning: its X-Session-Id header, its body's end user or its
   * prompt_cache_key (routing.session_key); null for none. With server.api_keys, the session is the
   * client's own (a named client's under any of its keys, else the key's): two clients that name the
   * same session id (a user id, say) neither read nor set each other's pins.
   */
  private String session(Context ctx, ChatRequest request) {
    if (!pinning.enabled()) {
      return null;
    }
    String key = switch (pinning.key()) {
      case "user" -> request.user();
      case "prompt_cache_key" -> request.promptCacheKey();
      default -> ctx.header(SessionPinning.HEADER);
    };
    if (key == null || key.isBlank()) {
      return null;
    }
    byte[] clientKey = ctx.attribute(CLIENT_KEY);
    // A NUL (possible in a JSON field) doubled: the keys of other kinds in the same pin namespace (a
    // response's "response\0<id>", a moved pin's "\0after:") hold a single one, so no session names them.
    String named = key.strip().replace("\u0000", "\u0000\u0000");
    // Hashed with the session before it is stored (SessionPins.key): the key itself never is.
    return clientKey == null ? named
        : new String(clientKey, java.nio.charset.StandardCharsets.UTF_8) + '\u0000' + named;
  }

  /**
   * The upstream that holds what a Responses request continues, or null to route it: for a {@code
   * previous_response_id}, the upstream that answered it here, else (relayed by another replica,
   * before a restart, or passed through) the passthrough upstream if it serves responses; for a {@code
   * conversation}, the passthrough upstream if it serves conversations (their creation passes through).
   */
  private String storedAt(ChatRequest request) {
    if (request.previousResponseId() != null) {
      String at = stored.upstreamOf(request.previousResponseId());
      return at != null ? at : responsesHome;
    }
    return request.conversation() ? conversationsHome : null;
  }

  /** The router and threshold a request names; a bad {@code router-...} model name is a 400 on {@code model}. */
  static RouteSpec spec(RoutingService routing, ChatRequest request) {
    RouteSpec spec;
    try {
      spec = routing.specFor(request.model());
    } catch (RouteSpec.InvalidRouteSpecException e) {
      throw ApiException.invalidRequest(e.getMessage(), "model", "model_not_found");
    }
    return spec;
  }

  /**
   * Calls the upstream and relays its answer. Records the proxy's own share of the request's time
   * (everything but waiting on the upstream): from {@code received} to the upstream call, plus, for a
   * whole body, relaying it once read. A stream's relay is paced by the upstream, so only its
   * part before the call counts.
   */
  private int forward(Context ctx, ChatRequest request, RequestBodies.Body body, UpstreamClient upstream,
      RouteSpec spec, long received,
      boolean mayFailOver) throws IOException {
    String router = spec.router();
    long start = System.nanoTime();
    // stream_usage: asked on the client's behalf, so the stream's cost is counted; its chunk kept from the client
    boolean askUsage = upstream.config().streamUsage() && request.streamWithoutUsage();
    // what its client's budget holds, charged should the client leave before the usage: only where usage
    // was to come (a stream nobody asked usage of costs nothing read whole, so nothing left either), or
    // where its client must be metered (then an answer without usage is charged its hold, whole or left)
    ClientBudgets.Hold chargeable = askUsage || !request.streamWithoutUsage()
        || budgets.refusesUnmetered(ctx.attribute(CLIENT_NAME)) ? ctx.attribute(HOLD) : null;
    UpstreamResponse response;
    try {
      response = upstream.send(request.api(), request.forUpstream(upstream.config().model(), askUsage), request.stream(),
          new ClientDisconnectProbe(ctx.req()), TraceHeaders.of(ctx.req()));
    } catch (UpstreamException e) {
      if (e.isClientGone()) {
        if (chargeable != null && e.requestSent()) {
          chargeable.reprice(upstream.config().price()); // no failover now: at the price of the one that had it
          budgets.left(chargeable); // the upstream had it: what it generated is billed, and never counted here
        }
        throw connectionGone(ctx.res());
      }
      if (inFlight.cutOff()) { // cancelled by a shutdown past its grace: no failure of the upstream's
        throw ApiException.shuttingDown();
      }
      if (cooldowns != null && !spec.isDirect()) { // a named upstream's request may fail for reasons of its own
        cooldowns.failed(upstream.name(), start);
      }
      Backup failoverTry = mayFailOver && !e.isTimeout() ? claimBackup(upstream, request) : null;
      if (failoverTry != null) {
        failures.failed(upstream.name(), "failover unreachable", e.detail());
        // The failed attempt was the upstream's time, not ours: move the overhead clock past it.
        return failOverWithTry(ctx, request, body, upstream, spec, received + (System.nanoTime() - start),
            "unreachable", failoverTry);
      }
      throw failed(upstream, e);
    }
    // Closed on every path (closing twice is harmless): that also takes back the client-disconnect
    // watch, which must be gone before Jetty completes the response.
    try (response) {
      int status = response.status();
      // routewise's own key or account refused: an outage of that upstream to the client, whose key is not at fault
      boolean authFailed = status == 401 || status == 403;
      String contentType = response.header("Content-Type");
      boolean events = contentType != null && contentType.toLowerCase(Locale.ROOT).startsWith("text/event-stream");
      // an answer no client can use: a redirect (not followed: the key would go wherever it points;
      // usually http:// for https://), a status HTTP does not have (Jetty would pass it on), or a
      // stream to a request that asked for none (an SDK hands its caller the raw "data:" lines)
      boolean unaskedStream = events && !request.stream() && status < 300;
      // and the other way round: a whole JSON answer, or no content at all, to a request for a stream
      // (the SDKs' stream loop ends at once, without an error, and the client has nothing)
      String mediaType = contentType == null ? "" : contentType.split(";", 2)[0].strip().toLowerCase(Locale.ROOT);
      boolean noContent = status == 204 || status == 205; // chat always has an answer
      boolean notAStream = request.stream() && status >= 200 && status < 300 && !noContent
          && mediaType.equals("application/json");
      if (request.stream() && status >= 200 && status < 300 && !noContent
          && (mediaType.equals("text/plain") || mediaType.isEmpty())) {
        // events under text/plain or no type: relayed as they come, not held whole (an HTML page stays a
        // 502); a whole body there has no event, so it ends as a cut stream, with an error event
        events = true;
      }
      // an error object in it (some gateways answer errors so) is quoted: the request's own fault, often
      // (its context too long), so it does not cool the upstream for everyone, as a whole completion does
      String wholeError = notAStream ? errorOfWholeAnswer(response) : null;
      // a web page where an API answer should be: a base_url that points at a site, or a login or error
      // page in front of the API; told by its type, before its body is read, so it fails over like the rest
      boolean webPage = status >= 200 && status < 300 && !noContent && mediaType.equals("text/html");
      String oddAnswer = unaskedStream ? " with a stream (text/event-stream) to a request without \"stream\": true"
          : noContent ? " with no content" : notAStream ? " with a whole JSON body to a request for a stream"
          + (wholeError == null ? "" : ": " + wholeError) : webPage ? " with a web page (text/html); check base_url" : null;
      boolean invalid = invalidStatus(status) || unaskedStream || notAStream || noContent || webPage;
      boolean failedStatus = failedStatus(status) || unaskedStream || notAStream || noContent || webPage;
      boolean rateLimitUnread = rateLimitUnread(status, spec);
      // a whole answer has answered once its body is read (relayWhole): headers, then a stall or a cut, is a
      // timeout or a failure, as a stream's is before its first bytes
      boolean answersWhenRead = false;
      if (cooldowns != null && !spec.isDirect() && !rateLimitUnread) {
        if (failedStatus && wholeError == null) {
          cooldowns.failed(upstream.name(), start);
        } else if (wholeError != null) { // its body was read for the error in it
          cooldowns.answered(upstream.name());
        } else if (!events) { // a stream has answered once its first bytes come (relayStream)
          answersWhenRead = true;
        }
      }
      Backup failoverTry = mayFailOver && failedStatus ? claimBackup(upstream, request) : null;
      if (failoverTry != null) {
        // why (a refused key, which limit): the operator's only sight of it; never an answer's text, which
        // may echo the prompt (an unasked stream's body is the answer), nor a wait on one
        String said = wholeError != null ? wholeError
            : invalid ? "(" + (unaskedStream ? "a stream" : "its body") + ", not read)" : errorText(response, secrets);
        if (rateLimitUnread) {
          countRateLimit(upstream, said, start);
        }
        response.close();
        if (response.clientGone()) {
          // gone while the error body was read: the call is counted, and a try of the failover upstream
          // taken for this request goes to the next one (else it is skipped for the whole try's hold)
          upstream.listener().completed(upstream.name(), status, "client_closed", System.nanoTime() - start);
          failoverTry.giveBack();
          throw connectionGone(ctx.res());
        }
        long spent = System.nanoTime() - start;
        upstream.listener().completed(upstream.name(), status, "failed_over", spent);
        String why = answered(upstream, status)
            + (authFailed ? ": its api_key or account in upstreams." + upstream.name() + " is refused" : "")
            + (invalid ? invalidWhy(response, status, oddAnswer) : "")
            + requestId(response) + ". It said: " + said;
        if (authFailed || invalid) {
          failures.misconfigured(upstream.name(), "failover " + status, why);
        } else {
          failures.failed(upstream.name(), "failover " + status, why);
        }
        return failOverWithTry(ctx, request, body, upstream, spec, received + spent,
            status == 429 ? "429" : authFailed ? "auth" : invalid ? "invalid" : "5xx", failoverTry);
      }
      if (invalid) {
        String why = invalidWhy(response, status, oddAnswer);
        response.close();
        upstream.listener().completed(upstream.name(), status, "invalid", System.nanoTime() - start);
        failures.misconfigured(upstream.name(), "answered " + status, answered(upstream, status) + why
            + "; the client got a 502.");
        throw ApiException.invalidResponse(upstream.name(), unaskedStream
            ? "answered with a stream (text/event-stream) to a request that did not ask for one"
            : noContent ? "answered HTTP " + status + " with no content"
            : webPage ? "answered HTTP " + status + " with a web page (text/html), not an API answer"
            : notAStream ? "answered a request for a stream with a whole JSON body"
                + (wholeError == null ? "" : ": " + wholeError)
            : status > 599 || status < 200 ? "answered HTTP status " + status
            : "answered a redirect (HTTP " + status + "), which routewise does not follow");
      }
      if (authFailed) {
        ApiException error = authFailed(failures, upstream.name(), answered(upstream, status), response, secrets);
        response.close();
        upstream.listener().completed(upstream.name(), status, "auth_failed", System.nanoTime() - start);
        throw error;
      }
      if (status >= 500) { // an outage: the operator's business, not the client's
        failures.failed(upstream.name(), "answered " + status,
            answered(upstream, status) + "; passed to the client as it is.");
      } else if (status == 404) { // routewise's own URL or model being wrong
        failures.misconfigured(upstream.name(), "answered " + status,
            answered(upstream, status) + "; passed to the client as it is.");
      }
      // This answer is the client's (no failover from here): the body is not needed again, and a
      // client reading slowly must not hold its share of the body limit while it reads.
      body.close();
      // nor is the price of a failover: held from here (and charged, should its usage never come) at this one's
      ClientBudgets.Hold hold = ctx.attribute(HOLD);
      if (hold != null) {
        hold.reprice(upstream.config().price());
      }
      HttpServletResponse res = ctx.res();
      res.setStatus(status);
      UpstreamHeaders.copy(response, res, secrets);
      if (res.getHeader("x-request-id") == null) { // none sent, or one too long to pass on
        // Local servers (Ollama, llama.cpp) send none: one of routewise's own still ties a client's
        // report to its access-log line.
        res.setHeader("x-request-id", RequestIds.next());
      }
      if (events) {
        if (rateLimitUnread) { // a 429 as a stream: not read here, so counted as a limit reached
          cooldowns.failed(upstream.name(), start);
        }
        res.setHeader("Cache-Control", "no-cache");
        res.setHeader("X-Accel-Buffering", "no");
        if (contentType == null) {
          res.setContentType("text/event-stream"); // not the server's default, text/plain
        }
        metrics.overhead(router, start - received);
        String outcome = relayStream(response, res, upstream, start, spec, askUsage ? new UsageChunkFilter() : null,
            request.api(), request.background(), request.choices(), ctx, chargeable);
        if (!outcome.equals("ok")) {
          ctx.attribute(AccessLog.OUTCOME, outcome); // the 200 went out before it ended this way
        }
      } else {
        long relayed = relayWhole(response, res, upstream, start, status, spec, request.api(), ctx, chargeable,
            answersWhenRead);
        metrics.overhead(router, start - received + relayed);
      }
      return status;
    }
  }

  /** Sends the request to the failover upstream {@code other} instead, saying so in the headers and the metrics. */
  private int failOver(Context ctx, ChatRequest request, RequestBodies.Body body, UpstreamClient failed,
      UpstreamClient other, RouteSpec spec, long received, String reason) throws IOException {
    ClientBudgets.Hold hold = ctx.attribute(HOLD);
    if (hold != null) {
      hold.reprice(other.config().price()); // at the price of the upstream that answers it now
    }
    metrics.failover(failed.name(), reason);
    DecisionHeaders.served(ctx, other.name(), other.config().model());
    ctx.res().setHeader("x-routewise-failover", failed.name() + " " + reason);
    return forward(ctx, request, body, other, spec, received, false);
  }

  /** How a stream whose connection closed ended: its client left, or a shutdown past its grace cut it off. */
  private String clientClosedOrCutOff() {
    return inFlight.cutOff() ? "shutting_down" : "client_closed";
  }

  /**
   * {@link #failOver} to {@code backup}, whose try ({@link Cooldowns#claim}) is given back should the
   * call never report (its client left mid-call).
   */
  private int failOverWithTry(Context ctx, ChatRequest request, RequestBodies.Body body, UpstreamClient failed,
      RouteSpec spec, long received, String reason, Backup backup) throws IOException {
    try {
      return failOver(ctx, request, body, failed, backup.upstream(), spec, received, reason);
    } finally {
      backup.giveBack();
    }
  }

  /** A 429 the cooldown counts once its body is read (a stream's is read only when it fails over). */
  private boolean rateLimitUnread(int status, RouteSpec spec) {
    return status == 429 && cooldowns != null && !spec.isDirect();
  }

  /**
   * A 429 for the cooldown: a limit reached is a failure; a request too large for the limit even
   * when nothing else is sent (OpenAI's "Request too large for gpt-4o … on tokens per min") is that
   * request's, and shows the upstream up. Counted as a failure, an SDK's two retries of one long
   * prompt cooled a quiet upstream and sent everyone's requests to its failover for the cooldown.
   */
  private void countRateLimit(UpstreamClient upstream, String errorText, long calledAt) {
    if (errorText.toLowerCase(Locale.ROOT).contains("request too large")) {
      cooldowns.answered(upstream.name());
    } else {
      cooldowns.failed(upstream.name(), calledAt);
    }
  }

  /** The statuses failover takes for the upstream failing (and the cooldown counts): 429, 5xx, 401, 403, a redirect, over 599. */
  private static boolean failedStatus(int status) {
    return status == 429 || status >= 500 || status == 401 || status == 403 || invalidStatus(status);
  }

  /**
   * A redirect, a status over 599, or a 1xx that OkHttp hands back as final (101 Switching Protocols:
   * passed on, the client's connection was switched to nothing and hung): never passed to the client.
   */
  private static boolean invalidStatus(int status) {
    return status > 599 || status < 200 || status >= 300 && status < 400;
  }

  /**
   * The message of the error object a whole JSON answer is, masked (read up to 64 KiB, waited for at most
   * {@link #ERROR_TEXT_WAIT}, as an error body is: one that stalls must not hold up the failover or the
   * client's 502 for the upstream's whole timeout); null when it is none (a whole completion: an
   * answer's text, which may echo the prompt, is never quoted), or cut short.
   */
  private String errorOfWholeAnswer(UpstreamResponse response) {
    try {
      return maskedErrorIn(response.errorBody(64 * 1024, ERROR_TEXT_WAIT));
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }

  /** {@link OpenAiErrors#errorInAnswer}, with the operator's account ids and keys masked. */
  private String maskedErrorIn(byte[] body) {
    String error = OpenAiErrors.errorInAnswer(body);
    return error == null ? null
        : new String(secrets.masked(AccountIds.masked(error.getBytes(StandardCharsets.UTF_8))), StandardCharsets.UTF_8);
  }

  /** For the log: where a redirect points (its origin only: it may repeat a key), that HTTP has no such status, or the odd answer. */
  private static String invalidWhy(UpstreamResponse response, int status, String oddAnswer) {
    return oddAnswer != null ? oddAnswer
        : status > 599 ? ", which HTTP does not have" : status < 200 ? ", not a final answer"
        : " to " + origin(response.header("Location")) + "; check base_url";
  }

  /** A failover upstream and the try taken of it ({@link Cooldowns#claim}), given back if never made. */
  private record Backup(UpstreamClient upstream, long claimed, Cooldowns cooldowns) {
    void giveBack() {
      if (cooldowns != null) {
        cooldowns.giveBack(upstream.name(), claimed);
      }
    }
  }

  /**
   * Where a request that failed on {@code failed} (or skips it while it cools) may go, with that
   * upstream's try taken: the nearest on its {@link #failoverPath} that does not cool (a hung one
   * would make the client wait out its timeout as well; one whose cooldown is over, only as its one
   * try, and only where none along is up: a request failing over into a try fails with it while an
   * upstream further along answers). Null when none may: the path is empty (none takes its media: the
   * failed answer is the client's) or all of it cools. On a long ladder one rung down did not stop
   * the next one's requests, as it did when only the nearest was asked (a 503 with four upstreams up).
   */
  private Backup claimBackup(UpstreamClient failed, ChatRequest request) {
    List<UpstreamClient> path = failoverPath(failed, request);
    if (cooldowns == null) {
      return path.isEmpty() ? null : new Backup(path.get(0), Cooldowns.NOT_COOLING, null);
    }
    for (UpstreamClient u : path) {
      if (cooldowns.up(u.name())) {
        long claimed = cooldowns.claim(u.name()); // NOT_COOLING, unless it went down since
        if (claimed != Cooldowns.SKIPPED) {
          return new Backup(u, claimed, cooldowns);
        }
      }
    }
    for (UpstreamClient u : path) {
      long claimed = cooldowns.claim(u.name());
      if (claimed != Cooldowns.SKIPPED) {
        return new Backup(u, claimed, cooldowns);
      }
    }
    return null;
  }

  /** Where a failure would likely send the request, for its budget's hold: the nearest on its path not cooling now. */
  private UpstreamClient likelyBackup(UpstreamClient chosen, ChatRequest request) {
    List<UpstreamClient> path = failoverPath(chosen, request);
    for (UpstreamClient u : path) {
      if (cooldowns == null || !cooldowns.cooling(u.name())) {
        return u;
      }
    }
    return path.isEmpty() ? null : path.get(0);
  }

  /**
   * Where a failed request may go, nearest first: each more capable upstream up to the top, which
   * can answer whatever the failed one could; from the top, each one below it, the closest in
   * capability first. A request with images, audio or files only where they are taken (a text
   * model's answer to an image is no answer).
   */
  private List<UpstreamClient> failoverPath(UpstreamClient failed, ChatRequest request) {
    int i = ladder.indexOf(failed);
    int step = i == 0 ? 1 : -1; // up, or from the top down
    List<UpstreamClient> path = new java.util.ArrayList<>(2);
    for (int j = i + step; j >= 0 && j < ladder.size(); j += step) {
      UpstreamClient u = ladder.get(j);
      // Climbing, one priced above the top is passed over: the top does at least as well for less
      // (a rung's failure sent its requests to a model at six times the top's price). From the top
      // down it is the next below, as the operator placed it.
      boolean dearer = step < 0 && j > 0 && dearerThanTop(u);
      if (!dearer && (request.media().isEmpty() || takes(u, request))) {
        path.add(u);
      }
    }
    return path;
  }

  /** Whether {@code u} is priced above the top, both priced (as the routing ladder orders them). */
  private boolean dearerThanTop(UpstreamClient u) {
    io.routewise.routing.Ladder l = routing.ladder();
    io.routewise.routing.Ladder.Rung r = l.rung(l.indexOf(u.name()));
    return r.priced() && l.top().priced() && l.orderPrice(r) > l.orderPrice(l.top());
  }

  /** Whether {@code u} takes the request's media, as the routing ladder (which the decision used) has it. */
  private boolean takes(UpstreamClient u, ChatRequest request) {
    io.routewise.routing.Ladder l = routing.ladder();
    return l.rung(l.indexOf(u.name())).accepts().containsAll(request.media());
  }

  /**
   * Returns the nanoseconds spent after the body was read: parsing usage, writing it to the client.
   * {@code client}: the named client key the answer is for (null: none).
   */
  private long relayWhole(UpstreamResponse response, HttpServletResponse res, UpstreamClient upstream, long start,
      int status, RouteSpec spec, RoutedApi api, Context ctx, ClientBudgets.Hold hold, boolean answersWhenRead)
      throws IOException {
    try (RequestBodies.Answer held = bodies.answer()) {
      return relayWhole(response, res, upstream, start, status, spec, api, held, ctx, hold, answersWhenRead);
    }
  }

  private long relayWhole(UpstreamResponse response, HttpServletResponse res, UpstreamClient upstream, long start,
      int status, RouteSpec spec, RoutedApi api, RequestBodies.Answer held, Context ctx,
      ClientBudgets.Hold hold, boolean answersWhenRead) throws IOException {
    String client = ctx.attribute(CLIENT_NAME);
    byte[] body;
    try {
      body = response.bodyBytes(maxResponseBytes, held::allocated);
      if (answersWhenRead) {
        cooldowns.answered(upstream.name());
      }
    } catch (UpstreamResponse.TooLarge e) {
      if (answersWhenRead) {
        cooldowns.answered(upstream.name()); // a whole answer, only too long
      }
      chargeUnread(hold, status);
      if (rateLimitUnread(status, spec)) {
        cooldowns.failed(upstream.name(), start);
      }
      upstream.listener().completed(upstream.name(), status, "too_large", System.nanoTime() - start);
      ApiException error =
          ApiException.responseTooLarge(upstream.name(), "answer", e.max(), "server.max_response_bytes");
      failures.failed(upstream.name(), "502 " + error.code(), "The " + upstream.name() + " upstream answered "
          + status + " with a body longer than " + e.max() + " bytes (server.max_response_bytes); dropped.");
      throw error;
    } catch (IOException e) {
      chargeUnread(hold, status); // left, cut off or stalled while its body came
      if (response.clientGone()) {
        upstream.listener().completed(upstream.name(), status, "client_closed", System.nanoTime() - start);
        throw connectionGone(res);
      }
      if (inFlight.cutOff()) {
        upstream.listener().completed(upstream.name(), status, "shutting_down", System.nanoTime() - start);
        throw ApiException.shuttingDown();
      }
      if (rateLimitUnread(status, spec) || answersWhenRead) { // stalled or cut off: no answer
        cooldowns.failed(upstream.name(), start);
      }
      // a body that stalled past timeout_ms is a timeout (the client's 504), as in a stream; one cut off, body_failed
      upstream.listener().completed(upstream.name(), status, response.timedOut() ? "timeout" : "body_failed",
          System.nanoTime() - start);
      throw failed(upstream, upstream.brokeOff(e, response.timedOut()));
    }
    long read = System.nanoTime();
    String storedId = status == 200 && api == RoutedApi.RESPONSES ? ResponsesRequestParser.responseId(body) : null;
    String queuedId = null; // a background response awaited from here
    if (storedId != null) {
      stored.answered(storedId, upstream.name()); // before the client has it
    }
    if (status == 200) {
      java.util.Optional<Usage> usage = Usage.fromJson(body);
      if (usage.isPresent()) {
        Usage u = usage.get();
        tokens(upstream, u, spec, ctx);
        if (hold != null) {
          hold.close(); // its usage counted: no longer held as well, while the client reads it
        }
        io.routewise.config.Price price = upstream.config().price();
        if (price != null) { // what this answer cost, for a client that keeps its own accounts (not in a stream: headers went first)
          res.setHeader("x-routewise-cost-usd", DecisionHeaders.usd(u.cost(price)));
        }
      } else if (!Usage.looksLikeJson(body)) { // looked at only here: an answer with usage parsed as one
        upstream.listener().completed(upstream.name(), status, "invalid", System.nanoTime() - start);
        String kind = response.header("Content-Type");
        String encoding = response.header("Content-Encoding");
        String what = "answered 200 with a body that is not a JSON object (" + body.length + " bytes"
            + (kind == null ? "" : ", " + AccessLog.safe(kind)) + (encoding == null ? "" : ", encoded " + AccessLog.safe(encoding))
            + ")";
        failures.misconfigured(upstream.name(), "answered 200, not JSON", "The " + upstream.name() + " upstream " + what
            + requestId(response) + "; check its base_url (a web page answers 200 on any path). The client got a 502.");
        throw ApiException.invalidResponse(upstream.name(), what);
      } else {
        // No usage: a completion from a server that counts none, or an error under a 200 (some gateways
        // answer so), which an SDK would read as a completion without choices.
        // (a Responses object has a top-level error of its own: set when it failed, an answer all the same)
        String said = storedId == null ? maskedErrorIn(body) : null;
        if (said != null) {
          upstream.listener().completed(upstream.name(), status, "invalid", System.nanoTime() - start);
          failures.failed(upstream.name(), "answered 200 with an error", "The " + upstream.name()
              + " upstream answered 200 with an error object" + requestId(response) + ": " + said
              + "; the client got a 502.");
          throw ApiException.invalidResponse(upstream.name(), "answered 200 with an error: " + said);
        }
        if (storedId != null && ResponseUsageTap.underWay(body)) {
          awaitUsage(storedId, upstream, spec, res, client, hold); // background: its usage exists once it is done
          queuedId = storedId;
        } else {
          spend.unmetered(upstream.name());
          if (storedId == null || !"failed".equals(PassthroughHandler.topLevelString(body, "status"))) {
            chargeUnmetered(hold, client); // a failed response is not billed
          }
        }
      }
    } else if (status >= 400) {
      if (rateLimitUnread(status, spec)) {
        countRateLimit(upstream, new String(body, 0, Math.min(body.length, 4096), java.nio.charset.StandardCharsets.UTF_8),
            start);
      }
      body = secrets.masked(AccountIds.masked(body));
    }
    if (status < 400) {
      // an upstream that echoes the request (a request inspector, a debugging proxy) repeats the key in a 200 too
      body = secrets.inAnswers().masked(body);
    }
    // Counted until written (the caller closes it): a client reading its answer slowly (a write waits on it)
    // holds it in memory, so past the shared limit new bodies wait (503) instead of such answers, uncounted,
    // piling up until the heap ran out (40 clients not reading 30 MB answers, a 1 GiB heap, the gauge at 0).
    if (response.header("Content-Type") == null && Usage.looksLikeJson(body)) {
      // an upstream that named no type: the server's default (text/plain) would have the Node SDK hand
      // its caller a string
      res.setContentType("application/json");
    }
    res.setContentLength(body.length);
    try {
      res.getOutputStream().write(body);
    } catch (IOException clientGone) { // left while its answer was being written: not our failure
      if (queuedId != null) {
        stored.abandoned(queuedId, budgets); // a background response its client never had the id of
      }
      upstream.listener().completed(upstream.name(), status, "client_closed", System.nanoTime() - start);
      throw clientGone(res);
    }
    long end = System.nanoTime();
    upstream.listener().completed(upstream.name(), status, outcomeOf(status), end - start);
    return end - read;
  }

  /**
   * Relays a stream to its end and returns how it ended: ok, client_closed, timeout or stream_failed.
   * With {@code usageFilter}, the usage chunk routewise asked for is not relayed. {@code choices}: the
   * request's {@code n}, each choice ending with a finish_reason of its own. {@code client}: the
   * named client key the answer is for (null: none), and {@code hold} what it holds of its budget
   * (null: none), charged when the client leaves before the usage.
   */
  private String relayStream(UpstreamResponse response, HttpServletResponse res, UpstreamClient upstream, long start,
      RouteSpec spec, UsageChunkFilter usageFilter, RoutedApi api, boolean background, int choices, Context ctx,
      ClientBudgets.Hold hold) throws IOException {
    String client = ctx.attribute(CLIENT_NAME);
    SseOutput out = new SseOutput(res.getOutputStream());
    SseUsageScanner usage = new SseUsageScanner(api == RoutedApi.RESPONSES, choices);
    String storedId = null; // the Responses answer's id, once an event named it
    byte[] buf = new byte[8192];
    StreamMasking masking = new StreamMasking(secrets,
        api == RoutedApi.RESPONSES ? StreamMasking.MAX_HELD_RESPONSES : StreamMasking.MAX_HELD);
    StreamMasking.Sink sink = usageFilter == null ? (b, len) -> out.write(b, 0, len) : (b, len) -> usageFilter.relay(b, len, out);
    String outcome = "ok";
    // for the cooldown, a stream has answered once its first bytes came; cut off before them, it failed
    boolean awaitingFirstBytes = cooldowns != null && !spec.isDirect() && !failedStatus(res.getStatus());
    while (true) {
      int n;
      try {
        n = response.read(buf);
        if (n < 0) {
          usage.finish();
        }
        // (a stream that ends after the upstream's own error event ended with that error: no second one)
        if (n < 0 && !usage.complete() && !usage.errored() && res.getStatus() == 200 && !response.clientGone()) {
          // An upstream that ends its body by closing the connection gives no sign of a cut but this.
          throw new java.io.EOFException(api == RoutedApi.RESPONSES ? "the stream ended before its response.completed"
              : "the stream ended before its data: [DONE] or a finish_reason");
        }
      } catch (IOException e) {
        if (inFlight.cutOff() && !usage.done()) { // cancelled by a shutdown past its grace: the client hears why
          if (!out.wroteAny() && !res.isCommitted()) { // nothing sent yet: a 503 of its own, as a whole answer gets
            chargeUnread(hold, res.getStatus()); // the upstream had it, as a whole answer's is charged
            upstream.listener().completed(upstream.name(), res.getStatus(), "shutting_down", System.nanoTime() - start);
            res.setHeader("Cache-Control", null);
            res.setHeader("X-Accel-Buffering", null);
            throw ApiException.shuttingDown();
          }
          masking.discard();
          if (usageFilter != null) {
            writeQuietly(out, usageFilter.finish());
          }
          writeQuietly(out, out.errorEvent(shuttingDownJson()));
          outcome = "shutting_down";
          break;
        }
        if (response.clientGone()) { // cancelled for a client that left while the upstream was silent
          if (!out.wroteAny() && !res.isCommitted()) {
            // nothing had gone to it (headers, then silence): a request not answered yet, as a whole answer's is
            chargeUnread(hold, res.getStatus());
            upstream.listener().completed(upstream.name(), res.getStatus(), "client_closed", System.nanoTime() - start);
            res.setHeader("Cache-Control", null);
            res.setHeader("X-Accel-Buffering", null);
            throw connectionGone(res);
          }
          outcome = usage.done() ? "ok" : "client_closed";
          break;
        }
        if (awaitingFirstBytes) {
          cooldowns.failed(upstream.name(), start);
        }
        outcome = response.timedOut() ? "timeout" : "stream_failed";
        UpstreamException failure = upstream.brokeOff(e, response.timedOut());
        if (!out.wroteAny() && !res.isCommitted()) {
          // Not a byte of the body went on (headers, then a stall or the end, or a part of a line): nothing has
          // gone to the client either, so it gets a status of its own (504, 502), as a whole answer would, not a
          // 200 and an event;
          // and its hold is charged as a whole answer's is: the upstream had it, and bills what it generated
          chargeUnread(hold, res.getStatus());
          upstream.listener().completed(upstream.name(), res.getStatus(), outcome, System.nanoTime() - start);
          res.setHeader("Cache-Control", null);
          res.setHeader("X-Accel-Buffering", null);
          throw failed(upstream, failure);
        }
        // Headers are gone already: tell the client in the stream itself, then end it.
        failures.failed(upstream.name(), "stream " + streamErrorCode(failure), failure.detail());
        masking.discard(); // part of a line: of no use, and it would run into the error event's line
        if (usageFilter != null) {
          writeQuietly(out, usageFilter.finish()); // what came before the failure, as it came
        }
        writeQuietly(out, out.errorEvent(streamErrorJson(failure)));
        break;
      }
      if (n < 0) {
        finishQuietly(masking, sink);
        if (usageFilter != null) {
          writeQuietly(out, usageFilter.finish()); // a last line without its newline
        }
        if (api == RoutedApi.RESPONSES && usage.done()) {
          // its last event without the blank line that ends it: the SDKs would never see it
          writeQuietly(out, out.eventEnd());
        }
        if (awaitingFirstBytes) {
          cooldowns.answered(upstream.name()); // an empty stream, but an answer
        }
        break;
      }
      if (awaitingFirstBytes && n > 0) {
        awaitingFirstBytes = false;
        cooldowns.answered(upstream.name());
      }
      usage.feed(buf, n);
      if (storedId == null && usage.responseId() != null && res.getStatus() == 200) {
        storedId = usage.responseId(); // named by response.created: known before the answer goes on
        stored.answered(storedId, upstream.name()); // stored there, even if cut off after
        if (background) {
          // it goes on upstream whatever becomes of this stream: awaited from now, so that a resume or
          // poll arriving before this relay notices its client left still counts it
          awaitUsage(storedId, upstream, spec, res, client, hold);
        }
      }
      if (usage.done()) {
        response.stopProbing(); // the answer is complete: a client closing now has not abandoned it
      }
      try {
        masking.relay(buf, n, sink); // the operator's account ids, as in error bodies
        out.flush();
      } catch (IOException clientGone) {
        response.cancel();
        outcome = clientClosedOrCutOff();
        break;
      }
      if (usage.done()) {
        // data: [DONE] ends the answer. An upstream that then held its body open kept the client (and
        // an SDK's loop, which reads on to the end) for the whole timeout, and then got a timeout event
        // after a complete answer. Closing the response reads the body's end if it comes at once.
        finishQuietly(masking, sink);
        if (usageFilter != null) {
          writeQuietly(out, usageFilter.finish());
        }
        byte[] end = eventEnd(buf, n);
        if (end.length > 0) {
          writeQuietly(out, end);
        }
        break;
      }
    }
    if (outcome.equals("ok") && usage.errored()) {
      outcome = "error"; // its own error event, then perhaps [DONE]: no whole answer, as a 5xx would not be
    }
    // a whole answer ([DONE], or its end after a finish_reason: also a cut between that and the usage
    // chunk, which this cannot tell from a server that ends there), not an error
    boolean whole = (usage.done() || usage.complete() && outcome.equals("ok")) && !outcome.equals("error");
    if (background && storedId != null) {
      // awaited since response.created: counted once, here or by a resume or poll, whichever has it first;
      // a stream that left before its end stays awaited (the response goes on upstream)
      if (usage.result().isPresent() || (whole || usage.lastEvent()) && res.getStatus() == 200) {
        if (usage.result().isEmpty() && usage.errored()) {
          stored.released(storedId); // response.failed: nothing billed, nothing to charge
        }
        stored.finished(storedId, usage.result().orElse(null));
      }
    } else {
      boolean errored = outcome.equals("error");
      usage.result().ifPresentOrElse(u -> tokens(upstream, u, spec, ctx), () -> {
        if (whole && res.getStatus() == 200) { // its tokens went uncounted
          spend.unmetered(upstream.name());
          chargeUnmetered(hold, client);
        } else if (!whole && !errored) {
          // left (a "stop" button), cut off or stalled before its usage: the upstream bills what it generated,
          // so its hold is spent (the upstream's own error event is not billed)
          chargeUnread(hold, res.getStatus());
        }
      });
    }
    upstream.listener().completed(upstream.name(), res.getStatus(),
        outcome.equals("ok") ? outcomeOf(res.getStatus()) : outcome, System.nanoTime() - start);
    return outcome;
  }

  /**
   * A 200 answer whose usage is never read (its client left, the upstream cut it, it stalled or was
   * too long): the upstream generated it and bills it, so the client's budget is charged what the
   * request held ({@code hold}: null where no usage was to come).
   */
  private void chargeUnread(ClientBudgets.Hold hold, int status) {
    if (hold != null && status == 200) {
      budgets.left(hold);
    }
  }

  /**
   * A whole answer without usage (a stream nobody asked usage of, an upstream that counts none) for a
   * client whose budget must meter everything ({@code unpriced: refuse}): its cost unseen, it is
   * charged what it held, as passthrough's are.
   */
  private void chargeUnmetered(ClientBudgets.Hold hold, String client) {
    if (hold != null && budgets.refusesUnmetered(client)) {
      budgets.left(hold);
    }
  }

  /** An answer's usage, counted (AnswerSpend), and kept for the request's access-log line. */
  private void tokens(UpstreamClient upstream, Usage u, RouteSpec spec, Context ctx) {
    double usd = spend.counted(upstream.name(), u, spec, routersChoice(spec, ctx.res()), ctx.attribute(CLIENT_NAME));
    if (accessLog) { // only its line reads it
      ctx.attribute(AccessLog.SPENT, new AccessLog.Spent(u, usd));
    }
  }

  /**
   * A background response answered, or left, before its usage existed: counted when a later answer
   * about it (a poll, a resumed stream, its cancel) shows it done.
   */
  private void awaitUsage(String id, UpstreamClient upstream, RouteSpec spec, HttpServletResponse res, String client,
      ClientBudgets.Hold hold) {
    // what its client's budget holds goes with it until it is counted: it is still under way upstream
    stored.awaitUsage(id, new StoredResponses.AwaitedUsage(upstream.name(), routersChoice(spec, res),
        spec.auto() ? spec.router() : null, client), hold == null ? null : hold.handOver());
  }

  /** Whether the router's choice answered: not a named upstream, nor a failover (no saving of routing's). */
  private static boolean routersChoice(RouteSpec spec, HttpServletResponse res) {
    return !spec.isDirect() && res.getHeader("x-routewise-failover") == null;
  }

  /**
   * A whole answer's outcome: {@code error} when the upstream answered 429 or 5xx (passed to the
   * client: failover was off, or this was the upstream failed over to), so that every upstream's own
   * errors show under its name, whichever upstream the router chose; {@code rejected} for another 4xx
   * (the request's fault, or with a 404 a wrong URL or model in the config: kept out of the ok
   * latencies); else {@code ok}.
   */
  private static String outcomeOf(int status) {
    return status == 429 || status >= 500 ? "error" : status >= 400 ? "rejected" : "ok";
  }

  /**
   * What ends the event the last read stopped in, for a stream closed at its last event: nothing when
   * it ended with its blank line; else (the read ended between the line and that blank line) a CR
   * after a CR (a lone-CR stream's, or a CRLF's cut before its LF), or an LF.
   */
  static byte[] eventEnd(byte[] buf, int n) {
    return endsEvent(buf, n) ? new byte[0] : new byte[] {buf[n - 1] == '\r' ? (byte) '\r' : (byte) '\n'};
  }

  /** Whether {@code buf}'s first {@code n} bytes end with a blank line (an event's end), as the [DONE] read ends. */
  static boolean endsEvent(byte[] buf, int n) {
    return n >= 2 && (buf[n - 1] == '\n' && (buf[n - 2] == '\n' || (n >= 3 && buf[n - 2] == '\r' && buf[n - 3] == '\n'))
        || buf[n - 1] == '\r' && buf[n - 2] == '\r');
  }

  /** A last line held back for masking, written out (it came without its end). */
  private static void finishQuietly(StreamMasking masking, StreamMasking.Sink sink) {
    try {
      masking.finish(sink);
    } catch (IOException ignored) {
      // the client is gone too
    }
  }

  static void writeQuietly(OutputStream out, byte[] bytes) {
    try {
      out.write(bytes);
      out.flush();
    } catch (IOException ignored) {
      // the client is gone too
    }
  }

  static String streamErrorCode(UpstreamException e) {
    return e.isTimeout() ? "upstream_timeout" : "upstream_stream_failed";
  }

  /** The event that ends a stream cut off by a shutdown past its grace (framed as {@link #streamError}). */
  /** The error event's body for a stream cut off by a shutdown past its grace ({@link SseOutput#errorEvent}). */
  static byte[] shuttingDownJson() {
    return OpenAiErrors.body(ApiException.shuttingDown());
  }

  /** The error event's body for a stream that broke off or stalled ({@link SseOutput#errorEvent}). */
  static byte[] streamErrorJson(UpstreamException e) {
    return OpenAiErrors.body(e.getMessage(), "upstream_error", null, streamErrorCode(e));
  }

  /** Scheme, host and port of a redirect's target: its path or query may repeat a key from base_url. */
  static String origin(String location) {
    try {
      java.net.URI u = java.net.URI.create(location == null ? "" : location.trim());
      return u.getHost() == null ? "a relative location"
          : u.getScheme() + "://" + u.getHost() + (u.getPort() < 0 ? "" : ":" + u.getPort());
    } catch (IllegalArgumentException e) {
      return "an unreadable location";
    }
  }

  /**
   * The client's 502 for an upstream that refused routewise's key (401) or account (403). Its body
   * (OpenAI's names part of the key) and status go to the log, not to a client who could read
   * them as its own key being wrong.
   */
  static ApiException authFailed(UpstreamFailureLog failures, String upstream, String answered,
      UpstreamResponse response, SecretValues secrets) {
    failures.misconfigured(upstream, "answered " + response.status(), answered + ": its api_key or account in upstreams."
        + upstream + " is refused" + requestId(response)
        + "; the client got 502 upstream_auth_failed. It said: " + errorText(response, secrets));
    return new ApiException(502, "upstream_error", "The " + upstream + " upstream refused routewise's own "
        + "credentials (HTTP " + response.status() + "); the operator must fix them. Your API key is not at fault.",
        null, "upstream_auth_failed").retryUseless();
  }

  /** The upstream's request id, for the log line that a report to its provider will quote; "" when it sent none. */
  private static String requestId(UpstreamResponse response) {
    String id = response.header("x-request-id");
    return id == null ? "" : " (x-request-id " + AccessLog.safe(id) + ")";
  }

  /**
   * The start of an error body, on one line, for the log (why a key or an account was refused, which
   * limit was hit). Waited for at most {@link #ERROR_TEXT_WAIT}: it is the log's, not worth a client's time.
   */
  private static String errorText(UpstreamResponse response, SecretValues secrets) {
    try {
      byte[] body = secrets.masked(response.errorBody(4096, ERROR_TEXT_WAIT)); // 500 characters are logged
      String text = new String(body, 0, Math.min(body.length, 500), java.nio.charset.StandardCharsets.UTF_8);
      return text.replaceAll("\\p{Cntrl}", " ").strip() + (body.length > 500 ? "..." : "");
    } catch (IOException e) {
      return "(no readable body)";
    }
  }

  private static String answered(UpstreamClient upstream, int status) {
    return "The " + upstream.name() + " upstream (" + upstream.config().baseUrl().getHost() + ") answered " + status;
  }

  /**
   * The client's connection closed while its request waited on an upstream: the client left, or a
   * shutdown past its grace closed it, which is not the client leaving (503 shutting_down, as before a decision).
   */
  private ApiException connectionGone(HttpServletResponse res) {
    return inFlight.draining() ? ApiException.shuttingDown() : clientGone(res);
  }

  /**
   * The client disconnected and its upstream call was cancelled: nginx's 499 in the metrics. Nobody
   * reads the error body; a client that only half-closed its side gets it and a closed connection.
   */
  private static ApiException clientGone(HttpServletResponse res) {
    return clientGone(res,
        "The client closed the connection before the upstream answered; the upstream call was cancelled.");
  }

  static ApiException clientGone(HttpServletResponse res, String message) {
    res.setHeader("Connection", "close");
    return new ApiException(499, "invalid_request_error", message, null, "client_closed_request");
  }

  /** The client's 502 or 504 for an upstream failure, which the log hears about too. */
  private ApiException failed(UpstreamClient upstream, UpstreamException e) {
    ApiException error = ApiException.upstream(e);
    failures.failed(upstream.name(), error.status() + " " + error.code(), e.detail());
    return error;
  }
}
