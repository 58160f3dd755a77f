# N-way routing through a running routewise, as a client sees it (BENCHMARKS.md §5): for each router
# and alpha, POST every benchmark prompt to /v1/route and score the model it names from the
# benchmark's outcomes. Prints mean quality and the share of each upstream per alpha, to compare with
# `routewise eval --prices` (same decisions, so the same qualities).
#   python3 nway_route.py --url http://127.0.0.1:6060 --bench ../shared/data/zeroeval-math-l5.jsonl \
#       --router mf --router length --alphas 0,0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,1
import argparse, collections, http.client, json, urllib.parse
from concurrent.futures import ThreadPoolExecutor

p = argparse.ArgumentParser()
p.add_argument('--url', default='http://127.0.0.1:6060')
p.add_argument('--bench', required=True)
p.add_argument('--router', action='append', required=True)
p.add_argument('--alphas', default=','.join(str(i / 10) for i in range(11)))
p.add_argument('--threads', type=int, default=4)
a = p.parse_args()
u = urllib.parse.urlparse(a.url)
rows = [json.loads(l) for l in open(a.bench)]

def route(router, alpha, prompt, conns={}):
    import threading
    key = threading.get_ident()
    if key not in conns:
        conns[key] = http.client.HTTPConnection(u.hostname, u.port)
    body = json.dumps({'model': f'router-{router}-{alpha}', 'messages': [{'role': 'user', 'content': prompt}]})
    conns[key].request('POST', '/v1/route', body, {'Content-Type': 'application/json'})
    r = conns[key].getresponse()
    out = json.loads(r.read())
    assert r.status == 200, out
    return out

with ThreadPoolExecutor(a.threads) as pool:
    for router in a.router:
        for alpha in a.alphas.split(','):
            answers = list(pool.map(lambda row: route(router, alpha, row['prompt']), rows))
            models = [x['model'] for x in answers]
            usable = [(row, m) for row, m in zip(rows, models) if m in row['outcomes']]
            quality = sum(row['outcomes'][m] for row, m in usable) / len(usable)
            share = collections.Counter(x['upstream'] for x in answers)
            print(f'{router:12s} alpha={alpha:4s} n={len(usable)} quality={quality:.4f} '
                  + ' '.join(f'{k}={v / len(answers):.2f}' for k, v in share.most_common()), flush=True)
