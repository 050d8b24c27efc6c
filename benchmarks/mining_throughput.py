"""Hard-negative mining: hrmtrain's miner against sentence-transformers' `mine_hard_negatives`, queries/s.

    python benchmarks/mining_throughput.py [--repeats 3] [--range-max 30] [--negatives 3] [--json FILE]

Same inputs for both, in one process, variants interleaved over `--repeats` rounds (medians):
the sample household's corpus as `hrmtrain retrieval` reads it (Docling chunks of the training
documents) and its training queries (household questions and template queries, each with its
positives), all-MiniLM-L6-v2 as the embedder and a MiniLM cross-encoder as the reranker, trained
briefly first (RankNet, one epoch over 64 queries' mined lists, as `hrmtrain retrieval` trains it:
an untrained head scores every pair alike, and the margin rule then drops every candidate). The rule
is the same on both sides: top range_max + positives candidates, positives excluded, relative margin
0.05, `--negatives` kept.

- `st-defaults`: `mine_hard_negatives(..., cross_encoder=ce, relative_margin=0.05)` with every other
  argument at its default (batch_size 32, exact search, one `CrossEncoder.predict` per query);
- `hrmtrain`: `hrmtrain.retrieval.mine.mine(..., reranker=ce)` (FAISS IndexFlatIP, every (query,
  candidate) pair in one `predict` call, batch 64);
- `st-embedder-only` and `hrmtrain-embedder-only`: the same without the cross-encoder, for scale.

Time includes encoding the corpus and the queries (both encode them). The last line:
`speedup: X.XXx queries/s with re-scoring (hrmtrain N q/s vs sentence-transformers M q/s)`.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def inputs(tmp: Path):
    from hrmtrain.privacy.consent import ConsentRegistry
    from hrmtrain.privacy.directory import Directory
    from hrmtrain.sample.household import generate
    from hrmtrain.retrieval.corpus import read_corpus
    from hrmtrain.retrieval.embed import default_embedder
    from hrmtrain.retrieval.queries import build_query_sets, read_questions

    root = tmp / "household"
    generate(root, seed=0)
    corpus = read_corpus(root / "documents", Directory.load(root / "household.json"),
                         ConsentRegistry(root / "consent.sqlite"), default_embedder(), 128, progress=False)
    questions, dropped = read_questions(root / "documents" / "questions.jsonl", corpus.chunks)
    sets = build_query_sets(questions, corpus.chunks, 0.3, 2, 0, dropped)
    held = set(sets.heldout_docs)
    return [c for c in corpus.chunks if c.doc not in held], sets.train


def run_st(embedder, ce, chunks, queries, range_max: int, negatives: int, rescore: bool) -> int:
    from datasets import Dataset
    from sentence_transformers.util import mine_hard_negatives

    text = {c.id: c.text for c in chunks}
    rows = [(q.text, text[p]) for q in queries for p in q.positives]
    ds = Dataset.from_dict({"anchor": [r[0] for r in rows], "positive": [r[1] for r in rows]})
    out = mine_hard_negatives(ds, embedder, corpus=[c.text for c in chunks], cross_encoder=ce if rescore else None,
                              relative_margin=0.05, range_max=range_max, num_negatives=negatives, verbose=False)
    return len(out)


def run_ours(embedder, ce, chunks, queries, range_max: int, negatives: int, rescore: bool) -> int:
    from hrmtrain.retrieval.mine import MiningRule, mine

    mined = mine(embedder, queries, chunks, MiningRule(0, range_max, 0.05, negatives), reranker=ce if rescore else None)
    return sum(len(m.negatives) for m in mined)


def train_briefly(ce, embedder, chunks, queries) -> None:
    from hrmtrain.retrieval.mine import MiningRule, mine
    from hrmtrain.retrieval.rerank import train_reranker
    from hrmtrain.retrieval.stage import rerank_lists

    text = {c.id: c.text for c in chunks}
    mined = mine(embedder, queries[:64], chunks, MiningRule(0, 30, 0.05, 3))
    with tempfile.TemporaryDirectory() as tmp:
        train_reranker(ce, rerank_lists(mined, text, 3), Path(tmp), epochs=1.0, batch_size=8, lr=2e-4, seed=0)


class CrossEncoderPositions:
    """Counts what the cross-encoder computes while attached: pairs, token positions (batch x padded
    length, summed over its forward calls) and real (unpadded) tokens."""

    def __init__(self, ce):
        self.pairs = self.positions = self.real = 0
        self.handle = ce.register_forward_pre_hook(self._count)

    def _count(self, module, args):
        features = args[0]
        ids = features["input_ids"]
        self.pairs += int(ids.shape[0])
        self.positions += int(ids.numel())
        self.real += int(features["attention_mask"].sum()) if "attention_mask" in features else int(ids.numel())

    def close(self) -> dict:
        self.handle.remove()
        return {"pairs": self.pairs, "positions": self.positions, "real_tokens": self.real}


VARIANTS = {
    "st-defaults": (run_st, True),
    "hrmtrain": (run_ours, True),
    "st-embedder-only": (run_st, False),
    "hrmtrain-embedder-only": (run_ours, False),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--range-max", type=int, default=30)
    ap.add_argument("--negatives", type=int, default=3)
    ap.add_argument("--queries", type=int, default=0, help="use only the first N training queries (0: all)")
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args()
    logging.disable(logging.WARNING)

    import torch

    from hrmtrain.retrieval.embed import default_embedder, load_embedder
    from hrmtrain.retrieval.rerank import new_reranker

    variants = args.variants.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        chunks, queries = inputs(Path(tmp))
    if args.queries:
        queries = queries[:args.queries]
    embedder = load_embedder(default_embedder())
    ce = new_reranker(default_embedder(), 256)
    train_briefly(ce, embedder, chunks, queries)
    print(f"{len(queries)} queries, {len(chunks)} chunks, range_max {args.range_max}, {args.negatives} negatives, "
          f"{torch.get_num_threads()} threads")
    times: dict[str, list[float]] = {v: [] for v in variants}
    mined: dict[str, int] = {}
    positions: dict[str, dict] = {}
    for r in range(args.repeats):
        for v in variants:
            fn, rescore = VARIANTS[v]
            counted = CrossEncoderPositions(ce) if r == 0 and rescore else None
            start = time.perf_counter()
            mined[v] = fn(embedder, ce, chunks, queries, args.range_max, args.negatives, rescore)
            times[v].append(time.perf_counter() - start)
            if counted:
                positions[v] = counted.close()
            print(f"  round {r + 1} {v}: {times[v][-1]:.2f} s")
    medians = {v: {"seconds": statistics.median(t), "queries_per_s": len(queries) / statistics.median(t),
                   "runs_s": t, "negatives_or_rows": mined[v], **({"cross_encoder": positions[v]} if v in positions
                                                                   else {})} for v, t in times.items()}
    print(f"\n{'variant':<24}{'median s':>10}{'queries/s':>12}{'pairs':>8}{'positions':>11}{'real':>9}")
    for v, m in medians.items():
        ce_pos = m.get("cross_encoder", {})
        print(f"{v:<24}{m['seconds']:>10.2f}{m['queries_per_s']:>12.1f}"
              + (f"{ce_pos['pairs']:>8}{ce_pos['positions']:>11,}{ce_pos['real_tokens']:>9,}" if ce_pos else ""))
    result = {"queries": len(queries), "chunks": len(chunks), "range_max": args.range_max,
              "negatives": args.negatives, "repeats": args.repeats, "threads": torch.get_num_threads(),
              "medians": medians}
    if "st-defaults" in positions and "hrmtrain" in positions:
        st, ours = positions["st-defaults"], positions["hrmtrain"]
        # the cross-encoder's cost is its token positions (padding included): what batching can save is the
        # padding, so st's positions over the real tokens of the pairs both score bound any batching speedup
        result["batching_bound"] = st["positions"] / ours["real_tokens"]
        print(f"cross-encoder token positions: sentence-transformers {st['positions']:,} "
              f"({st['positions'] / st['real_tokens']:.2f}x its real tokens), hrmtrain {ours['positions']:,} "
              f"({ours['positions'] / ours['real_tokens']:.2f}x); the most any batching of the same pairs can gain: "
              f"{result['batching_bound']:.2f}x")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    if "st-defaults" in medians and "hrmtrain" in medians:
        ours, theirs = medians["hrmtrain"]["queries_per_s"], medians["st-defaults"]["queries_per_s"]
        print(f"speedup: {ours / theirs:.2f}x queries/s with re-scoring (hrmtrain {ours:.1f} q/s vs "
              f"sentence-transformers {theirs:.1f} q/s)")


if __name__ == "__main__":
    main()
