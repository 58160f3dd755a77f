"""Shared session pins under Redis trouble: two routewise replicas, one Redis, two fake upstreams.

Starts everything itself in a temp dir (Redis 7 with --save '' --appendonly no; two fake OpenAI
upstreams "strong" and "weak"; two replicas with session_pinning by X-Session-Id, router
router-random-0.5, so an unpinned session lands on either upstream by a coin flip), warms up, runs
the scenarios below, prints one markdown table (one column per run) and stops all it started, also
on Ctrl-C or an error. Which upstream answered a turn is read from the x-routewise-model header; a
session "moved" when a later turn got a different upstream than its first.

  A  40 sessions, first turns alternating replicas; Redis SIGSTOPped for 1/2/3 s while every
     session takes a turn each 0.33 s on the two replicas in turn, then 5 s more after SIGCONT.
     Reports sessions whose upstream still changed 1.5 s or more after CONT, and sessions whose
     final turns (one on each replica) disagree.
  B  100 sessions pinned (two turns each, half on each replica, 1.2 s to sync), then Redis
     FLUSHALL or killed and restarted empty; after a wait (1.5 s, 0 s) each session's next turn
     goes to the replica that never saw it. Reports moved, and final disagreement 2.5 s later.
  C  Redis stalled 3 s; 40 sessions take their first turn on replica 1 during the stall (0.05 s and
     1.8 s into it); their next turns go to replica 2 1.5 s after CONT. Reports moved and final
     disagreement 1.5 s later.
  EV maxmemory-policy volatile-lru, maxmemory = used + 400 KB; 80 sessions on replica 1 (the
     holder), filler sessions until all 80 pins are evicted. 1.5 s later 40 sessions take a turn on
     replica 2 and then on the holder ("other first"), the other 40 the reverse ("holder first");
     the same pair again at 3 s. Reports moved (either turn at 1.5 s) and disagreement at 1.5/3 s.

"pin lookups" rows: routewise_session_pin_lookups_total by result, both replicas, over the turns
that could move. Moves that come with "timeout" lookups at the default state.pin_timeout_ms (10)
and go away with --pin-timeout-ms 100 were lookups that Redis answered, only too late.

  . .ci/jdk.sh   # a JDK >= 21 (or pass --java)
  python3 docs/bench/pins_trial.py --jar target/routewise.jar [--runs 2] [--only A,B,C,EV]
  python3 docs/bench/pins_trial.py --jar target/routewise.jar --pin-timeout-ms 100 --runs 1

Needs python3 (stdlib only) and redis-server/redis-cli >= 7 on PATH. About 100 s a run.
"""
import argparse, hashlib, http.client, json, os, shutil, signal, socket, subprocess, sys, tempfile, time, uuid
import urllib.request
from concurrent.futures import ThreadPoolExecutor

UPSTREAM = """import json, sys, time
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
name = sys.argv[2]
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def reply(self, out):
        self.send_response(200); self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out))); self.end_headers(); self.wfile.write(out)
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        self.reply(json.dumps({"id": "chatcmpl-1", "object": "chat.completion", "created": int(time.time()),
            "model": body.get("model", name), "choices": [{"index": 0, "finish_reason": "stop",
            "message": {"role": "assistant", "content": "from " + name}}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}}).encode())
    def do_GET(self): self.reply(b'{"object":"list","data":[]}')
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""
CONFIG = """server: {host: 127.0.0.1, port: %(port)d, access_log: false}
upstreams:
  strong: {base_url: "http://127.0.0.1:%(strong)d/v1", api_key: none, model: strong-model}
  weak: {base_url: "http://127.0.0.1:%(weak)d/v1", api_key: none, model: weak-model}
routing: {router: random, threshold: 0.5, session_pinning: true, session_key: header}
state: {redis: "redis://127.0.0.1:%(redis)d/0", pin_timeout_ms: %(pin_timeout)d}
models_dir: %(dir)s/models
routers: {}
"""


class Stack:
    """Redis, the fake upstreams and the replicas; stop() ends every process start() began."""

    def __init__(self, a):
        self.a, self.procs, self.redis = a, [], None
        self.dir = tempfile.mkdtemp(prefix="pins_trial.")

    def spawn(self, name, cmd):
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=open(os.path.join(self.dir, name + ".log"), "ab"),
                             stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(p)
        return p

    def start_redis(self):
        self.redis = self.spawn("redis", ["redis-server", "--port", str(self.a.redis_port), "--bind", "127.0.0.1",
                                          "--save", "", "--appendonly", "no", "--dir", self.dir])
        wait_for(lambda: rcli(self.a, "ping") == "PONG", self.redis, "redis")

    def start(self):
        a = self.a
        for port in (a.redis_port, a.strong_port, a.weak_port, *a.replica_ports):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    sys.exit("port %d is in use: pick other ports (see --help)" % port)
        os.mkdir(os.path.join(self.dir, "models"))
        open(os.path.join(self.dir, "upstream.py"), "w").write(UPSTREAM)
        self.start_redis()
        for name, port in (("strong", a.strong_port), ("weak", a.weak_port)):
            self.spawn(name, [sys.executable, os.path.join(self.dir, "upstream.py"), str(port), name])
        reps = []
        for i, port in enumerate(a.replica_ports, 1):
            cfg = os.path.join(self.dir, "r%d.yaml" % i)
            open(cfg, "w").write(CONFIG % dict(port=port, strong=a.strong_port, weak=a.weak_port, redis=a.redis_port,
                                               pin_timeout=a.pin_timeout_ms, dir=self.dir))
            reps.append(self.spawn("rw%d" % i, [a.java, "-jar", a.jar, "serve", "--config", cfg]))
        for p, port in zip(reps, a.replica_ports):
            wait_for(lambda: lookups(port) is not None, p, "replica on %d" % port, 90)

    def restart_redis(self):
        self.redis.kill(); self.redis.wait()
        self.start_redis()

    def stop(self, keep):
        for p in reversed(self.procs):
            if p.poll() is None:
                for sig in (signal.SIGCONT, signal.SIGTERM):
                    try: p.send_signal(sig)
                    except ProcessLookupError: pass
        for p in self.procs:
            try: p.wait(10)
            except subprocess.TimeoutExpired: p.kill(); p.wait()
        if keep: print("logs and configs kept in", self.dir, file=sys.stderr)
        else: shutil.rmtree(self.dir, ignore_errors=True)


def wait_for(ready, proc, what, limit=20):
    end = time.time() + limit
    while time.time() < end:
        if proc.poll() is not None: raise RuntimeError("%s exited with %s" % (what, proc.returncode))
        if ready(): return
        time.sleep(0.1)
    raise RuntimeError("%s not ready after %d s" % (what, limit))


def rcli(a, *args):
    return subprocess.run(["redis-cli", "-p", str(a.redis_port)] + [str(x) for x in args],
                          capture_output=True, text=True).stdout.strip()


def lookups(port):
    """routewise_session_pin_lookups_total by result, or None while the replica is not up."""
    try: text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=2).read().decode()
    except OSError: return None
    return {l.split('"')[1]: float(l.split()[-1]) for l in text.splitlines() if l.startswith("routewise_session_pin_lookups_total{")}


class Bench:
    def __init__(self, a, stack):
        self.a, self.stack, self.pool = a, stack, ThreadPoolExecutor(64)
        self.ports = {1: a.replica_ports[0], 2: a.replica_ports[1]}
        self.errors = []  # one entry per failed turn (list.append is thread-safe)

    def turn(self, sess, rep):
        t0 = time.time()
        try:
            c = http.client.HTTPConnection("127.0.0.1", self.ports[rep], timeout=10)
            c.request("POST", "/v1/chat/completions", json.dumps({"model": "router-random-0.5", "messages": [
                {"role": "user", "content": "hello " + sess}]}), {"Content-Type": "application/json", "X-Session-Id": sess})
            r = c.getresponse(); r.read(); c.close()
            up = (r.getheader("x-routewise-model") or "?").split()[0] if r.status == 200 else "http%d" % r.status
        except OSError as e:
            up = type(e).__name__
        if up not in ("strong", "weak"): self.errors.append(up)
        return dict(t=t0, up=up)

    def batch(self, pairs):
        """One turn per (session, replica), all at once; the upstreams that answered, in order."""
        return [r["up"] for r in self.pool.map(lambda p: self.turn(*p), pairs)]

    def on(self, sess, rep):
        return dict(zip(sess, self.batch([(s, rep) for s in sess])))

    def disagree(self, sess):
        r1 = self.on(sess, 1); r2 = self.on(sess, 2)
        return sum(r1[s] != r2[s] for s in sess)

    def sessions(self, tag, n):
        tag = "%s-%s" % (tag, uuid.uuid4().hex[:6])
        return ["%s-%03d" % (tag, i) for i in range(n)]

    def warm(self):
        for rep in (1, 2): self.on(self.sessions("warm", 60), rep)
        time.sleep(1.5)

    def lookups(self):
        m1, m2 = lookups(self.ports[1]), lookups(self.ports[2])
        return {k: m1.get(k, 0) + m2.get(k, 0) for k in set(m1) | set(m2)}

    def pins_left(self, sess):
        keys = ["routewise:pin:" + hashlib.sha256(s.encode()).hexdigest()[:32] for s in sess]
        return int(rcli(self.a, "exists", *keys))

    def redis_signal(self, sig):
        self.stack.redis.send_signal(sig)

    # A: turns continue round-robin through a stall
    def scen_a(self, stall_s, n=40, after=5.0, period=0.33):
        sess = self.sessions("A%g" % stall_s, n)
        first = dict(zip(sess, self.batch([(s, 1 + i % 2) for i, s in enumerate(sess)])))
        time.sleep(0.1)
        self.redis_signal(signal.SIGSTOP); t_stop, t_cont, k, late = time.time(), None, 1, set()
        try:
            while True:
                now = time.time()
                if t_cont is None and now - t_stop >= stall_s:
                    self.redis_signal(signal.SIGCONT); t_cont = time.time(); m0 = self.lookups()
                if t_cont is not None and now - t_cont >= after: break
                res = list(self.pool.map(lambda p: self.turn(*p), [(s, 1 + (i + k) % 2) for i, s in enumerate(sess)]))
                late |= {s for s, r in zip(sess, res) if t_cont and r["t"] >= t_cont + 1.5 and r["up"] != first[s]}
                k += 1
                wait = period - (time.time() - now)
                if t_cont is None:  # CONT on time, not at the next round's start
                    wait = min(wait, stall_s - (time.time() - t_stop))
                time.sleep(max(0.0, wait))
        finally:
            if t_cont is None: self.redis_signal(signal.SIGCONT)
        looked = diff(m0, self.lookups())
        return {"changed after CONT+1.5 s /%d" % n: len(late), "final disagreement /%d" % n: self.disagree(sess),
                "pin lookups after CONT": looked}

    # B: Redis loses every pin (FLUSHALL or restart), then the other replica's turn
    def scen_b(self, mode, wait_s, n=100):
        sess = self.sessions("B%s%g" % (mode, wait_s), n)
        home = {s: 1 + i % 2 for i, s in enumerate(sess)}
        pairs = [(s, home[s]) for s in sess]
        first = dict(zip(sess, self.batch(pairs))); self.batch(pairs)
        time.sleep(1.2)
        if mode == "flush": rcli(self.a, "flushall")
        else: self.stack.restart_redis()
        time.sleep(wait_s)
        m0 = self.lookups()
        other = dict(zip(sess, self.batch([(s, 3 - home[s]) for s in sess])))
        looked = diff(m0, self.lookups())
        time.sleep(2.5)
        return {"moved /%d" % n: sum(other[s] != first[s] for s in sess), "final disagreement /%d" % n: self.disagree(sess),
                "pin lookups of those turns": looked}

    # C: sessions begun on replica 1 during a stall, next turn on replica 2 after it
    def scen_c(self, start_at, stall_s=3.0, after=1.5, n=40):
        sess = self.sessions("C%g" % start_at, n)
        self.redis_signal(signal.SIGSTOP); t0 = time.time()
        try:
            time.sleep(start_at)
            first = self.on(sess, 1)
            time.sleep(max(0.0, stall_s - (time.time() - t0)))
        finally:
            self.redis_signal(signal.SIGCONT)
        time.sleep(after)
        m0 = self.lookups(); r2 = self.on(sess, 2); looked = diff(m0, self.lookups())
        time.sleep(1.5)
        return {"moved /%d" % n: sum(r2[s] != first[s] for s in sess), "final disagreement /%d" % n: self.disagree(sess),
                "pin lookups of those turns": looked}

    # EV: Redis evicts the pins under maxmemory
    def scen_ev(self, n=40):
        keys = rcli(self.a, "--scan", "--pattern", "routewise:pin:*").split()
        for i in range(0, len(keys), 500): rcli(self.a, "del", *keys[i:i + 500])
        time.sleep(1.2)
        used = int(rcli(self.a, "info", "memory").split("used_memory:")[1].split()[0])
        rcli(self.a, "config", "set", "maxmemory-policy", "volatile-lru")
        rcli(self.a, "config", "set", "maxmemory", used + 400_000)
        try:
            sess = self.sessions("EV", 2 * n); O, H = sess[:n], sess[n:]
            first = self.on(sess, 1)
            time.sleep(1.1)
            filled = 0
            while self.pins_left(sess) and filled < 20000:
                self.on(self.sessions("fill", 200), 1); filled += 200
            left = self.pins_left(sess)
            out = {"filler sessions (pins left)": "%d (%d)" % (filled, left)}
            looked = {}
            for at in (1.5, 3):
                time.sleep(1.5)
                m0 = self.lookups()
                a = self.batch([(s, 2) for s in O] + [(s, 1) for s in H])
                b = self.batch([(s, 1) for s in O] + [(s, 2) for s in H])
                looked[at] = diff(m0, self.lookups())
                for g, lo in (("other first", 0), ("holder first", n)):
                    grp, x, y = sess[lo:lo + n], a[lo:lo + n], b[lo:lo + n]
                    if at == 1.5:
                        out["%s: moved /%d" % (g, n)] = sum(u != first[s] or v != first[s] for s, u, v in zip(grp, x, y))
                    out["%s: disagreement at %g s /%d" % (g, at, n)] = sum(u != v for u, v in zip(x, y))
            out["pin lookups at 1.5 s (both replicas)"] = looked[1.5]
            return out
        finally:
            rcli(self.a, "config", "set", "maxmemory", 0)


def diff(m0, m1):
    d = {k: int(m1[k] - m0.get(k, 0)) for k in sorted(m1 or {}) if m1[k] != (m0 or {}).get(k, 0)}
    return " ".join("%s %d" % kv for kv in d.items()) or "-"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--jar", default="target/routewise.jar")
    p.add_argument("--java", default=os.path.join(os.environ["JAVA_HOME"], "bin", "java") if os.environ.get("JAVA_HOME") else "java")
    p.add_argument("--runs", type=int, default=2)
    p.add_argument("--pin-timeout-ms", type=int, default=10, help="state.pin_timeout_ms of both replicas")
    p.add_argument("--only", default="A,B,C,EV", help="comma-separated scenarios")
    p.add_argument("--redis-port", type=int, default=17379)
    p.add_argument("--strong-port", type=int, default=17001)
    p.add_argument("--weak-port", type=int, default=17002)
    p.add_argument("--replica-ports", default="18001,18002")
    p.add_argument("--keep", action="store_true", help="keep the temp dir (configs, logs; kept anyway after an error)")
    a = p.parse_args()
    a.replica_ports = [int(x) for x in a.replica_ports.split(",")]
    only = [x.strip().upper() for x in a.only.split(",")]
    if set(only) - {"A", "B", "C", "EV"}: p.error("--only takes A, B, C, EV")
    if not os.path.exists(a.jar): sys.exit("no jar at %s: mvn -B -q -ntp package -Dmaven.test.skip=true" % a.jar)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    stack, rows, t_start, ok = Stack(a), {}, time.time(), False
    try:
        stack.start()
        bench = Bench(a, stack); bench.warm()
        cases = {"A": [("stall %g s" % s, lambda s=s: bench.scen_a(s)) for s in (1, 2, 3)],
                 "B": [("%s, wait %g s" % (m, w), lambda m=m, w=w: bench.scen_b(m, w)) for m in ("flush", "restart") for w in (1.5, 0)],
                 "C": [("first turns %g s into stall" % s, lambda s=s: bench.scen_c(s)) for s in (0.05, 1.8)],
                 "EV": [("volatile-lru", bench.scen_ev)]}
        for run in range(a.runs):
            for sc in only:
                for case, fn in cases[sc]:
                    e0 = len(bench.errors)
                    res = fn()
                    res["non-200 / failed turns"] = len(bench.errors) - e0
                    for k, v in res.items(): rows.setdefault((sc, case, k), []).append(v)
                    print("run %d %s %s: %s" % (run + 1, sc, case, res), file=sys.stderr, flush=True)
                    time.sleep(2)
        bench.pool.shutdown(); ok = True
    finally:
        stack.stop(keep=a.keep or not ok)
        table(a, rows, time.time() - t_start)


def table(a, rows, took):
    if not rows: return
    print("\npins_trial: %d run(s), pin_timeout_ms %d, %s, %.0f s\n" % (a.runs, a.pin_timeout_ms, os.path.basename(a.jar), took))
    print("| scenario | case | measure | " + " | ".join("run %d" % (i + 1) for i in range(a.runs)) + " |")
    print("|---|---|---|" + "---|" * a.runs)
    for (sc, case, k), vs in rows.items():
        if k.startswith("non-200") and not any(vs): continue
        print("| %s | %s | %s | %s |" % (sc, case, k, " | ".join(str(v) for v in vs + [""] * (a.runs - len(vs)))))


if __name__ == "__main__":
    main()
