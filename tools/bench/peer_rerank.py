"""Reranker scoring in the PyTorch peer, for the serving benchmark.

Loads our reranker directory (config.json, model.safetensors with HF names, reranker.json) into the
peer's independent decoder (../shared/peer/torch_llama.py), adds the scoring head (logit(yes) -
logit(no) at the last token, or score.weight on the last hidden state), and scores the token
sequences our tokenizer produced (given as JSON, so both sides read exactly the same input).
Prints {"impl": "pytorch", "docs_per_s": ..., "scores": [...first 8]} as JSON.

With several batch sizes (--batch 4,8,16) it measures each and reports the fastest, so the peer
is compared at its best setting.

  /usr/bin/python3 peer_rerank.py PEER_DIR MODEL_DIR INPUT_JSON [--threads 1 --batch 8,16,32 --runs 3]
"""
import argparse, json, os, struct, sys, time
import torch


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, h in header.items():
        if name == "__metadata__":
            continue
        assert h["dtype"] == "F32", f"{name}: {h['dtype']}"
        a, b = h["data_offsets"]
        out[name] = torch.frombuffer(bytearray(data[a:b]), dtype=torch.float32).reshape(h["shape"])
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("peer_dir")
    ap.add_argument("model_dir")
    ap.add_argument("input")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", default="32", help="sequences per forward pass; a comma-separated list measures each")
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    sys.path.insert(0, a.peer_dir)
    import torch_llama as peer

    torch.set_num_threads(a.threads)
    conf = json.load(open(os.path.join(a.model_dir, "config.json")))
    rr = json.load(open(os.path.join(a.model_dir, "reranker.json")))
    c = peer.Cfg(vocab_size=conf["vocab_size"], hidden_size=conf["hidden_size"], intermediate_size=conf["intermediate_size"],
                 num_hidden_layers=conf["num_hidden_layers"], num_attention_heads=conf["num_attention_heads"],
                 num_key_value_heads=conf["num_key_value_heads"], rms_norm_eps=conf["rms_norm_eps"], rope_theta=conf["rope_theta"],
                 max_position_embeddings=conf["max_position_embeddings"], tie_word_embeddings=conf["tie_word_embeddings"])
    model = peer.Llama(c)
    weights = read_safetensors(os.path.join(a.model_dir, "model.safetensors"))
    with torch.no_grad():
        for name, p in model.p.items():
            p.copy_(weights[name])
    inputs = json.load(open(a.input))
    seqs, yes, no = inputs["sequences"], inputs.get("yes_id"), inputs.get("no_id")
    pad = inputs.get("pad_id", 0)
    if rr["mode"] != "yes_no":
        raise SystemExit("head mode: benchmark a yes_no reranker (the peer's forward ends in an LM head)")
    # the head: only the "yes" and "no" rows of the LM head, so the peer, like us, never computes the full vocabulary
    full = model.p["model.embed_tokens.weight"] if c.tie_word_embeddings else model.p["lm_head.weight"]
    model.p["lm_head.weight"] = full[[yes, no]].clone()
    c.tie_word_embeddings = False

    def score_all(batch):
        order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
        out = [0.0] * len(seqs)
        with torch.no_grad():
            for s in range(0, len(order), batch):
                idx = order[s:s + batch]
                T = max(len(seqs[i]) for i in idx)
                ids = torch.full((len(idx), T), pad, dtype=torch.long)
                for r, i in enumerate(idx):
                    ids[r, : len(seqs[i])] = torch.tensor(seqs[i])
                # the peer's forward returns logits; read the last real position of each row (right padding, causal)
                logits = model(ids)
                last = torch.tensor([len(seqs[i]) - 1 for i in idx])
                at = logits[torch.arange(len(idx)), last]
                vals = at[:, 0] - at[:, 1]
                for r, i in enumerate(idx):
                    out[i] = float(vals[r])
        return out

    by_batch = {}
    for batch in [int(b) for b in a.batch.split(",")]:
        scores = score_all(batch)  # warm-up
        rates = []
        for _ in range(a.runs):
            t0 = time.perf_counter()
            score_all(batch)
            rates.append(len(seqs) / (time.perf_counter() - t0))
        rates.sort()
        by_batch[batch] = {"docs_per_s": round(rates[len(rates) // 2], 1), "docs_per_s_runs": [round(r, 1) for r in rates]}
    best = max(by_batch, key=lambda b: by_batch[b]["docs_per_s"])
    print(json.dumps({"impl": "pytorch", "threads": a.threads, "docs": len(seqs), "runs": a.runs, "batch": best,
                      "docs_per_s": by_batch[best]["docs_per_s"], "by_batch": by_batch, "scores": scores[:8]}))


if __name__ == "__main__":
    main()
