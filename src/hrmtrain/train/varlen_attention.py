"""Attention for packed rows: one causal SDPA call per sequence, instead of one masked call per row.

A packed micro-batch (dataset.collate_packed) lays its sequences end to end in one row with no padding.
transformers' `sdpa` path then builds a block-diagonal [rows, 1, S, S] mask and hands it to SDPA, which
computes every one of the S x S scores of the row and masks most of them away: for a row of four
sequences of ~700 tokens that is ~16x the scores the four causal sequences need (4 x 700^2 / 2), and a
mask rules out SDPA's causal fast path on the CPU. Here each sequence gets its own call with
`is_causal=True`, so attention costs what the sequences need and nothing crosses a sequence boundary.

The sequences' bounds come from `position_ids` (they restart at 0 for each sequence), computed once per
forward in `segments()` and passed down to every layer as the `hrm_segments` keyword, which transformers'
decoder layers forward to the attention function. Without it (generation, padded batches, evaluation)
the function is transformers' own SDPA path, mask and all, so the model behaves as with `sdpa`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

NAME = "hrm_varlen_sdpa"


def segments(position_ids: torch.Tensor) -> torch.Tensor:
    """(row, start, end) of each sequence, as an [n, 3] tensor: a new one starts wherever the position is 0.
    A tensor, not a list, so that torch.compile'd decoder layers (perf.compile) take it as an input instead
    of specialising on its values and recompiling for every batch."""
    out = []
    width = position_ids.shape[1]
    for r, row in enumerate(position_ids.tolist()):
        starts = [i for i, p in enumerate(row) if p == 0] or [0]
        out += [(r, s, e) for s, e in zip(starts, starts[1:] + [width])]
    return torch.tensor(out, dtype=torch.long)


@torch.compiler.disable  # a loop over the batch's sequences: eager, between the compiled parts of a layer
def _attention(module, query, key, value, attention_mask, dropout: float = 0.0, scaling=None, is_causal=None,
               hrm_segments=None, **kwargs):
    """query [B, Hq, S, D], key/value [B, Hkv, S, D] -> ([B, S, Hq, D], None), as transformers expects."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    if hrm_segments is None or query.shape[2] != key.shape[2]:
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
                                      is_causal=is_causal, **kwargs)
    groups = getattr(module, "num_key_value_groups", 1)
    if groups > 1:  # GQA: SDPA's CPU kernels take equal head counts
        key = key.repeat_interleave(groups, dim=1)
        value = value.repeat_interleave(groups, dim=1)
    drop = dropout if module.training else 0.0
    rows: dict[int, list[torch.Tensor]] = {}
    for b, s, e in hrm_segments.tolist():
        rows.setdefault(b, []).append(F.scaled_dot_product_attention(
            query[b:b + 1, :, s:e], key[b:b + 1, :, s:e], value[b:b + 1, :, s:e],
            dropout_p=drop, is_causal=e - s > 1, scale=scaling))
    joined = [parts[0] if len(parts) == 1 else torch.cat(parts, dim=2) for _, parts in sorted(rows.items())]
    out = joined[0] if len(joined) == 1 else torch.cat(joined, dim=0)
    return out.transpose(1, 2).contiguous(), None


def register() -> str:
    """Make NAME an attention implementation transformers knows (with sdpa's mask builder); returns NAME."""
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, sdpa_mask

    AttentionInterface.register(NAME, _attention)
    ALL_MASK_ATTENTION_FUNCTIONS.register(NAME, sdpa_mask)
    return NAME
