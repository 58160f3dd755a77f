package io.routewise.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class BoundedDnsTest {
  private static final long MS = TimeUnit.MILLISECONDS.toNanos(1);

  @Test
  void aLookupThatDoesNotAnswerInTimeIsAnUnknownHostWhenTheTimeIsUp() {
    BoundedDns dns = new BoundedDns(host -> {
      try {
        Thread.sleep(5_000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      return List.of(InetAddress.getLoopbackAddress());
    }, () -> 200 * MS);
    long start = System.nanoTime();
    UnknownHostException e = assertThrows(BoundedDns.LookupTimedOut.class, () -> dns.lookup("slow.test"));
    long ms = (System.nanoTime() - start) / MS;
    assertTrue(ms >= 150 && ms < 2_000, ms + " ms");
    assertTrue(e.getMessage().contains("slow.test: no answer from DNS within 200 ms"), e.getMessage());
  }

  @Test
  void anAnswerOrAFailureInTimeIsTheResolversOwn() throws Exception {
    List<InetAddress> loopback = List.of(InetAddress.getLoopbackAddress());
    assertEquals(loopback, new BoundedDns(host -> loopback, () -> 1_000 * MS).lookup("fast.test"));
    UnknownHostException nxdomain = new UnknownHostException("nope.test");
    assertEquals(nxdomain, assertThrows(UnknownHostException.class,
        () -> new BoundedDns(host -> {
          throw nxdomain;
        }, () -> 1_000 * MS).lookup("nope.test")));
    // no time left is a timeout (a judge's queued decision whose budget ran out), not an unknown host
    assertThrows(BoundedDns.LookupTimedOut.class, () -> new BoundedDns(host -> loopback, () -> 0).lookup("late.test"),
        "no time left");
  }
}
