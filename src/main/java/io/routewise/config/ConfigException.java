package io.routewise.config;

import java.util.List;

/** The configuration is invalid; the message lists every problem, each with its key path. */
public final class ConfigException extends RuntimeException {
  private final List<String> problems;

  public ConfigException(List<String> problems) {
    super(message("", problems));
    this.problems = List.copyOf(problems);
  }

  private static String message(String where, List<String> problems) {
    return problems.size() == 1
        ? "Invalid configuration" + where + ": " + problems.get(0)
        : "Invalid configuration" + where + " (" + problems.size() + " problems):\n  - " + String.join("\n  - ", problems);
  }

  /**
   * The message naming the file the problems are in (an operator with several configs, or check in CI,
   * learns which), a problem that begins with the file's name said without it.
   */
  public String messageIn(String file) {
    String prefix = file + ": ";
    return message(" in " + file, problems.stream().map(p -> p.startsWith(prefix) ? p.substring(prefix.length()) : p)
        .toList());
  }

  public List<String> problems() {
    return problems;
  }
}
