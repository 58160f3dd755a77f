package io.routewise.config;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Collects configuration problems so that one start reports all of them at once. A key that is
 * missing or of the wrong kind is one problem, not also one for every key beneath it.
 */
public final class ConfigProblems {
  private final List<String> problems = new ArrayList<>();
  private final Set<String> paths = new LinkedHashSet<>();

  public void add(String path, String reason) {
    for (String p = parent(path); p != null; p = parent(p)) {
      if (paths.contains(p)) {
        return; // upstreams.strong is required: its base_url and model being required says nothing more
      }
    }
    paths.add(path);
    problems.add(path + ": " + reason);
  }

  private static String parent(String path) {
    int dot = path.lastIndexOf('.');
    return dot < 0 ? null : path.substring(0, dot);
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
