#!/bin/bash
# One build, chat against the Responses API, alternating rounds: req/s, p50, p99 and CPU per request.
# The kit's nginx (../shared/bench) answers chat only, so a copy of its config here also answers
# /v1/responses with a fixed Responses body of the same size class. Usage: docs/bench/responses_ab.sh JAR [rounds]
set -u
JAR=$1; ROUNDS=${2:-4}
here=$(cd "$(dirname "$0")" && pwd)
B=$(cd "$here/../../../shared/bench" && pwd)
up=$(mktemp -d); mkdir -p "$up/logs"
# the kit's config with one more location beside chat's
python3 - "$B/upstream.nginx.conf" "$up/upstream.conf" <<'PY'
import sys
conf = open(sys.argv[1]).read()
extra = '''    location = /v1/responses {
      default_type application/json;
      return 200 '{"id":"resp_bench","object":"response","created_at":1700000000,"status":"completed","model":"upstream-model","output":[{"type":"message","id":"msg_bench","status":"completed","role":"assistant","content":[{"type":"output_text","text":"Paris is the capital of France.","annotations":[]}]}],"usage":{"input_tokens":24,"input_tokens_details":{"cached_tokens":0},"output_tokens":8,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":32}}';
    }
'''
marker = "    location = /v1/models {"
assert marker in conf
open(sys.argv[2], "w").write(conf.replace(marker, extra + marker, 1))
PY
nginx -p "$up" -c "$up/upstream.conf"
cat > "$up/bench.yaml" <<Y
server: {host: 127.0.0.1, port: 6063}
upstreams:
  strong: {base_url: "http://127.0.0.1:18080/v1", api_key: none, model: strong}
  weak: {base_url: "http://127.0.0.1:18080/v1", api_key: none, model: weak}
routing: {router: random, threshold: 0.5}
Y
java -jar "$JAR" serve --config "$up/bench.yaml" > "$up/rw.log" 2>&1 & rw=$!
trap 'kill $rw 2>/dev/null; nginx -p "$up" -c "$up/upstream.conf" -s stop' EXIT
sleep 12
curl -s localhost:6063/metrics > /dev/null
# warm up both paths
MODEL=router-random-0.5 wrk -t1 -c16 -d12s -s "$B/chat.lua" http://127.0.0.1:6063/v1/chat/completions > /dev/null
MODEL=router-random-0.5 wrk -t1 -c16 -d12s -s "$here/responses.lua" http://127.0.0.1:6063/v1/responses > /dev/null
cpu() { awk '{print $14+$15}' /proc/$1/stat; }   # clock ticks of 10 ms
for r in $(seq "$ROUNDS"); do
  order="chat responses"; [ $((r % 2)) = 0 ] && order="responses chat"
  for api in $order; do
    if [ $api = chat ]; then script="$B/chat.lua"; path=chat/completions; else script="$here/responses.lua"; path=responses; fi
    t0=$(cpu $rw)
    out=$(MODEL=router-random-0.5 wrk -t1 -c16 -d10s --latency -s "$script" http://127.0.0.1:6063/v1/$path)
    t1=$(cpu $rw)
    req=$(echo "$out" | awk '/requests in/{print $1}')
    printf "round %d %s %s req/s, p50 %s, p99 %s, %.1f us CPU a request\n" "$r" $api \
      "$(echo "$out" | awk '/Requests\/sec/{print $2}')" "$(echo "$out" | awk '$1=="50%"{print $2}')" \
      "$(echo "$out" | awk '$1=="99%"{print $2}')" "$(echo "($t1-$t0)*10000/$req" | bc -l)"
  done
done
curl -s localhost:6063/metrics | grep -E '^routewise_(requests|tokens)_total' | grep -v ' 0.0$'
