#!/bin/bash
# BENCHMARKS.md section 5, "random rows held out": 20 % of every data file's rows (Python's
# random.Random(42), one draw a row, file by file) held out; the static table aligned and mf trained
# on the other 80 % less any row asking a held-out question; eval --prices on the held-out
# rows of each benchmark.
# Usage: docs/bench/nway_rows.sh [DATA_DIR] [WORK_DIR]   (run from the repository root, after mvn package)
#        RULE=price_weighted docs/bench/nway_rows.sh ...   (another ladder rule, or RULE=auto for serve's default;
#                                                           the split is the same; threshold reproduces the tables)
set -euo pipefail
D=${1:-../shared/data}; W=${2:-/tmp/nway-rows}; J="java -jar target/routewise.jar"; R=${RULE:-threshold}
FILES="mmlu-pro dcrouter arena-bench-v1 zeroeval-math-l5 zeroeval-crux mmlu-gold"
mkdir -p "$W"
python3 - "$D" "$W" $FILES <<'PY'
import json, random, sys
d, w, files = sys.argv[1], sys.argv[2], sys.argv[3:]
rnd = random.Random(42)
held_lines, train_lines = [], {}
for f in files:
    with open(f"{d}/{f}.jsonl", encoding="utf-8") as src:
        for line in src.read().split("\n"):  # not splitlines(): prompts hold U+2028
            if line.strip():
                (held_lines if rnd.random() < 0.2 else train_lines.setdefault(f, [])).append(line)
# A held-out question's copies (MMLU-Pro repeats 720 of mmlu-gold's questions, most with more options;
# dcrouter's splits share 119) do not train: the draws stay the same, the training files lose those
# rows. A multiple-choice question is its stem, as the protocol matches it (Dataset.question).
def question(prompt):
    text = prompt.strip()
    options = text.find("\nA. ")
    return text[:options].strip() if options > 0 and text.endswith("\nAnswer:") else text
held_texts = {question(json.loads(line)["prompt"]) for line in held_lines}
with open(f"{w}/heldout.jsonl", "w", encoding="utf-8") as held:
    held.writelines(line + "\n" for line in held_lines)
for f in files:
    with open(f"{w}/train-{f}.jsonl", "w", encoding="utf-8") as out:
        out.writelines(line + "\n" for line in train_lines.get(f, [])
                       if question(json.loads(line)["prompt"]) not in held_texts)
PY
TRAIN=""; DATA=""
for f in $FILES; do TRAIN="$TRAIN $W/train-$f.jsonl"; DATA="$DATA --data $W/train-$f.jsonl"; done
$J distill --out "$W/tables/static-rows" --align $TRAIN --force --quiet
$J train mf --force $DATA --embedding-model static-rows --models-dir "$W/tables" --out "$W/mf" --quiet
F="--strong claude-3-5-sonnet-20241022 --weak gemini-1.5-flash --models gpt-4o-2024-08-06,mistral-large-2,gpt-4o-mini-2024-07-18"
T="--strong gpt-4o-2024-05-13 --weak gemma-2-9b-it --models llama-3.1-70b-instruct,qwen2.5-7b-instruct,llama-3.1-8b-instruct"
DC6="--strong llama-3.1-nemotron-51b-instruct --weak gemma-2-9b-it --models llama-3.3-nemotron-super-49b-v1,llama-3.1-8b-instruct,qwen2.5-7b-instruct,mistral-7b-instruct-v0.3"
E="$J eval --router length --router random --router mf=$W/mf --embedding-model static-rows --models-dir $W/tables --prices $D/prices.json --bench $W/heldout.jsonl --quiet --rule $R"
for S in zeroeval-math-l5 zeroeval-crux; do
  $E --ids "$S/.*" $F
  $E --ids "$S/.*" $T
done
PLOT=""; [ "$R" = threshold ] && PLOT="--plot docs/plots/nway-dcrouter-heldout-rows.png"
$E --ids 'dcrouter/.*' $DC6 $PLOT
# MMLU-Pro's gemini runs are the -002 versions, trained under those ids here; prices.json lists the
# base ids only, so the -002 ids get their base model's price in a copy.
python3 - "$D/prices.json" "$W/prices-002.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
for base in ("gemini-1.5-flash", "gemini-1.5-pro"):
    p["models"][base + "-002"] = dict(p["models"][base])
json.dump(p, open(sys.argv[2], "w"), indent=1)
PY
MP="--strong gpt-4o-2024-05-13 --weak gemini-1.5-flash-002 --models gemini-1.5-pro-002,llama-3.1-70b-instruct,mixtral-8x7b-instruct-v0.1,llama-3.1-8b-instruct"
$J eval --router length --router random --router mf=$W/mf --embedding-model static-rows --models-dir $W/tables \
  --prices $W/prices-002.json --bench $W/heldout.jsonl --quiet --rule $R --ids 'mmlu-pro/.*' $MP
