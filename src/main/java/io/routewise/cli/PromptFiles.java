package io.routewise.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.routewise.data.DatasetReader;
import io.routewise.data.PromptRecord;
import io.routewise.embedding.WordPieceTokenizer;
import io.routewise.routing.Ladder;
import io.routewise.routing.Prompt;
import io.routewise.routing.Router;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import me.tongfei.progressbar.ProgressBar;

/** Reading prompt files and scoring them with a router, shared by score, calibrate and eval. */
final class PromptFiles {
  static final ObjectMapper JSON = new ObjectMapper();

  private PromptFiles() {}

  /**
   * {@code value} as one JSON line for a UTF-8 file. A lone surrogate (an id or prompt read from a
   * JSON escape of half a surrogate pair) cannot be encoded as UTF-8: written as it came, as that escape, instead of
   * failing the write halfway through a line.
   */
  static String jsonLine(ObjectMapper mapper, Object value) throws IOException {
    String json = mapper.writeValueAsString(value);
    StringBuilder out = null;
    for (int i = 0; i < json.length(); i++) {
      char c = json.charAt(i);
      boolean lone = Character.isHighSurrogate(c)
          ? i + 1 >= json.length() || !Character.isLowSurrogate(json.charAt(i + 1))
          : Character.isLowSurrogate(c) && (i == 0 || !Character.isHighSurrogate(json.charAt(i - 1)));
      if (lone && out == null) {
        out = new StringBuilder(json.length() + 16).append(json, 0, i);
      }
      if (out != null) {
        if (lone) {
          out.append(String.format("\\u%04x", (int) c)); // only inside a string: JSON's own escape
        } else {
          out.append(c);
        }
      }
    }
    return out == null ? json : out.toString();
  }

  static List<PromptRecord> read(Path file) throws IOException {
    List<PromptRecord> r = DatasetReader.readPrompts(file);
    if (r.isEmpty()) {
      throw new IOException(file + ": no prompts");
    }
    return r;
  }

  /** USD per prompt per rung, and the prompts' mean input tokens. */
  record Costs(double[][] usd, double meanInputTokens) {}

  /**
   * What each prompt costs on each rung of {@code ladder}, as {@code eval --prices} and
   * {@code calibrate} state it: its input tokens ({@code tokenizer}'s count, with [CLS] and [SEP]) times
   * the input price, plus {@code outputTokens} (assumed, every model) times the output price.
   */
  static Costs costs(List<PromptRecord> prompts, Ladder ladder, WordPieceTokenizer tokenizer, int outputTokens) {
    int n = prompts.size();
    double[][] usd = new double[n][ladder.size()];
    double inputTokens = 0;
    for (int p = 0; p < n; p++) {
      int in = tokenizer.count(prompts.get(p).prompt()) + 2;
      inputTokens += in;
      for (int r = 0; r < ladder.size(); r++) {
        Ladder.Rung rung = ladder.rung(r);
        usd[p][r] = (in * rung.inputPrice() + (double) outputTokens * rung.outputPrice()) / 1e6;
      }
    }
    return new Costs(usd, inputTokens / n);
  }

  /**
   * Prompts the router failed on ({@link io.routewise.routing.RouterException}: a judge down, a
   * timeout). serve sends each such request to the top and counts it, so the commands do the same (or,
   * for score, write no score) and say how many, instead of stopping at the first; only when every
   * prompt failed is there nothing to work on.
   */
  static final class Failures {
    private final Object input;
    private final String router;
    private int count;
    private int textless; // no_text: not the router's failure, and nothing to fix
    private int firstPrompt = Integer.MAX_VALUE;
    private String first;

    Failures(Object input, String router) {
      this.input = input;
      this.router = router;
    }

    void add(int prompt, io.routewise.routing.RouterException e) {
      if ("no_text".equals(e.kind())) {
        textless++;
        return;
      }
      count++;
      if (prompt < firstPrompt) { // the lowest, whichever failed first when a judge's calls overlap
        firstPrompt = prompt;
        first = "prompt " + (prompt + 1) + ": " + e.kind() + ": " + e.getMessage();
      }
    }

    /**
     * ", including K the router failed on and T without text", for a count of prompts sent to the top
     * that holds them (serve sends both there); empty when there are none.
     */
    String including() {
      List<String> parts = new java.util.ArrayList<>();
      if (count > 0) {
        parts.add(count + " the router failed on");
      }
      if (textless > 0) {
        parts.add(textless + " without text");
      }
      return parts.isEmpty() ? "" : ", including " + String.join(" and ", parts);
    }

    /** A scorer that counts the failure and scores the prompt {@code as}. */
    OnFailure scoring(double as) {
      return (p, e) -> {
        add(p, e);
        return as;
      };
    }

    /**
     * Says what failed on stderr ({@code as}: what became of those prompts); false when every one of
     * the {@code n} prompts did.
     */
    boolean report(int n, String as) {
      boolean nothingLeft = count + textless == n; // then nothing is done with them either: say so, not `as`
      if (textless > 0) {
        System.err.printf(java.util.Locale.ROOT, "%s: %d of %d prompts have no text to score (white space or invisible "
            + "characters only)%s%n", input, textless, n, nothingLeft ? "" : "; " + as + ", unscored");
      }
      if (textless == n) {
        System.err.println("nothing to work on: no prompt has text");
        return false;
      }
      if (count == 0) {
        return true;
      }
      System.err.printf(java.util.Locale.ROOT, "%s%s: %s failed on %d of %d prompts (first, %s)%s%n",
          count * 10 >= n ? "WARNING: " : "", input, router, count, n, first, nothingLeft ? "" : "; " + as);
      if (count * 10 >= n && !nothingLeft) {
        System.err.println("WARNING: with so many failures the figures below say more about the failures than"
            + " about the router; fix its endpoint and run again");
      }
      if (count + textless == n) {
        System.err.println("nothing to work on: the router failed on every prompt that has text");
        return false;
      }
      return true;
    }
  }

  /** What to score a prompt the router failed on, instead of stopping the command. */
  @FunctionalInterface
  interface OnFailure {
    double score(int prompt, io.routewise.routing.RouterException e) throws io.routewise.routing.RouterException;
  }

  /** Scores every prompt (in order) with a progress bar on stderr. A router failure stops the command. */
  static double[] score(Router router, String label, List<PromptRecord> prompts, boolean progress) throws Exception {
    return score(router, label, prompts, progress, (p, e) -> {
      throw e;
    });
  }

  /** As {@link #score(Router, String, List, boolean)}, a prompt the router fails on scored by {@code onFailure}. */
  static double[] score(Router router, String label, List<PromptRecord> prompts, boolean progress,
      OnFailure onFailure) throws Exception {
    double[] out = new double[prompts.size()];
    each(router, "score " + label, prompts.size(), progress, i -> {
      try {
        out[i] = io.routewise.routing.RoutingService.checked(router.strongWinRate(scorable(prompts.get(i))));
      } catch (io.routewise.routing.RouterException e) {
        synchronized (onFailure) { // counted from several threads when a judge's calls overlap
          out[i] = onFailure.score(i, e);
        }
      }
    });
    return out;
  }

  /**
   * The prompt a router is asked about, as serve asks it: one without text ({@link Prompt#hasText})
   * is not scored but fails as {@code no_text}, which the commands count as serve routes it.
   */
  static Prompt scorable(PromptRecord record) throws io.routewise.routing.RouterException {
    Prompt p = Prompt.of(record.prompt());
    if (!p.hasText()) {
      throw Prompt.noText();
    }
    return p;
  }

  /** One prompt's work, by its index. */
  @FunctionalInterface
  interface PerPrompt {
    void run(int prompt) throws Exception;
  }

  /**
   * Runs {@code work} for prompts 0 to n - 1 with a progress bar: one after another, or, for a judge
   * over HTTP, several at once as serve's calls overlap (a round trip after another took minutes for a
   * few hundred prompts); {@code work} writes its own index's slot, so results stay in order.
   */
  static void each(Router router, String label, int n, boolean progress, PerPrompt work) throws Exception {
    try (ProgressBar pb = io.routewise.data.TrainingSet.progressBar(label, n, progress)) {
      int parallel = parallelism(router);
      if (parallel <= 1) {
        for (int i = 0; i < n; i++) {
          work.run(i);
          pb.step();
        }
        return;
      }
      java.util.concurrent.Semaphore slots = new java.util.concurrent.Semaphore(parallel);
      List<java.util.concurrent.Future<?>> calls = new java.util.ArrayList<>();
      try (var threads = java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor()) {
        for (int i = 0; i < n; i++) {
          int q = i;
          slots.acquire();
          calls.add(threads.submit(() -> {
            try {
              work.run(q);
            } finally {
              slots.release();
              pb.step();
            }
            return null;
          }));
        }
        for (var call : calls) {
          try {
            call.get();
          } catch (java.util.concurrent.ExecutionException e) {
            throw e.getCause() instanceof Exception cause ? cause : e;
          }
        }
      }
    }
  }

  /** Judge calls at once when scoring a file: the judge's own max_concurrency, at most this many. */
  static final int JUDGE_CALLS_AT_ONCE = 8;

  private static int parallelism(Router router) {
    return router instanceof io.routewise.routers.causal.CausalLlmRouter judge
        ? Math.min(JUDGE_CALLS_AT_ONCE, judge.settings().maxConcurrency()) : 1;
  }
}
