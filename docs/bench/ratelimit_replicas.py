"""A client's rate_limit across two routewise replicas sharing one Redis: how many requests get through.

Starts everything itself in a temp dir: Redis (--save '' --appendonly no), replicas A and B
(state.redis, sync_ms 1000) and a replica S without Redis, all on free ports asked of the kernel.
No upstream is needed: the requests are GET /v1/models, which a replica answers itself, and every
/v1 request counts against a client's rate_limit. Every run uses a fresh named client with
rate_limit {requests: L, per: minute} (a burst of L, then one each 60/L s).

  burst      N requests at A and N at B, connected beforehand and sent at one instant (at a random
             point of the sync period), not retried: how many got through, against L.
  sustained  W workers at A and W at B for T s, each sending as fast as answered, waiting Retry-After
             (x0.9-1.1) after a 429: requests let through against what the limit allows in T
             (L + T * L / 60).
  one busy   the same W workers, all at A, B idle: the seconds until the L-th request got through,
             against the same at S alone (no Redis).

  . .ci/jdk.sh   # a JDK >= 21 (or pass --java)
  mvn -B -q -ntp package -Dmaven.test.skip=true
  python3 docs/bench/ratelimit_replicas.py --jar target/routewise.jar [--runs 3] [--limit 120] [-n 100] [-w 8]

Needs python3 (stdlib only) and redis-server on PATH. About 2 minutes with the defaults on 2 vCPUs.
Prints per-run lines on stderr and one markdown table on stdout; stops everything it started on
exit, Ctrl-C or an error.
"""
import argparse, http.client, os, random, signal, sys, threading, time

import budget_replicas  # beside this file: its Stack starts Redis and the replicas, and stops them

CONFIG = """server: {host: 127.0.0.1, port: %(port)d, access_log: false, shutdown_grace_ms: 500, api_keys: {%(keys)s}}
upstreams:
  strong: {base_url: "http://127.0.0.1:9/v1", api_key: none, model: fake-strong}
  weak: {base_url: "http://127.0.0.1:9/v1", api_key: none, model: fake-weak}
routing: {router: random}
%(state)smodels_dir: %(dir)s/models
routers: {}
"""


class Stack(budget_replicas.Stack):
    """Redis and replicas A, B (with Redis) and S (without), as budget_replicas starts them; stop() ends them all."""

    def start(self):
        a = self.a
        os.mkdir(os.path.join(self.dir, "models"))
        self.spawn("redis", ["redis-server", "--port", str(self.redis), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", self.dir])
        keys = ", ".join("%s: {key: sk-%s, rate_limit: {requests: %d, per: minute}}" % (c, c, a.limit) for c in self.clients)
        self.replicas(lambda port, state: CONFIG % dict(port=port, keys=keys, state=state, dir=self.dir), "-Xmx256m")
        time.sleep(3 * a.sync_ms / 1000)  # each replica has seen the other


def send(port, client, path="/v1/models", conn=None):
    """(status, Retry-After seconds); conn: an HTTPConnection already connected."""
    c = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.request("GET", path, headers={"Authorization": "Bearer sk-%s" % client} if client else {})
        r = c.getresponse(); r.read()
        return r.status, float(r.getheader("retry-after-ms") or 1000) / 1000
    except OSError:
        return -1, 0.5
    finally:
        c.close()


def burst(a, st, client):
    conns = [(p, http.client.HTTPConnection("127.0.0.1", p, timeout=10)) for p in (st.A, st.B) for _ in range(a.n)]
    for _, c in conns: c.connect()
    go, out = threading.Event(), []
    ts = [threading.Thread(target=lambda p=p, c=c: go.wait() and out.append(send(p, client, conn=c)[0]), daemon=True)
          for p, c in conns]
    for t in ts: t.start()
    time.sleep(0.2 + random.uniform(0, a.sync_ms / 1000)); go.set()  # at a random point of the sync period
    for t in ts: t.join()
    return out


def workers(a, client, ports, seconds, until_let=None):
    """W workers per port for `seconds` (or until `until_let` got through): [time of each 200], attempts."""
    let, attempts, t0, lock = [], [0], time.time(), threading.Lock()

    def worker(port):
        while time.time() - t0 < seconds and (until_let is None or len(let) < until_let):
            s, retry = send(port, client)
            with lock:
                attempts[0] += 1
                if s == 200: let.append(time.time() - t0)
            if s == 429: time.sleep(retry * random.uniform(0.9, 1.1))
            elif s != 200: time.sleep(0.5)
    ts = [threading.Thread(target=lambda p=p: worker(p), daemon=True) for p in ports for _ in range(a.w)]
    for t in ts: t.start()
    for t in ts: t.join()
    return sorted(let), attempts[0]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--jar", default="target/routewise.jar")
    p.add_argument("--java", default=os.path.join(os.environ["JAVA_HOME"], "bin", "java") if os.environ.get("JAVA_HOME") else "java")
    p.add_argument("--runs", type=int, default=3, help="runs of each scenario, each with a fresh client")
    p.add_argument("--limit", type=int, default=120, help="rate_limit requests per minute of every client")
    p.add_argument("-n", type=int, default=100, help="burst: requests at each replica")
    p.add_argument("-w", type=int, default=8, help="sustained, one busy: workers at each replica loaded")
    p.add_argument("--seconds", type=float, default=20, help="sustained: how long the workers send")
    p.add_argument("--sync-ms", type=int, default=1000, help="state.sync_ms of A and B")
    p.add_argument("--keep", action="store_true", help="keep the temp dir (configs, logs; kept anyway after an error)")
    a = p.parse_args()
    if not os.path.exists(a.jar): sys.exit("no jar at %s: mvn -B -q -ntp package -Dmaven.test.skip=true" % a.jar)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    R, L = a.runs, a.limit
    st = Stack(a, ["%s%d" % (k, i) for k in "bsox" for i in range(1, R + 1)])
    rows, t_start, ok = {}, time.time(), False

    def row(scen, measure, v): rows.setdefault((scen, measure), []).append(v)
    def say(*x): print(*x, file=sys.stderr, flush=True)
    try:
        st.start()
        say("up after %.0f s; temp dir %s" % (time.time() - t_start, st.dir))
        for r in range(1, R + 1):
            c = "b%d" % r; out = burst(a, st, c)
            let = sum(s == 200 for s in out)
            row("burst %d+%d" % (a.n, a.n), "let through / limit", "%d / %d = %.2f" % (let, L, let / L))
            say("burst %s: %d of %d let through, %d refused 429" % (c, let, len(out), sum(s == 429 for s in out)))
            time.sleep(a.sync_ms / 1000)
        allowed = L + a.seconds * L / 60
        for r in range(1, R + 1):
            c = "s%d" % r; let, n = workers(a, c, (st.A, st.B), a.seconds)
            row("sustained %dW+%dW, %g s" % (a.w, a.w, a.seconds), "let through / allowed",
                "%d / %d = %.2f" % (len(let), allowed, len(let) / allowed))
            say("sustained %s: %d let through of %d attempts (allowed %d)" % (c, len(let), n, allowed))
            for scen, k, ports in (("one busy %dW, one idle, Redis" % a.w, "o", (st.A,)), ("one alone %dW, no Redis" % a.w, "x", (st.S,))):
                c = "%s%d" % (k, r); let, n = workers(a, c, ports, 120, until_let=L)
                row(scen, "s to the whole burst (%d)" % L, "%.1f" % let[L - 1] if len(let) >= L else "never")
                say("%s %s: %d let through of %d attempts, the %d-th after %s s"
                    % (scen, c, len(let), n, L, round(let[L - 1], 1) if len(let) >= L else "never"))
        ok = True
    finally:
        st.stop(keep=a.keep or not ok)
    print("\nratelimit_replicas: %d requests a minute, sync_ms %d, %d run(s), %s, %.0f s\n"
          % (L, a.sync_ms, R, os.path.basename(a.jar), time.time() - t_start))
    print("| scenario | measure | " + " | ".join("run %d" % (i + 1) for i in range(R)) + " |")
    print("|---|---|" + "---|" * R)
    for (scen, m), vs in rows.items(): print("| %s | %s | %s |" % (scen, m, " | ".join(vs)))


if __name__ == "__main__":
    main()
