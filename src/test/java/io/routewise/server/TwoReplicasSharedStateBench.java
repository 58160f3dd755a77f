package io.routewise.server;

/**
 * The two-replica run: 20 s of load on two replicas and one Redis, the traffic shifting at
 * 4 s, Redis killed at 10 s and restarted at 15 s. Prints the shares by second and a summary.
 *
 * <pre>
 * mvn -q test-compile dependency:build-classpath -Dmdep.outputFile=cp.txt -Dmdep.includeScope=test
 * java -cp "target/test-classes:target/classes:$(cat cp.txt)" io.routewise.server.TwoReplicasSharedStateBench [seed]
 * </pre>
 */
public final class TwoReplicasSharedStateBench {
  public static void main(String[] args) throws Exception {
    long seed = args.length > 0 ? Long.parseLong(args[0]) : 1;
    SharedStateRun.Timeline t = new SharedStateRun.Timeline(20, 4, 10, 15, 5, 250, 300, seed);
    SharedStateRun.Result r = SharedStateRun.run(t);
    System.out.print(SharedStateRun.report(r));
    double settled = t.shiftAt() + t.windowSeconds();
    var sessions = r.sessions(0, t.killAt());
    var late = r.sessions(t.restartAt() + 1, t.seconds());
    System.out.printf(java.util.Locale.ROOT,
        "combined strong share: whole run %.3f, from %.0f s (one window after the shift) %.3f, during the outage %.3f%n"
            + "failed requests: %d of %d%n"
            + "sessions before the kill: %d, all turns on their first turn's model: %d; after the restart: %d, %d%n",
        r.share(0, t.seconds()), settled, r.share(settled, t.seconds()), r.share(t.killAt(), t.restartAt()),
        r.failures().size(), r.calls().size(),
        sessions.size(), sessions.stream().filter(SharedStateRun.Session::consistent).count(),
        late.size(), late.stream().filter(SharedStateRun.Session::consistent).count());
    System.exit(0);
  }
}
