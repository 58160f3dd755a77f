"""Writes src/test/resources/bert-tiny-cls/: a 1-layer tiny BERT sequence classifier as ONNX.

The graph has the shape of a Hugging Face BertForSequenceClassification exported by Optimum
(inputs input_ids / attention_mask / token_type_ids, int64 [batch, seq]; output logits [batch, 3]),
with MiniLM's WordPiece vocabulary (its tokenizer.json sits beside the model), hidden size 16, one
attention head, intermediate size 32, seeded random weights. It is not trained: the tests only need
a real BERT-family graph whose logits the script can also compute with numpy, so expected.json holds
the logits for a few token-id sequences and the Java test checks ONNX Runtime against them.

Run from the repository root (needs `pip install onnx numpy`; the outputs are committed, so CI does
not run this):

    python3 src/test/python/make_tiny_bert_classifier.py
"""
import json
import math
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = os.path.join("src", "test", "resources", "bert-tiny-cls")
H, I, P, T, LABELS = 16, 32, 512, 2, 3
rng = np.random.default_rng(20260124)


def w(*shape, std=0.5):
    return (rng.standard_normal(shape) * std).astype(np.float32)


vocab = json.load(open(os.path.join(OUT, "tokenizer.json"), encoding="utf-8"))["model"]["vocab"]
V = len(vocab)
params = {
    "word": w(V, H), "pos": w(P, H, std=0.1), "type": w(T, H, std=0.1),
    "ln0_g": np.ones(H, np.float32), "ln0_b": np.zeros(H, np.float32),
    "wq": w(H, H), "bq": w(H, std=0.1), "wk": w(H, H), "bk": w(H, std=0.1), "wv": w(H, H), "bv": w(H, std=0.1),
    "wo": w(H, H), "bo": w(H, std=0.1), "ln1_g": np.ones(H, np.float32), "ln1_b": np.zeros(H, np.float32),
    "w1": w(H, I), "b1": w(I, std=0.1), "w2": w(I, H), "b2": w(H, std=0.1),
    "ln2_g": np.ones(H, np.float32), "ln2_b": np.zeros(H, np.float32),
    "wp": w(H, H), "bp": w(H, std=0.1), "wc": w(H, LABELS, std=1.0), "bc": w(LABELS, std=0.1),
}
consts = {
    "zero_i": np.array(0, np.int64), "one_i": np.array(1, np.int64), "one_f": np.array(1.0, np.float32),
    "neg_big": np.array(-10000.0, np.float32), "scale": np.array(1 / math.sqrt(H), np.float32),
    "half": np.array(0.5, np.float32), "sqrt2": np.array(math.sqrt(2.0), np.float32),
    "axes1": np.array([1], np.int64),
}
inits = [numpy_helper.from_array(v, k) for k, v in {**params, **consts}.items()]

N = helper.make_node
nodes = [
    # embeddings: word + position + token type, LayerNorm
    N("Gather", ["word", "input_ids"], ["e_word"]),
    N("Gather", ["type", "token_type_ids"], ["e_type"]),
    N("Shape", ["input_ids"], ["shape"]),
    N("Gather", ["shape", "one_i"], ["seq_len"], axis=0),
    N("Range", ["zero_i", "seq_len", "one_i"], ["positions"]),
    N("Gather", ["pos", "positions"], ["e_pos"]),
    N("Add", ["e_word", "e_type"], ["e_wt"]),
    N("Add", ["e_wt", "e_pos"], ["e_sum"]),
    N("LayerNormalization", ["e_sum", "ln0_g", "ln0_b"], ["x0"], axis=-1, epsilon=1e-12),
    # self-attention, one head, padding masked with -10000
    N("MatMul", ["x0", "wq"], ["q0"]), N("Add", ["q0", "bq"], ["q"]),
    N("MatMul", ["x0", "wk"], ["k0"]), N("Add", ["k0", "bk"], ["k"]),
    N("MatMul", ["x0", "wv"], ["v0"]), N("Add", ["v0", "bv"], ["v"]),
    N("Transpose", ["k"], ["kt"], perm=[0, 2, 1]),
    N("MatMul", ["q", "kt"], ["s0"]), N("Mul", ["s0", "scale"], ["s1"]),
    N("Cast", ["attention_mask"], ["mask_f"], to=TensorProto.FLOAT),
    N("Sub", ["one_f", "mask_f"], ["inv_mask"]), N("Mul", ["inv_mask", "neg_big"], ["mask_add0"]),
    N("Unsqueeze", ["mask_add0", "axes1"], ["mask_add"]),
    N("Add", ["s1", "mask_add"], ["s2"]),
    N("Softmax", ["s2"], ["attn"], axis=-1),
    N("MatMul", ["attn", "v"], ["ctx"]),
    N("MatMul", ["ctx", "wo"], ["o0"]), N("Add", ["o0", "bo"], ["o1"]),
    N("Add", ["x0", "o1"], ["r1"]),
    N("LayerNormalization", ["r1", "ln1_g", "ln1_b"], ["x1"], axis=-1, epsilon=1e-12),
    # feed-forward with exact GELU
    N("MatMul", ["x1", "w1"], ["f0"]), N("Add", ["f0", "b1"], ["f1"]),
    N("Div", ["f1", "sqrt2"], ["f2"]), N("Erf", ["f2"], ["f3"]), N("Add", ["f3", "one_f"], ["f4"]),
    N("Mul", ["f1", "f4"], ["f5"]), N("Mul", ["f5", "half"], ["g"]),
    N("MatMul", ["g", "w2"], ["f6"]), N("Add", ["f6", "b2"], ["f7"]),
    N("Add", ["x1", "f7"], ["r2"]),
    N("LayerNormalization", ["r2", "ln2_g", "ln2_b"], ["x2"], axis=-1, epsilon=1e-12),
    # pooler on [CLS], classifier
    N("Gather", ["x2", "zero_i"], ["cls"], axis=1),
    N("MatMul", ["cls", "wp"], ["p0"]), N("Add", ["p0", "bp"], ["p1"]), N("Tanh", ["p1"], ["pooled"]),
    N("MatMul", ["pooled", "wc"], ["l0"]), N("Add", ["l0", "bc"], ["logits"]),
]
ids_info = [helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "sequence"])
            for n in ("input_ids", "attention_mask", "token_type_ids")]
graph = helper.make_graph(nodes, "tiny_bert_cls", ids_info,
                          [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", LABELS])], inits)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="routewise-test")
model.ir_version = 8
onnx.checker.check_model(model)
onnx.save(model, os.path.join(OUT, "model.onnx"))


def layer_norm(x):
    m = x.mean(-1, keepdims=True)
    var = ((x - m) ** 2).mean(-1, keepdims=True)
    return (x - m) / np.sqrt(var + 1e-12)


def forward(ids):
    """numpy reference of the graph for one unpadded sequence."""
    p = {k: v.astype(np.float64) for k, v in params.items()}
    ids = np.array(ids)
    x = layer_norm(p["word"][ids] + p["type"][0] + p["pos"][: len(ids)])
    q, k, v = x @ p["wq"] + p["bq"], x @ p["wk"] + p["bk"], x @ p["wv"] + p["bv"]
    s = q @ k.T / math.sqrt(H)
    a = np.exp(s - s.max(-1, keepdims=True))
    a /= a.sum(-1, keepdims=True)
    x1 = layer_norm(x + (a @ v) @ p["wo"] + p["bo"])
    f = x1 @ p["w1"] + p["b1"]
    f = 0.5 * f * (1 + np.vectorize(math.erf)(f / math.sqrt(2)))
    x2 = layer_norm(x1 + f @ p["w2"] + p["b2"])
    pooled = np.tanh(x2[0] @ p["wp"] + p["bp"])
    return (pooled @ p["wc"] + p["bc"]).tolist()


texts = ["what is the capital of france?", "prove the theorem", "hello"]
cases = []
for t in texts:
    words = t.replace("?", " ?").split()
    ids = [vocab["[CLS]"]] + [vocab[x] for x in words] + [vocab["[SEP]"]]
    cases.append({"text": t, "ids": ids, "logits": forward(ids)})
json.dump({"cases": cases}, open(os.path.join(OUT, "expected.json"), "w"), indent=1)
json.dump({
    "architectures": ["BertForSequenceClassification"], "model_type": "bert", "hidden_size": H,
    "num_hidden_layers": 1, "num_attention_heads": 1, "intermediate_size": I, "max_position_embeddings": P,
    "type_vocab_size": T, "vocab_size": V,
    "id2label": {"0": "LABEL_0", "1": "LABEL_1", "2": "LABEL_2"},
    "label2id": {"LABEL_0": 0, "LABEL_1": 1, "LABEL_2": 2},
}, open(os.path.join(OUT, "config.json"), "w"), indent=1)
print("wrote", OUT, os.path.getsize(os.path.join(OUT, "model.onnx")), "bytes")
