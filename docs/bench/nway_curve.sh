#!/bin/bash
# BENCHMARKS.md section 5, "How many in-domain outcomes": after docs/bench/nway_rows.sh (same WORK_DIR),
# mf trained on every other file's 80 % rows plus a fraction of one benchmark's 80 % (Python's
# random.Random(7), one draw a row), on the table nway_rows.sh aligned; eval --prices on that
# benchmark's held-out 20 %, both ZeroEval ladders, the threshold rule and the default (auto; RULES=... for others).
# Usage: docs/bench/nway_curve.sh [DATA_DIR] [WORK_DIR]   (run from the repository root, after mvn package)
set -euo pipefail
D=${1:-../shared/data}; W=${2:-/tmp/nway-rows}; J="java -jar target/routewise.jar"; C="$W/curve"
FILES="mmlu-pro dcrouter arena-bench-v1 zeroeval-math-l5 zeroeval-crux mmlu-gold"
F="--strong claude-3-5-sonnet-20241022 --weak gemini-1.5-flash --models gpt-4o-2024-08-06,mistral-large-2,gpt-4o-mini-2024-07-18"
T="--strong gpt-4o-2024-05-13 --weak gemma-2-9b-it --models llama-3.1-70b-instruct,qwen2.5-7b-instruct,llama-3.1-8b-instruct"
mkdir -p "$C"
for S in zeroeval-crux zeroeval-math-l5; do
  for FR in 0 0.1 0.25 0.5; do
    python3 - "$W/train-$S.jsonl" "$C/sub-$S-$FR.jsonl" "$FR" <<'PY'
import random, sys
src, dst, fr = sys.argv[1], sys.argv[2], float(sys.argv[3])
lines = [l for l in open(src, encoding="utf-8").read().split("\n") if l.strip()]  # not splitlines(): U+2028
rnd = random.Random(7)
keep = [l for l in lines if rnd.random() < fr]
open(dst, "w", encoding="utf-8").write("".join(l + "\n" for l in keep))
print(f"{sys.argv[1]}: {len(keep)} of {len(lines)} rows in training")
PY
    DATA=""
    for f in $FILES; do
      if [ "$f" = "$S" ]; then [ -s "$C/sub-$S-$FR.jsonl" ] && DATA="$DATA --data $C/sub-$S-$FR.jsonl"
      else DATA="$DATA --data $W/train-$f.jsonl"; fi
    done
    $J train mf --force $DATA --embedding-model static-rows --models-dir "$W/tables" --out "$C/mf-$S-$FR" --quiet
    for L in F T; do
      for RULE in ${RULES:-threshold auto}; do
        echo "== $S, fraction $FR, ladder $L, rule $RULE"
        $J eval --router length --router mf="$C/mf-$S-$FR" --embedding-model static-rows --models-dir "$W/tables" \
          --prices "$D/prices.json" --bench "$W/heldout.jsonl" --ids "$S/.*" ${!L} --rule "$RULE" --quiet | grep -E '^\| (mf|length|convex)'
      done
    done
  done
done
