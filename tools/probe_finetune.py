"""Probe: does fine-tuning MiniLM's top layers help the semantic stage? (docs/quality.md, "fine-tuning").

On one held-out fold (of five, stratified by label set, the calibration's folds) of the taxonomy exemplars plus a
training file, compares per-trope average precision of: the TF-IDF lexical head; a logistic head on the frozen
mean-pooled MiniLM vector (what the cascade uses); MiniLM with its top ``6 - cut`` transformer layers and a
multi-label head fine-tuned (BCE, AdamW, linear warm-up and decay) on the other four folds, over cached
lower-layer states; and the z-scored sums lexical + frozen, lexical + fine-tuned. The dev set is never read.
Seeded; ~10 minutes on 2 cores with the defaults.

    HF_HUB_OFFLINE=1 python tools/probe_finetune.py --train corpora/labeled/train.jsonl [--cut 4] [--epochs 4]
"""

from __future__ import annotations

import argparse
import copy
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score

from scanner.classify.embed import load_train
from scanner.classify.encoder import resolve_model
from scanner.classify.heads import fit_heads, fold_ids
from scanner.classify.index import exemplar_rows
from scanner.taxonomy.load import load_taxonomy

HIDDEN = 384
MAX_TOKENS = 256


def lower_states(texts: list[str], tokenizer, model, cut: int) -> tuple[list[torch.Tensor], np.ndarray]:  # type: ignore[no-untyped-def]
    """Per text the hidden states after layer ``cut`` (unpadded) and the frozen normalised mean-pooled vector."""
    order = np.argsort([len(t) for t in texts], kind="stable")
    states: list[torch.Tensor] = [torch.empty(0)] * len(texts)
    pooled = np.zeros((len(texts), HIDDEN), dtype=np.float32)
    for start in range(0, len(texts), 32):
        idx = order[start : start + 32]
        batch = [texts[i] for i in idx]
        enc = tokenizer(batch, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
        with torch.no_grad():
            out = model(**enc, output_hidden_states=True)
        for row, i in enumerate(idx):
            n = int(enc["attention_mask"][row].sum())
            states[i] = out.hidden_states[cut][row, :n].clone()
            pooled[i] = out.last_hidden_state[row, :n].mean(0).numpy()
    pooled /= np.linalg.norm(pooled, axis=1, keepdims=True)
    return states, pooled


class TopLayers(torch.nn.Module):
    def __init__(self, model, cut: int, tropes: int) -> None:  # type: ignore[no-untyped-def]
        super().__init__()
        self.layers = torch.nn.ModuleList([copy.deepcopy(layer) for layer in model.encoder.layer[cut:]])
        self.head = torch.nn.Linear(HIDDEN, tropes)

    def forward(self, batch: list[torch.Tensor]) -> torch.Tensor:
        length = max(len(b) for b in batch)
        h = torch.zeros(len(batch), length, HIDDEN)
        mask = torch.zeros(len(batch), length)
        for i, b in enumerate(batch):
            h[i, : len(b)] = b
            mask[i, : len(b)] = 1
        additive = (1.0 - mask)[:, None, None, :] * torch.finfo(torch.float32).min
        for layer in self.layers:
            out = layer(h, additive)
            h = out[0] if isinstance(out, tuple) else out
        pooled = (h * mask[:, :, None]).sum(1) / mask.sum(1, keepdim=True)
        return self.head(torch.nn.functional.normalize(pooled, dim=-1) * 10.0)


def fine_tune(net: TopLayers, states: list[torch.Tensor], labels: np.ndarray, *, epochs: int, batch: int) -> None:
    body = [p for name, p in net.named_parameters() if not name.startswith("head.")]
    opt = torch.optim.AdamW(
        [{"params": body, "lr": 5e-5}, {"params": net.head.parameters(), "lr": 2e-3}], weight_decay=0.01
    )
    positives = labels.sum(0)
    pos_weight = np.clip((len(labels) - positives) / np.maximum(positives, 1), 1, 10) ** 0.5
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(pos_weight, dtype=torch.float32))
    steps = epochs * -(-len(states) // batch)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / (0.1 * steps)) * max(0.0, 1 - s / steps)
    )
    rng = np.random.default_rng(0)
    net.train()
    started = time.monotonic()
    for epoch in range(epochs):
        perm = rng.permutation(len(states))
        batches: list[np.ndarray] = []
        for lo in range(0, len(perm), batch * 50):  # length-bucketed batches, shuffled
            chunk = perm[lo : lo + batch * 50]
            chunk = chunk[np.argsort([len(states[i]) for i in chunk], kind="stable")]
            batches += [chunk[i : i + batch] for i in range(0, len(chunk), batch)]
        rng.shuffle(batches)  # type: ignore[arg-type]
        total = 0.0
        for b in batches:
            loss = loss_fn(net([states[i] for i in b]), torch.from_numpy(labels[b].astype(np.float32)))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(b)
        print(f"epoch {epoch + 1}/{epochs}: loss {total / len(states):.4f} ({time.monotonic() - started:.0f} s)")


def predict(net: TopLayers, states: list[torch.Tensor]) -> np.ndarray:
    net.eval()
    with torch.no_grad():
        return np.concatenate([net(states[i : i + 64]).numpy() for i in range(0, len(states), 64)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--taxonomy", default=None)
    parser.add_argument("--train", type=Path, required=True)
    parser.add_argument("--cut", type=int, default=4, help="fine-tune the layers above this one (of 6)")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--fold", type=int, default=0, help="which of the 5 folds is held out")
    args = parser.parse_args()
    from transformers import AutoModel, AutoTokenizer

    torch.manual_seed(0)
    taxonomy = load_taxonomy(args.taxonomy)
    tropes = list(taxonomy.ids)
    train, _ = load_train(args.train, taxonomy)
    rows = exemplar_rows(taxonomy, train)
    texts = [r.text for r in rows]
    labels = np.array([[t in r.labels for t in tropes] for r in rows], dtype=np.float64)
    folds = fold_ids(labels, 5)
    fit, held = np.flatnonzero(folds != args.fold), np.flatnonzero(folds == args.fold)

    location = resolve_model(None).location
    tokenizer = AutoTokenizer.from_pretrained(location)
    model = AutoModel.from_pretrained(location).eval()
    states, pooled = lower_states(texts, tokenizer, model, args.cut)

    scores: dict[str, np.ndarray] = {}
    heads = fit_heads([texts[i] for i in fit], labels[fit], pooled[fit])
    scores["lexical head"] = np.stack([heads.lexical.logits(texts[i]) for i in held])
    frozen = np.zeros((len(held), len(tropes)))
    for j in range(len(tropes)):
        clf = LogisticRegression(C=4.0, max_iter=2000).fit(pooled[fit], labels[fit, j])
        frozen[:, j] = clf.decision_function(pooled[held])
    scores["frozen MiniLM + logistic head"] = frozen
    net = TopLayers(model, args.cut, len(tropes))
    fine_tune(net, [states[i] for i in fit], labels[fit], epochs=args.epochs, batch=args.batch)
    tuned = predict(net, [states[i] for i in held])
    scores[f"MiniLM, layers {args.cut + 1}-6 fine-tuned"] = tuned

    def z(a: np.ndarray) -> np.ndarray:
        return (a - a.mean(0)) / np.maximum(a.std(0), 1e-9)

    scores["lexical + frozen"] = z(scores["lexical head"]) + z(frozen)
    scores["lexical + fine-tuned"] = z(scores["lexical head"]) + z(tuned)
    print(f"held-out fold {args.fold}: {len(held)} of {len(rows)} passages; average precision per trope")
    print(f"{'scorer':36s} {'mean':>5s} " + " ".join(f"{t[:8]:>8s}" for t in tropes))
    for name, s in scores.items():
        aps = [average_precision_score(labels[held, j], s[:, j]) for j in range(len(tropes))]
        print(f"{name:36s} {np.mean(aps):5.3f} " + " ".join(f"{a:8.2f}" for a in aps))


if __name__ == "__main__":
    main()
