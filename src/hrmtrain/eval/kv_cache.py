"""A KV cache that grows in place: transformers' DynamicCache without a copy of the whole cache per token.

`DynamicLayer.update` concatenates each new token's keys and values onto the cache, so every decode step
copies the whole cache of every layer. On the CPU that copy was 47% of a decode step (SmolLM2-135M, bf16,
32 rows of 800 tokens, torch profiler), more than attention and the matmuls together. `GrowingLayer` keeps
a buffer with room for `step` more tokens and hands attention views of its filled part, so a token costs a
write of its own keys and values; the buffer is reallocated (one copy) only when it is full.
`benchmarks/kv_cache_decode.py` measures it against DynamicCache in the same run; tests/test_kv_cache.py
checks that logits and greedy tokens are the same.
"""

from __future__ import annotations

import torch
from transformers.cache_utils import Cache, DynamicCache, DynamicLayer


class GrowingLayer(DynamicLayer):
    step = 256  # tokens of headroom per (re)allocation

    def lazy_initialization(self, key_states: torch.Tensor, value_states: torch.Tensor) -> None:
        self.device = key_states.device
        self._kb = self._vb = None
        self._n = 0
        self.keys, self.values = key_states[..., :0, :], value_states[..., :0, :]
        self.is_initialized = True

    def _set(self, keys: torch.Tensor, values: torch.Tensor, room: int) -> None:
        """New buffers holding `keys`/`values` with space for `room` more tokens."""
        n = keys.shape[-2]
        shape = (*keys.shape[:-2], n + room, keys.shape[-1])
        self._kb = torch.empty(shape, dtype=keys.dtype, device=keys.device)
        self._vb = torch.empty(shape, dtype=values.dtype, device=values.device)
        self._kb[..., :n, :] = keys
        self._vb[..., :n, :] = values
        self._n = n
        self._views()

    def _views(self) -> None:
        self.keys, self.values = self._kb[..., :self._n, :], self._vb[..., :self._n, :]

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs):
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        n, m = self._n, key_states.shape[-2]
        if self._kb is None or self._kb.shape[-2] < n + m:
            self._set(self.keys, self.values, m + self.step)
        self._kb[..., n:n + m, :] = key_states
        self._vb[..., n:n + m, :] = value_states
        self._n = n + m
        self._views()
        return self.keys, self.values

    def get_seq_length(self) -> int:
        return self._n if self.is_initialized else 0

    def crop(self, tokens_to_remove: int) -> None:
        if tokens_to_remove > 0:
            raise ValueError("crop takes a negative number of tokens to remove")
        if tokens_to_remove and self.is_initialized:
            self._n = max(self._n + tokens_to_remove, 0)
            self._views()

    def batch_repeat_interleave(self, repeats: int) -> None:
        if self.get_seq_length() > 0:
            self._set(self.keys.repeat_interleave(repeats, dim=0), self.values.repeat_interleave(repeats, dim=0),
                      self.step)

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        if self.get_seq_length() > 0:
            self._set(self.keys[indices, ...], self.values[indices, ...], self.step)

    def reorder_cache(self, beam_idx: torch.LongTensor) -> None:
        if self.get_seq_length() > 0:
            idx = beam_idx.to(self.keys.device)
            self._set(self.keys.index_select(0, idx), self.values.index_select(0, idx), self.step)


class GrowingCache(DynamicCache):
    """A DynamicCache whose layers are GrowingLayers (full attention; a model with sliding-window layers
    gets transformers' own cache instead: `supported`)."""

    def __init__(self):
        Cache.__init__(self, layer_class_to_replicate=GrowingLayer)

    @staticmethod
    def supported(model) -> bool:
        config = model.config.get_text_config(decoder=True)
        return all(t == "full_attention" for t in getattr(config, "layer_types", None) or ["full_attention"])
