package io.routewise.server;

import io.javalin.http.Context;
import io.routewise.metrics.RoutewiseMetrics;
import io.routewise.upstream.UpstreamClient;
import io.routewise.upstream.UpstreamException;
import io.routewise.upstream.UpstreamResponse;
import io.routewise.upstream.Usage;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.io.OutputStream;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import org.eclipse.jetty.ee10.servlet.ServletContextRequest;

/**
 * The other OpenAI endpoints under {@code /v1} ({@code embeddings}, {@code responses},
 * {@code completions}, {@code files}, ...), sent unchanged to the one upstream that
 * {@code routing.passthrough} names, so a client whose base URL is routewise can use them too. Nothing
 * is routed or parsed: method, path, query, body and content type go as the client sent them, with
 * the upstream's key instead of the client's; the answer comes back as the upstream sent it,
 * streamed as it arrives.
 */
final class PassthroughHandler {
  /**
   * Client headers some endpoints need besides trace ids: the Assistants API wants {@code OpenAI-Beta};
   * a compressed body is only readable with its {@code Content-Encoding}.
   */
  private static final String[] EXTRA_HEADERS = {"openai-beta", "accept", "content-encoding"};
  /** routewise's own endpoints: other methods on them are 405s, never an unrouted call (but chat's stored-completion list). */
  private static final Set<String> OWN_PATHS = Set.of("chat/completions", "models", "route");
  /** An upstream's error answer longer than this is not an error message. */
  private static final int ERROR_BODY_LIMIT = 1024 * 1024;

  private final UpstreamClient upstream;
  private final RoutewiseMetrics metrics;
  private final RequestBodies bodies;
  private final List<String> endpoints;
  private final InFlightRequests inFlight;
  private final boolean accessLog;
  private final UpstreamFailureLog failures;

  /** Whether {@code path} (under /v1, lower case) is one of the endpoints passed through. */
  boolean serves(String path) {
    return serves(endpoints, path);
  }

  /** Whether a passthrough with {@code endpoints} (empty: every path) serves {@code path}. */
  static boolean serves(List<String> endpoints, String path) {
    return endpoints.isEmpty() || endpoints.stream().anyMatch(e -> path.equals(e) || path.startsWith(e + "/"));
  }

  /**
   * Whether a model name is one of routewise's own: null when not (the upstream's), "" for a valid
   * router-<name>-<α> (or upstream-<name> when served), else why chat refuses it (a typo of one).
   */
  private final java.util.function.Function<String, String> routewiseModel;

  /** The upstream's key, masked wherever its text reaches the client or the log. */
  private final SecretValues secrets;

  /** Where Responses requests for routewise go from here. */
  interface RoutedResponses {
    /**
     * Whether a Responses body that names another model is routed anyway: it continues a response
     * that routewise relayed from another upstream, which alone holds it.
     */
    boolean continuesRouted(byte[] body);

    /** Routes a Responses request whose body was read already. */
    void handle(Context ctx, RequestBodies.Body body) throws IOException;
  }

  /** Where a Responses request for routewise's own model goes; null: refused, as on other endpoints. */
  private final RoutedResponses routed;

  /** Where background responses routed here await their usage; null where none are. */
  private final StoredResponses awaited;
  /** Where the usage of answers for a model the upstream prices is counted. */
  private final AnswerSpend spend;

  /** The request attribute that marks a request handed to {@link #routed}: counted there, not here. */
  private static final String ROUTED = "routewise.routed";

  /**
   * @param endpoints the paths served, each with what lies below it; empty: every path
   * @param routewiseModel whether a model name is routewise's own (refused on other endpoints): null when
   *     not, "" for a valid one, else why it is not valid
   * @param routed where a {@code POST /v1/responses} that names one goes
   * @param awaited where background responses routed to this upstream await their usage, which its
   *     answers about them (a poll, a cancel) are read for; null for none
   * @param failures the server's one log of upstream failures, shared with chat: one line per interval per upstream
   */
  PassthroughHandler(UpstreamClient upstream, List<String> endpoints, RoutewiseMetrics metrics, RequestBodies bodies,
      InFlightRequests inFlight, boolean accessLog, java.util.function.Function<String, String> routewiseModel,
      RoutedResponses routed, StoredResponses awaited, AnswerSpend spend, UpstreamFailureLog failures) {
    this.failures = failures;
    this.spend = spend;
    this.awaited = awaited;
    this.routewiseModel = routewiseModel;
    this.routed = routed;
    this.upstream = upstream;
    this.secrets = SecretValues.of(List.of(upstream.config()));
    this.endpoints = List.copyOf(endpoints);
    this.metrics = metrics;
    this.bodies = bodies;
    this.inFlight = inFlight;
    this.accessLog = accessLog;
  }

  void handle(Context ctx) throws IOException {
    long received = ChatCompletionsHandler.began(ctx);
    int status = 500;
    String error = null;
    try {
      status = forward(ctx);
    } catch (ApiException e) {
      status = e.status();
      error = e.code();
      throw e;
    } catch (IOException | RuntimeException e) {
      error = "internal";
      throw e;
    } finally {
      if (ctx.attribute(ROUTED) == null) {
        metrics.passthrough(upstream.name(), status, System.nanoTime() - received);
        if (status == 499 && ctx.res().isCommitted() && ctx.attribute(AccessLog.OUTCOME) == null) {
          ctx.attribute(AccessLog.OUTCOME, "client_closed"); // its 200 had gone: as a routed stream's line says
        }
        if (accessLog) {
          AccessLog.passthrough(ctx, upstream.name(), status, error, received);
        }
      }
    }
  }

  /**
   * The path below {@code /v1/}, still percent-encoded, once it is one the upstream can only read as
   * meant: no segment that is empty, a dot segment, or one that decodes to a slash or backslash (an
   * upstream or a gateway before it that decodes or merges them could climb out of its API root, say
   * from an Azure deployment to the resource), and no {@code ;} parameters; with what it is, as an
   * upstream that decodes, normalizes Unicode and folds case reads it ({@link Path}).
   */
  private Path checkedPath(Context ctx) {
    String raw = ctx.req().getRequestURI().substring("/v1/".length());
    StringBuilder plain = new StringBuilder();
    for (String segment : raw.split("/", -1)) {
      String decoded;
      try {
        decoded = URLDecoder.decode(segment.replace("+", "%2B"), StandardCharsets.UTF_8);
      } catch (IllegalArgumentException e) {
        decoded = null;
      }
      // what some servers strip, split on or fold (an encoded ';' or '..;', a trailing space or dot)
      // could make another path of it there, one of routewise's own included; checked as an upstream
      // that normalizes Unicode reads it too (fullwidth '．' is '.', '；' is ';')
      if (decoded == null || segment.contains(";") || !segmentAllowed(decoded)
          || !segmentAllowed(java.text.Normalizer.normalize(decoded, java.text.Normalizer.Form.NFKC))) {
        throw new ApiException(400, "invalid_request_error",
            "The request path may not have empty, '.' or '..' segments, encoded slashes or percent signs, ';' parameters,"
                + " white space, control characters or a segment ending in '.'.", null, "invalid_path");
      }
      plain.append(plain.isEmpty() ? "" : "/").append(decoded);
    }
    if (raw.equals("chat/completions") && serves(raw)) {
      // GET on chat's own path lists stored completions (store: true), whose retrieve, update and delete
      // below it go through as any path does: the list goes too, where the rest would.
      if (ctx.method() == io.javalin.http.HandlerType.GET) {
        return new Path(raw, raw);
      }
      throw ProxyServer.notAllowed(ctx.header("Allow", "GET, POST"), "GET, POST");
    }
    if (OWN_PATHS.contains(raw)) {
      throw ProxyServer.notAllowed(ctx);
    }
    String path = plain.toString().toLowerCase(java.util.Locale.ROOT);
    if (!serves(path)) {
      // Not served here: an account's files, batches or fine-tunes are every client's once passed through.
      throw new ApiException(404, "invalid_request_error", "Unknown request URL: " + ctx.method() + " /v1/"
          + AccessLog.safe(raw) + " (passthrough serves " + String.join(", ", endpoints)
          + ": routing.passthrough_endpoints).", null, "unknown_url");
    }
    // NFKC as well: an upstream that normalizes Unicode reads fullwidth letters as plain ones
    if (OWN_PATHS.contains(plain.toString().toLowerCase(java.util.Locale.ROOT)) || OWN_PATHS.contains(
        java.text.Normalizer.normalize(plain, java.text.Normalizer.Form.NFKC).toLowerCase(java.util.Locale.ROOT))) {
      // /v1/%63hat/completions or /v1/Chat/Completions: an upstream that decodes or folds case would
      // take it as a chat call, unrouted, so it is not passed through.
      throw new ApiException(400, "invalid_request_error", "The path /v1/" + raw + " spells one of routewise's own "
          + "endpoints differently; use /v1/" + plain.toString().toLowerCase(java.util.Locale.ROOT) + " as it is written.",
          null, "invalid_path");
    }
    return new Path(raw, java.text.Normalizer.normalize(plain, java.text.Normalizer.Form.NFKC).toLowerCase(Locale.ROOT));
  }

  /**
   * Endpoints whose answers carry the usage of what they generated, so a request to them naming a
   * priced model is metered: the only ones a client that must be metered may send one to (a run, a
   * fine-tuning job, speech or a realtime session name a model too, and their cost is in no answer).
   */
  private static final Set<String> METERED = Set.of("responses", "responses/compact", "completions", "embeddings",
      "images/generations");

  /**
   * A passthrough path: {@code raw} as the client wrote it (sent on so), and {@code is} what it is,
   * decoded, NFKC-normalized and lower case: {@code /v1/%72esponses} and {@code /v1/Responses} are
   * {@code responses} to an upstream that reads them so, and are metered as it.
   */
  private record Path(String raw, String is) {}

  /**
   * Endpoints whose POSTs generate nothing billed by the call (storage, a definition, a cancel), which
   * a client with a budget may send unmetered, whatever model they name: files, uploads, vector
   * stores, conversations, moderations, assistants, threads and their messages, eval definitions,
   * counting a Responses request's input tokens, a stored completion's update, a run's own calls,
   * cancels; not runs (Assistants', evals'), which generate.
   */
  static boolean generatesNothing(String path) {
    List<String> segments = List.of(path.split("/"));
    String first = segments.get(0);
    if (segments.size() >= 3 && segments.get(segments.size() - 1).equals("cancel")
        && List.of("responses", "batches", "fine_tuning", "threads", "vector_stores", "uploads").contains(first)) {
      return true; // stops spending
    }
    int runs = segments.indexOf("runs");
    if (runs >= 0) {
      // one run's own call (an eval run's cancel, a run's metadata) generates nothing; its creation,
      // tool outputs and steps' do
      return (first.equals("evals") || first.equals("threads")) && runs == 2 && segments.size() == 4;
    }
    return switch (first) {
      case "files", "uploads", "vector_stores", "conversations", "moderations", "assistants", "threads", "evals" -> true;
      // counting a request's input tokens; a stored response's cancel is above. Any other POST below
      // responses/ (compact, or one OpenAI adds) may generate
      case "responses" -> path.equals("responses/input_tokens");
      case "chat" -> segments.size() > 2; // a stored completion's update
      default -> false;
    };
  }

  /**
   * A client restricted to some models ({@code server.api_keys.<name>.models}): every {@code model} a
   * JSON body names, in any case (Go's decoder reads {@code Model} as it; parsers differ on which of
   * two wins) and at any depth (a hosted tool's, a realtime session's), must be one of them. What
   * routewise cannot check is refused: a compressed body, one not read to its end, a top-level model
   * that is not a string, and a request that generates but names no model at its top level (the
   * upstream's default, a form's, a Responses prompt template's), but for a Responses request
   * continuing a stored one. A batch's models are its input file's, read from the upstream ({@link
   * #batchModels}).
   */
  private void refuseModelNotAllowed(Context ctx, String method, String is, RequestBodies.Body body) {
    io.routewise.config.ClientKey client = ctx.attribute(ChatCompletionsHandler.CLIENT_MODELS);
    if (client == null) {
      return;
    }
    if (RequestBodies.contentCoding(ctx) != null) {
      throw new ApiException(403, "invalid_request_error", "Client '" + client.name() + "' may use only some models "
          + "(server.api_keys." + client.name() + ".models), and a compressed body's model cannot be read: send it "
          + "uncompressed.", null, "model_not_allowed");
    }
    List<String> models = new java.util.ArrayList<>();
    boolean[] named = {false}; // at the top level, where the upstream takes its model
    boolean[] prompt = {false}; // a Responses prompt template, which has a model of its own
    boolean[] continues = {false}; // a stored response or conversation continued
    String[] unchecked = {null}; // why its models cannot be checked
    // any content type: a JSON body declared a form (or text) is JSON to a lenient upstream
    Fields read = topLevelFields(body.bytes(), (name, value, p) -> {
      if (name.equalsIgnoreCase("model")) {
        if (value != com.fasterxml.jackson.core.JsonToken.VALUE_STRING) {
          unchecked[0] = "'" + name + "' must be a string";
          return false;
        }
        models.add(p.getText()); // checked below: what the visitor throws reads as a body cut off
        named[0] = true;
      } else if (value != null && value.isStructStart() && !name.equals("metadata")) {
        nestedModels(p, models);
      }
      prompt[0] |= name.equalsIgnoreCase("prompt") && value != com.fasterxml.jackson.core.JsonToken.VALUE_NULL;
      continues[0] |= (name.equals("previous_response_id") || name.equals("conversation"))
          && value != com.fasterxml.jackson.core.JsonToken.VALUE_NULL;
      return true;
    });
    String type = ctx.header("Content-Type");
    if (type != null && type.toLowerCase(java.util.Locale.ROOT).startsWith("multipart/form-data")) {
      // a form (audio transcriptions, image edits): its model fields, as the upstream's form parser reads
      // them; a JSON object too, as Go's and busboy's skip it as the form's preamble
      List<String> fields = FormFields.values(body.bytes(), type, "model");
      if (fields == null) {
        if (unchecked[0] == null && !generatesNothing(is)) { // a file's upload names no model that generates
          unchecked[0] = "its form could not be read as every upstream would read it";
        }
      } else {
        models.addAll(fields);
        named[0] |= !fields.isEmpty();
      }
    }
    for (String model : models) {
      ChatCompletionsHandler.requireAllowedModel(ctx, model, true);
    }
    if (unchecked[0] == null && read == Fields.CUT) {
      unchecked[0] = "its JSON body could not be read to its end";
    }
    if (unchecked[0] == null && method.equals("POST") && is.equals("batches")) {
      List<String> inFile = new java.util.ArrayList<>(); // the body's own were checked above
      unchecked[0] = batchModels(ctx, body.bytes(), inFile);
      named[0] = unchecked[0] == null;
      for (String model : inFile) {
        ChatCompletionsHandler.requireAllowedModel(ctx, model, true);
      }
    }
    if (unchecked[0] == null && !named[0] && !method.equals("DELETE") && !generatesNothing(is)
        && !(is.equals("responses") && continues[0] && !prompt[0])) {
      unchecked[0] = "its body names no model (a batch's input file's or a prompt template's is not read)";
    }
    if (unchecked[0] != null) {
      throw new ApiException(403, "invalid_request_error", "Client '" + client.name() + "' must name one of its models "
          + "(server.api_keys." + client.name() + ".models: " + String.join(", ", client.models()) + "), and "
          + unchecked[0] + ".", "model", "model_not_allowed");
    }
  }

  /** What a batch's input file id may be to be read: OpenAI's ({@code file-abc123}), nothing a path could read otherwise. */
  private static final java.util.regex.Pattern FILE_ID = java.util.regex.Pattern.compile("[A-Za-z0-9_-]{1,256}");

  /**
   * Adds the models of a batch's requests to {@code models}: its input file, read from the upstream as
   * the batch will be ({@code GET files/<input_file_id>/content}, a file being immutable), each line's
   * {@code body} naming a {@code model} string (and any below it, as a body's). Null when every
   * request names one; else why they cannot be checked (a file the upstream does not give, a line
   * that is not a request object, one naming no model, none at all). Its failure to answer is a 502.
   */
  private String batchModels(Context ctx, byte[] body, List<String> models) {
    // every input_file_id in any case: an upstream reads the last of two (Go's decoder, another case too)
    List<String> ids = new java.util.ArrayList<>();
    topLevelFields(body, (name, value, p) -> {
      if (name.equalsIgnoreCase("input_file_id")) {
        ids.add(value == com.fasterxml.jackson.core.JsonToken.VALUE_STRING ? p.getText() : null);
      }
      return true;
    });
    String file = ids.size() == 1 ? ids.get(0) : null;
    if (file == null || !FILE_ID.matcher(file).matches()) {
      return "its input_file_id must be a file's id (named once) for its input file's models to be read";
    }
    UpstreamResponse response;
    try {
      response = upstream.forward("GET", "files/" + file + "/content", null, null, null,
          new ClientDisconnectProbe(ctx.req()), clientHeaders(ctx));
    } catch (UpstreamException e) {
      if (e.isClientGone()) {
        ctx.header("Connection", "close");
        throw new ApiException(499, "invalid_request_error", "The client closed the connection.", null,
            "client_closed_request");
      }
      ApiException error = ApiException.upstream(e);
      failures.failed(upstream.name(), "passthrough " + error.status() + " " + error.code(), e.detail());
      throw error;
    }
    try (response; com.fasterxml.jackson.core.JsonParser p = ChatRequestParser.JSON.createParser(response.bodyStream())) {
      if (response.status() >= 500 || response.status() == 429) { // the upstream's trouble, not the batch's: retried
        failures.failed(upstream.name(), "passthrough 502 batch input file", "HTTP " + response.status());
        throw new ApiException(502, "upstream_error", "The " + upstream.name() + " upstream answered HTTP "
            + response.status() + " to reading the batch's input file " + file + " (its models are checked for "
            + "client '" + ((io.routewise.config.ClientKey) ctx.attribute(ChatCompletionsHandler.CLIENT_MODELS)).name()
            + "'); retry later.", null, "upstream_error");
      }
      if (response.status() != 200) {
        return "its input file " + file + " could not be read from the upstream (HTTP " + response.status() + ")";
      }
      return requestModels(p, "its input file " + file, models);
    } catch (ApiException upstreamFailed) {
      throw upstreamFailed;
    } catch (IOException | RuntimeException unread) {
      return "its input file " + file + " could not be read to its end";
    }
  }

  /**
   * Adds the models of the batch requests {@code p} reads, JSON lines, to {@code models}: null when
   * each is an object on a line of its own whose (last) {@code body} names a {@code model} string;
   * else why not, of {@code file} as named.
   */
  private static String requestModels(com.fasterxml.jackson.core.JsonParser p, String file, List<String> models)
      throws IOException {
    int requests = 0;
    int lastLine = 0; // JSONL: one request a line, as the upstream reads it (an object over several lines
    // is, to it, lines that are not requests, and the ones among them that are)
    for (com.fasterxml.jackson.core.JsonToken t = p.nextToken(); t != null; t = p.nextToken()) {
      requests++;
      if (t != com.fasterxml.jackson.core.JsonToken.START_OBJECT) {
        return "request " + requests + " of " + file + " is not a JSON object";
      }
      int line = p.currentTokenLocation().getLineNr();
      if (line <= lastLine) {
        return "request " + requests + " of " + file + " is not on a line of its own";
      }
      boolean named = false; // by its last body, as a JSON parser reads a key given twice
      while (p.nextToken() == com.fasterxml.jackson.core.JsonToken.FIELD_NAME) {
        String name = p.currentName();
        com.fasterxml.jackson.core.JsonToken value = p.nextToken();
        if (name.equals("body")) {
          named = false;
        }
        if (name.equals("body") && value == com.fasterxml.jackson.core.JsonToken.START_OBJECT) {
          while (p.nextToken() == com.fasterxml.jackson.core.JsonToken.FIELD_NAME) {
            String field = p.currentName();
            com.fasterxml.jackson.core.JsonToken v = p.nextToken();
            if (field.equalsIgnoreCase("model")) {
              if (v != com.fasterxml.jackson.core.JsonToken.VALUE_STRING) {
                return "request " + requests + " of " + file + " has a 'model' that is not a string";
              }
              models.add(p.getText());
              named = true;
            } else if (v.isStructStart() && !field.equals("metadata")) {
              nestedModels(p, models);
            } else {
              p.skipChildren();
            }
          }
        } else if (value.isStructStart() && !name.equals("metadata")) {
          nestedModels(p, models); // a model anywhere else (a "Body" another decoder reads as body) is checked too
        } else {
          p.skipChildren();
        }
      }
      if (p.currentToken() != com.fasterxml.jackson.core.JsonToken.END_OBJECT) {
        return file + " could not be read to its end";
      }
      lastLine = p.currentTokenLocation().getLineNr();
      if (lastLine != line) {
        return "request " + requests + " of " + file + " is not on a line of its own";
      }
      if (!named) {
        return "request " + requests + " of " + file + " names no model";
      }
    }
    return requests == 0 ? file + " holds no request" : null;
  }

  /** The string {@code model}s (any case) a JSON body names below its top level (a hosted tool's), in order. */
  static List<String> nestedModels(byte[] body) {
    List<String> models = new java.util.ArrayList<>();
    topLevelFields(body, (name, value, p) -> {
      if (value != null && value.isStructStart() && !name.equals("metadata")) {
        nestedModels(p, models);
      }
      return true;
    });
    return models;
  }

  /**
   * Adds the string {@code model}s (any case) inside the object or array {@code p} is at, leaving it at
   * its end; not a {@code metadata}'s (the client's own labels).
   */
  private static void nestedModels(com.fasterxml.jackson.core.JsonParser p, List<String> models) throws IOException {
    for (int depth = 1; depth > 0; ) {
      com.fasterxml.jackson.core.JsonToken token = p.nextToken();
      if (token == null) {
        throw new IOException("cut off"); // read as a body cut off
      }
      if (token == com.fasterxml.jackson.core.JsonToken.FIELD_NAME && p.currentName().equals("metadata")) {
        p.nextToken();
        p.skipChildren();
        continue;
      }
      if (token == com.fasterxml.jackson.core.JsonToken.FIELD_NAME && p.currentName().equalsIgnoreCase("model")
          && p.nextToken() == com.fasterxml.jackson.core.JsonToken.VALUE_STRING) {
        models.add(p.getText());
        continue;
      }
      depth += p.currentToken().isStructStart() ? 1 : p.currentToken().isStructEnd() ? -1 : 0;
    }
  }

  /**
   * A JSON body naming one of routewise's own model ids ({@code router-mf-0.5}, {@code upstream-mini})
   * on an endpoint that is not routed: 400 here. /v1/models advertises them, and a client may send
   * them anywhere; passed on, the upstream got a model it cannot have.
   */
  private void refuseRoutewiseModel(String path, String contentType, RequestBodies.Body body) {
    String model = routewiseModel(contentType, body);
    String invalid = model == null ? null : routewiseModel.apply(model);
    if (invalid != null && !invalid.isEmpty()) { // a typo of routewise's own: what chat says of it
      throw new ApiException(400, "invalid_request_error", invalid, "model", "model_not_found");
    }
    if (model != null) {
      throw new ApiException(400, "invalid_request_error", "The model '" + AccessLog.safe(model) + "' is routewise's, "
          + "and only /v1/chat/completions and /v1/responses are routed: /v1/" + path + " goes to the "
          + upstream.name() + " upstream as it is. Name one of its models (" + upstream.config().model() + ").",
          "model", "model_not_found");
    }
  }

  /** The body's model when it is one of routewise's own, else null. */
  private String routewiseModel(String contentType, RequestBodies.Body body) {
    if (contentType != null && contentType.toLowerCase(java.util.Locale.ROOT).startsWith("multipart/")) {
      return null; // a form's model field (audio transcriptions) is the upstream's to read
    }
    String model = topLevelString(body.bytes(), "model"); // JSON whatever its declared type: curl -d says a form
    // router-... is routewise's namespace, valid or not (chat refuses router-embedding-3, and
    // GET /v1/models/router-embedding-3 is a 404 rather than the upstream's)
    return model != null && routewiseModel.apply(model) != null ? model : null;
  }

  /**
   * What metering needs of a JSON body, in one walk over its top-level fields: the model it names
   * (its key in any case, as Go's decoder reads it) that this upstream prices (a body naming
   * {@code model} twice, as upstreams' parsers differ on which wins, is priced at the last one
   * priced), whether it names a model at all, and what its budget's hold needs ({@link Named}).
   */
  private Named priceNamed(byte[] body) {
    String[] model = {null};
    io.routewise.config.Price[] price = {null};
    int[] modelKeys = {0};
    // names a model, background, stream, continues stored state, stream usage
    boolean[] flags = new boolean[5];
    // the first field read here that an upstream may read otherwise: said twice, or in another case
    String[] ambiguous = {null};
    Set<String> seen = new java.util.HashSet<>();
    Fields read = topLevelFields(body, (name, value, p) -> {
      boolean isTrue = value == com.fasterxml.jackson.core.JsonToken.VALUE_TRUE;
      if (ambiguous[0] == null) { // model: twoModels
        ambiguous[0] = ambiguous(name, "", seen, "stream", "stream_options", "background", "previous_response_id",
            "conversation");
      }
      // any case: some parsers (Go's) match field names so
      boolean modelKey = name.equalsIgnoreCase("model");
      modelKeys[0] += modelKey ? 1 : 0;
      switch (modelKey ? "model" : name) { // "Model" is the model such an upstream runs: priced as it
        case "model" -> {
          if (value == com.fasterxml.jackson.core.JsonToken.VALUE_STRING) {
            flags[0] = true;
            io.routewise.config.Price priced = upstream.config().priceOf(p.getText());
            if (priced != null || price[0] == null) { // the last priced, else the last named
              model[0] = p.getText();
              price[0] = priced;
            }
          }
        }
        case "background" -> flags[1] = isTrue;
        case "stream" -> {
          flags[2] = isTrue;
          if (ambiguous[0] == null && !isTrue && value != com.fasterxml.jackson.core.JsonToken.VALUE_FALSE
              && value != com.fasterxml.jackson.core.JsonToken.VALUE_NULL) {
            ambiguous[0] = name; // not a boolean: pydantic (vLLM) reads 1 or "true" as true
          }
        }
        case "previous_response_id", "conversation" ->
            flags[3] |= value != com.fasterxml.jackson.core.JsonToken.VALUE_NULL;
        case "stream_options" -> {
          if (value == com.fasterxml.jackson.core.JsonToken.START_OBJECT) {
            while (p.nextToken() == com.fasterxml.jackson.core.JsonToken.FIELD_NAME) {
              String option = p.currentName();
              if (ambiguous[0] == null) {
                ambiguous[0] = ambiguous(option, name, seen, "include_usage");
              }
              com.fasterxml.jackson.core.JsonToken optionValue = p.nextToken();
              flags[4] |= option.equals("include_usage") && optionValue == com.fasterxml.jackson.core.JsonToken.VALUE_TRUE;
              p.skipChildren();
            }
          }
        }
        default -> { }
      }
      return true;
    });
    return new Named(model[0], price[0], flags[0], flags[1], flags[2], flags[3], flags[4], modelKeys[0] > 1,
        ambiguous[0], read == Fields.CUT);
  }

  /**
   * {@code name}'s path when it is one of the fields {@code read} here, in another case (Go's JSON
   * decoder, Ollama's, reads it as that field, the last copy winning) or a second time (which copy
   * wins depends on the upstream's parser); else null.
   */
  private static String ambiguous(String name, String path, Set<String> seen, String... read) {
    String at = path.isEmpty() ? name : path + "." + name;
    for (String field : read) {
      if (name.equalsIgnoreCase(field) && !(seen.add(path + "." + field) && name.equals(field))) {
        return at;
      }
    }
    return null;
  }

  /**
   * A body's model (the last priced one, else the last named; null when it names none) and its price
   * at this upstream (null when unpriced), whether it names a model, asks for a background response
   * or a stream, continues stored state (a {@code previous_response_id} or {@code conversation}),
   * asks a stream's usage ({@code stream_options.include_usage}), has the key {@code model} (any
   * case, any value) more than once (which one the upstream takes depends on its parser), the first
   * other field read here that it has twice or in another case, or a stream that is not a boolean
   * (its path as sent, else null), and is a JSON object that could not be read to its end (a model
   * after that point is unseen).
   */
  private record Named(String model, io.routewise.config.Price price, boolean namesModel, boolean background,
      boolean stream, boolean continues, boolean streamUsage, boolean twoModels, String ambiguous, boolean unread) {}

  /** The body's top-level {@code field} string, or null (none, not a string, not a JSON object). */
  static String topLevelString(byte[] body, String field) {
    String[] found = {null};
    topLevelFields(body, (name, value, p) -> {
      if (name.equals(field)) {
        found[0] = value == com.fasterxml.jackson.core.JsonToken.VALUE_STRING ? p.getText() : null;
        return false;
      }
      return true;
    });
    return found[0];
  }

  /** One top-level field of a JSON body: its name, its value's first token, the parser on it; false stops. */
  private interface FieldVisitor {
    boolean visit(String name, com.fasterxml.jackson.core.JsonToken value, com.fasterxml.jackson.core.JsonParser p)
        throws IOException;
  }

  /** How far {@link #topLevelFields} read a body. */
  private enum Fields {
    /** Not a JSON object (a form, an array, nothing). */
    NOT_AN_OBJECT,
    /** Every field, or as many as the visitor wanted. */
    READ,
    /** A JSON object, cut off where routewise's parser stops (malformed, past its limits, or followed by more). */
    CUT
  }

  /** Visits a JSON object's top-level fields in order (none for anything else: it is the upstream's to answer). */
  private static Fields topLevelFields(byte[] body, FieldVisitor visitor) {
    boolean object = false;
    try (com.fasterxml.jackson.core.JsonParser p = ChatRequestParser.JSON.createParser(body)) {
      if (p.nextToken() != com.fasterxml.jackson.core.JsonToken.START_OBJECT) {
        return Fields.NOT_AN_OBJECT;
      }
      object = true;
      com.fasterxml.jackson.core.JsonToken token;
      while ((token = p.nextToken()) == com.fasterxml.jackson.core.JsonToken.FIELD_NAME) {
        String name = p.currentName();
        if (!visitor.visit(name, p.nextToken(), p)) {
          return Fields.READ;
        }
        p.skipChildren();
      }
      // anything but white space after the object is a second value: which one an upstream reads is its parser's
      return token == com.fasterxml.jackson.core.JsonToken.END_OBJECT && p.nextToken() == null ? Fields.READ : Fields.CUT;
    } catch (IOException | RuntimeException notJson) {
      return object ? Fields.CUT : Fields.NOT_AN_OBJECT; // the upstream's to answer
    }
  }

  private static boolean segmentAllowed(String decoded) {
    // '%' once decoded: encoded twice, what a gateway before the upstream that decodes makes '..' or '/'
    return !(decoded.isEmpty() || decoded.equals(".") || decoded.equals("..") || decoded.contains("/")
        || decoded.contains("\\") || decoded.contains(";") || decoded.contains("%") || decoded.endsWith(".")
        || decoded.codePoints().anyMatch(c -> Character.isISOControl(c) || Character.isWhitespace(c)
            || Character.isSpaceChar(c)));
  }

  private int forward(Context ctx) throws IOException {
    if (inFlight.draining()) {
      ctx.header("Connection", "close");
      throw ApiException.shuttingDown();
    }
    String method = ctx.method().name();
    Path checked = checkedPath(ctx);
    String path = checked.raw();
    RequestBodies.Body body = method.equals("GET") ? null : bodies.readAny(ctx);
    if (body != null && routed != null && method.equals("POST") && path.equals("responses")
        && (routewiseModel(ctx.header("Content-Type"), body) != null || routed.continuesRouted(body.bytes()))) {
      ctx.attribute(ROUTED, Boolean.TRUE);
      routed.handle(ctx, body); // which closes the body
      return ctx.statusCode();
    }
    if (body != null) {
      try {
        refuseRoutewiseModel(path, ctx.header("Content-Type"), body);
        refuseModelNotAllowed(ctx, method, checked.is(), body);
      } catch (ApiException refused) {
        body.close(); // its bytes back to the shared limit, or refusals would fill it for good (review)
        throw refused;
      }
    }
    String usageOf = awaitedUsage(method, path);
    // a model the upstream prices (its own, or model_prices): its answer's usage is metered, and held to a
    // client's budget as routed answers are. Not what generates nothing (a stored response's cancel or
    // other call below it: a routed background response's usage is counted through usageOf).
    Named priced = null;
    io.routewise.routing.ClientBudgets.Hold hold = null;
    String client = ctx.attribute(ChatCompletionsHandler.CLIENT_NAME);
    boolean strict = spend.budgets().refusesUnmetered(client);
    String is = checked.is();
    if (body != null && method.equals("POST") && usageOf == null && !generatesNothing(is)
        && (upstream.config().pricesAny() || strict)) {
      boolean encoded = RequestBodies.contentCoding(ctx) != null;
      Named named = encoded ? null : priceNamed(body.bytes());
      priced = named != null && named.price() != null ? named : null;
      // an encoded body's model is unknown, and a Responses body without one takes a stored prompt's: either
      // may be a priced one
      boolean modelUnknown = encoded || is.startsWith("responses") && !named.namesModel();
      if (strict && (priced == null || named.twoModels() || named.ambiguous() != null || named.unread()
          || !METERED.contains(is)
          || is.equals("completions") && named.stream() && !named.streamUsage()
          || is.equals("images/generations") && named.stream())) {
        body.close();
        throw unmetered(client, named, is);
      }
      if (priced != null || modelUnknown) {
        try {
          ChatCompletionsHandler.overBudget(ctx, spend.budgets(), metrics);
          if (priced != null) {
            hold = ChatCompletionsHandler.hold(ctx, body.bytes(), priced.continues(),
                java.util.Collections.singletonList(priced.price()), spend.budgets(), metrics);
          }
        } catch (ApiException refused) {
          body.close();
          throw refused;
        }
      }
    }
    try {
      return send(ctx, method, checked, body, usageOf, priced);
    } finally {
      if (hold != null) {
        hold.close();
      }
    }
  }

  /**
   * The refusal of a passthrough request that routewise cannot meter, from a client whose budget
   * refuses them: unmetered, it would spend past the budget unseen. {@code named}: what its body
   * names (null: compressed); {@code path}: what it is.
   */
  private ApiException unmetered(String client, Named named, String path) {
    metrics.clientBudgetRefused(client, RoutewiseMetrics.BudgetRefusal.UNMETERED);
    String why = "Client '" + client + "' has a budget (server.api_keys." + client + ".budget), so its requests must be "
        + "metered, ";
    String allow = " (or the budget may allow unmetered requests: unpriced: allow).";
    if (named == null) {
      return new ApiException(415, "invalid_request_error", why + "and routewise cannot read a compressed body's model; "
          + "send the body uncompressed" + allow, null, "unsupported_content_encoding");
    }
    if (named.twoModels()) {
      return new ApiException(400, "invalid_request_error", why + "and a body naming 'model' more than once has "
          + "the one the upstream's parser takes; name it once" + allow, "model", "request_not_metered");
    }
    if (named.ambiguous() != null) { // what routewise reads of a stream may not be what the upstream does
      return new ApiException(400, "invalid_request_error", why + "and '" + AccessLog.safe(named.ambiguous())
          + "' is sent twice, in another case or (stream) not as a boolean, which upstreams' parsers read "
          + "differently (Go's JSON decoder, Ollama's, reads any case, the last copy winning; pydantic, vLLM's, "
          + "reads 1 or \"true\" as true); send it once, in lower case, a stream as true or false" + allow,
          named.ambiguous(), "request_not_metered");
    }
    if (named.unread()) {
      return new ApiException(400, "invalid_request_error", why + "and routewise could not read this JSON body to its "
          + "end (malformed, a number over 1,000 digits or nesting over 200 deep), so not which model it names"
          + allow, null, "request_not_metered");
    }
    if (!METERED.contains(path)) { // whatever model it names: pricing it would not meter it
      return new ApiException(403, "invalid_request_error", why + "and /v1/" + AccessLog.safe(path) + " answers "
          + "without the usage of what it generates (metered: /v1/" + String.join(", /v1/", new java.util.TreeSet<>(METERED))
          + ")" + allow, named.namesModel() ? "model" : null, "request_not_metered");
    }
    if (named.price() != null && path.equals("images/generations")) { // an image stream's usage is not read
      return new ApiException(400, "invalid_request_error", why + "and routewise reads no usage from an image stream; "
          + "ask for the image whole (no stream)" + allow, "stream", "request_not_metered");
    }
    if (named.price() != null) { // a completions stream that does not ask for its usage
      return new ApiException(400, "invalid_request_error", why + "and a stream carries its usage only when asked: set "
          + "stream_options: {include_usage: true}" + allow, "stream_options", "request_not_metered");
    }
    if (named.model() != null) {
      return new ApiException(403, "invalid_request_error", why + "and the " + upstream.name() + " upstream has no "
          + "price for the model '" + AccessLog.safe(named.model()) + "': the operator can add it to upstreams."
          + upstream.name() + ".model_prices" + allow, "model", "model_not_priced");
    }
    return new ApiException(403, "invalid_request_error", why + "and a /v1/" + AccessLog.safe(path) + " request that "
        + "names no model in a JSON body (a form, a batch, a run, a default model) has a cost routewise cannot see"
        + allow, "model", "request_not_metered");
  }

  /** Sends a passthrough request on, and relays its answer (metered when {@code priced} is not null). */
  private int send(Context ctx, String method, Path checked, RequestBodies.Body body, String usageOf, Named priced)
      throws IOException {
    String path = checked.raw();
    String is = checked.is();
    boolean background = priced != null && is.equals("responses") && priced.background();
    UpstreamResponse response;
    try {
      response = upstream.forward(method, path, ctx.req().getQueryString(), body == null ? null : body.bytes(),
          ctx.header("Content-Type"), new ClientDisconnectProbe(ctx.req()), clientHeaders(ctx));
    } catch (UpstreamException e) {
      if (e.isClientGone()) {
        if (priced != null && e.requestSent()) {
          chargeUnread(ctx, priced, is);
        }
        ctx.header("Connection", "close");
        throw new ApiException(499, "invalid_request_error", "The client closed the connection.", null,
            "client_closed_request");
      }
      if (inFlight.cutOff()) { // cancelled by a shutdown past its grace, as chat's are
        throw ApiException.shuttingDown();
      }
      ApiException error = ApiException.upstream(e);
      failures.failed(upstream.name(), "passthrough " + error.status() + " " + error.code(), e.detail());
      throw error;
    } finally {
      if (body != null) {
        body.close(); // sent: a client reading the answer slowly holds none of the body limit
      }
    }
    try (response) {
      int status = response.status();
      if (status > 599 || status < 200) { // 101 Switching Protocols passed on left the client's connection hanging
        failures.misconfigured(upstream.name(), "passthrough answered " + status, "The " + upstream.name()
            + " upstream answered " + status + (status < 200 ? ", not a final answer," : ", which HTTP does not have,") + " to " + method + " /v1/" + AccessLog.safe(path)
            + "; the client got a 502.");
        throw ApiException.invalidResponse(upstream.name(), "answered HTTP status " + status);
      }
      if (status == 401 || status == 403) {
        // routewise's key not being good for the endpoint: the operator's to fix, not the client's
        throw ChatCompletionsHandler.authFailed(failures, upstream.name(), "The " + upstream.name()
            + " upstream answered " + status + " to " + method + " /v1/" + AccessLog.safe(path), response, secrets);
      }
      if (status >= 500) { // an outage: the operator's to know
        failures.failed(upstream.name(), "passthrough answered " + status, "The " + upstream.name()
            + " upstream answered " + status + " to " + method + " /v1/" + AccessLog.safe(path)
            + "; passed to the client as it is.");
      } else if (status >= 300 && status < 400 && status != 304) {
        // Not followed: the key would go with it. Nor passed on: without its Location (an upstream's
        // URL, not the client's to see) a redirect is of no use, so it is a 502, as on chat.
        failures.misconfigured(upstream.name(), "passthrough answered " + status, "The " + upstream.name()
            + " upstream answered " + status + " to " + method + " /v1/" + AccessLog.safe(path) + " (a redirect to "
            + ChatCompletionsHandler.origin(response.header("Location")) + ", not followed); check base_url. The client got a 502.");
        throw ApiException.invalidResponse(upstream.name(), "answered a redirect (HTTP " + status
            + "), which routewise does not follow");
      }
      HttpServletResponse res = ctx.res();
      ctx.attribute(OWN_HEADERS, headers(res)); // what a 502 in its place keeps (resetKeepingCors)
      res.setStatus(status);
      UpstreamHeaders.copy(response, res, secrets);
      if (res.getHeader("x-request-id") == null) { // none sent, or one too long to pass on
        res.setHeader("x-request-id", RequestIds.next());
      }
      for (String name : new String[] {"Content-Disposition", "Content-Encoding"}) {
        // a download keeps its file name; an encoding OkHttp did not ask for (so did not undo) is named;
        // masked as every header passed on
        String value = response.header(name);
        if (value != null && value.length() <= UpstreamHeaders.MAX_VALUE_CHARS) {
          res.setHeader(name, secrets.masked(value));
        }
      }
      String type = response.header("Content-Type");
      // a chat or completions stream asked for and answered without a type (a minimal server's) is the
      // stream it is, to meter; not a Responses one, whose stream would be judged cut without its events
      boolean events = type != null ? type.toLowerCase(Locale.ROOT).startsWith("text/event-stream")
          : status == 200 && priced != null && priced.stream() && !is.startsWith("responses");
      long length = response.contentLength();
      if (status >= 400 && !events && !encoded(response)) {
        return relayError(ctx, response, status);
      }
      if (events) {
        res.setHeader("Cache-Control", "no-cache");
        res.setHeader("X-Accel-Buffering", "no");
      } else if (length >= 0) {
        res.setContentLengthLong(length);
      }
      return relay(ctx, is, response, events, events && is.startsWith("responses"), status,
          status == 200 ? usageOf : null, status == 200 ? priced : null, is.equals("responses"), background);
    }
  }

  /**
   * Whether the answer's body is under a coding ({@code Content-Encoding} naming one other than {@code
   * identity}, on any line): an error so coded is relayed as it came, as its text cannot be masked.
   */
  private static boolean encoded(UpstreamResponse response) {
    for (int i = 0, n = response.headerCount(); i < n; i++) {
      if (response.headerName(i).equalsIgnoreCase("Content-Encoding")) {
        for (String coding : response.headerValue(i).split(",")) {
          if (!coding.isBlank() && !coding.strip().equalsIgnoreCase("identity")) {
            return true;
          }
        }
      }
    }
    return false;
  }

  /**
   * The background response whose usage an answer to this request may show: a retrieve ({@code GET
   * responses/{id}}) or cancel of one routed here and still awaited; else null.
   */
  private String awaitedUsage(String method, String path) {
    if (awaited == null || !path.startsWith("responses/")) {
      return null;
    }
    String rest = path.substring("responses/".length());
    int slash = rest.indexOf('/');
    String id;
    try { // as the route read it (decoded): resp%5Fx is resp_x ('+' is a plus in a path)
      id = java.net.URLDecoder.decode((slash < 0 ? rest : rest.substring(0, slash)).replace("+", "%2B"),
          java.nio.charset.StandardCharsets.UTF_8);
    } catch (IllegalArgumentException malformed) { // a stray '%': no id of a response routed here
      return null;
    }
    boolean shows = slash < 0 ? method.equals("GET") : method.equals("POST") && rest.substring(slash).equals("/cancel");
    return shows && !id.isEmpty() && awaited.awaitsUsage(id) ? id : null;
  }

  /**
   * An error body, read whole (it is small) so the operator's account ids can be masked in it;
   * counted against the body limit while it is read, as chat's whole answers are.
   */
  private int relayError(Context ctx, UpstreamResponse response, int status) throws IOException {
    byte[] body;
    try (RequestBodies.Answer held = bodies.answer()) { // counted until written, as chat's whole answers are
      try {
        body = secrets.masked(AccountIds.masked(response.bodyBytes(ERROR_BODY_LIMIT, held::allocated)));
      } catch (UpstreamResponse.TooLarge e) {
        failures.failed(upstream.name(), "passthrough answered " + status, "The " + upstream.name()
            + " upstream answered " + status + " with an error body over " + ERROR_BODY_LIMIT + " bytes; dropped.");
        throw ApiException.responseTooLarge(upstream.name(), "error answer (" + status + ")", ERROR_BODY_LIMIT, null);
      } catch (IOException e) {
        return bodyFailed(ctx, response, e);
      }
      ctx.res().setContentLength(body.length);
      try {
        ctx.res().getOutputStream().write(body);
      } catch (IOException clientGone) {
        return 499;
      }
    }
    return status;
  }

  /**
   * Copies the body as it comes, flushing whenever the upstream pauses (every event of a stream),
   * and returns the status to count; a failure part way is {@link #bodyFailed}'s.
   */
  private int relay(Context ctx, String path, UpstreamResponse response, boolean events, boolean responsesEvents,
      int status, String usageOf, Named priced, boolean responsesCreate, boolean background) throws IOException {
    Metered metered = priced == null ? null
        : new Metered(priced, ctx.attribute(ChatCompletionsHandler.CLIENT_NAME), ctx.attribute(ChatCompletionsHandler.HOLD),
            responsesCreate, background);
    // to its end, not left by its client, cut off by the upstream or a shutdown, or stalled; nor a stream
    // whose body ended before its end did (no [DONE], last event or finish_reason: cut short)
    boolean ended = false;
    try {
      int counted = relay(ctx, response, events, responsesEvents, status, usageOf, metered);
      ended = counted == status && (metered == null || !metered.cutShort());
      if (counted == 499 && !events && metered != null && metered.awaiting) {
        awaited.abandoned(metered.id, spend.budgets()); // its client left before it had the id
      }
      return counted;
    } finally {
      if (metered != null && !metered.end() && !ended) { // no usage, and it did not end whole
        chargeUnread(ctx, priced, path);
      }
      if (accessLog && metered != null && metered.spent != null) { // only its line reads it
        ctx.attribute(AccessLog.SPENT, metered.spent);
      }
    }
  }

  /**
   * A priced request the upstream had, whose usage never came (its client left, the upstream cut it
   * off, it stalled, a shutdown cut it): its hold is charged (the upstream bills what it generated),
   * where usage was to come: an endpoint that answers with it (not speech audio, whose whole answer
   * costs nothing here either), and for a chat or completions stream, one that asked for it. A
   * background one whose id came is awaited instead (Metered).
   */
  private void chargeUnread(Context ctx, Named priced, String path) {
    io.routewise.routing.ClientBudgets.Hold hold = ctx.attribute(ChatCompletionsHandler.HOLD);
    boolean usageBearing = path.equals("responses") || path.equals("responses/compact") || path.equals("embeddings")
        || path.equals("images/generations") && !priced.stream() // a stream's usage is not read: none known to come
        || (path.equals("chat/completions") || path.equals("completions")) && (!priced.stream() || priced.streamUsage());
    if (hold != null && usageBearing) {
      spend.budgets().left(hold);
    }
  }

  private int relay(Context ctx, UpstreamResponse response, boolean events, boolean responsesEvents, int status,
      String usageOf, Metered metered) throws IOException {
    SseOutput out = new SseOutput(ctx.res().getOutputStream(), events);
    // a background response's poll: its usage is read as it goes by (a resumed stream's from response.completed);
    // and an answer for a priced model
    ResponseUsageTap json = (usageOf != null || metered != null) && !events ? new ResponseUsageTap() : null;
    // a Responses stream ends at its last event, as a routed one does: an upstream may hold it open after
    SseUsageScanner stream = responsesEvents ? new SseUsageScanner(true)
        : metered != null && events ? new SseUsageScanner(false) : null;
    if (metered != null) {
      metered.reads(json, stream);
    }
    boolean settled = usageOf == null;
    byte[] buf = new byte[8192];
    StreamMasking masking = new StreamMasking(secrets);
    StreamMasking.Sink sink = (b, len) -> out.write(b, 0, len);
    while (true) {
      int n;
      try {
        n = response.read(buf);
      } catch (IOException e) {
        if (inFlight.cutOff()) { // cancelled by a shutdown past its grace: the client hears why where it can
          if (!ctx.res().isCommitted()) {
            resetKeepingCors(ctx);
            throw ApiException.shuttingDown();
          }
          if (!events) {
            abort(ctx, e); // part of a file must not read as whole
            return 503;
          }
          masking.discard();
          ChatCompletionsHandler.writeQuietly(out, out.errorEvent(ChatCompletionsHandler.shuttingDownJson()));
          ctx.attribute(AccessLog.OUTCOME, "shutting_down");
          return 503;
        }
        if (events && ctx.res().isCommitted() && !response.clientGone()) {
          // a stream under way ends with an error event, as a chat stream does (the SDKs raise it as
          // an APIError whatever the endpoint), not a cut connection a client reads as a network fault
          UpstreamException failure = upstream.brokeOff(e, response.timedOut());
          failures.failed(upstream.name(), "passthrough stream " + ChatCompletionsHandler.streamErrorCode(failure),
              failure.detail());
          masking.discard(); // part of a line: it would run into the error event's
          ChatCompletionsHandler.writeQuietly(out, out.errorEvent(ChatCompletionsHandler.streamErrorJson(failure)));
          // counted as what it ended with (the client had a 200, then this event), so the metric shows it
          ctx.attribute(AccessLog.OUTCOME, response.timedOut() ? "timeout" : "stream_failed");
          return failure.isTimeout() ? 504 : 502;
        }
        return bodyFailed(ctx, response, e); // a line held back is dropped with the connection
      }
      if (n < 0) {
        if (responsesEvents) {
          stream.finish(); // a last line without its end
        }
        if (status == 200 && responsesEvents && !stream.complete() && !stream.errored() && out.wroteAny()
            && !response.clientGone()) {
          // ended (its connection closed, or a gateway's last chunk) before its last event: cut, as a routed
          // stream is, so the client gets the error event, not half a line and a quiet end
          if (usageOf != null && !settled) {
            settle(stream, usageOf);
          }
          UpstreamException failure = upstream.brokeOff(
              new java.io.EOFException("the stream ended before its response.completed"), false);
          failures.failed(upstream.name(), "passthrough stream " + ChatCompletionsHandler.streamErrorCode(failure),
              failure.detail());
          masking.discard(); // part of a line: it would run into the error event's
          ChatCompletionsHandler.writeQuietly(out, out.errorEvent(ChatCompletionsHandler.streamErrorJson(failure)));
          ctx.attribute(AccessLog.OUTCOME, "stream_failed");
          return 502;
        }
        try {
          masking.finish(sink); // a last line without its end
        } catch (IOException clientGone) {
          response.cancel();
          return 499;
        }
        if (usageOf != null && json != null && json.finished()) {
          Usage used = json.usage().orElse(null);
          if (used == null && json.status().equals("failed")) {
            awaited.released(usageOf); // the upstream's own failure: nothing billed, nothing to charge
          }
          if (used != null || !json.status().equals("cancelled")) {
            awaited.finished(usageOf, used);
          } else {
            // cancelled without usage may yet say completed, with it (seen on Azure): still awaited, held no more
            awaited.released(usageOf);
          }
        } else if (usageOf != null && stream != null && !settled) {
          stream.finish();
          settle(stream, usageOf);
        }
        if (metered != null && stream != null) {
          stream.finish(); // a last line without its end
        }
        return status;
      }
      if (json != null) {
        json.feed(buf, 0, n);
      } else if (stream != null) {
        stream.feed(buf, n);
        settled = settled || usageOf == null || settle(stream, usageOf); // counted as its last event came
      }
      if (metered != null) {
        metered.seen(); // before the client has these bytes: it may poll the response at once
      }
      try {
        if (events) {
          masking.relay(buf, n, sink); // as in a chat stream
        } else {
          out.write(buf, 0, n);
        }
        if (stream != null && stream.done()) {
          masking.finish(sink);
          byte[] end = ChatCompletionsHandler.eventEnd(buf, n); // as the routed stream's end writes it
          out.write(end, 0, end.length);
          out.flush();
          return status;
        }
        if (events || n < buf.length) {
          out.flush();
        }
      } catch (IOException clientGone) {
        // The connection is dead already: aborting it again made Javalin log an error with a stack
        // trace for every client that left, which any client could flood the log with.
        response.cancel();
        return 499;
      }
    }
  }

  /**
   * A passed-through answer for a model its upstream prices: counted at its end, however it ended,
   * from the usage read as it went by; one that ended whole without any is unmetered, as a routed
   * answer without usage is.
   */
  private final class Metered {
    private final Named named;
    private final String client;
    /** What its client's budget holds for it (null: nothing), handed to it if it is awaited. */
    private final io.routewise.routing.ClientBudgets.Hold hold;
    /** A {@code POST /v1/responses}: its answer may be a background response, queued. */
    private final boolean responsesCreate;
    /** Its body asked for {@code background: true}: it goes on upstream whatever becomes of this stream. */
    private final boolean background;
    private ResponseUsageTap json;
    private SseUsageScanner stream;
    /** The Responses answer's id, once known (kept here as relayed, so its polls here ask no store). */
    private String id;
    /** Whether its usage is awaited from a poll (a background response). */
    private boolean awaiting;
    /** Its usage and cost, once counted, for the access log. */
    private AccessLog.Spent spent;

    Metered(Named named, String client, io.routewise.routing.ClientBudgets.Hold hold, boolean responsesCreate,
        boolean background) {
      this.named = named;
      this.client = client;
      this.hold = hold;
      this.responsesCreate = responsesCreate;
      this.background = background;
    }

    void reads(ResponseUsageTap json, SseUsageScanner stream) {
      this.json = json;
      this.stream = stream;
    }

    /** After each piece read: a Responses answer's id noted, and a background one awaited, as soon as known. */
    void seen() {
      if (!responsesCreate || id != null || awaited == null) {
        return;
      }
      String known = json != null ? json.id() : stream != null ? stream.responseId() : null;
      if (known == null) {
        return;
      }
      id = known;
      awaited.passedThrough(id, upstream.name());
      boolean queued = json != null && ("queued".equals(json.status()) || "in_progress".equals(json.status()));
      if (queued || stream != null && background) {
        awaiting = true; // counted from the poll, cancel or resume that shows it done, as a routed one
        awaited.awaitUsage(id, new StoredResponses.AwaitedUsage(upstream.name(), false, null, client, named.model()),
            hold == null ? null : hold.handOver()); // held until counted: it is under way upstream
      }
    }

    /**
     * Whether its body ended before its answer did: a stream without its end, a finish_reason or an
     * error event; a JSON object not read whole (also what is no JSON: speech, which has no usage to
     * charge for).
     */
    boolean cutShort() {
      return stream != null ? !stream.complete() && !stream.errored() && stream.result().isEmpty()
          : json != null && !json.whole();
    }

    /** Counts it; returns whether it was settled: counted, awaited, or whole without usage (else cut short). */
    boolean end() {
      seen();
      java.util.Optional<Usage> usage = json != null ? json.wholeUsage()
          : stream != null ? stream.result() : java.util.Optional.empty();
      if (awaiting) {
        if (stream != null && (usage.isPresent() || stream.lastEvent())) {
          if (usage.isEmpty() && stream.errored()) {
            awaited.released(id); // response.failed: nothing billed, nothing to charge
          }
          awaited.finished(id, usage.orElse(null)); // its end came with this stream: counted once, here
        }
        return true; // else a poll counts it
      }
      if (usage.isPresent()) {
        spent = new AccessLog.Spent(usage.get(), spend.passedThrough(upstream.name(), usage.get(), named.price(), client));
        return true;
      } else if (json != null ? json.whole() : stream != null && stream.done()) {
        spend.unmetered(upstream.name()); // a whole JSON object or stream, without usage
        boolean failed = stream != null ? stream.errored() : "failed".equals(json.status()); // not billed
        if (hold != null && !failed && spend.budgets().refusesUnmetered(client)) {
          spend.budgets().left(hold); // its cost unseen, for a client that must be metered: what it held
        }
        return true;
      }
      return false;
    }
  }

  /**
   * Counts a resumed background stream's usage once its last event came (with usage, or finished
   * without), or an event with usage and an error; a {@code [DONE]} alone says nothing of it.
   */
  private boolean settle(SseUsageScanner stream, String id) {
    if (stream.lastEvent() || stream.result().isPresent() && (stream.errored() || stream.done())) {
      awaited.finished(id, stream.result().orElse(null));
      return true;
    }
    return false;
  }

  /**
   * The status to count for an upstream body that failed part way: a client that left cancelled the
   * call (499); an upstream that fails before anything reached the client is a 502 or 504 in
   * OpenAI's shape (thrown); after that the connection is cut, so the client sees a short body
   * rather than one that looks whole.
   */
  private int bodyFailed(Context ctx, UpstreamResponse response, IOException e) {
    if (response.clientGone()) {
      abort(ctx, e);
      return 499;
    }
    UpstreamException failure = upstream.brokeOff(e, response.timedOut());
    failures.failed(upstream.name(), "passthrough body failed", failure.detail());
    if (!ctx.res().isCommitted()) {
      resetKeepingCors(ctx);
      throw ApiException.upstream(failure);
    }
    abort(ctx, e);
    return failure.isTimeout() ? 504 : 502;
  }

  /** The headers routewise set on an answer before the upstream's were copied onto it. */
  private static final String OWN_HEADERS = "routewise.own-headers";

  private static List<String[]> headers(HttpServletResponse res) {
    List<String[]> all = new java.util.ArrayList<>();
    for (String name : res.getHeaderNames()) {
      for (String value : res.getHeaders(name)) {
        all.add(new String[] {name, value});
      }
    }
    return all;
  }

  /**
   * Drops the upstream's status and headers from an answer not yet sent, keeping routewise's own, set
   * before them: what the CORS rule set for the page ({@code Access-Control-*}, {@code Vary}), without
   * which a browser hides the error that follows from the page's script ("Failed to fetch"); a client's
   * own {@code x-ratelimit-*-requests}; a shutdown delay's {@code Connection: close}.
   */
  private static void resetKeepingCors(Context ctx) {
    HttpServletResponse res = ctx.res();
    List<String[]> kept = ctx.attribute(OWN_HEADERS);
    if (kept == null) {
      kept = new java.util.ArrayList<>();
      for (String[] h : headers(res)) {
        if (h[0].regionMatches(true, 0, "Access-Control-", 0, 15) || h[0].equalsIgnoreCase("Vary")) {
          kept.add(h);
        }
      }
    }
    res.reset();
    java.util.Set<String> put = new java.util.TreeSet<>(String.CASE_INSENSITIVE_ORDER);
    put.addAll(res.getHeaderNames()); // what the reset puts back itself (the server's Date): not twice
    for (String[] h : kept) {
      if (!put.contains(h[0])) {
        res.addHeader(h[0], h[1]);
      }
    }
  }

  /**
   * Ends the exchange by closing the connection: what is left of the response cannot be sent, and a
   * client must not read the part it got as whole. The socket is closed rather than the channel
   * aborted: after Jetty's abort, Javalin logged an ERROR with a stack trace for every such request.
   */
  private static void abort(Context ctx, Throwable why) {
    ServletContextRequest r = ServletContextRequest.getServletContextRequest(ctx.req());
    if (r != null) {
      r.getConnectionMetaData().getConnection().getEndPoint().close(why);
    }
  }

  private static String[] clientHeaders(Context ctx) {
    String[] trace = TraceHeaders.of(ctx.req());
    String[] out = Arrays.copyOf(trace, trace.length + EXTRA_HEADERS.length * 2);
    int n = trace.length;
    Set<String> hopOnly = TraceHeaders.connectionOptions(ctx.req().getHeaders("Connection"));
    for (String name : EXTRA_HEADERS) {
      // each a list: every line goes, joined (only the first went: "identity" then "gzip" went as identity)
      java.util.Enumeration<String> lines = ctx.req().getHeaders(name);
      String value = lines == null || !lines.hasMoreElements() ? null : String.join(", ", java.util.Collections.list(lines));
      if (value != null && TraceHeaders.sendable(value) && !hopOnly.contains(name)) {
        out[n++] = name;
        out[n++] = value;
      }
    }
    return Arrays.copyOf(out, n);
  }
}
