#!/bin/bash
# Two builds on the kit (../shared/bench), both serving at once, alternating rounds: req/s, p50, p99
# and CPU per request from /proc/<pid>/stat. Usage: docs/bench/proxy_ab.sh REF.jar NEW.jar [rounds]
set -u
REF=$1; NEW=$2; ROUNDS=${3:-4}
B=$(cd "$(dirname "$0")/../../../shared/bench" && pwd)
up=$(mktemp -d); mkdir -p "$up/logs"
nginx -p "$up" -c "$B/upstream.nginx.conf"
for p in 6061 6062; do cat > "$up/bench-$p.yaml" <<Y
server: {host: 127.0.0.1, port: $p}
upstreams:
  strong: {base_url: "http://127.0.0.1:18080/v1", api_key: none, model: strong}
  weak: {base_url: "http://127.0.0.1:18080/v1", api_key: none, model: weak}
routing: {router: random, threshold: 0.5}
Y
done
java -jar "$REF" serve --config "$up/bench-6061.yaml" > "$up/ref.log" 2>&1 & ref=$!
java -jar "$NEW" serve --config "$up/bench-6062.yaml" > "$up/new.log" 2>&1 & new=$!
trap 'kill $ref $new 2>/dev/null; nginx -p "$up" -c "$B/upstream.nginx.conf" -s stop' EXIT
sleep 12
cd "$B"
for p in 6061 6062; do   # the first scrape compiles the exposition code; then warm up
  curl -s localhost:$p/metrics > /dev/null
  MODEL=router-random-0.5 wrk -t1 -c16 -d12s -s chat.lua http://127.0.0.1:$p/v1/chat/completions > /dev/null
done
cpu() { awk '{print $14+$15}' /proc/$1/stat; }   # clock ticks of 10 ms
for r in $(seq "$ROUNDS"); do
  # odd rounds run ref first, even rounds new first: whichever runs second in a round was measured
  # 0-4 % behind in A/A runs on this kit
  order="ref new"; [ $((r % 2)) = 0 ] && order="new ref"
  for side in $order; do
    pid=$([ $side = ref ] && echo $ref || echo $new); port=$([ $side = ref ] && echo 6061 || echo 6062)
    t0=$(cpu $pid)
    out=$(MODEL=router-random-0.5 wrk -t1 -c16 -d10s --latency -s chat.lua http://127.0.0.1:$port/v1/chat/completions)
    t1=$(cpu $pid)
    req=$(echo "$out" | awk '/requests in/{print $1}')
    printf "round %d %s %s req/s, p50 %s, p99 %s, %.1f us CPU a request\n" "$r" $side \
      "$(echo "$out" | awk '/Requests\/sec/{print $2}')" "$(echo "$out" | awk '$1=="50%"{print $2}')" \
      "$(echo "$out" | awk '$1=="99%"{print $2}')" "$(echo "($t1-$t0)*10000/$req" | bc -l)"
  done
done
echo "nginx $(wrk -t1 -c16 -d10s -s chat.lua http://127.0.0.1:18081/v1/chat/completions | awk '/Requests\/sec/{print $2}') req/s"
