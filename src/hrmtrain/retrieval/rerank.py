"""The reranker: a cross-encoder over (query, chunk) that reorders the embedder's top candidates.

No pretrained cross-encoder can be had here, so it starts from the embedder's base (MiniLM) with a
fresh one-logit head and learns from lists (query, [positive, negatives...], [labels]) with RankNet,
a pairwise loss (sentence-transformers' CrossEncoderTrainer). Labels are 1 for the positives and 0
for the mined negatives, or the judge's graded labels where a judge is configured. Whether it is used
is decided by the measurement (stage.py): a reranker that does not beat the embedder alone on the
held-out queries is saved and reported but not switched on.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hrmtrain.retrieval.embed import _cuda, inference_autocast, quiet_libraries


def new_reranker(base: str, max_length: int):
    """A cross-encoder on `base`'s transformer with a fresh, untrained one-logit head."""
    import transformers
    from sentence_transformers import CrossEncoder

    quiet_libraries()
    verbosity = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_error()  # "newly initialized: classifier.weight" is the point here
    try:
        return CrossEncoder(base, num_labels=1, max_length=max_length, device="cpu" if not _cuda() else None)
    finally:
        transformers.logging.set_verbosity(verbosity)


def load_reranker(path: str):
    from sentence_transformers import CrossEncoder

    quiet_libraries()
    return CrossEncoder(path, device="cpu" if not _cuda() else None)


def train_reranker(model, lists: list[tuple[str, list[str], list[float]]], out: Path, epochs: float,
                   batch_size: int, lr: float, seed: int) -> list[float]:
    """RankNet on (query, docs, labels) lists; the model is trained in place. Returns the logged losses."""
    from datasets import Dataset
    from sentence_transformers.cross_encoder import CrossEncoderTrainer, CrossEncoderTrainingArguments
    from sentence_transformers.cross_encoder.losses import RankNetLoss

    from hrmtrain.models.precision import resolve

    data = Dataset.from_dict({"query": [x[0] for x in lists], "docs": [x[1] for x in lists],
                              "labels": [x[2] for x in lists]})
    steps = max(1, int(len(lists) / batch_size * epochs))
    args = CrossEncoderTrainingArguments(
        output_dir=str(out), num_train_epochs=epochs, per_device_train_batch_size=batch_size, learning_rate=lr,
        warmup_steps=max(1, steps // 10), seed=seed, data_seed=seed,
        bf16=resolve("auto", "cuda" if _cuda() else "cpu")[0] == "bf16", save_strategy="no", report_to="none",
        logging_steps=10, use_cpu=not _cuda())
    trainer = CrossEncoderTrainer(model=model, args=args, train_dataset=data, loss=RankNetLoss(model))
    trainer.train()
    return [h["loss"] for h in trainer.state.log_history if "loss" in h]


def rerank(model, query_text: dict[str, str], run: dict[str, list[str]], text: dict[str, str], top_k: int,
           batch_size: int = 64, progress: bool = False) -> dict[str, list[str]]:
    """Reorder each query's first `top_k` candidates by the cross-encoder (one predict call over all
    pairs: full batches); the rest of the ranking stays behind them in its order."""
    pairs, spans = [], []
    for qid, ranked in run.items():
        head = ranked[:top_k]
        spans.append((qid, head, ranked[top_k:]))
        pairs += [(query_text[qid], text[c]) for c in head]
    with inference_autocast():
        scores = np.asarray(model.predict(pairs, batch_size=batch_size, show_progress_bar=progress,
                                          convert_to_numpy=True)).reshape(-1) if pairs else np.zeros(0)
    out, at = {}, 0
    for qid, head, tail in spans:
        s = scores[at:at + len(head)]
        at += len(head)
        order = np.argsort(-s, kind="stable")
        out[qid] = [head[i] for i in order] + tail
    return out
