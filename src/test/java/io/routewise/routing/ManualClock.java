package io.routewise.routing;

import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/** Wall-clock millis that a test moves by hand. */
final class ManualClock implements LongSupplier {
  private final AtomicLong now;

  ManualClock(long start) {
    this.now = new AtomicLong(start);
  }

  @Override
  public long getAsLong() {
    return now.get();
  }

  void advance(long millis) {
    now.addAndGet(millis);
  }
}
