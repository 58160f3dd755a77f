package io.routewise.routing;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** A store for the pin tests: pins in a map (a lookup finds 60 s left), no windows; tests add stalls and counts. */
class MapPinStore implements StateStore {
  final Map<String, String> pins = new ConcurrentHashMap<>();

  @Override
  public List<WindowSnapshot> exchange(String router, WindowSnapshot mine) {
    return List.of();
  }

  @Override
  public void ping() {}

  @Override
  public Pin pin(String session) throws Exception {
    String r = pins.get(session);
    return r == null ? null : new Pin(r, 60_000);
  }

  @Override
  public Pin pinIfAbsent(String session, String upstream, Duration ttl) throws Exception {
    String before = pins.putIfAbsent(session, upstream);
    return new Pin(before == null ? upstream : before, ttl.toMillis());
  }

  @Override
  public String describe() {
    return "test store";
  }

  @Override
  public void close() {}
}
