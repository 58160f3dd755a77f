# Streaming probe (BENCHMARKS.md §1): N concurrent streams; the gaps between chunks as the client sees them.
# python3 sse_gaps.py PORT N   (PORT: routewise, or 18096 for the upstream directly)
import http.client, time, json, sys, threading
port=int(sys.argv[1]); N=int(sys.argv[2]); allg=[]
lock=threading.Lock()
def one():
    conn=http.client.HTTPConnection('127.0.0.1',port,timeout=30)
    conn.request('POST','/v1/chat/completions',json.dumps({"model":"x","stream":True,"messages":[{"role":"user","content":"hi"}]}),{'content-type':'application/json'})
    r=conn.getresponse(); t=[]
    while True:
        line=r.fp.readline()
        if not line: break
        if line.startswith(b'data:'): t.append(time.perf_counter())
        if b'[DONE]' in line: break
    with lock: allg.extend((b-a)*1000 for a,b in zip(t[1:-1],t[2:-1]))
    conn.close()
ths=[threading.Thread(target=one) for _ in range(N)]
[t.start() for t in ths]; [t.join() for t in ths]
g=sorted(allg); n=len(g)
print(f"{port} gaps n={n} p10={g[n//10]:.1f} p50={g[n//2]:.1f} p90={g[int(n*.9)]:.1f} p99={g[int(n*.99)]:.1f} <5ms={sum(x<5 for x in g)} 35-45ms={sum(35<=x<=45 for x in g)}")
