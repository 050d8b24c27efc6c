"""Cross-entropy over the output layer in chunks, so the vocabulary-wide logits never exist whole.

Only positions with a label are projected (prompt tokens need no logits). Each chunk's projection
and loss run under activation checkpointing: backward recomputes that chunk's logits instead of
keeping them, so peak memory holds one chunk of [chunk, vocab] logits, not [batch*seq, vocab]
(4 x 2048 tokens x 151,936 x 4 bytes = 5 GB in fp32 for Qwen3).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

from hrmtrain.train import varlen_attention as _varlen
from hrmtrain.prompt.chat import IGNORE


def _chunk_loss_sum(head: torch.nn.Module, hidden: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    logits = head(hidden).float()
    return F.cross_entropy(logits, targets, reduction="sum")


def shift_targets(hidden: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Hidden states that predict a labelled token, and those tokens: [N, H], [N]."""
    h = hidden[:, :-1, :]
    y = labels[:, 1:]
    keep = y != IGNORE
    return h[keep], y[keep]


def chunked_cross_entropy_sum(head: torch.nn.Module, hidden: torch.Tensor, targets: torch.Tensor,
                              chunk_size: int) -> torch.Tensor:
    """Sum (not mean) of token losses; the caller divides by the step's token count."""
    total = hidden.new_zeros((), dtype=torch.float32)
    for start in range(0, hidden.shape[0], chunk_size):
        h, y = hidden[start:start + chunk_size], targets[start:start + chunk_size]
        if torch.is_grad_enabled():
            total = total + checkpoint(_chunk_loss_sum, head, h, y, use_reentrant=False)
        else:
            total = total + _chunk_loss_sum(head, h, y)
    return total


class SFTLoss(torch.nn.Module):
    """Wraps a causal LM so one `forward` returns (loss sum, target count) for a batch.

    DDP and FSDP wrap this module, so their hooks see the whole computation, output head included.
    """

    def __init__(self, causal_lm: torch.nn.Module, chunk_size: int, varlen_attention: bool = True):
        super().__init__()
        self.lm = causal_lm
        self.chunk_size = chunk_size
        config = getattr(causal_lm, "config", None)
        if varlen_attention and getattr(config, "_attn_implementation", None) == "sdpa":
            # packed rows: one causal SDPA call per sequence (varlen_attention.py); otherwise exactly sdpa
            causal_lm.set_attn_implementation(_varlen.register())

    def forward(self, input_ids, attention_mask=None, labels=None, position_ids=None):
        """A padded batch comes with `attention_mask`; a packed one (dataset.collate_packed) with
        `position_ids` that restart at each example and no mask."""
        if labels is None:
            raise TypeError("SFTLoss needs labels")
        body = self.lm.get_decoder() if hasattr(self.lm, "get_decoder") else self.lm.model
        extra = {}
        if (position_ids is not None and attention_mask is None
                and getattr(self.lm.config, "_attn_implementation", None) == _varlen.NAME):
            extra["hrm_segments"] = _varlen.segments(position_ids)
        hidden = body(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                      **extra).last_hidden_state
        head = self.lm.get_output_embeddings()
        h, y = shift_targets(hidden, labels)
        if y.numel() == 0:
            # No assistant token in this batch (e.g. all truncated away): a zero loss that still
            # touches every parameter, so backward and DDP's gradient hooks behave; never NaN.
            return head(hidden[:1, :1]).float().sum() * 0.0, 0
        return chunked_cross_entropy_sum(head, h, y, self.chunk_size), y.numel()
