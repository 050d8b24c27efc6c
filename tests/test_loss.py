"""Chunked cross-entropy equals the full one; a batch without assistant tokens gives 0, not NaN."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from hrmtrain.train.chat import IGNORE
from hrmtrain.train.loss import SFTLoss, chunked_cross_entropy_sum


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

    from hrmtrain.config import TinyModelConfig
    from hrmtrain.train.model import ModelSource, load_model

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
