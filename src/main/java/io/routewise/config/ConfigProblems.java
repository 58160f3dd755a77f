package io.routewise.config;

import java.util.ArrayList;
import java.util.List;

/** Collects configuration problems so that one start reports all of them at once. */
public final class ConfigProblems {
  private final List<String> problems = new ArrayList<>();

  public void add(String path, String reason) {
    problems.add(path + ": " + reason);
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
