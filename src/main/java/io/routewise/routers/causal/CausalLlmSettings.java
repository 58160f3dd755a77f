package io.routewise.routers.causal;

import io.routewise.config.ConfigNode;
import io.routewise.config.Secret;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;

/**
 * The {@code routers.causal_llm} settings.
 *
 * @param baseUrl the judge's OpenAI-compatible API root, e.g. {@code http://localhost:8000/v1}
 * @param apiKey sent as a bearer token unless blank or {@code none}
 * @param model the judge model name sent in each request
 * @param timeout the whole budget of one decision: waiting for a slot plus the HTTP call
 * @param maxConcurrency the most judge calls in flight at once
 * @param topLogprobs how many alternatives per token the judge is asked for
 * @param template the prompt pair
 * @param cooldown how long a judge that failed several calls in a row is not asked (zero: always asked)
 */
public record CausalLlmSettings(
    URI baseUrl, Secret apiKey, String model, Duration timeout, int maxConcurrency, int topLogprobs,
    JudgeTemplate template, Duration cooldown) {

  public static final long DEFAULT_TIMEOUT_MS = 2_000;
  public static final long DEFAULT_COOLDOWN_MS = 10_000;
  public static final int DEFAULT_MAX_CONCURRENCY = 32;
  public static final int DEFAULT_TOP_LOGPROBS = 20;

  /** Whether an {@code Authorization} header is sent. */
  public boolean hasApiKey() {
    return !apiKey.isBlank() && !apiKey.value().trim().equalsIgnoreCase("none");
  }

  /**
   * Reads and validates the settings, recording every problem against its key in the node's
   * {@link io.routewise.config.ConfigProblems}. Returns empty when there was any.
   */
  public static Optional<CausalLlmSettings> read(ConfigNode s) {
    int before = s.problems().list().size();
    URI baseUrl = s.httpUrl("base_url", null);
    Secret apiKey = s.secret("api_key", "none");
    String keyProblem = apiKey.isBlank() ? null : ConfigNode.tokenProblem(apiKey.value());
    if (keyProblem != null) {
      s.problem("api_key", keyProblem);
    }
    String model = s.requiredString("model");
    Duration timeout = s.millis("timeout_ms", DEFAULT_TIMEOUT_MS, 1, 600_000);
    int maxConcurrency = s.integer("max_concurrency", DEFAULT_MAX_CONCURRENCY, 1, 100_000);
    // OpenAI allows at most 20; vLLM and llama.cpp allow more.
    int topLogprobs = s.integer("top_logprobs", DEFAULT_TOP_LOGPROBS, 1, 100);
    Duration cooldown = s.millis("cooldown_ms", DEFAULT_COOLDOWN_MS, 0, 3_600_000);
    String system = readFile(s, "system_prompt_file", JudgeTemplate.ROUTELLM.system());
    String user = readFile(s, "user_prompt_file", JudgeTemplate.ROUTELLM.user());
    if (user != null && !user.contains(JudgeTemplate.PLACEHOLDER)) {
      s.problem("user_prompt_file", "'" + s.string("user_prompt_file", "") + "' must contain "
          + JudgeTemplate.PLACEHOLDER + " where the user's prompt goes");
    }
    if (s.problems().list().size() > before || system == null || user == null) {
      return Optional.empty();
    }
    return Optional.of(new CausalLlmSettings(baseUrl, apiKey, model, timeout, maxConcurrency, topLogprobs,
        new JudgeTemplate(system, user), cooldown));
  }

  /** The file's text, the fallback when the key is absent, or null after recording a problem. */
  private static String readFile(ConfigNode s, String key, String fallback) {
    String name = s.string(key, null);
    if (name == null) {
      return fallback;
    }
    try {
      String text = Files.readString(Path.of(name));
      if (text.isBlank()) {
        s.problem(key, "'" + name + "' is empty");
        return null;
      }
      return text;
    } catch (InvalidPathException | IOException e) {
      s.problem(key, "cannot read '" + name + "': " + e.getClass().getSimpleName()
          + (e.getMessage() == null ? "" : " " + e.getMessage()));
      return null;
    }
  }
}
