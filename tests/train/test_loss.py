"""Chunked cross-entropy equals the full one; a batch without assistant tokens gives 0, not NaN."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from helpers import conversation_rows
from hrmtrain.config import TinyModelConfig
from hrmtrain.models.base import ModelSource
from hrmtrain.prompt.chat import ChatEncoder, IGNORE
from hrmtrain.train import varlen_attention
from hrmtrain.train.dataset import collate, collate_packed
from hrmtrain.train.loss import SFTLoss, chunked_cross_entropy_sum
from hrmtrain.train.model import load_model


def test_chunked_matches_full_cross_entropy_in_value_and_gradient():
    torch.manual_seed(0)
    head = torch.nn.Linear(16, 1000, bias=False)
    hidden = torch.randn(37, 16, requires_grad=True)
    y = torch.randint(0, 1000, (37,))
    full = F.cross_entropy(head(hidden), y, reduction="sum")
    g_full = torch.autograd.grad(full, [hidden, head.weight])
    chunked = chunked_cross_entropy_sum(head, hidden, y, chunk_size=8)
    g_chunk = torch.autograd.grad(chunked, [hidden, head.weight])
    assert torch.allclose(full, chunked, rtol=1e-5)
    for a, b in zip(g_full, g_chunk):
        assert torch.allclose(a, b, atol=1e-5)


def _tiny_lm(tokenizer):
    from omegaconf import OmegaConf

    cfg = OmegaConf.create({"tiny": TinyModelConfig(), "quant": "none", "lora": {"enabled": False}})
    return load_model(ModelSource("tiny", None), cfg, tokenizer)


def test_batch_without_assistant_tokens_is_zero_not_nan(tokenizer):
    lm = _tiny_lm(tokenizer)
    sft = SFTLoss(lm, chunk_size=64)
    ids = torch.randint(0, 1000, (2, 12))
    loss, n = sft(ids, torch.ones_like(ids), torch.full_like(ids, IGNORE))
    assert n == 0 and loss.item() == 0.0 and math.isfinite(loss.item())
    loss.backward()  # still differentiable: DDP and the optimizer see a normal step
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in lm.parameters() if p.requires_grad)


def test_sft_loss_equals_transformers_loss(tokenizer):
    lm = _tiny_lm(tokenizer)
    ids = torch.randint(0, 5000, (2, 20))
    labels = ids.clone()
    labels[:, :8] = IGNORE
    loss_sum, n = SFTLoss(lm, chunk_size=7)(ids, torch.ones_like(ids), labels)
    ref = lm(input_ids=ids, labels=labels).loss  # transformers' own shifted mean
    assert torch.allclose(loss_sum / n, ref, rtol=1e-5)


def _examples(tokenizer, n: int = 6):
    encoder = ChatEncoder(tokenizer)
    return [ex for row in conversation_rows(n) for ex in encoder.encode(row["messages"], row["tools"], 1024)]


def test_packed_loss_and_gradients_equal_the_padded_ones(tokenizer):
    lm = _tiny_lm(tokenizer)
    sft = SFTLoss(lm, chunk_size=64)
    examples = _examples(tokenizer)
    padded = collate(examples, tokenizer.pad_token_id)
    packed = collate_packed(examples, tokenizer.pad_token_id, width=4096)
    assert packed["input_ids"].shape[0] < len(examples)  # really packed: fewer rows than sequences
    assert int(packed.pop("real_tokens")) == int(padded["attention_mask"].sum())
    loss_pad, n_pad = sft(**padded)
    g_pad = torch.autograd.grad(loss_pad, [p for p in lm.parameters()])
    loss_pack, n_pack = sft(**packed)
    g_pack = torch.autograd.grad(loss_pack, [p for p in lm.parameters()])
    assert n_pack == n_pad and torch.allclose(loss_pack, loss_pad, rtol=1e-5)
    for a, b in zip(g_pad, g_pack):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-6)


def test_packing_without_position_restarts_would_leak_across_examples(tokenizer):
    """The check above can fail: positions that run on make one long sequence, and the loss changes."""

    lm = _tiny_lm(tokenizer)
    sft = SFTLoss(lm, chunk_size=64)
    examples = _examples(tokenizer, 4)
    packed = collate_packed(examples, tokenizer.pad_token_id, width=4096)
    packed.pop("real_tokens")
    packed["position_ids"] = torch.arange(packed["input_ids"].shape[1]).expand_as(packed["input_ids"])
    with torch.no_grad():
        leaky, _ = sft(**packed)
        right, _ = sft(**collate(examples, tokenizer.pad_token_id))
    assert not torch.allclose(leaky, right, rtol=1e-5)  # the tolerance the equality above holds to


def test_rows_never_exceed_the_width_and_keep_every_example(tokenizer):
    examples = _examples(tokenizer, 8)
    width = max(len(e.input_ids) for e in examples) + 10
    packed = collate_packed(examples, tokenizer.pad_token_id, width)
    assert packed["input_ids"].shape[1] <= width
    lengths = [sum(len(e.input_ids) for e in row) for row in _rows_of(packed, examples)]
    padded_rows = sum(1 for n in lengths if n < packed["input_ids"].shape[1])
    assert int((packed["position_ids"] == 0).sum()) == len(examples) + padded_rows  # a restart per example
    assert int(packed["real_tokens"]) == sum(len(e.input_ids) for e in examples)


def _rows_of(packed, examples):
    """Which examples each packed row holds, found from the row's tokens."""
    rows = []
    for ids in packed["input_ids"].tolist():
        row, at = [], 0
        for e in examples:
            if ids[at:at + len(e.input_ids)] == e.input_ids and e not in [x for r in rows for x in r]:
                row.append(e)
                at += len(e.input_ids)
        rows.append(row)
    assert sum(len(r) for r in rows) == len(examples)
    return rows


def test_packed_rows_attend_per_sequence_as_the_block_mask_would(tokenizer, monkeypatch):
    """varlen_attention: each packed sequence gets its own causal SDPA call (no S x S mask over the row), and
    the loss and gradients are those of transformers' sdpa path with its block-diagonal mask."""
    import torch.nn.functional as F

    lm = _tiny_lm(tokenizer)
    examples = _examples(tokenizer, 4)
    width = max(len(e.input_ids) for e in examples) + 5  # several rows, some with a padding segment
    packed = collate_packed(examples, tokenizer.pad_token_id, width)
    packed.pop("real_tokens")
    masked = SFTLoss(lm, chunk_size=64, varlen_attention=False)
    loss_mask, _ = masked(**packed)
    g_mask = torch.autograd.grad(loss_mask, list(lm.parameters()))
    calls = []
    sdpa = F.scaled_dot_product_attention
    monkeypatch.setattr(varlen_attention.F, "scaled_dot_product_attention",
                        lambda q, *a, **k: calls.append((q.shape[2], k["is_causal"])) or sdpa(q, *a, **k))
    varlen = SFTLoss(lm, chunk_size=64)
    assert lm.config._attn_implementation == varlen_attention.NAME
    loss_var, _ = varlen(**packed)
    g_var = torch.autograd.grad(loss_var, list(lm.parameters()))
    segments = varlen_attention.segments(packed["position_ids"]).tolist()
    assert len(calls) == len(segments) * lm.config.num_hidden_layers
    assert sorted(n for n, _ in calls[:len(segments)]) == sorted(e - s for _, s, e in segments)
    assert all(causal for n, causal in calls if n > 1)
    assert torch.allclose(loss_var, loss_mask, rtol=1e-5)
    for a, b in zip(g_mask, g_var):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-6)
