package io.routewise.config;

import java.util.ArrayList;
import java.util.List;

/** Collects configuration problems so that one start reports all of them at once. */
public final class ConfigProblems {
  private final List<String> problems = new ArrayList<>();
  /** Keys whose text was already wrong (an unset variable): what is said of their value after is about the stand-in. */
  private final java.util.Set<String> wrongText = new java.util.HashSet<>();

  public void add(String path, String reason) {
    if (!wrongText.contains(path)) {
      problems.add(path + ": " + reason);
    }
  }

  /** A problem with the text {@code path} was given, reported alone: later ones about its value are not. */
  public void addForText(String path, String reason) {
    add(path, reason);
    wrongText.add(path);
  }

  /** Whether a problem was said of {@code path} (its text, or its value). */
  public boolean has(String path) {
    return wrongText.contains(path) || problems.stream().anyMatch(p -> p.startsWith(path + ": "));
  }

  public boolean isEmpty() {
    return problems.isEmpty();
  }

  public List<String> list() {
    return List.copyOf(problems);
  }

  public void throwIfAny() {
    if (!problems.isEmpty()) {
      throw new ConfigException(problems);
    }
  }
}
