package io.routewise.config;

import java.util.List;

/** The configuration is invalid; the message lists every problem, each with its key path. */
public final class ConfigException extends RuntimeException {
  private final List<String> problems;

  public ConfigException(List<String> problems) {
    super(problems.size() == 1
        ? "Invalid configuration: " + problems.get(0)
        : "Invalid configuration (" + problems.size() + " problems):\n  - " + String.join("\n  - ", problems));
    this.problems = List.copyOf(problems);
  }

  public List<String> problems() {
    return problems;
  }
}
