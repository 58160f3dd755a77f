"""AUC of a router's win rates on docs/probe/mt-categories.jsonl: math/reasoning/coding prompts
(MT Bench's strong-model categories) against writing/roleplay/humanities, from `routewise score`
output files ({"id","score"} lines). Usage: python3 docs/probe/auc.py scores.jsonl..."""
import collections, json, sys

def auc(pos, neg):
    return sum(1 if p > n else 0.5 if p == n else 0 for p in pos for n in neg) / (len(pos) * len(neg))

for f in sys.argv[1:]:
    by = collections.defaultdict(list)
    for line in open(f):
        r = json.loads(line)
        by[r["id"].split("/")[0]].append(r["score"])
    pos = by["math"] + by["reasoning"] + by["coding"]
    neg = by["writing"] + by["roleplay"] + by["humanities"]
    print("%-50s AUC %.2f" % (f, auc(pos, neg)))
