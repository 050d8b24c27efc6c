"""A KV cache that grows in place: transformers' DynamicCache without a copy of the whole cache per token.

`DynamicLayer.update` concatenates each new token's keys and values onto the cache, so every decode step
copies the whole cache of every layer. On the CPU that copy was 47% of a decode step (SmolLM2-135M, bf16,
32 rows of 800 tokens, torch profiler), more than attention and the matmuls together. `GrowingLayer` keeps
a buffer with room for `step` more tokens and hands attention views of its filled part, so a token costs a
write of its own keys and values; the buffer is reallocated (one copy) only when it is full.
`benchmarks/kv_cache_decode.py` measures it against DynamicCache in the same run; tests/agent/test_kv_cache.py
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


class TurnCache:
    """The keys and values an episode's earlier turns computed, kept for its next turn.

    An episode's next prompt is its last prompt, the turn the model generated and the tool's result: with a
    prefix-preserving chat template (the L-Module's) it begins with the tokens already run. Each generation
    stores, per row, the KV of its prompt and of prompt + generated turn (keyed by those tokens); a later
    prompt starts from the longest stored key it begins with and runs only its new tokens. Entries are
    dropped least recently used beyond `max_bytes`. Keys and values are stored per layer as [heads, tokens,
    head_dim] tensors on the model's device.
    """

    def __init__(self, max_bytes: int):
        from collections import OrderedDict

        self.max_bytes = max_bytes
        self.entries: OrderedDict[tuple[int, ...], tuple[list, int]] = OrderedDict()  # tokens -> (kv, bytes)
        self.lengths: dict[int, int] = {}  # stored key length -> how many keys have it
        self.bytes = 0

    def lookup(self, prompt: tuple[int, ...]) -> tuple[int, list | None]:
        """(n, per-layer [(K, V)]) for the longest stored key that `prompt` begins with, leaving the prompt at
        least one token of its own; (0, None) when there is none."""
        for n in sorted((n for n in self.lengths if n < len(prompt)), reverse=True):
            key = prompt[:n]
            if key in self.entries:
                self.entries.move_to_end(key)
                return n, self.entries[key][0]
        return 0, None

    def store(self, tokens: tuple[int, ...], kv: list) -> None:
        if tokens in self.entries or not tokens:
            return
        size = sum(k.numel() * k.element_size() + v.numel() * v.element_size() for k, v in kv)
        self.entries[tokens] = (kv, size)
        self.lengths[len(tokens)] = self.lengths.get(len(tokens), 0) + 1
        self.bytes += size
        while self.bytes > self.max_bytes and self.entries:
            old, (_, old_size) = self.entries.popitem(last=False)
            self.bytes -= old_size
            self.lengths[len(old)] -= 1
            if not self.lengths[len(old)]:
                del self.lengths[len(old)]

    @staticmethod
    def batch_cache(hits: list[tuple[int, list]], width: int) -> GrowingCache:
        """A GrowingCache of `width` positions holding each row's stored KV right-aligned (left padding)."""
        cache = GrowingCache()
        layers = len(hits[0][1])
        for layer in range(layers):
            k0, v0 = hits[0][1][layer]
            keys = k0.new_zeros((len(hits), k0.shape[0], width, k0.shape[-1]))
            values = v0.new_zeros((len(hits), v0.shape[0], width, v0.shape[-1]))
            for row, (n, kv) in enumerate(hits):
                keys[row, :, width - n:] = kv[layer][0]
                values[row, :, width - n:] = kv[layer][1]
            cache.update(keys, values, layer)
        return cache

    @staticmethod
    def rows(cache, positions: list[list[int]]) -> list[list]:
        """Each row's KV at its `positions` (the ones its mask kept), as stored entries."""
        out = []
        for row, pos in enumerate(positions):
            index = torch.tensor(pos, device=cache.layers[0].keys.device)
            out.append([(layer.keys[row].index_select(1, index), layer.values[row].index_select(1, index))
                        for layer in cache.layers])
        return out
