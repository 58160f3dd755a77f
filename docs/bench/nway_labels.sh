#!/bin/bash
# BENCHMARKS.md section 5, "A new kind of traffic, and a few labels of it": a source held out whole,
# then K of its prompts with outcomes added to mf's training (its own file, so its own source: the
# trainer weighs each source alike, however few its rows). Each source's rows shuffled by Python's
# random.Random(7); the first half is the evaluation set for every K, the labels come from the other
# half. The table stays the one aligned without the source (static-no-S from section 5's commands,
# under MODELS_DIR), as an operator's would until re-distilled. Beside each retrained mf, the same
# labels given to 'train mf --from' the K = 0 model (adapting it without the other files' rows, as an
# operator without the shipped data would). eval --prices, both ZeroEval ladders, the default rule
# (auto) and threshold. Then MMLU-Pro the same way (adapted and retrained with 50 and 200 labels),
# when section 5's /tmp/mmlu-pro-g.jsonl and MODELS_DIR/mf-mmlu-pro exist.
# Usage: docs/bench/nway_labels.sh [DATA_DIR] [WORK_DIR] [MODELS_DIR]   (from the repository root, after mvn package)
set -euo pipefail
D=${1:-../shared/data}; W=${2:-/tmp/nway-labels}; M=${3:-/tmp/nw}; J="java -jar target/routewise.jar"
FILES="mmlu-pro dcrouter arena-bench-v1 zeroeval-math-l5 zeroeval-crux mmlu-gold"
F="--strong claude-3-5-sonnet-20241022 --weak gemini-1.5-flash --models gpt-4o-2024-08-06,mistral-large-2,gpt-4o-mini-2024-07-18"
T="--strong gpt-4o-2024-05-13 --weak gemma-2-9b-it --models llama-3.1-70b-instruct,qwen2.5-7b-instruct,llama-3.1-8b-instruct"
mkdir -p "$W"
for S in zeroeval-math-l5 zeroeval-crux; do
  python3 - "$D/$S.jsonl" "$W/$S" <<'PY'
import random, sys
rows = [l for l in open(sys.argv[1], encoding="utf-8").read().split("\n") if l.strip()]  # not splitlines(): U+2028
random.Random(7).shuffle(rows)
half = len(rows) // 2
open(sys.argv[2] + "-eval.jsonl", "w", encoding="utf-8").write("".join(l + "\n" for l in rows[:half]))
pool = rows[half:]
for k in (0, 50, 100, 200, len(pool)):
    open(f"{sys.argv[2]}-labels{k}.jsonl", "w", encoding="utf-8").write("".join(l + "\n" for l in pool[:k]))
PY
  others=""; for f in $FILES; do [ "$f" != "$S" ] && others="$others --data $D/$f.jsonl"; done
  R="--router length"
  for k in $(ls "$W"/$S-labels*.jsonl | sed 's/.*labels\([0-9]*\)\.jsonl/\1/' | sort -n); do
    L=""; [ -s "$W/$S-labels$k.jsonl" ] && L="--data $W/$S-labels$k.jsonl"
    $J train mf --force $others $L --holdout none --embedding-model static-no-$S --models-dir "$M" --out "$W/mf-$S-$k" --quiet
    R="$R --router mf=$W/mf-$S-$k"
  done
  for k in $(ls "$W"/$S-labels*.jsonl | sed 's/.*labels\([0-9]*\)\.jsonl/\1/' | sort -n); do
    [ "$k" = 0 ] && continue
    $J train mf --force --from "$W/mf-$S-0" --data "$W/$S-labels$k.jsonl" --holdout none --models-dir "$M" --out "$W/adapted-$S-$k" --quiet
    R="$R --router mf=$W/adapted-$S-$k"
  done
  for LADDER in F T; do
    for RULE in auto threshold; do
      echo "== $S, ladder $LADDER, rule $RULE"
      $J eval $R --embedding-model static-no-$S --models-dir "$M" --prices "$D/prices.json" \
        --bench "$W/$S-eval.jsonl" ${!LADDER} --rule $RULE --quiet | grep -E '^\| (mf|length|convex)'
    done
  done
done
G=/tmp/mmlu-pro-g.jsonl
if [ -s "$G" ] && [ -d "$M/mf-mmlu-pro" ]; then
  # the gemini models placed on ZeroEval's rows (G, section 5), and under their own -002 ids: rows the
  # held-out mf has but never trained, learned from the labels alone (prices: the base ids')
  for V in "$G mmlu-pro" "$D/mmlu-pro.jsonl mmlu-pro-own"; do
    set -- $V
    python3 - "$1" "$W/$2" <<'PY'
import random, sys
rows = [l for l in open(sys.argv[1], encoding="utf-8").read().split("\n") if l.strip()]
random.Random(7).shuffle(rows)
half = len(rows) // 2
open(sys.argv[2] + "-eval.jsonl", "w", encoding="utf-8").write("".join(l + "\n" for l in rows[:half]))
for k in (50, 200):
    open(f"{sys.argv[2]}-labels{k}.jsonl", "w", encoding="utf-8").write("".join(l + "\n" for l in rows[half:half + k]))
PY
  done
  python3 - "$D/prices.json" "$W/prices-002.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
for m in ("gemini-1.5-pro", "gemini-1.5-flash"):
    p["models"][m + "-002"] = p["models"][m]
json.dump(p, open(sys.argv[2], "w"))
PY
  others=""; for f in $FILES; do [ "$f" != mmlu-pro ] && others="$others --data $D/$f.jsonl"; done
  R="--router length --router mf=$M/mf-mmlu-pro"
  for k in 50 200; do
    $J train mf --force $others --data "$W/mmlu-pro-labels$k.jsonl" --holdout none --embedding-model static-no-mmlu-pro --models-dir "$M" --out "$W/mf-mmlu-pro-$k" --quiet
    $J train mf --force --from "$M/mf-mmlu-pro" --data "$W/mmlu-pro-labels$k.jsonl" --holdout none --models-dir "$M" --out "$W/adapted-mmlu-pro-$k" --quiet
    R="$R --router mf=$W/mf-mmlu-pro-$k --router mf=$W/adapted-mmlu-pro-$k"
  done
  RO="--router length"
  for k in 50 200; do
    $J train mf --force --from "$M/mf-mmlu-pro" --data "$W/mmlu-pro-own-labels$k.jsonl" --holdout none --models-dir "$M" --out "$W/adapted-mmlu-pro-own-$k" --quiet
    RO="$RO --router mf=$W/adapted-mmlu-pro-own-$k"
  done
  for RULE in auto threshold; do
    echo "== mmlu-pro, six models, -002 ids learned from the labels, rule $RULE"
    $J eval $RO --embedding-model static-no-mmlu-pro --models-dir "$M" --prices "$W/prices-002.json" --bench "$W/mmlu-pro-own-eval.jsonl" \
      --strong gpt-4o-2024-05-13 --weak gemini-1.5-flash-002 --models gemini-1.5-pro-002,llama-3.1-70b-instruct,mixtral-8x7b-instruct-v0.1,llama-3.1-8b-instruct \
      --rule $RULE --quiet | grep -E '^\| (mf|length|convex)'
  done
  for RULE in auto threshold; do
    echo "== mmlu-pro, six models, rule $RULE"
    $J eval $R --embedding-model static-no-mmlu-pro --models-dir "$M" --prices "$D/prices.json" --bench "$W/mmlu-pro-eval.jsonl" \
      --strong gpt-4o-2024-05-13 --weak gemini-1.5-flash --models gemini-1.5-pro,llama-3.1-70b-instruct,mixtral-8x7b-instruct-v0.1,llama-3.1-8b-instruct \
      --rule $RULE --quiet | grep -E '^\| (mf|length|convex)'
  done
fi
