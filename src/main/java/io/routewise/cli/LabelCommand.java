package io.routewise.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.routewise.config.ConfigLoader;
import io.routewise.config.RoutewiseConfig;
import io.routewise.config.UpstreamConfig;
import io.routewise.routers.ModelDir;
import io.routewise.routers.RouterCatalog;
import io.routewise.upstream.HttpClients;
import io.routewise.upstream.IdleTimeouts;
import io.routewise.upstream.UpstreamClient;
import io.routewise.upstream.UpstreamException;
import io.routewise.upstream.UpstreamListener;
import io.routewise.upstream.UpstreamResponse;
import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import me.tongfei.progressbar.ProgressBar;
import okhttp3.OkHttpClient;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code routewise label}: outcomes for the operator's own prompts, the in-domain data that moves a
 * learned router most (BENCHMARKS.md §5: with 200 labeled prompts of a new kind of traffic, mf went
 * from as much as 0.045 below every mix of single models to within 0.005 of it or above). Each chosen
 * upstream of a config answers every prompt; a judge upstream rates each answer 1–10 (against a
 * reference answer when the prompt has one); the rating, scaled to [0, 1], is that model's outcome,
 * written in the format {@code train} reads. Calls cost money: the summary counts every token and, with prices, the dollars.
 *
 * <p>Each prompt's line is written as soon as its answers are judged, so an interrupted run keeps
 * what it paid for, and a rerun with the same {@code --output} skips the prompts already there and
 * asks only for the outcomes a prompt there lacks (its line is then completed in place).
 */
@Command(name = "label", mixinStandardHelpOptions = true,
    description = "Label your own prompts for train: each upstream of a config answers every prompt, a judge upstream "
        + "rates each answer 1-10, and the ratings (scaled to [0, 1]) are written as outcomes.")
public final class LabelCommand implements Callable<Integer> {
  private static final ObjectMapper JSON = new ObjectMapper();
  /** For the files' lines: one object a line, a second object or garbage after it an error, not dropped (as train reads). */
  private static final ObjectMapper LINE = new ObjectMapper()
      .enable(com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
  /** Line ends: JSON strings escape CR and LF, so a bare one ends a line (U+2028 inside a prompt does not). */
  private static final Pattern LINE_END = Pattern.compile("\r\n|\r|\n");
  /** The judge's verdict: the last {@code [[N]]} in its reply. */
  private static final Pattern RATING = Pattern.compile("\\[\\[\\s*(\\d+(?:\\.\\d+)?)\\s*]]");
  static final String JUDGE_SYSTEM = """
      You grade one answer of an AI assistant. You see the user's question, sometimes a reference answer, \
      and the assistant's answer. Judge how well the answer serves the user: correctness first (when a \
      reference is given, an answer that disagrees with it is wrong), then completeness and clarity. Length \
      is no merit. Explain your verdict in a few sentences, then end with the rating on its own line in \
      exactly this form: Rating: [[N]], N an integer from 1 (wrong or useless) to 10 (correct and complete).""";

  @Option(names = "--config", required = true, description = "Config whose upstreams answer and judge.")
  Path config;

  @Option(names = "--input", required = true,
      description = "Prompts: JSON lines with prompt, and optionally id, source and reference (a correct answer).")
  Path input;

  @Option(names = "--output", required = true,
      description = "Outcomes file to write (appended to: ids already in it are skipped).")
  Path output;

  @Option(names = "--judge", required = true, description = "The upstream (by its name in the config) that rates answers.")
  String judge;

  @Option(names = "--judge-model", description = "Model id sent to the judge upstream (default: its model).")
  String judgeModel;

  @Option(names = "--upstreams", split = ",",
      description = "Upstreams to label, by name (default: every upstream of the config but the judge, unless "
          + "--judge-model asks it as another model).")
  List<String> upstreamNames;

  @Option(names = "--max-tokens", defaultValue = "1024", description = "max_tokens of each answer (default 1024).")
  int maxTokens;

  @Option(names = "--concurrency", defaultValue = "4", description = "Prompts labeled at once (default 4).")
  int concurrency;

  @Option(names = "--max-prompt-chars", defaultValue = "200000",
      description = "Longer prompts are left out, said, rather than paid for by every upstream and the judge "
          + "(default ${DEFAULT-VALUE}, about 50,000 tokens; 0: no limit).")
  int maxPromptChars;

  @Option(names = "--retries", defaultValue = "3",
      description = "Tries again after a 429, a 5xx, a timeout or an unreachable upstream, this many times (default 3; "
          + "a timed-out answer may have been generated and billed).")
  int retries;

  @Option(names = "--models-dir",
      description = "Where the mf whose model ids the outcomes use lives (default: the config's models_dir).")
  Path modelsDir;

  @Option(names = "--quiet", description = "No progress bar.")
  boolean quiet;

  /** Judge failures, none rated yet, after which a run stops rather than buy answers nobody can rate. */
  static final int JUDGE_TRIES = 5;

  /**
   * Calls in a row to one upstream that could not reach it through their tries, none answered between,
   * after which a run stops: one that went away mid-run made every later prompt wait out its retries
   * (~7 s each by default, hours on a large file). More than run at once in a short outage by default.
   */
  static final int UNREACHABLE_IN_A_ROW = 10;

  /**
   * Why the run stopped early: an upstream or the judge answered 401, 403 or 404 (a wrong key, URL or
   * model), could not be reached before it ever answered or {@link #UNREACHABLE_IN_A_ROW} calls in a
   * row, or the judge gave no rating in its first {@link #JUDGE_TRIES} tries.
   */
  private volatile String stopped;
  /** Answers bought in earlier runs that the judge did not rate: rated now, not bought again. */
  private UnratedAnswers unrated;

  /** One labeled upstream: its client, the id its outcomes are written under, and what it cost. */
  private record Labeled(UpstreamConfig config, UpstreamClient client, String modelId, Tally tally) {}

  /** Per upstream (and for the judge): calls, failures, tokens, and the first failure's reason. */
  private static final class Tally {
    final AtomicLong calls = new AtomicLong();
    final AtomicLong failed = new AtomicLong();
    final AtomicLong judged = new AtomicLong();
    final AtomicLong inputTokens = new AtomicLong();
    final AtomicLong outputTokens = new AtomicLong();
    /** Each answer's usage at its upstream's price, as serve prices it (no price: nothing added). */
    final java.util.concurrent.atomic.DoubleAdder spent = new java.util.concurrent.atomic.DoubleAdder();
    final java.util.concurrent.atomic.DoubleAdder scores = new java.util.concurrent.atomic.DoubleAdder();
    volatile String firstFailure;

    void fail(String why) {
      failed.incrementAndGet();
      if (firstFailure == null) {
        firstFailure = why;
      }
    }

    double usd(UpstreamConfig u) {
      return u.price() == null ? Double.NaN : spent.sum();
    }
  }

  @Override
  public Integer call() throws Exception {
    if (maxTokens < 1 || concurrency < 1 || retries < 0 || maxPromptChars < 0) {
      System.err.println("--max-tokens and --concurrency must be at least 1, --retries and --max-prompt-chars at least 0");
      return 2;
    }
    if (judgeModel != null && judgeModel.isBlank()) {
      System.err.println("--judge-model is empty: name the model to ask the judge upstream as, or leave it out to ask "
          + "its own model");
      return 2;
    }
    if (Files.isDirectory(output)) {
      System.err.println("--output " + output + " is a directory: name the outcomes file to write (e.g. " + output.resolve("labels.jsonl") + ")");
      return 2;
    }
    if (Files.exists(output) && Files.exists(input) && Files.isSameFile(input, output)) {
      System.err.println("--output is --input: the outcomes go to a file of their own (the prompts are read from it)");
      return 2;
    }
    RoutewiseConfig cfg = ConfigLoader.fromSystemEnv().load(config);
    List<UpstreamConfig> all = RouterCatalog.inLadderOrder(cfg);
    Map<String, UpstreamConfig> byName = new LinkedHashMap<>();
    all.forEach(u -> byName.put(u.name(), u));
    UpstreamConfig judgeUpstream = byName.get(judge);
    if (judgeUpstream == null) {
      System.err.println("--judge: no upstream '" + judge + "' in " + config + " (upstreams: " + byName.keySet() + ")");
      return 2;
    }
    List<UpstreamConfig> chosen = new ArrayList<>();
    // by default every upstream but the judge asked as its own model: it would rate its own answers
    boolean judgeAsItself = judgeModel == null || judgeModel.equals(judgeUpstream.model());
    List<String> names = upstreamNames != null ? upstreamNames : byName.keySet().stream()
        .filter(n -> !(judgeAsItself && n.equals(judge))).toList();
    for (String name : names.stream().map(String::trim).distinct().toList()) { // named twice: labeled once
      UpstreamConfig u = byName.get(name);
      if (u == null) {
        System.err.println("--upstreams: no upstream '" + name + "' in " + config + " (upstreams: " + byName.keySet() + ")");
        return 2;
      }
      chosen.add(u);
    }
    List<ObjectNode> prompts = readPrompts(input);
    Map<String, String> outcomeIds = outcomeIds(cfg, modelsDir, chosen);
    Map<String, List<String>> byId = new LinkedHashMap<>();
    outcomeIds.forEach((name, id) -> byId.computeIfAbsent(id, k -> new ArrayList<>()).add(name));
    for (var e : byId.entrySet()) {
      if (e.getValue().size() > 1) {
        System.err.println("upstreams " + e.getValue() + " would all write outcomes under '" + e.getKey()
            + "': set router_model on all but one, or choose one with --upstreams");
        return 2;
      }
    }

    // What an earlier run wrote: a prompt is done when it has every chosen upstream's outcome; one
    // that lacks some (an answer or a rating failed) asks only those again, and its line is completed.
    Map<String, ObjectNode> written0 = writtenLines(output);
    Map<String, String> moved = moveEarlierIds(output, written0, chosen, all, outcomeIds);
    String secondKey = secondKey(output, written0, chosen, outcomeIds(cfg, modelsDir, all, false), cfg);
    if (secondKey != null) {
      System.err.println(secondKey);
      return 2;
    }
    List<ObjectNode> pending = prompts.stream().filter(p -> {
      ObjectNode line = written0.get(p.get("id").asText());
      return line == null || !outcomeIds.values().stream().allMatch(line.path("outcomes")::has);
    }).toList();
    int pendingBeforeLimit = pending.size();
    if (maxPromptChars > 0) {
      // a pasted log or file of megabytes costs every upstream and the judge as much again, in dollars
      List<String> tooLong = pending.stream().filter(p -> p.get("prompt").asText().length() > maxPromptChars)
          .map(p -> p.get("id").asText()).toList();
      if (!tooLong.isEmpty()) {
        System.err.println("left out: " + tooLong.size() + " prompt(s) longer than --max-prompt-chars " + maxPromptChars
            + " (" + String.join(", ", tooLong.subList(0, Math.min(5, tooLong.size())))
            + (tooLong.size() > 5 ? ", ..." : "") + ")");
        pending = pending.stream().filter(p -> p.get("prompt").asText().length() <= maxPromptChars).toList();
      }
    }
    List<ObjectNode> todo = pending;
    long done = prompts.size() - pendingBeforeLimit; // in the output already: not those left out as too long
    long toComplete = todo.stream().filter(p -> written0.containsKey(p.get("id").asText())).count();
    long calls = todo.stream().mapToLong(p -> missing(written0.get(p.get("id").asText()), outcomeIds.values())).sum();

    unrated = UnratedAnswers.open(output, written0, moved);
    OkHttpClient http = HttpClients.shared(cfg.client());
    List<UpstreamConfig> called = new ArrayList<>(chosen);
    called.add(judgeUpstream);
    IdleTimeouts timeouts = IdleTimeouts.forTimeouts(called.stream().map(UpstreamConfig::timeout)
        .toArray(java.time.Duration[]::new));
    try {
      List<Labeled> labeled = new ArrayList<>();
      for (UpstreamConfig u : chosen) {
        labeled.add(new Labeled(u, new UpstreamClient(u, http, timeouts, UpstreamListener.NONE),
            outcomeIds.get(u.name()), new Tally()));
      }
      UpstreamClient judgeClient = new UpstreamClient(judgeUpstream, http, timeouts, UpstreamListener.NONE);
      Tally judgeTally = new Tally();
      String judgeAs = judgeModel != null ? judgeModel : judgeUpstream.model();
      System.err.printf(Locale.ROOT, "labeling %d prompts (%d already in %s%s) with %s, judged by %s (%s): up to %d calls%s%n",
          todo.size(), done, output,
          toComplete > 0 ? "; " + toComplete + " more there lack some outcomes, asked only for those" : "",
          String.join(", ", labeled.stream().map(l -> l.config().name() + " as " + l.modelId()).toList()),
          judgeUpstream.name(), judgeAs, 2L * calls,
          unrated.size() > 0 ? "; " + unrated.size() + " answers an earlier run bought and the judge did not rate ("
              + UnratedAnswers.fileFor(output).getFileName() + ") go to the judge again, not bought again" : "");
      AtomicLong written = new AtomicLong();
      AtomicLong empty = new AtomicLong();
      java.util.concurrent.atomic.AtomicReference<Exception> failed = new java.util.concurrent.atomic.AtomicReference<>();
      Files.createDirectories(output.toAbsolutePath().getParent());
      boolean judgePriced = judgeAs.equals(judgeUpstream.model());
      // Ctrl-C: what was paid for is in the output already; say what it was and how to go on
      java.util.concurrent.atomic.AtomicReference<BufferedWriter> writer = new java.util.concurrent.atomic.AtomicReference<>();
      Thread onInterrupt = new Thread(() -> {
        writeInFlight(writer.get(), written);
        System.err.println(); // off the progress bar's line
        System.out.println("INTERRUPTED: every prompt labeled so far is in " + output
            + "; run the same command again to go on from there");
        report(labeled, judgeUpstream, judgePriced, judgeTally, written.get(), empty.get());
      }, "label-interrupted");
      java.util.concurrent.atomic.AtomicBoolean interrupted = new java.util.concurrent.atomic.AtomicBoolean();
      Runtime.getRuntime().addShutdownHook(onInterrupt);
      try (BufferedWriter out = Files.newBufferedWriter(output, StandardCharsets.UTF_8, StandardOpenOption.CREATE,
          StandardOpenOption.APPEND);
          ProgressBar pb = io.routewise.data.TrainingSet.progressBar("label", todo.size(), !quiet);
          ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
        writer.set(out);
        Semaphore slots = new Semaphore(concurrency);
        for (ObjectNode prompt : todo) {
          slots.acquire(); // here, not in the task: at most --concurrency prompts in flight, none parked
          if (failed.get() != null || stopped != null) {
            slots.release();
            break; // nothing more is paid for once a write failed or a key, URL or model is wrong
          }
          pool.submit(() -> {
            try {
              ObjectNode before = written0.get(prompt.get("id").asText());
              ObjectNode line = label(prompt, labeled, judgeClient, judgeAs, judgeTally, before);
              if (line.get("outcomes").size() == (before == null ? 0 : before.path("outcomes").size())) {
                empty.incrementAndGet();
              } else {
                synchronized (out) {
                  out.write(PromptFiles.jsonLine(JSON, line));
                  out.newLine();
                  out.flush(); // a line paid for is kept, whatever happens to the run
                  building.remove(prompt.get("id").asText()); // written: not Ctrl-C's to write again
                }
                unrated.written(line); // only once its outcomes are on disk
                written.incrementAndGet();
              }
            } catch (Exception e) {
              failed.compareAndSet(null, e);
            } finally {
              building.remove(prompt.get("id").asText());
              slots.release();
              pb.step();
            }
          });
        }
      } finally {
        try {
          Runtime.getRuntime().removeShutdownHook(onInterrupt);
        } catch (IllegalStateException shuttingDown) {
          interrupted.set(true); // the hook reports; nothing more is written
        }
        if (!interrupted.get() && toComplete > 0) {
          try {
            compact(output); // one line per prompt again: the completed lines replace the earlier ones
          } catch (IOException e) {
            // nothing is lost: the lines are all there, and train and the next run merge lines of one id
            System.err.println(output + ": not compacted (" + e.getMessage() + "); its completed prompts are on lines "
                + "of their own, which train and the next run merge");
          }
        }
        try {
          // interrupted: its lines stay as written, the next run reads them
          unrated.close(!interrupted.get(), prompts.stream().collect(java.util.stream.Collectors.toMap(
              p -> p.get("id").asText(), p -> p.get("prompt").asText())));
        } catch (IOException e) {
          System.err.println(UnratedAnswers.fileFor(output) + ": not rewritten (" + e.getMessage() + ")");
        }
        if (!interrupted.get()) {
          report(labeled, judgeUpstream, judgePriced, judgeTally, written.get(), empty.get());
        }
      }
      if (interrupted.get()) {
        return 130;
      }
      if (failed.get() != null) {
        // the output could not be written (disk full, say): one clear line, as for any unreadable file
        throw failed.get() instanceof IOException io ? io : new IllegalStateException(failed.get());
      }
      if (stopped != null) {
        System.out.println("STOPPED: " + stopped + "; fix the config and run again (what was written is kept)");
        return 1;
      }
      // an upstream that had prompts to answer (not one whose outcomes were all there) and got no outcome
      List<String> none = labeled.stream().filter(l -> l.tally().judged.get() == 0 && todo.stream().anyMatch(
          p -> missing(written0.get(p.get("id").asText()), List.of(l.modelId())) > 0)).map(l -> l.config().name()).toList();
      if (!none.isEmpty()) {
        System.out.println("ERROR: no outcome at all for " + none + " (the warnings above say why); once fixed, the "
            + "same command again asks only for what is missing");
        return 1;
      }
      long incomplete = labeled.stream().mapToLong(l -> l.tally().failed.get()).sum() + judgeTally.failed.get();
      if (incomplete > 0) {
        // a script must know the file is not finished; its own status, since some failures (a prompt too long for
        // a model, a judge that gives no rating) come back on every rerun, and a loop until 0 would pay for ever
        System.out.println("INCOMPLETE: some outcomes are missing (the warnings above); run the same command again "
            + "to ask only for those" + (unrated.size() > 0 ? " (the " + unrated.size() + " answers the judge did not rate are "
            + "kept in " + UnratedAnswers.fileFor(output) + ": they go to the judge again, not bought again)" : ""));
        return 3;
      }
      return 0;
    } finally {
      timeouts.close();
      HttpClients.shutdown(http);
    }
  }

  /** Every labeled upstream answers the prompt, the judge rates each answer: its outcomes line. */
  private ObjectNode label(ObjectNode prompt, List<Labeled> labeled, UpstreamClient judgeClient, String judgeAs,
      Tally judgeTally, ObjectNode before) throws InterruptedException, IOException {
    ObjectNode line = JSON.createObjectNode();
    line.set("id", prompt.get("id"));
    if (prompt.hasNonNull("source")) {
      line.set("source", prompt.get("source"));
    }
    line.set("prompt", prompt.get("prompt"));
    ObjectNode outcomes = line.putObject("outcomes");
    if (before != null && before.path("outcomes") instanceof ObjectNode earlier) {
      outcomes.setAll(earlier);
    }
    // the worker takes it out once the line is written: a Ctrl-C before that writes it
    building.put(prompt.get("id").asText(), new InFlight(line, before == null ? 0 : before.path("outcomes").size()));
    return label(prompt, line, outcomes, labeled, judgeClient, judgeAs, judgeTally);
  }

  /**
   * Lines being labeled now, with how many outcomes they had before this run: what Ctrl-C writes of
   * them ({@link #writeInFlight}), so outcomes rated before it are not bought again.
   */
  private final Map<String, InFlight> building = new java.util.concurrent.ConcurrentHashMap<>();

  /** A line being labeled (by prompt id in {@link #building}), and how many outcomes it had before this run. */
  private record InFlight(ObjectNode line, int before) {}

  private ObjectNode label(ObjectNode prompt, ObjectNode line, ObjectNode outcomes, List<Labeled> labeled,
      UpstreamClient judgeClient, String judgeAs, Tally judgeTally) throws InterruptedException, IOException {
    String question = prompt.get("prompt").asText();
    String reference = prompt.hasNonNull("reference") && !prompt.get("reference").asText().isBlank()
        ? prompt.get("reference").asText() : null; // a blank one (a missing answer) is none, not one to disagree with
    for (Labeled l : labeled) {
      if (stopped != null) {
        break; // nothing more is bought
      }
      if (outcomes.has(l.modelId())) {
        continue; // paid for in an earlier run
      }
      ObjectNode ask = JSON.createObjectNode().put("model", l.config().model()).put("max_tokens", maxTokens);
      ask.putArray("messages").addObject().put("role", "user").put("content", question);
      String id = prompt.get("id").asText();
      String kept = unrated.answer(id, l.modelId(), l.config().model(), question);
      Optional<String> answer = kept != null ? Optional.of(kept) : chat(l.client(), ask, l.tally());
      if (answer.isEmpty()) {
        continue;
      }
      if (kept == null) {
        // kept until its rating is written: a Ctrl-C while the judge reads it loses no answer paid for
        try {
          unrated.keep(id, l.modelId(), l.config().model(), question, answer.get());
        } catch (IOException e) {
          // not kept (a full disk, say): rated all the same; only a Ctrl-C now would lose it
        }
      }
      ObjectNode grade = JSON.createObjectNode().put("model", judgeAs).put("temperature", 0).put("max_tokens", 1024);
      var messages = grade.putArray("messages");
      messages.addObject().put("role", "system").put("content", JUDGE_SYSTEM);
      messages.addObject().put("role", "user").put("content", judgeMessage(question, reference, answer.get()));
      Optional<String> verdict = chat(judgeClient, grade, judgeTally);
      Optional<Double> rating = verdict.flatMap(LabelCommand::rating);
      if (rating.isEmpty()) { // kept above: paid for, rated next run, not bought again
        if (verdict.isPresent()) { // an unreachable judge is counted by chat
          judgeTally.fail("no rating [[1..10]] in the judge's reply to an answer of " + l.config().name());
        }
        if (judgeTally.judged.get() == 0 && judgeTally.failed.get() >= JUDGE_TRIES && stopped == null) {
          // the answers are paid for and thrown away while the judge gives nothing: stop buying them
          stopped = "the judge gave no rating in its first " + JUDGE_TRIES + " tries (first: " + judgeTally.firstFailure
              + "); the answers it could not rate are kept in " + UnratedAnswers.fileFor(output).getFileName()
              + " and go to the judge again on the next run";
        }
        if (stopped != null) {
          break;
        }
        continue;
      }
      judgeTally.judged.incrementAndGet();
      double score = (rating.get() - 1) / 9;
      synchronized (line) { // Ctrl-C may be writing it
        outcomes.put(l.modelId(), score);
      }
      l.tally().judged.incrementAndGet();
      l.tally().scores.add(score);
    }
    return line;
  }

  /**
   * On Ctrl-C: each prompt being labeled that has a new outcome is written as it stands (the next run
   * asks only for the rest, and merges the line with a later one of the same id).
   */
  private void writeInFlight(BufferedWriter out, AtomicLong written) {
    if (out == null) {
      return;
    }
    for (InFlight f : building.values()) {
      ObjectNode copy;
      synchronized (f.line()) {
        copy = f.line().deepCopy();
      }
      if (copy.path("outcomes").size() > f.before()) {
        try {
          synchronized (out) {
            out.write(PromptFiles.jsonLine(JSON, copy));
            out.newLine();
            out.flush();
          }
          written.incrementAndGet();
        } catch (IOException ignored) {
          // the answers are in the .unrated file: rated, not bought, on the next run
        }
      }
    }
  }

  static String judgeMessage(String question, String reference, String answer) {
    return "[Question]\n" + question + "\n\n" + (reference == null ? "" : "[Reference answer]\n" + reference + "\n\n")
        + "[The assistant's answer]\n" + answer;
  }

  /** The judge's rating, 1 to 10: the last {@code [[N]]} in its reply; empty when there is none in range. */
  static Optional<Double> rating(String reply) {
    Matcher m = RATING.matcher(reply);
    Double last = null;
    while (m.find()) {
      last = Double.parseDouble(m.group(1));
    }
    return last != null && last >= 1 && last <= 10 ? Optional.of(last) : Optional.empty();
  }

  /**
   * One non-streamed chat completion: the answer's text, or empty (the failure counted in {@code
   * tally}). A 429, a 5xx, a timeout or an unreachable upstream is tried again, up to {@code --retries} times,
   * after the wait its {@code retry-after-ms} or {@code Retry-After} (seconds or a date) asks (at most 60 s)
   * or 1 s, 2 s, 4 s...: a long labeling run should not lose answers to a rate limit.
   */
  private Optional<String> chat(UpstreamClient client, ObjectNode body, Tally tally) throws InterruptedException {
    tally.calls.incrementAndGet();
    // by upstream and model: a judge asked as another model than the upstream's refuses on its own account
    Set<String> refused = refusedParameters.computeIfAbsent(client.name() + "\u0000" + body.path("model").asText(),
        k -> ConcurrentHashMap.newKeySet());
    Set<String> sentWithout = Set.copyOf(refused); // what this request left out: others may learn more meanwhile
    byte[] request = requestBytes(body, sentWithout);
    for (int attempt = 0; ; attempt++) {
      String failure;
      long waitMs = 1000L << Math.min(attempt, 6);
      boolean unreachable = false;
      try (UpstreamResponse r = client.send(request, false)) {
        answered.add(client.name());
        unreachableInARow.remove(client.name());
        byte[] bytes = r.bodyBytes(io.routewise.config.ServerConfig.DEFAULT_MAX_RESPONSE_BYTES);
        if (r.status() == 200) {
          JsonNode reply = JSON.readTree(bytes);
          // read and priced as serve reads them (cache hits and writes, reasoning beside the completion)
          io.routewise.upstream.Usage.fromJson(bytes).ifPresent(u -> {
            tally.inputTokens.addAndGet(u.prompt());
            tally.outputTokens.addAndGet(u.completion());
            if (client.config().price() != null) {
              tally.spent.add(u.cost(client.config().price()));
            }
          });
          JsonNode content = reply.path("choices").path(0).path("message").path("content");
          if (!content.isTextual() || content.asText().isBlank()) {
            tally.fail("no text in " + client.name() + "'s answer");
            return Optional.empty();
          }
          return Optional.of(content.asText());
        }
        failure = "HTTP " + r.status() + " from " + client.name();
        String param = r.status() == 400 ? refusedParameter(bytes) : null;
        if (param != null && body.has(param) && !sentWithout.contains(param)) {
          // a reasoning model (o1, o3...) refuses max_tokens and temperature: asked again as it wants, and
          // every later call to this upstream too; not a retry. Each call that sent the parameter (several
          // in flight when the first refusal came) asks again; each parameter once per call, so no loop.
          if (refused.add(param)) {
            System.err.println(client.name() + " refuses '" + param + "': asking it "
                + (param.equals("max_tokens") ? "with max_completion_tokens" : "without it") + " from now on");
          }
          sentWithout = Set.copyOf(refused);
          request = requestBytes(body, sentWithout);
          attempt--;
          continue;
        }
        if (r.status() != 429 && r.status() < 500) {
          tally.fail(failure);
          if (r.status() == 401 || r.status() == 403 || r.status() == 404) {
            stopped = failure; // every other call would fail alike, and cost the rest of the prompt's calls
          }
          return Optional.empty();
        }
        waitMs = io.routewise.upstream.RetryAfter.millis(r.header("retry-after-ms"), r.header("Retry-After"), waitMs);
      } catch (UpstreamException e) {
        failure = e.getMessage();
        unreachable = !e.reachedUpstream();
      } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
        tally.fail(client.name() + "'s answer is not JSON: " + e.getOriginalMessage());
        return Optional.empty();
      } catch (IOException e) {
        failure = client.name() + "'s answer could not be read: " + e.getMessage(); // a reset mid-body: try again
      }
      if (attempt >= retries) {
        tally.fail(failure + (attempt > 0 ? " (" + (attempt + 1) + " tries)" : ""));
        if (unreachable && !answered.contains(client.name())) {
          // a wrong host or port: every prompt's calls would wait out their retries alike, for minutes
          stopped = client.name() + " could not be reached in " + (attempt + 1) + " tries and never answered: " + failure;
        } else if (unreachable && unreachableInARow.merge(client.name(), 1, Integer::sum) >= UNREACHABLE_IN_A_ROW) {
          stopped = client.name() + " could not be reached by the last " + UNREACHABLE_IN_A_ROW + " calls, each through "
              + (attempt + 1) + " tries: " + failure;
        }
        return Optional.empty();
      }
      Thread.sleep(waitMs);
    }
  }

  /** Upstreams that answered at least once (any HTTP status): one that never has and cannot be reached stops the run. */
  private final Set<String> answered = ConcurrentHashMap.newKeySet();

  /** Upstream name -> its calls in a row that could not reach it, since it last answered ({@link #UNREACHABLE_IN_A_ROW}). */
  private final Map<String, Integer> unreachableInARow = new ConcurrentHashMap<>();

  /** Upstream name and model -> the request parameters it answered 400 to as unsupported (see {@link #refusedParameter}). */
  private final Map<String, Set<String>> refusedParameters = new ConcurrentHashMap<>();

  /** The body as sent to an upstream that refuses some parameters: max_tokens renamed, temperature left out. */
  static byte[] requestBytes(ObjectNode body, Set<String> refused) {
    ObjectNode sent = body;
    if (!refused.isEmpty()) {
      sent = body.deepCopy();
      if (refused.contains("max_tokens") && sent.has("max_tokens")) {
        sent.set("max_completion_tokens", sent.remove("max_tokens"));
      }
      if (refused.contains("temperature")) {
        sent.remove("temperature");
      }
    }
    try {
      return JSON.writeValueAsBytes(sent);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * The parameter a 400 says the model does not support, when it is one label can do without
   * ({@code max_tokens}: reasoning models take {@code max_completion_tokens}; {@code temperature}:
   * they take only the default); null otherwise. OpenAI names it in {@code error.param}.
   */
  static String refusedParameter(byte[] errorBody) {
    JsonNode error;
    try {
      error = JSON.readTree(errorBody).path("error");
    } catch (IOException e) {
      return null;
    }
    String param = error.path("param").asText("");
    String message = error.path("message").asText("");
    String code = error.path("code").asText("");
    // only "not supported": a 400 that names max_tokens for being too large is the caller's to fix, and
    // renaming it would lift the cap on providers that ignore max_completion_tokens
    boolean unsupported = code.startsWith("unsupported_") || message.contains("not supported")
        || message.contains("does not support") || message.contains("Unsupported") || message.contains("unsupported");
    for (String p : List.of("max_tokens", "temperature")) {
      if (unsupported && (param.equals(p) || (param.isEmpty() && message.contains("'" + p + "'")))) {
        return p;
      }
    }
    return null;
  }

  /**
   * The id each upstream's outcomes are written under, so that {@code train mf} joins them to what the
   * shipped data knows of the model: for strong and weak, {@code routers.mf}'s {@code
   * strong_model}/{@code weak_model}; else its {@code router_model}; else the trained id serve places its {@code model} on
   * ({@link ModelDir#trainedId}); else the model itself, a new model to mf (never the manifest's
   * default, which serve falls back on: another model's row is no place for these).
   */
  static Map<String, String> outcomeIds(RoutewiseConfig cfg, Path modelsDir, List<UpstreamConfig> upstreams) {
    return outcomeIds(cfg, modelsDir, upstreams, true);
  }

  /** As {@link #outcomeIds(RoutewiseConfig, Path, List)}; {@code say}: print how each id was found (label does). */
  static Map<String, String> outcomeIds(RoutewiseConfig cfg, Path modelsDir, List<UpstreamConfig> upstreams, boolean say) {
    io.routewise.config.ConfigNode settings = mfSettings(cfg);
    ModelDir mf = null;
    try {
      Path dir = modelsDir != null ? modelsDir.resolve("mf")
          : Path.of(settings.string("model_dir", cfg.modelsDir().resolve("mf").toString()));
      mf = ModelDir.open(dir, "mf");
    } catch (IOException e) {
      if (say) {
        System.err.println("no mf to join the outcomes to (" + e.getMessage() + "): outcomes go under each upstream's"
            + " router_model or model; for train mf --from, give --models-dir (or routers.mf.model_dir) the mf to adapt");
      }
    }
    Map<String, String> ids = new LinkedHashMap<>();
    for (UpstreamConfig u : upstreams) {
      String id = settingId(settings, u);
      if (id == null && mf != null) {
        try {
          id = mf.trainedId(u.model()).orElse(null);
        } catch (IOException e) {
          id = null;
        }
        if (say && id == null) {
          System.err.println("upstreams." + u.name() + ": '" + u.model() + "' is not a model mf was trained on; its "
              + "outcomes go under that id, a new model to train (set router_model to join a trained one)");
        } else if (say && !id.equals(u.model())) {
          System.err.println("upstreams." + u.name() + ": '" + u.model() + "' is written as mf's '" + id
              + "', the model serve routes it as (set router_model to choose another)");
        }
      }
      ids.put(u.name(), id != null ? id : u.model());
    }
    return ids;
  }

  /**
   * The id the config names for an upstream's outcomes: {@code routers.mf}'s {@code
   * strong_model}/{@code weak_model} for strong and weak, else its {@code router_model} (serve's
   * order, ModelDir.upstreamModel); null when none does.
   */
  private static String settingId(io.routewise.config.ConfigNode mfSettings, UpstreamConfig u) {
    String setting = u.name().equals("strong") ? mfSettings.string("strong_model", null)
        : u.name().equals("weak") ? mfSettings.string("weak_model", null) : null;
    return setting != null ? setting : u.routerModel();
  }

  private static io.routewise.config.ConfigNode mfSettings(RoutewiseConfig cfg) {
    return cfg.routers().optionalChild("mf")
        .orElse(io.routewise.config.ConfigNode.empty("routers.mf", new io.routewise.config.ConfigProblems()));
  }

  private static List<ObjectNode> readPrompts(Path file) throws IOException {
    List<ObjectNode> prompts = new ArrayList<>();
    Set<String> ids = new HashSet<>();
    int n = 0;
    String text = io.routewise.data.Utf8Text.read(file);
    text = text.startsWith("\uFEFF") ? text.substring(1) : text; // a byte-order mark, as some editors write UTF-8
    for (String raw : LINE_END.split(text)) { // not lines(): prompts hold U+2028
      n++;
      if (raw.isBlank()) {
        continue;
      }
      JsonNode node;
      try {
        node = LINE.readTree(raw);
      } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
        throw new IOException(file + " line " + n + ": not JSON (" + io.routewise.data.DatasetReader.jsonProblem(e) + ")");
      }
      if (!(node instanceof ObjectNode o) || !o.path("prompt").isTextual() || o.get("prompt").asText().isBlank()) {
        throw new IOException(file + " line " + n + ": needs a non-empty \"prompt\" string");
      }
      if (o.hasNonNull("reference") && !o.get("reference").isValueNode()) {
        // asText() of a list or an object is "": the judge would see an empty reference and rate every answer wrong
        throw new IOException(file + " line " + n + ": \"reference\" must be a string (the correct answer the judge "
            + "compares with), not " + o.get("reference").getNodeType().toString().toLowerCase(Locale.ROOT));
      }
      if (!o.hasNonNull("id")) {
        o.put("id", io.routewise.data.PromptRecord.textId(o.get("prompt").asText()));
      }
      if (!ids.add(o.get("id").asText())) {
        throw new IOException(file + " line " + n + ": id '" + o.get("id").asText() + "' appears twice"
            + (raw.contains("\"id\"") ? "" : " (a prompt without an id is named by its text: the same text twice)"));
      }
      prompts.add(o);
    }
    if (prompts.isEmpty()) {
      throw new IOException(file + ": no prompts");
    }
    return prompts;
  }

  /**
   * The lines an earlier run wrote to {@code output}, by id (two lines of one id, left by a run
   * interrupted while completing a prompt, are merged and the file compacted). A last line cut off by
   * an interrupted run is removed, so that the lines appended now start on a line of their own and
   * train can read the file.
   */
  private static Map<String, ObjectNode> writtenLines(Path output) throws IOException {
    if (!Files.exists(output)) {
      return Map.of();
    }
    String content = io.routewise.data.Utf8Text.read(output);
    if (!content.isEmpty() && !content.endsWith("\n")) {
      String last = content.substring(content.lastIndexOf('\n') + 1);
      boolean whole;
      try {
        whole = LINE.readTree(last) instanceof ObjectNode;
      } catch (IOException e) {
        whole = false;
      }
      content = whole ? content + "\n" : content.substring(0, content.lastIndexOf('\n') + 1);
      replace(output, content); // never truncated in place: a kill mid-write would lose the lines paid for
      if (!whole) {
        System.err.println(output + ": its last line was cut off (an interrupted run); removed, that prompt is labeled again");
      }
    }
    Map<String, ObjectNode> lines = new LinkedHashMap<>();
    boolean merged = false;
    int n = 0;
    for (String raw : content.split("\n")) {
      n++;
      if (raw.isBlank()) {
        continue;
      }
      ObjectNode line;
      try {
        line = LINE.readTree(raw) instanceof ObjectNode o ? o : null;
      } catch (IOException e) {
        throw new IOException(output + ": line " + n + " is not JSON (" + e.getMessage().lines().findFirst().orElse("")
            + "); fix or remove it before labeling more into it");
      }
      if (line == null) {
        throw new IOException(output + ": line " + n + " is not a JSON object; fix or remove it before labeling more "
            + "into it");
      }
      if (!line.hasNonNull("id") && line.path("prompt").isTextual()) {
        // named by its text, as train and every command name it (and this run its input's): not all under ""
        ObjectNode named = LINE.createObjectNode().put("id", io.routewise.data.PromptRecord.textId(line.get("prompt").asText()));
        line.remove("id"); // an "id": null, as the readers take it: else it overwrote the name
        line = named.setAll(line);
      }
      merged |= mergeInto(lines, line);
    }
    if (merged) {
      rewrite(output, lines.values());
    }
    return lines;
  }

  /** Adds a line to lines by id, its outcomes over an earlier line's of the same id; true when it merged. */
  private static boolean mergeInto(Map<String, ObjectNode> lines, ObjectNode line) {
    ObjectNode earlier = lines.get(line.path("id").asText());
    if (earlier == null) {
      lines.put(line.path("id").asText(), line);
      return false;
    }
    if (earlier.path("outcomes") instanceof ObjectNode into && line.path("outcomes") instanceof ObjectNode more) {
      into.setAll(more);
    }
    return true;
  }

  /**
   * Why this run would buy outcomes the output already holds under another key, or null. An upstream
   * whose outcomes go under its own {@code model} (no setting names a key, and no mf placed it: a
   * wrong {@code --models-dir}, or none) while the file holds them under the id that model names
   * there ({@code gpt-4o-2024-05-13} for {@code gpt-4o}, as an earlier run with the mf wrote them)
   * would be asked for every prompt again, and train would read two models. A key another upstream
   * of the config writes is that upstream's, not a second key.
   *
   * @param allIds every upstream of the config to the id its outcomes go under
   */
  static String secondKey(Path output, Map<String, ObjectNode> lines, List<UpstreamConfig> chosen,
      Map<String, String> allIds, RoutewiseConfig cfg) {
    java.util.Set<String> held = new java.util.TreeSet<>();
    lines.values().forEach(l -> l.path("outcomes").fieldNames().forEachRemaining(held::add));
    io.routewise.config.ConfigNode settings = mfSettings(cfg);
    for (UpstreamConfig u : chosen) {
      String id = allIds.get(u.name());
      if (settingId(settings, u) != null || !id.equals(u.model()) || held.contains(id)) {
        continue; // the operator's key, placed by an mf, or already the file's own key
      }
      java.util.Optional<String> there = ModelDir.placeAmong(id, List.copyOf(held), List.of())
          .filter(k -> !allIds.containsValue(k));
      if (there.isPresent()) {
        return output + " holds outcomes under '" + there.get() + "', the id '" + id + "' (upstreams." + u.name()
            + ") names there; this run would write it as '" + id + "' and buy those answers again. Give "
            + "--models-dir the mf that placed it, or set router_model: " + there.get() + " on upstreams." + u.name()
            + " (or write to another --output)";
      }
    }
    return null;
  }

  /**
   * Outcomes an earlier build wrote under an upstream's own model name, where serve now places that
   * name on a trained id ({@code gpt-4o} on gpt-4o-2024-05-13, {@code qwen2.5:7b} on
   * qwen2.5-7b-instruct), moved to that id: not bought again, and joined by {@code train} to the row
   * serve routes with (a line holding both keeps the new one). Not when the old name could be another
   * upstream's in the config (its model or router_model): whose it was cannot be told. The file is
   * rewritten once, through a file moved over it.
   *
   * @return each move as {@code <old id>\u0000<upstream model> -> new id}, for the unrated answers
   *     an earlier build kept under the old id
   */
  private static Map<String, String> moveEarlierIds(Path output, Map<String, ObjectNode> lines,
      List<UpstreamConfig> chosen, List<UpstreamConfig> all, Map<String, String> outcomeIds) throws IOException {
    Map<String, String> renames = new LinkedHashMap<>();
    int moved = 0;
    for (UpstreamConfig u : chosen) {
      String id = outcomeIds.get(u.name());
      // earlier builds wrote the model itself, or router_model before routers.mf's strong_model/weak_model
      for (String earlier : java.util.stream.Stream.of(u.model(), u.routerModel()).filter(java.util.Objects::nonNull)
          .distinct().toList()) {
        if (id.equals(earlier) || outcomeIds.containsValue(earlier)) {
          continue; // the same id, or another chosen upstream's
        }
        long held = lines.values().stream().filter(l -> l.path("outcomes").has(earlier)).count();
        if (held > 0 && all.stream().anyMatch(o -> !o.name().equals(u.name())
            && (o.model().equals(earlier) || earlier.equals(o.routerModel())))) {
          System.err.println(output + ": " + held + " prompt(s) have outcomes under '" + earlier + "', which upstreams."
              + u.name() + " and another upstream of the config may both have written; left there, and "
              + u.name() + "'s are asked for under '" + id + "'");
          continue;
        }
        renames.put(earlier + "\u0000" + u.model(), id);
        int n = 0;
        for (ObjectNode line : lines.values()) {
          if (line.path("outcomes") instanceof ObjectNode o && o.has(earlier)) {
            JsonNode old = o.remove(earlier);
            if (!o.has(id)) {
              o.set(id, old);
            }
            n++;
          }
        }
        if (n > 0) {
          System.err.println(output + ": " + n + " prompt(s) had upstreams." + u.name() + "'s outcomes under '" + earlier
              + "' (an earlier routewise's id); moved to '" + id + "', the model serve routes it as");
          moved += n;
        }
      }
    }
    if (moved > 0) {
      rewrite(output, lines.values());
    }
    return renames;
  }

  /** Rewrites output with one line per id (in the order first written), through a file moved over it. */
  static void compact(Path output) throws IOException {
    writtenLines(output);
  }

  private static void rewrite(Path output, java.util.Collection<ObjectNode> lines) throws IOException {
    StringBuilder content = new StringBuilder();
    for (ObjectNode line : lines) {
      content.append(PromptFiles.jsonLine(JSON, line)).append('\n');
    }
    replace(output, content.toString());
  }

  /** Replaces output's content through a synced file moved over it: the old content or the new, whatever happens. */
  private static void replace(Path output, String content) throws IOException {
    Path next = output.resolveSibling(output.getFileName() + ".compacting");
    try {
      try (var ch = java.nio.channels.FileChannel.open(next, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
          StandardOpenOption.TRUNCATE_EXISTING)) {
        var bytes = java.nio.ByteBuffer.wrap(content.getBytes(StandardCharsets.UTF_8));
        while (bytes.hasRemaining()) {
          ch.write(bytes);
        }
        ch.force(true);
      }
      Files.move(next, output, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    } finally {
      Files.deleteIfExists(next);
    }
  }

  /** How many of the chosen outcome ids a written line (null: none) lacks. */
  private static long missing(ObjectNode line, java.util.Collection<String> ids) {
    return line == null ? ids.size() : ids.stream().filter(id -> !line.path("outcomes").has(id)).count();
  }

  /** @param judgePriced whether the judge was asked as the upstream's own model, the one its price is for */
  private static void report(List<Labeled> labeled, UpstreamConfig judge, boolean judgePriced, Tally judgeTally,
      long written, long empty) {
    System.out.printf(Locale.ROOT, "%d prompts labeled%s%n", written,
        empty > 0 ? "; " + empty + " got no new outcome (every answer or rating asked for failed; what an earlier run"
            + " wrote for them stays)" : "");
    System.out.printf(Locale.ROOT, "%-12s %-32s %8s %8s %8s %10s %10s %10s%n", "upstream", "outcome id", "calls",
        "judged", "mean", "tokens in", "tokens out", "USD");
    double total = 0;
    for (Labeled l : labeled) {
      Tally t = l.tally();
      double usd = t.usd(l.config());
      total += Double.isNaN(usd) ? 0 : usd;
      System.out.printf(Locale.ROOT, "%-12s %-32s %8d %8d %8s %10d %10d %10s%n", l.config().name(), l.modelId(),
          t.calls.get(), t.judged.get(), t.judged.get() == 0 ? "-" : String.format(Locale.ROOT, "%.3f",
              t.scores.sum() / t.judged.get()), t.inputTokens.get(), t.outputTokens.get(), money(usd));
    }
    double judgeUsd = judgePriced ? judgeTally.usd(judge) : Double.NaN;
    total += Double.isNaN(judgeUsd) ? 0 : judgeUsd;
    System.out.printf(Locale.ROOT, "%-12s %-32s %8d %8s %8s %10d %10d %10s%n", "judge", judge.name(),
        judgeTally.calls.get(), "", "", judgeTally.inputTokens.get(), judgeTally.outputTokens.get(), money(judgeUsd));
    System.out.printf(Locale.ROOT, "spent: %s USD (upstreams without a price not counted%s)%n", money(total),
        judgePriced ? "" : "; nor the judge: --judge-model is not the model its price is for");
    for (Labeled l : labeled) {
      if (l.tally().failed.get() > 0) {
        System.out.printf(Locale.ROOT, "WARNING: %s failed %d of %d answers (first: %s)%n", l.config().name(),
            l.tally().failed.get(), l.tally().calls.get(), l.tally().firstFailure);
      }
    }
    if (judgeTally.failed.get() > 0) {
      System.out.printf(Locale.ROOT, "WARNING: the judge failed %d of %d ratings (first: %s)%n", judgeTally.failed.get(),
          judgeTally.calls.get(), judgeTally.firstFailure);
    }
  }

  private static String money(double usd) {
    return Double.isNaN(usd) ? "no price" : String.format(Locale.ROOT, "%.4f", usd);
  }
}
