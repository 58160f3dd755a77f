import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.locks.LockSupport;

/**
 * Why one carrier thread (-Djdk.virtualThreadScheduler.parallelism=1) can stall: the JDK's scheduler
 * takes a virtual thread woken by a platform thread (as the I/O poller wakes readers) from the
 * pool's shared queue only when the carrier's own queue is empty. Here {@code pairs} pairs of
 * virtual threads hand a token back and forth (each wakes the other on the carrier's own queue),
 * and a platform thread wakes one more virtual thread every millisecond and times how long it
 * takes to run. Run: {@code java -Djdk.virtualThreadScheduler.parallelism=1 CarrierStarvation.java 1}
 */
public class CarrierStarvation {
  static volatile long sink;

  public static void main(String[] args) throws Exception {
    int pairs = Integer.parseInt(args[0]);
    for (int p = 0; p < pairs; p++) {
      var there = new SynchronousQueue<Integer>();
      var back = new SynchronousQueue<Integer>();
      Thread.ofVirtual().start(() -> { try { for (;;) { there.put(1); back.take(); work(); } } catch (InterruptedException e) { } });
      Thread.ofVirtual().start(() -> { try { for (;;) { there.take(); work(); back.put(1); } } catch (InterruptedException e) { } });
    }
    long[] wokenAt = new long[1];
    long[] waits = new long[5_000];
    int[] n = {0};
    Thread woken = Thread.ofVirtual().unstarted(() -> {
      while (n[0] < waits.length) {
        LockSupport.park();
        waits[n[0]] = System.nanoTime() - wokenAt[0];
        n[0]++;
      }
    });
    woken.start();
    Thread.sleep(200);
    long end = System.nanoTime() + 5_000_000_000L;
    while (System.nanoTime() < end && n[0] < waits.length) {
      int before = n[0];
      wokenAt[0] = System.nanoTime();
      LockSupport.unpark(woken);
      while (n[0] == before && System.nanoTime() < end) Thread.onSpinWait();
      Thread.sleep(1);
    }
    long[] w = java.util.Arrays.copyOf(waits, n[0]);
    java.util.Arrays.sort(w);
    if (w.length == 0) {
      System.out.printf("pairs=%d: the woken virtual thread never ran in 5 s%n", pairs);
    } else {
      System.out.printf("pairs=%d: woken %d times, wait to run p50 %.3f ms, p99 %.3f ms, max %.3f ms%n", pairs,
          w.length, w[w.length / 2] / 1e6, w[(int) (w.length * 0.99)] / 1e6, w[w.length - 1] / 1e6);
    }
    System.exit(0);
  }

  static void work() {
    long x = 0;
    for (int i = 0; i < 20_000; i++) x += i * 31L;
    sink = x;
  }
}
