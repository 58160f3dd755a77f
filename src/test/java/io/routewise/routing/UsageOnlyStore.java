package io.routewise.routing;

import java.time.Duration;
import java.util.List;

/** A state store for tests of what replicas share besides windows and pins (usage, spend, requests): those are not there. */
public abstract class UsageOnlyStore implements StateStore {
  @Override
  public List<WindowSnapshot> exchange(String router, WindowSnapshot mine) {
    throw new UnsupportedOperationException();
  }

  @Override
  public void ping() {}

  @Override
  public Pin pin(String session) {
    throw new UnsupportedOperationException();
  }

  @Override
  public Pin pinIfAbsent(String session, String upstream, Duration ttl) {
    throw new UnsupportedOperationException();
  }

  @Override
  public String describe() {
    return "memory";
  }

  @Override
  public void close() {}
}
