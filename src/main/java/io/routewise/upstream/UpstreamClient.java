package io.routewise.upstream;

import io.routewise.config.UpstreamConfig;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.SocketTimeoutException;
import java.net.URI;
import okhttp3.Call;
import okhttp3.HttpUrl;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;

/**
 * Sends chat-completion bodies to one OpenAI-compatible upstream. Built from the shared
 * {@link OkHttpClient} (same connection pool and dispatcher), with this upstream's timeouts.
 * Synchronous calls: request handlers run on virtual threads, so blocking here is cheap.
 */
public final class UpstreamClient {
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(UpstreamClient.class);
  private static final MediaType JSON = MediaType.get("application/json");
  private static final String[] NO_HEADERS = {};

  private final UpstreamConfig config;
  private final OkHttpClient http;
  /** Keeps no connection: the one resend after a stale pooled connection must not draw another. */
  private final OkHttpClient unpooled;
  private final HttpUrl chatUrl;
  private final HttpUrl responsesUrl;
  private final String authorization;
  private final UpstreamListener listener;
  private final IdleTimeouts timeouts;
  private volatile boolean bodySentLate;
  /** Whether a stale pooled connection of this upstream has been met (logged the first time). */
  private final java.util.concurrent.atomic.AtomicBoolean staleSeen = new java.util.concurrent.atomic.AtomicBoolean();
  /** Whether an HTTP/2 refusal by this upstream has been met (logged the first time). */
  private final java.util.concurrent.atomic.AtomicBoolean refusedSeen = new java.util.concurrent.atomic.AtomicBoolean();
  private final java.util.concurrent.atomic.AtomicBoolean leftoverSeen = new java.util.concurrent.atomic.AtomicBoolean();

  /** The connect timeout of the upstream whose call runs on this thread: its name lookup's bound. */
  private static final ThreadLocal<Long> CONNECT_NANOS = new ThreadLocal<>();

  /**
   * The name lookup of every upstream: one instance, since OkHttp pools connections per address and
   * the resolver is part of it (upstreams on one host, as gpt-4o and gpt-4o-mini, share connections).
   * A lookup ends with the calling upstream's {@code connect_timeout_ms}, which covers DNS.
   */
  static final BoundedDns DNS = new BoundedDns(okhttp3.Dns.SYSTEM, () -> {
    Long nanos = CONNECT_NANOS.get();
    return nanos == null ? java.util.concurrent.TimeUnit.SECONDS.toNanos(30) : nanos;
  });

  public UpstreamClient(UpstreamConfig config, OkHttpClient shared, IdleTimeouts timeouts, UpstreamListener listener) {
    this.config = config;
    // Read/write timeouts are enforced by IdleTimeouts, far cheaper per read than OkHttp's own.
    this.http = shared.newBuilder()
        .connectTimeout(config.connectTimeout())
        .readTimeout(java.time.Duration.ZERO)
        .writeTimeout(java.time.Duration.ZERO)
        .addNetworkInterceptor(IdleTimeouts.CONNECTED)
        .eventListenerFactory(IdleTimeouts.CONNECTS)
        .build();
    this.unpooled = http.newBuilder().connectionPool(new okhttp3.ConnectionPool(0, 1, java.util.concurrent.TimeUnit.SECONDS,
        PoolCleanup.RUNNER, okhttp3.internal.connection.ConnectionListener.Companion.getNONE())).build();
    this.timeouts = timeouts;
    this.chatUrl = endpoint(config.baseUrl(), RoutedApi.CHAT_COMPLETIONS.path());
    this.responsesUrl = endpoint(config.baseUrl(), RoutedApi.RESPONSES.path());
    this.authorization = config.sendsKey() ? "Bearer " + config.apiKey().value() : null;
    this.listener = listener;
  }

  public UpstreamConfig config() {
    return config;
  }

  /**
   * Cancels every call in flight, to every upstream (they share one dispatcher and one watchdog), those
   * whose body is being read included (the dispatcher lets go of a call once its headers came): a
   * shutdown past its grace.
   */
  public void cancelAllCalls() {
    // the watchdog's first: it marks every call from here on as cancelled by the shutdown, before any
    // fails (a call the dispatcher cancelled first was counted "unreachable" in a loaded CI run)
    timeouts.cancelAll();
    http.dispatcher().cancelAll();
  }

  /**
   * {@code path} under an OpenAI-style API root. A query on the root stays a query (Azure's
   * {@code https://x.openai.azure.com/openai/deployments/d?api-version=…} gives
   * {@code …/d/chat/completions?api-version=…}), where appending to the string would bury it in the path.
   */
  public static HttpUrl endpoint(URI baseUrl, String path) {
    return HttpUrl.get(baseUrl.toString()).newBuilder().addPathSegments(path).build();
  }

  public String name() {
    return config.name();
  }

  public UpstreamListener listener() {
    return listener;
  }

  /** {@link #send(byte[], boolean, ClientProbe, String[])} with no watch on the client and no headers of its own. */
  public UpstreamResponse send(byte[] body, boolean stream) throws UpstreamException {
    return send(body, stream, null, NO_HEADERS);
  }

  /**
   * POSTs {@code body} to {@code /chat/completions} and returns once the response headers arrive.
   * With a {@code client} probe, a call still running after {@link IdleTimeouts#PROBE_CLIENT_AFTER}
   * is cancelled if the client disconnects, until the response is {@link UpstreamResponse#close()
   * closed} or its whole body read: also during a stream's silent stretches (a reasoning model
   * thinking), which no write to the client would reveal. {@code clientHeaders} are name/value
   * pairs from the client (trace ids) to pass on; the upstream's configured headers win over them.
   *
   * @throws UpstreamException when the upstream cannot be reached (502), does not answer in time
   *     (504), or the client disconnected ({@link UpstreamException#isClientGone()})
   */
  public UpstreamResponse send(byte[] body, boolean stream, ClientProbe client, String[] clientHeaders)
      throws UpstreamException {
    return send(chatUrl, new Bytes(body, JSON), stream, client, clientHeaders);
  }

  /**
   * A body OkHttp takes as written once: it resends a request, unseen, when a 503 says {@code
   * Retry-After: 0}, which sent a chat twice to an overloaded upstream before failover or the client
   * knew. Retries are the client's and failover's, and counted. Also lost: OkHttp's resend of a 421
   * on a coalesced HTTP/2 connection (the upstream's 421 then goes back); its retries on connection
   * failures and its redirects are off anyway. A passthrough request without a body (GET, DELETE:
   * idempotent) may still be resent once on such a 503.
   */
  private static final class Bytes extends RequestBody {
    private final byte[] bytes;
    private final MediaType type;

    Bytes(byte[] bytes, MediaType type) {
      this.bytes = bytes;
      this.type = type;
    }

    @Override
    public MediaType contentType() {
      return type;
    }

    @Override
    public long contentLength() {
      return bytes.length;
    }

    @Override
    public boolean isOneShot() {
      return true;
    }

    @Override
    public void writeTo(okio.BufferedSink sink) throws IOException {
      sink.write(bytes);
    }
  }

  /** As {@link #send(byte[], boolean, ClientProbe, String[])}, the body written from its slices. */
  public UpstreamResponse send(Spliced body, boolean stream, ClientProbe client, String[] clientHeaders)
      throws UpstreamException {
    return send(RoutedApi.CHAT_COMPLETIONS, body, stream, client, clientHeaders);
  }

  /** As {@link #send(Spliced, boolean, ClientProbe, String[])}, POSTed to {@code api}'s path. */
  public UpstreamResponse send(RoutedApi api, Spliced body, boolean stream, ClientProbe client, String[] clientHeaders)
      throws UpstreamException {
    return send(api == RoutedApi.RESPONSES ? responsesUrl : chatUrl, new RequestBody() {
      @Override
      public MediaType contentType() {
        return JSON;
      }

      @Override
      public long contentLength() {
        return body.length();
      }

      @Override
      public boolean isOneShot() {
        return true; // as Bytes
      }

      @Override
      public void writeTo(okio.BufferedSink sink) throws IOException {
        body.writeTo(sink);
      }
    }, stream, client, clientHeaders);
  }

  private UpstreamResponse send(HttpUrl url, RequestBody body, boolean stream, ClientProbe client,
      String[] clientHeaders) throws UpstreamException {
    Request.Builder rb = new Request.Builder()
        .url(url)
        .post(body)
        .header("Accept", stream ? "text/event-stream" : "application/json");
    return execute(rb, stream, client, clientHeaders);
  }

  /**
   * Any other endpoint under the API root, as the client asked for it: {@code method},
   * {@code encodedPath} below the root (e.g. {@code embeddings}, {@code files/file-1/content}), the
   * client's query after the root's own, and its body and content type unchanged. Waits, timeouts
   * and the client watch are those of {@link #send}.
   */
  /** A query parameter's name as a lenient server may match it: lower case, white space and controls dropped. */
  private static String paramKey(String name) {
    StringBuilder key = new StringBuilder(name.length());
    for (int i = 0; i < name.length(); i++) {
      char c = name.charAt(i);
      if (!Character.isWhitespace(c) && !Character.isISOControl(c) && !Character.isSpaceChar(c)) {
        key.append(Character.toLowerCase(c));
      }
    }
    return key.toString();
  }

  /** Whether OkHttp sends {@code value} as a header value: visible ASCII, spaces and tabs. */
  private static boolean headerValue(String value) {
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      if (c != '\t' && (c < 0x20 || c > 0x7e)) {
        return false;
      }
    }
    return true;
  }

  public UpstreamResponse forward(String method, String encodedPath, String encodedQuery, byte[] body,
      String contentType, ClientProbe client, String[] clientHeaders) throws UpstreamException {
    HttpUrl.Builder url = HttpUrl.get(config.baseUrl().toString()).newBuilder().addEncodedPathSegments(encodedPath);
    if (encodedQuery != null && !encodedQuery.isEmpty()) {
      // After the root's own parameters, less any the client tries to give again (?api-version=
      // is the operator's choice; which of two copies a server reads varies).
      HttpUrl root = url.build();
      java.util.Set<String> rootNames = new java.util.HashSet<>();
      for (String name : root.queryParameterNames()) {
        rootNames.add(paramKey(name));
      }
      StringBuilder query = new StringBuilder(root.encodedQuery() == null ? "" : root.encodedQuery());
      for (String pair : encodedQuery.split("&")) {
        if (pair.isEmpty()) {
          continue;
        }
        // as servers may read the name: in any case, with white space or controls around it, or after
        // a ';' (some split on it too); ASP.NET, in front of Azure's API, matches names case-insensitively
        boolean ours = false;
        for (String part : pair.split(";", -1)) {
          ours |= !part.isEmpty() && rootNames.contains(paramKey(HttpUrl.get("http://x/?" + part).queryParameterName(0)));
        }
        if (!ours) {
          query.append(query.isEmpty() ? "" : "&").append(pair); // as the client encoded it
        }
      }
      url.encodedQuery(query.isEmpty() ? null : query.toString());
    }
    boolean needsBody = method.equals("POST") || method.equals("PUT") || method.equals("PATCH");
    MediaType type = contentType == null ? null : MediaType.parse(contentType);
    RequestBody requestBody = needsBody || (body != null && body.length > 0)
        ? new Bytes(body == null ? new byte[0] : body, type)
        : null;
    Request.Builder rb = new Request.Builder().url(url.build()).method(method, requestBody);
    if (requestBody != null && type == null && contentType != null && headerValue(contentType)) {
      // a type OkHttp's parser refuses (white space before ';', a boundary with '=' or ':') goes as it came:
      // without it the upstream cannot read the form
      rb.header("Content-Type", contentType);
    }
    // passthrough's, counted in its own metrics: kept out of the chat calls' histograms (a stored
    // response's polls go through the chat upstream's client)
    return execute(rb, false, client, clientHeaders, UpstreamListener.NONE);
  }

  private UpstreamResponse execute(Request.Builder rb, boolean stream, ClientProbe client, String[] clientHeaders)
      throws UpstreamException {
    return execute(rb, stream, client, clientHeaders, listener);
  }

  private UpstreamResponse execute(Request.Builder rb, boolean stream, ClientProbe client, String[] clientHeaders,
      UpstreamListener listener) throws UpstreamException {
    if (authorization != null) {
      rb.header("Authorization", authorization);
    }
    for (int i = 0; i + 1 < clientHeaders.length; i += 2) {
      rb.header(clientHeaders[i], clientHeaders[i + 1]);
    }
    config.headers().forEach((name, value) -> rb.header(name, value.value())); // configured ones win
    long start = System.nanoTime();
    try {
      return execute(rb, stream, client, http, start, true, listener);
    } catch (StaleConnection stale) {
      // The upstream never got (or never processed) the request: send it once more, on a new connection.
      if (stale.refused) {
        if (refusedSeen.compareAndSet(false, true)) {
          LOG.info("The " + config.name() + " upstream (" + config.baseUrl().getHost() + ") refused a request"
              + " over HTTP/2 without processing it (REFUSED_STREAM, or a GOAWAY as it closed the connection)"
              + "; the request went again on a new connection. (Said once.)");
        }
      } else if (stale.leftover) {
        if (leftoverSeen.compareAndSet(false, true)) {
          LOG.warn("The " + config.name() + " upstream (" + config.baseUrl().getHost() + ") sent bytes past the end"
              + " of an answer on a pooled connection (a Content-Length that undercounts, or an answer sent twice);"
              + " read as the next request's answer they would be another client's. The connection was dropped and"
              + " the request went on a new one. (Said once.)");
        }
      }
      UpstreamResponse again;
      try {
        // A refused stream's connection is retired by OkHttp (a GOAWAY's at once, another after a
        // second refusal), and the pool puts a burst of refused requests on one new HTTP/2
        // connection; a closed idle one is passed over for a connection no other call draws.
        again = execute(rb, stream, client, stale.refused ? http : unpooled, start, false, listener);
      } catch (StaleConnection impossible) { // a resend never reports one
        throw new IllegalStateException(impossible);
      }
      // It had closed this pooled connection while it sat idle (its keep-alive is shorter than
      // client.keep_alive_ms), found before the request was written; said once the new one answered,
      // since an upstream that went down closes its connections too, and then keep-alive is no matter
      if (!stale.refused && !stale.leftover && staleSeen.compareAndSet(false, true)) {
        LOG.info("The " + config.name()
            + " upstream (" + config.baseUrl().getHost() + ") had closed a pooled connection that routewise still kept"
            + "; the request went on a new one. Setting client.keep_alive_ms below the upstream's idle timeout"
            + " spares it the closed connections. (Said once.)");
      }
      return again;
    }
  }

  /**
   * A large body, written in pieces, each piece the upstream takes ending a wait on it as a read of its
   * answer does: an upload the upstream keeps reading is no wait (a file that took longer than {@code
   * timeout_ms} to send was cut off as a 504), a write it stops taking still times out, and the wait
   * for the answer's headers counts from the body's last byte.
   */
  private static final class WrittenAsRead extends RequestBody {
    static final int PIECE = 64 * 1024;
    private final RequestBody body;
    private final IdleTimeouts.Watch watch;

    /** Its length, -1 when unknown (every body here knows its own). */
    static long length(RequestBody body) {
      try {
        return body.contentLength();
      } catch (IOException unknown) {
        return -1;
      }
    }

    WrittenAsRead(RequestBody body, IdleTimeouts.Watch watch) {
      this.body = body;
      this.watch = watch;
    }

    @Override
    public MediaType contentType() {
      return body.contentType();
    }

    @Override
    public long contentLength() throws IOException {
      return body.contentLength();
    }

    @Override
    public boolean isOneShot() {
      return body.isOneShot();
    }

    @Override
    public void writeTo(okio.BufferedSink sink) throws IOException {
      okio.BufferedSink pieces = okio.Okio.buffer(new okio.ForwardingSink(sink) {
        @Override
        public void write(okio.Buffer source, long byteCount) throws IOException {
          while (byteCount > 0) {
            long piece = Math.min(byteCount, PIECE);
            super.write(source, piece);
            sink.emit(); // to the connection now, so its wait is timed here
            byteCount -= piece;
            watch.waiting();
          }
        }
      });
      body.writeTo(pieces);
      pieces.emit();
    }
  }

  /**
   * A request the upstream provably did not get or did not process: a pooled connection it had
   * closed, found before the request was written ({@code refused} false), or an HTTP/2 refusal.
   */
  private static final class StaleConnection extends Exception {
    final boolean refused;
    final boolean leftover;

    StaleConnection(IOException cause, boolean refused) {
      super(cause);
      this.refused = refused;
      this.leftover = StaleConnections.isLeftoverBytes(cause);
    }
  }

  /** One attempt, with a watch of its own (the builder's tag is replaced); only a first may ask for a resend. */
  private UpstreamResponse execute(Request.Builder rb, boolean stream, ClientProbe client, OkHttpClient via, long start,
      boolean first, UpstreamListener listener) throws UpstreamException, StaleConnection {
    IdleTimeouts.Watch watch = timeouts.newWatch(config.connectTimeout(), config.timeout(), client);
    Request request = rb.tag(IdleTimeouts.Watch.class, watch).build();
    if (request.body() != null && WrittenAsRead.length(request.body()) > WrittenAsRead.PIECE) {
      request = request.newBuilder().method(request.method(), new WrittenAsRead(request.body(), watch)).build();
    }
    Call call = via.newCall(request);
    watch.start(call);
    CONNECT_NANOS.set(config.connectTimeout().toNanos());
    try {
      Response response = call.execute();
      watch.idle();
      if (stream || bodySentLate || response.body().contentLength() < 0) {
        watch.acknowledge(); // see markBodySentLate
      }
      long headersAt = System.nanoTime();
      listener.firstByte(config.name(), headersAt - start);
      return new UpstreamResponse(call, response, watch, this, headersAt);
    } catch (IOException e) {
      watch.close();
      if (watch.clientGone()) {
        listener.completed(config.name(), 499, "client_closed", System.nanoTime() - start);
        throw UpstreamException.clientGone(config.name(), watch.connected(), e);
      }
      if (timeouts.cancelledAll()) { // a shutdown past its grace cancelled it: no failure of the upstream's
        listener.completed(config.name(), 503, "shutting_down", System.nanoTime() - start);
        throw failure(e, false);
      }
      if (first && StaleConnections.isClosedWhileIdle(e)) {
        throw new StaleConnection(e, false);
      }
      if (first && StaleConnections.isRefusedByHttp2(e)) {
        throw new StaleConnection(e, true);
      }
      boolean connectTimeout = watch.expiredConnecting() || isConnectTimeout(e);
      // A connect timeout is a SocketTimeoutException too, but it means "unreachable" (502), not slow.
      boolean timeout = !connectTimeout && (watch.expired()
          || e instanceof SocketTimeoutException || e instanceof InterruptedIOException);
      listener.completed(config.name(), timeout ? 504 : 502, timeout ? "timeout" : "unreachable",
          System.nanoTime() - start);
      throw connectTimeout ? connectTimeout(e) : failure(e, timeout);
    } catch (RuntimeException | Error e) {
      watch.close();
      throw e;
    } finally {
      CONNECT_NANOS.remove();
    }
  }

  /**
   * Called when a body's first bytes came well after its headers. A server that leaves Nagle's
   * algorithm on (Java's and Python's plain servers do) and writes headers and body separately holds
   * the body until the headers are acknowledged, and on a pooled connection Linux delays that ACK by
   * ~40 ms. From then on this upstream's headers are acknowledged at once, one setsockopt per call;
   * an upstream that sends headers and body together (nginx, most servers) never pays it. Streams,
   * and bodies of unknown length, are acknowledged from the start: the first event is the one a
   * user waits for.
   */
  void markBodySentLate() {
    bodySentLate = true;
  }

  /** Whether this upstream was seen sending a body well after its headers (see {@link #markBodySentLate()}). */
  boolean sendsBodyLate() {
    return bodySentLate;
  }

  /**
   * Turns an I/O failure into the exception the client sees: the upstream's role and the kind of
   * failure, while the log's {@link UpstreamException#detail()} adds the host and the I/O error.
   */
  public UpstreamException failure(IOException e, boolean timeout) {
    String role = config.name() + " upstream";
    String host = " (" + config.baseUrl().getHost() + ")";
    if (timeout) {
      String limit = " did not respond within " + config.timeout().toMillis() + " ms.";
      return new UpstreamException("The " + role + limit, "The " + role + host + limit, true, e);
    }
    if (isConnectTimeout(e)) {
      return connectTimeout(e);
    }
    return new UpstreamException("Could not reach the " + role + ": " + kind(e) + ".",
        "Could not reach the " + role + host + ": " + describe(e), false, e);
  }

  /**
   * As {@link #failure(IOException, boolean)}, for an answer whose headers had come: the upstream was
   * reached, and its answer (a body, a stream) broke off.
   */
  public UpstreamException brokeOff(IOException e, boolean timeout) {
    if (timeout) {
      return failure(e, true);
    }
    String role = config.name() + " upstream";
    return UpstreamException.brokeOff("The " + role + "'s answer broke off: " + kind(e) + ".",
        "The " + role + " (" + config.baseUrl().getHost() + ")'s answer broke off: " + describe(e), e);
  }

  private UpstreamException connectTimeout(IOException e) {
    String role = config.name() + " upstream";
    String limit = " within connect_timeout_ms (" + config.connectTimeout().toMillis() + " ms).";
    return new UpstreamException("Could not connect to the " + role + limit,
        "Could not connect to the " + role + " (" + config.baseUrl().getHost() + ")" + limit, false, e);
  }

  /** What went wrong, in words that name no host, address or path; the most specific cause wins. */
  static String kind(IOException e) {
    String fallback = null;
    Throwable t = e;
    for (int depth = 0; t != null && depth < 8; t = t.getCause(), depth++) { // OkHttp wraps the cause
      String m = t.getMessage() == null ? "" : t.getMessage().toLowerCase(java.util.Locale.ROOT);
      if (t instanceof java.net.UnknownHostException) {
        return "its host name did not resolve";
      }
      if (t instanceof javax.net.ssl.SSLException) {
        return "the TLS handshake or session failed";
      }
      if (m.contains("connection refused")) {
        return "the connection was refused";
      }
      if (t instanceof java.net.NoRouteToHostException || m.contains("no route to host")
          || m.contains("network is unreachable")) {
        return "there is no route to its address";
      }
      if (m.contains("connection reset")) {
        return "the connection was reset";
      }
      if (m.contains("broken pipe")) {
        return "the connection closed while the request was being sent";
      }
      if ("StreamResetException".equals(t.getClass().getSimpleName())) { // OkHttp's HTTP/2 RST_STREAM
        return "the upstream reset the HTTP/2 stream";
      }
      if (t instanceof java.io.EOFException || m.contains("unexpected end of stream")) {
        return "the connection closed before a complete answer";
      }
      if (t instanceof java.net.ProtocolException) {
        return "its answer was not valid HTTP";
      }
      if (fallback == null && t instanceof java.net.ConnectException) {
        fallback = "the connection could not be made";
      }
    }
    return fallback != null ? fallback : "an I/O error (" + e.getClass().getSimpleName() + ")";
  }

  private static boolean isConnectTimeout(IOException e) {
    if (e instanceof BoundedDns.LookupTimedOut) { // the lookup is part of connecting: not a name that does not resolve
      return true;
    }
    String m = e.getMessage();
    return m != null && m.toLowerCase(java.util.Locale.ROOT).contains("connect timed out");
  }

  /** The error and its causes, for the operator (OkHttp's "Failed to connect" hides "Connection refused" in its cause). */
  private static String describe(Throwable e) {
    StringBuilder out = new StringBuilder();
    Throwable t = e;
    for (int depth = 0; t != null && depth < 4; t = t.getCause(), depth++) {
      String m = t.getMessage();
      out.append(depth == 0 ? "" : " caused by ").append(t.getClass().getSimpleName())
          .append(m == null ? "" : " (" + m + ")");
    }
    return out.toString();
  }
}
