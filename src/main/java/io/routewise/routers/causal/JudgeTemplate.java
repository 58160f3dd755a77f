package io.routewise.routers.causal;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;

/**
 * The prompt pair sent to the judge: a system message, and a user message in which the literal
 * {@code {question}} is replaced by the user's prompt. Replacement is literal, not a format string:
 * the prompts contain other braces and brackets ({@code "[[predicted rating]]"}).
 */
public record JudgeTemplate(String system, String user) {
  public static final String PLACEHOLDER = "{question}";

  /**
   * RouteLLM's prompt pair ({@code system_ft_v5.txt}, {@code classifier_ft_v5.txt}), the one its
   * causal-LLM checkpoint was trained with (Apache-2.0; see NOTICE).
   */
  public static final JudgeTemplate ROUTELLM = new JudgeTemplate(
      resource("system_ft_v5.txt"), resource("classifier_ft_v5.txt"));

  public JudgeTemplate {
    if (!user.contains(PLACEHOLDER)) {
      throw new IllegalArgumentException("the user template must contain " + PLACEHOLDER);
    }
  }

  /** The user message for {@code question}; every {@code {question}} is replaced. */
  public String userMessage(String question) {
    return user.replace(PLACEHOLDER, question);
  }

  private static String resource(String name) {
    try (InputStream in = JudgeTemplate.class.getResourceAsStream(name)) {
      if (in == null) {
        throw new IllegalStateException("missing resource " + name + " next to " + JudgeTemplate.class.getName());
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
