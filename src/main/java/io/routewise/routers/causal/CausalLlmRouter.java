package io.routewise.routers.causal;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.routewise.routers.RouterContext;
import io.routewise.routing.Prompt;
import io.routewise.routing.Router;
import io.routewise.routing.RouterException;
import io.routewise.upstream.Cooldowns;
import io.routewise.upstream.RetryAfter;
import io.routewise.upstream.UpstreamClient;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import okhttp3.Call;
import okhttp3.ConnectionPool;
import okhttp3.HttpUrl;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import okhttp3.ResponseBody;

/**
 * RouteLLM's causal-LLM router: asks a judge model behind any OpenAI-compatible endpoint to rate,
 * 1 to 5, how well an assistant could answer the prompt, and reads the strong model's win rate from
 * the log-probabilities of the rating ({@link RatingReader}).
 *
 * <p>Each decision has one budget, {@code timeout_ms}: waiting for one of the
 * {@code max_concurrency} slots (at most half of it) and the HTTP call together never take longer,
 * so a slow or overloaded judge delays a user's request by at most that much. Failures are thrown as
 * {@link RouterException}s with a bounded kind: {@code overloaded} (no slot was free on arrival
 * and the budget ran out, waiting or in the call),
 * {@code timeout}, {@code unreachable} (connection refused, unknown host), {@code io_error},
 * {@code http_4xx} / {@code http_5xx} / {@code http_other}, {@code bad_response} (not a chat
 * completion), {@code no_rating}, {@code interrupted}, {@code cooling}. The caller then routes strong.
 *
 * <p>A judge that is down cools down ({@link Cooldowns}, {@code cooldown_ms}): after
 * {@link Cooldowns#FAILURES_IN_A_ROW} timeouts, refused connections, 5xx, 429, 401 or 403 in a row
 * with no answer for a second, decisions fail as {@code cooling} at once instead of each waiting
 * out the budget, and one call a cooldown tries it again. A 429 or 503 asking for longer (its
 * Retry-After, up to a minute) cools it that long.
 *
 * <p>Safe for concurrent use; blocking calls are plain blocking I/O, fine on virtual threads.
 * Messages never contain the API key or the user's prompt.
 */
public final class CausalLlmRouter implements Router {
  public static final String NAME = "causal_llm";
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(CausalLlmRouter.class);
  private static final MediaType JSON = MediaType.get("application/json");
  /** Python's json.dumps writes NaN and -Infinity for a logprob; the reader skips non-finite ones. */
  private static final ObjectMapper MAPPER = com.fasterxml.jackson.databind.json.JsonMapper.builder()
      .enable(com.fasterxml.jackson.core.json.JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS).build();
  /** The most of a judge's answer that is read: a rating with 20 top logprobs is a few KB. */
  static final long MAX_ANSWER_BYTES = 1024 * 1024;

  private final CausalLlmSettings settings;
  private final HttpUrl endpoint;
  private final String judge;
  private final OkHttpClient client;
  private final Semaphore slots;
  private final long budgetNanos;
  /** Null when {@code cooldown_ms} is 0: the judge is asked whatever it did before. */
  private final Cooldowns cooldowns;

  /** The judge calls under way, for {@link #cancelCalls}. */
  private final java.util.Set<Call> calls = java.util.concurrent.ConcurrentHashMap.newKeySet();
  /** Set by {@link #cancelCalls}: every call from then on is cancelled before it is sent. */
  private volatile boolean cancelled;

  /** The deadline (System.nanoTime) of the decision whose judge call runs on this thread: a name lookup's bound. */
  private final ThreadLocal<Long> deadlineHere = new ThreadLocal<>();

  public CausalLlmRouter(CausalLlmSettings settings) {
    this(settings, okhttp3.Dns.SYSTEM);
  }

  /** @param resolver looks the judge's host name up ({@link okhttp3.Dns#SYSTEM} but in tests) */
  CausalLlmRouter(CausalLlmSettings settings, okhttp3.Dns resolver) {
    this.settings = settings;
    this.endpoint = UpstreamClient.endpoint(settings.baseUrl(), "chat/completions");
    this.judge = endpoint.host() + ":" + endpoint.port();
    this.budgetNanos = settings.timeout().toNanos();
    this.slots = new Semaphore(settings.maxConcurrency());
    this.cooldowns = settings.cooldown().isZero() ? null
        : new Cooldowns(java.util.Map.of(judge, settings.timeout()), settings.cooldown(), System::nanoTime, LOG::warn,
            "judge", "(routers.causal_llm.cooldown_ms, or the judge's longer Retry-After); requests go strong without asking it"
                + " until a try answers");
    this.client = new OkHttpClient.Builder()
        .connectTimeout(settings.timeout())
        .readTimeout(settings.timeout())
        .writeTimeout(settings.timeout())
        .callTimeout(settings.timeout())
        .connectionPool(new ConnectionPool(settings.maxConcurrency(), 5, TimeUnit.MINUTES))
        // A judge call changes nothing, so one that met a pooled connection the judge had closed
        // (uvicorn, so vLLM, closes idle ones after 5 s; OkHttp looks only after 10 s) goes again on
        // a new one, within the same call timeout, instead of sending the request strong.
        .retryOnConnectionFailure(true)
        // the lookup within what is left of the decision's budget (all of it off a decision's thread)
        .dns(new io.routewise.upstream.BoundedDns(resolver, () -> {
          Long deadline = deadlineHere.get();
          return deadline == null ? budgetNanos : deadline - System.nanoTime();
        }))
        // as for upstreams: a redirect would send the user's prompt wherever it points (https to http too)
        .followRedirects(false)
        .followSslRedirects(false)
        .socketFactory(new io.routewise.upstream.NoDelaySocketFactory()) // long prompts: no 40 ms Nagle stall
        // as for upstreams: HTTP/2 only where its waits do not pin a virtual thread's carrier (JDK 24+)
        .protocols(io.routewise.upstream.HttpClients.protocols(Runtime.version().feature()))
        .build();
  }

  /**
   * Catalog factory. Invalid settings are recorded as config problems (all at once, with their
   * keys) and give a placeholder that the catalog discards.
   */
  public static Router create(RouterContext context) {
    return CausalLlmSettings.read(context.settings())
        .<Router>map(CausalLlmRouter::new)
        .orElse(prompt -> {
          throw new IllegalStateException("causal_llm settings are invalid");
        });
  }

  public CausalLlmSettings settings() {
    return settings;
  }

  @Override
  public double strongWinRate(Prompt prompt) throws RouterException {
    long claimed = cooldowns == null ? Cooldowns.NOT_COOLING : cooldowns.claim(judge);
    if (claimed == Cooldowns.SKIPPED) {
      throw cooling();
    }
    long calledAt = System.nanoTime();
    boolean[] called = {false};
    try {
      double rate = ask(prompt, called);
      answered();
      return rate;
    } catch (JudgeDown e) {
      if (cooldowns != null) {
        cooldowns.failed(judge, calledAt, e.retryAfter);
      }
      throw e;
    } catch (RouterException | RuntimeException e) {
      // interrupted, or out of budget behind our own backlog: says nothing of the judge either way
      boolean neutral = e instanceof RouterException r && (r.kind().equals("interrupted") || r.kind().equals("overloaded"));
      if (called[0] && !neutral) {
        answered(); // it answered, with no rating in it: up, however unhelpful
      } else if (cooldowns != null) {
        cooldowns.giveBack(judge, claimed);
      }
      throw e;
    }
  }

  private void answered() {
    if (cooldowns != null) {
      cooldowns.answered(judge);
    }
  }

  /** One judge call within the decision's budget; {@code called[0]} is set once the request is sent. */
  private double ask(Prompt prompt, boolean[] called) throws RouterException {
    long start = System.nanoTime();
    long deadline = start + budgetNanos;
    // No free slot on arrival means the bound was hit: the budget then ran out waiting, or in the
    // call, is reported as overloaded rather than as a slow judge. A slot is waited for at most half
    // the budget, so every call gets at least the other half: handed in arrival order to waiters
    // with next to no budget left, every slot went to calls that timed out before any answer could
    // come (a judge answering in 100 ms, 50 decisions a second on 2 slots: 12 of 200 answered).
    boolean queued = !slots.tryAcquire();
    if (queued) {
      try {
        if (!slots.tryAcquire(budgetNanos / 2, TimeUnit.NANOSECONDS)) {
          throw overloaded(start);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new RouterException("interrupted", "interrupted while waiting for a judge slot", e);
      }
    }
    try {
      long left = deadline - System.nanoTime();
      if (left <= 0) {
        throw queued ? overloaded(start) : timeout(null);
      }
      Call call = client.newCall(request(prompt));
      call.timeout().timeout(left, TimeUnit.NANOSECONDS);
      deadlineHere.set(deadline);
      calls.add(call);
      if (cancelled) { // after the add: a cancelCalls() running now either sees the call or was seen here
        call.cancel();
      }
      called[0] = true;
      try (Response response = call.execute()) {
        ResponseBody body = response.body();
        if (!response.isSuccessful()) {
          int status = response.code();
          String message = "judge at " + judge + " answered HTTP " + status;
          if (status == 429 || status == 401 || status == 403 || status >= 500) {
            // refusing every call (rate limit, key, outage) until it says otherwise: cool it, and for as
            // long as a 429 or 503 asks (their Retry-After is a wait; another status's is not meant so)
            boolean asksToWait = status == 429 || status == 503;
            throw new JudgeDown(httpKind(status), message, null, Duration.ofMillis(
                asksToWait ? RetryAfter.millis(response.header("retry-after-ms"), response.header("Retry-After"), 0) : 0));
          }
          throw new RouterException(httpKind(status), message);
        }
        JsonNode json;
        try {
          // Read whole (to the end, so the connection goes back to the pool), but bounded: a rating is a
          // few KB, and a judge answering hundreds of MB ran the heap out and failed the chat request.
          okio.BufferedSource source = body.source();
          if (source.request(MAX_ANSWER_BYTES + 1)) {
            throw new RouterException("bad_response", "judge at " + judge + " answered more than "
                + MAX_ANSWER_BYTES / 1024 + " KiB");
          }
          json = MAPPER.readTree(source.readByteArray());
        } catch (JsonProcessingException e) {
          throw new RouterException("bad_response", "judge at " + judge + " answered with invalid JSON", e);
        }
        if (json == null || !json.isObject()) {
          throw new RouterException("bad_response", "judge at " + judge + " answered without a JSON object");
        }
        return RatingReader.strongWinRate(json);
      } finally {
        calls.remove(call);
      }
    } catch (IOException e) {
      RouterException failure = failure(e);
      if (failure.kind().equals("interrupted")) {
        throw failure;
      }
      if (queued && failure.kind().equals("timeout")) {
        // Shown as overloaded, and counted towards a cooldown all the same: the judge had at least half
        // the budget. Not counting it, an outage under full load never cooled (hardly any call found a
        // free slot, so none timed out as the judge's own); the cooldown's own rule, no answer for a
        // second, keeps a judge that answers the calls it is given from cooling.
        RouterException shown = overloaded(start);
        throw new JudgeDown(shown.kind(), shown.getMessage(), e, Duration.ZERO);
      }
      throw new JudgeDown(failure.kind(), failure.getMessage(), e, Duration.ZERO);
    } finally {
      deadlineHere.remove();
      slots.release();
    }
  }

  /** A failure that says the judge is down, or refusing every call: it counts towards a cooldown. */
  private static final class JudgeDown extends RouterException {
    final Duration retryAfter;

    JudgeDown(String kind, String message, Throwable cause, Duration retryAfter) {
      super(kind, message, cause);
      this.retryAfter = retryAfter;
    }
  }

  private RouterException cooling() {
    return new RouterException("cooling", "judge at " + judge + " failed " + Cooldowns.FAILURES_IN_A_ROW
        + " or more calls in a row: not asked for the next " + cooldowns.left(judge).toMillis()
        + " ms (cooldown_ms)");
  }

  private Request request(Prompt prompt) {
    ObjectNode body = MAPPER.createObjectNode();
    body.put("model", settings.model());
    var messages = body.putArray("messages");
    messages.addObject().put("role", "system").put("content", settings.template().system());
    messages.addObject().put("role", "user").put("content", settings.template().userMessage(prompt.text()));
    body.put("logprobs", true);
    body.put("top_logprobs", settings.topLogprobs());
    body.put("max_tokens", 6);
    body.put("temperature", 0);
    Request.Builder b = new Request.Builder().url(endpoint).post(RequestBody.create(body.toString(), JSON));
    if (settings.hasApiKey()) {
      b.header("Authorization", "Bearer " + settings.apiKey().value());
    }
    return b.build();
  }

  private RouterException failure(IOException e) {
    if (Thread.currentThread().isInterrupted()) {
      return new RouterException("interrupted", "interrupted while calling the judge at " + judge, e);
    }
    if (cancelled) { // the shutdown's, not the judge's doing: no cooldown
      return new RouterException("interrupted", "the call to the judge at " + judge + " was cancelled: routewise is"
          + " shutting down", e);
    }
    // a lookup cut off by the decision's budget is that budget running out, not a judge that is not there
    if (e instanceof InterruptedIOException || e instanceof io.routewise.upstream.BoundedDns.LookupTimedOut) {
      return timeout(e);
    }
    if (e instanceof ConnectException || e instanceof UnknownHostException || e instanceof NoRouteToHostException) {
      return new RouterException("unreachable", "cannot connect to the judge at " + judge + ": "
          + e.getClass().getSimpleName(), e);
    }
    return new RouterException("io_error", "I/O error calling the judge at " + judge + ": "
        + e.getClass().getSimpleName() + (e.getMessage() == null ? "" : " " + e.getMessage()), e);
  }

  private RouterException overloaded(long start) {
    return new RouterException("overloaded", "all " + settings.maxConcurrency() + " judge calls to " + judge
        + " were in flight; waited " + (System.nanoTime() - start) / 1_000_000 + " ms for a slot and ran out of the "
        + settings.timeout().toMillis() + " ms budget");
  }

  private RouterException timeout(IOException cause) {
    return new RouterException("timeout", "judge at " + judge + " did not answer within "
        + settings.timeout().toMillis() + " ms", cause);
  }

  static String httpKind(int status) {
    if (status >= 400 && status < 500) {
      return "http_4xx";
    }
    if (status >= 500 && status < 600) {
      return "http_5xx";
    }
    return "http_other";
  }

  @Override
  public void cancelCalls() {
    cancelled = true;
    for (Call call : calls) {
      call.cancel();
    }
  }

  /** Releases the HTTP client's threads and pooled connections. */
  @Override
  public void close() {
    client.dispatcher().executorService().shutdown();
    client.connectionPool().evictAll();
  }
}
