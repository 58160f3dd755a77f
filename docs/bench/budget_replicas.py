"""Client budgets across two routewise replicas sharing one Redis: what a client really spends.

Starts everything itself in a temp dir: Redis (--save '' --appendonly no), one fake OpenAI upstream
(answers a chat after a uniform 1-3 s with usage: prompt = body bytes / 4, completion = max_tokens,
and logs each answer it sent, or began to send to a client gone, with the X-Client-Request-Id it
got), replicas A and B (state.redis, sync_ms 1000) and a replica S without Redis; all on free ports
asked of the kernel. Every run uses a fresh named client (own key, budget B USD a day, unused till
then); a request is model upstream-strong (10 / 30 USD per 1M tokens in / out), max_tokens 500,
about 0.016 USD. Spend is what the upstream's own log says it answered for that client, times the
configured price, divided by B: the share of the budget the upstream billed.

  burst      N requests at A and N at B, connected beforehand and sent at one instant (at a random
             point of the sync period); each request once, 429s not retried.
  sustained  W workers at A and W at B; each sends, on 429 rate_limit_exceeded sleeps Retry-After
             (x0.9-1.1) and sends again, and stops at 429 insufficient_quota.
  one busy   the same W workers, all at A, B idle (two live replicas: A may hold anew half of what
             was left at each sync), against the same at S alone (no Redis). Reports the seconds
             from the first request to the answer that brings the upstream's spend to 90 % of B,
             and the share of attempts answered 429 rate_limit_exceeded.

  . .ci/jdk.sh   # a JDK >= 21 (or pass --java)
  mvn -B -q -ntp package -Dmaven.test.skip=true
  python3 docs/bench/budget_replicas.py --jar target/routewise.jar [--runs 3] [--budget 0.5] [-n 40] [-w 20]

Needs python3 (stdlib only) and redis-server on PATH. About 2 1/2 minutes with the defaults
on 2 vCPUs. Prints per-run lines on stderr, one markdown table on stdout, and exits 0 once
the runs complete; stops everything it started on exit, Ctrl-C or an error. Budgets are per day
(UTC): a run that crosses midnight starts its client afresh.
"""
import argparse, http.client, json, os, random, re, shutil, signal, socket, statistics, subprocess, sys, tempfile
import threading, time

PRICE_IN, PRICE_OUT, MAX_TOKENS = 10.0, 30.0, 500
PROMPT = "Please summarise the following text about routing. " * 8
UPSTREAM = """import json, random, sys, threading, time
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
port, log, dmin, dmax = int(sys.argv[1]), open(sys.argv[2], "a", buffering=1), float(sys.argv[3]), float(sys.argv[4])
lock = threading.Lock()
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def reply(self, out):
        self.send_response(200); self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out))); self.end_headers(); self.wfile.write(out); self.wfile.flush()
    def do_GET(self): self.reply(b'{"object":"list","data":[]}')
    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0))); body = json.loads(raw or b"{}")
        u = {"prompt_tokens": max(1, len(raw) // 4), "completion_tokens": int(body.get("max_tokens") or 500)}
        u["total_tokens"] = u["prompt_tokens"] + u["completion_tokens"]
        time.sleep(random.uniform(dmin, dmax))
        try:
            self.reply(json.dumps({"id": "chatcmpl-1", "object": "chat.completion", "created": int(time.time()),
                "model": body.get("model"), "choices": [{"index": 0, "finish_reason": "stop",
                "message": {"role": "assistant", "content": "ok"}}], "usage": u}).encode()); ev = "done"
        except OSError: ev = "gone"
        with lock: log.write(json.dumps({"rid": self.headers.get("X-Client-Request-Id"), "ev": ev, "usage": u, "t": time.time()}) + "\\n")
ThreadingHTTPServer.daemon_threads = True; ThreadingHTTPServer.request_queue_size = 512
ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
"""
CONFIG = """server: {host: 127.0.0.1, port: %(port)d, access_log: false, shutdown_grace_ms: 500, api_keys: {%(keys)s}}
upstreams:
  strong: {base_url: "http://127.0.0.1:%(up)d/v1", api_key: none, model: fake-strong, timeout_ms: 20000, price: {input: %(pin)g, output: %(pout)g}}
  weak: {base_url: "http://127.0.0.1:%(up)d/v1", api_key: none, model: fake-weak, timeout_ms: 20000, price: {input: 1, output: 2}}
routing: {router: random, direct_upstreams: true}
%(state)smodels_dir: %(dir)s/models
routers: {}
"""


def free_port():  # asked of the kernel
    with socket.socket() as s: s.bind(("127.0.0.1", 0)); return s.getsockname()[1]


class Stack:
    """Redis, the fake upstream and replicas A, B (with Redis) and S (without); stop() ends them all."""

    def __init__(self, a, clients):
        self.a, self.clients, self.procs = a, clients, []
        self.dir = tempfile.mkdtemp(prefix="budget_replicas.")
        self.log = os.path.join(self.dir, "upstream.jsonl")
        self.redis, self.up, self.A, self.B, self.S = (free_port() for _ in range(5))

    def spawn(self, name, cmd):
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=open(os.path.join(self.dir, name + ".log"), "ab"),
                             stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append((name, p))

    def start(self):
        a = self.a
        os.mkdir(os.path.join(self.dir, "models"))
        open(os.path.join(self.dir, "upstream.py"), "w").write(UPSTREAM)
        self.spawn("redis", ["redis-server", "--port", str(self.redis), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", self.dir])
        self.spawn("upstream", [sys.executable, os.path.join(self.dir, "upstream.py"), str(self.up), self.log,
                                str(a.delay[0]), str(a.delay[1])])
        keys = ", ".join("%s: {key: sk-%s, budget: {usd: %g, per: day}}" % (c, c, a.budget) for c in self.clients)
        keys += ", warm: {key: sk-warm, budget: {usd: 1000, per: day}}"
        self.replicas(lambda port, state: CONFIG % dict(port=port, keys=keys, up=self.up, pin=PRICE_IN, pout=PRICE_OUT,
                                                        state=state, dir=self.dir), "-Xmx512m")

    def replicas(self, config, heap):
        """Replicas A and B (state.redis, once Redis answers) and S, each from config(port, state), up."""
        for _ in range(100):  # Redis up before the replicas
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.redis)) == 0: break
            time.sleep(0.05)
        for name, port, redis in (("A", self.A, True), ("B", self.B, True), ("S", self.S, False)):
            state = 'state: {redis: "redis://127.0.0.1:%d/0", sync_ms: %d}\n' % (self.redis, self.a.sync_ms) if redis else ""
            cfg = os.path.join(self.dir, name + ".yaml")
            open(cfg, "w").write(config(port, state))
            self.spawn(name, [self.a.java, heap, "-jar", self.a.jar, "serve", "--config", cfg])
        end = time.time() + 120
        for name, p in (x for x in self.procs if x[0] in ("A", "B", "S")):
            while get(getattr(self, name), "/health") is None:
                if p.poll() is not None: raise RuntimeError("replica %s exited with %s" % (name, p.returncode))
                if time.time() > end: raise RuntimeError("replica %s not up after 120 s" % name)
                time.sleep(0.25)

    def stop(self, keep):
        for _, p in reversed(self.procs):
            if p.poll() is None: p.terminate()
        for _, p in self.procs:
            try: p.wait(10)
            except subprocess.TimeoutExpired: p.kill(); p.wait()
        if keep: print("configs and logs kept in", self.dir, file=sys.stderr)
        else: shutil.rmtree(self.dir, ignore_errors=True)

    def spend(self, client):
        """USD the upstream answered for this client, and [(time, cumulative USD)] in answer order."""
        ev = [(o["t"], (o["usage"]["prompt_tokens"] * PRICE_IN + o["usage"]["completion_tokens"] * PRICE_OUT) / 1e6)
              for o in map(json.loads, open(self.log)) if (o["rid"] or "").startswith(client + "-")]
        cum = 0.0; out = [(t, cum := cum + usd) for t, usd in sorted(ev)]
        return cum, out


def get(port, path):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5); c.request("GET", path)
        r = c.getresponse(); body = r.read().decode(); c.close()
        return body if r.status == 200 else None
    except OSError:
        return None


def metric(port, client):
    m = re.search(r'^routewise_client_budget_spent_usd\{client="%s"\} (\S+)$' % client, get(port, "/metrics") or "", re.M)
    return float(m.group(1)) if m else 0.0


class Req:
    """One chat request; connect() may come before send() so that a burst leaves at one instant."""

    def __init__(self, port, client, rid, max_tokens=MAX_TOKENS):
        self.c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.body = json.dumps({"model": "upstream-strong", "max_tokens": max_tokens,
                                "messages": [{"role": "user", "content": PROMPT}]})
        self.hdr = {"Authorization": "Bearer sk-" + client, "Content-Type": "application/json", "X-Client-Request-Id": rid}

    def send(self):
        """(status, error code or None, Retry-After seconds)"""
        try:
            self.c.request("POST", "/v1/chat/completions", self.body, self.hdr)
            r = self.c.getresponse(); raw = r.read(); code = None
            if r.status != 200:
                try: code = json.loads(raw)["error"]["code"]
                except (ValueError, KeyError, TypeError): code = "?"
            return r.status, code, float(r.getheader("Retry-After") or 1)
        except OSError as e: return -1, type(e).__name__, 1.0
        finally: self.c.close()


def threads(fns):
    ts = [threading.Thread(target=f, daemon=True) for f in fns]
    for t in ts: t.start()
    for t in ts: t.join()


def burst(a, st, client):
    reqs = [Req(p, client, "%s-%d-%d" % (client, p, i)) for p in (st.A, st.B) for i in range(a.n)]
    for r in reqs: r.c.connect()
    go, out = threading.Event(), []
    ts = [threading.Thread(target=lambda r=r: go.wait() and out.append(r.send()), daemon=True) for r in reqs]
    for t in ts: t.start()
    time.sleep(0.2 + random.uniform(0, a.sync_ms / 1000)); go.set()  # at a random point of the sync period
    for t in ts: t.join()
    return out


def workers(a, st, client, ports):
    """W workers per port retrying 429 rate_limit_exceeded; (t0, [(status, code)])."""
    out, t0 = [], time.time()

    def worker(port, w):
        i = 0
        while time.time() - t0 < a.max_s:
            i += 1
            s, code, retry = Req(port, client, "%s-%d-%d-%d" % (client, port, w, i)).send()
            out.append((s, code))
            if code == "insufficient_quota": return
            time.sleep(retry * random.uniform(0.9, 1.1) if s == 429 else 0 if s == 200 else 0.5)
    threads([lambda p=p, w=w: worker(p, w) for p in ports for w in range(a.w)])
    return t0, out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--jar", default="target/routewise.jar")
    p.add_argument("--java", default=os.path.join(os.environ["JAVA_HOME"], "bin", "java") if os.environ.get("JAVA_HOME") else "java")
    p.add_argument("--runs", type=int, default=3, help="runs of each scenario, each with a fresh client")
    p.add_argument("--budget", type=float, default=0.5, help="USD a day of every client")
    p.add_argument("-n", type=int, default=40, help="burst: requests at each replica")
    p.add_argument("-w", type=int, default=20, help="sustained, one busy: workers at each replica loaded")
    p.add_argument("--sync-ms", type=int, default=1000, help="state.sync_ms of A and B")
    p.add_argument("--delay", type=lambda s: [float(x) for x in s.split(",")], default=[1.0, 3.0], help="upstream's MIN,MAX s")
    p.add_argument("--max-s", type=float, default=60, help="a workers' run ends at the latest after this")
    p.add_argument("--keep", action="store_true", help="keep the temp dir (configs, logs; kept anyway after an error)")
    a = p.parse_args()
    if not os.path.exists(a.jar): sys.exit("no jar at %s: mvn -B -q -ntp package -Dmaven.test.skip=true" % a.jar)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    R, B = a.runs, a.budget
    st = Stack(a, ["%s%d" % (k, i) for k in "bsox" for i in range(1, R + 1)])
    rows, t_start, ok = {}, time.time(), False

    def row(scen, measure, v): rows.setdefault((scen, measure), []).append(v)
    def say(*x): print(*x, file=sys.stderr, flush=True)
    try:
        st.start()
        threads([lambda p=p: Req(p, "warm", "warm-%d" % p, 5).send() for p in (st.A, st.B, st.S) for _ in range(10)])
        say("up and warm after %.0f s; temp dir %s" % (time.time() - t_start, st.dir))
        for r in range(1, R + 1):
            c = "b%d" % r; out = burst(a, st, c); time.sleep(0.5)
            usd, _ = st.spend(c); ok200 = sum(s == 200 for s, _, _ in out)
            row("burst %d+%d" % (a.n, a.n), "spend / budget", "%.2f" % (usd / B))
            row("burst %d+%d" % (a.n, a.n), "answered / 429 rate_limit / 429 quota",
                "%d / %d / %d" % (ok200, sum(k == "rate_limit_exceeded" for _, k, _ in out), sum(k == "insufficient_quota" for _, k, _ in out)))
            say("burst %s: upstream %.4f USD (%.2f B), routewise says A %.4f B %.4f, %d of %d answered"
                % (c, usd, usd / B, metric(st.A, c), metric(st.B, c), ok200, len(out)))
        cases = [("sustained %dW+%dW" % (a.w, a.w), "s", (st.A, st.B)), ("one busy %dW, one idle, Redis" % a.w, "o", (st.A,)),
                 ("one alone %dW, no Redis" % a.w, "x", (st.S,))]
        t90s = {}
        for r in range(1, R + 1):
            for scen, k, ports in cases:
                c = "%s%d" % (k, r); t0, out = workers(a, st, c, ports); time.sleep(0.5)
                usd, cum = st.spend(c); n429 = sum(code == "rate_limit_exceeded" for _, code in out)
                t90 = next((t - t0 for t, u in cum if u >= 0.9 * B), None)
                t90s.setdefault(k, []).append(t90)
                row(scen, "spend / budget", "%.2f" % (usd / B))
                row(scen, "s to 90 % of budget", "%.1f" % t90 if t90 is not None else "never")
                row(scen, "429 rate_limit share (of attempts)", "%.0f %% of %d" % (100 * n429 / max(1, len(out)), len(out)))
                say("%s %s: upstream %.4f USD (%.2f B), t90 %s, %d attempts, %d answered, %d rate-limited, %d neither 200 nor 429"
                    % (scen, c, usd, usd / B, t90 and round(t90, 1), len(out), sum(s == 200 for s, _ in out), n429,
                       sum(s not in (200, 429) for s, _ in out)))
        ok = True
    finally:
        st.stop(keep=a.keep or not ok)
    med = {k: statistics.median(v) for k, v in t90s.items() if v and None not in v}
    print("\nbudget_replicas: budget %g USD, sync_ms %d, upstream %g-%g s, %d run(s), %s, %.0f s\n"
          % (B, a.sync_ms, a.delay[0], a.delay[1], R, os.path.basename(a.jar), time.time() - t_start))
    print("| scenario | measure | " + " | ".join("run %d" % (i + 1) for i in range(R)) + " |")
    print("|---|---|" + "---|" * R)
    for (scen, m), vs in rows.items(): print("| %s | %s | %s |" % (scen, m, " | ".join(vs)))
    if "o" in med and "x" in med:
        print("\none busy (Redis) / alone (no Redis), median s to 90 %%: %.1f / %.1f = %.2fx" % (med["o"], med["x"], med["o"] / med["x"]))


if __name__ == "__main__":
    main()
