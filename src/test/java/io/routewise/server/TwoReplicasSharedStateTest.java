package io.routewise.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Two replicas and one real Redis hold one target together, lose no request when Redis dies and
 * comes back, and honour each other's session pins. A 10 s version of the 20 s run
 * ({@link TwoReplicasSharedStateBench}, whose figures are in BENCHMARKS.md).
 */
class TwoReplicasSharedStateTest {

  @Test
  void twoReplicasHoldOneTargetThroughARedisOutageWithoutFailingARequest() throws Exception {
    SharedStateRun.Timeline t = new SharedStateRun.Timeline(10, 2, 5, 7, 3, 100, 300, 1);
    SharedStateRun.Result r = SharedStateRun.run(t);
    String report = SharedStateRun.report(r);

    assertEquals(List.of(), r.failures(), report);
    assertTrue(r.calls().size() > 1_500, "too little load to judge: " + report);

    // One window after the shift, the combined share holds the target, outage and rejoin included.
    double settled = t.shiftAt() + t.windowSeconds();
    assertEquals(SharedStateRun.TARGET, r.share(settled, t.seconds()), 0.03, report);

    // Sharing: while Redis is up the two replicas use one α, though their traffic differs...
    for (SharedStateRun.Alphas a : r.alphas(settled, t.killAt())) {
      assertEquals(a.a(), a.b(), 0.02, "shared α at " + a.at() + " s\n" + report);
    }
    // ...alone each holds its own traffic's (A's easier prompts get a lower α)...
    SharedStateRun.Alphas alone = r.alphas(t.restartAt() - 0.3, t.restartAt()).get(0);
    assertTrue(alone.b() - alone.a() > 0.05, "alone at " + alone.at() + " s\n" + report);
    assertEquals(0, alone.redisUpA() + alone.redisUpB(), "both replicas know Redis is down\n" + report);
    // ...and they rejoin once it is back.
    for (SharedStateRun.Alphas a : r.alphas(t.restartAt() + 1.5, t.seconds())) {
      assertEquals(2, a.redisUpA() + a.redisUpB(), "rejoined at " + a.at() + " s\n" + report);
      assertEquals(a.a(), a.b(), 0.02, "shared α again at " + a.at() + " s\n" + report);
    }

    // A session's turns (A, B, A or B, A, B) all go where its first turn went, while Redis holds the pins.
    List<SharedStateRun.Session> whileUp = r.sessions(0, t.killAt());
    assertTrue(whileUp.size() >= 10, whileUp.size() + " sessions\n" + report);
    for (SharedStateRun.Session s : whileUp) {
      assertTrue(s.consistent(), "session at " + s.start() + " s: " + s.models());
    }
    long pinned = r.calls().stream().filter(SharedStateRun.Call::pinned).count();
    assertTrue(pinned >= 2L * whileUp.size(), "turns 2 and 3 are pinned: " + pinned);
  }
}
