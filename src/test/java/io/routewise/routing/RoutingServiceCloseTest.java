package io.routewise.routing;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/** Closing while a scoring thread is inside a router: its ONNX session must stay open under it. */
class RoutingServiceCloseTest {

  /** Scores until released, ignoring interrupts as a thread in native code does. */
  private static final class Busy implements Router {
    final CountDownLatch inside = new CountDownLatch(1);
    final CountDownLatch release = new CountDownLatch(1);
    final AtomicBoolean closed = new AtomicBoolean();

    @Override
    public double strongWinRate(Prompt prompt) {
      inside.countDown();
      while (true) {
        try {
          release.await();
          return 0.5;
        } catch (InterruptedException e) {
          // native code does not see it
        }
      }
    }

    @Override
    public boolean cpuBound() {
      return true;
    }

    @Override
    public void close() {
      closed.set(true);
    }
  }

  @Test
  void routersStillScoringWhenTheWaitEndsAreLeftOpenAndSaidSo() throws Exception {
    Busy busy = new Busy();
    RoutingService s = new RoutingService(Map.of("r", busy), "r", 0.5, RoutingListener.NONE,
        new ScoringPool(1, 4, Duration.ofSeconds(30)));
    Thread request = Thread.ofVirtual().start(() -> s.decide(new RouteSpec("r", 0.5), Prompt.of("x")));
    busy.inside.await();
    s.close(50);
    assertFalse(s.routersClosed(), "Routewise then leaves the embedding models open too (their sessions are in use)");
    assertFalse(busy.closed.get());
    busy.release.countDown();
    request.join();
  }

  @Test
  void idleRoutersAreClosed() {
    Busy idle = new Busy();
    RoutingService s = new RoutingService(Map.of("r", idle), "r", 0.5, RoutingListener.NONE,
        new ScoringPool(1, 4, Duration.ofSeconds(30)));
    s.close(50);
    assertTrue(s.routersClosed());
    assertTrue(idle.closed.get());
  }
}
