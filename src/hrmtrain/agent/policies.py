"""Policies behind one interface: given the conversation so far and the tools, produce the next turn.

`scripted` replays a task's gold calls and answer (the oracle: it must score 100%), `noop` answers
without calling any tool (it must score 0%), `local` generates with a transformers model in Qwen3's
Hermes tool-call format (the trained L-Module).
"""

from __future__ import annotations

import contextlib
import inspect
import json
import re
from dataclasses import dataclass, field
from typing import Protocol

TOOL_CALL = re.compile(r"<tool_call>\s*(.*?)\s*</tool_call>", re.S)
THINK = re.compile(r"<think>.*?</think>\s*", re.S)


@dataclass
class Call:
    name: str
    arguments: dict | None  # None when the arguments did not parse
    raw: str = ""
    parse_error: str = ""


@dataclass
class Turn:
    content: str
    calls: list[Call] = field(default_factory=list)
    tokens: int = 0  # generated tokens
    error: str = ""  # the policy could not answer (e.g. a failed request to an endpoint)
    seconds: float = 0.0  # wall time of the policy call (a batch's time shared by its turns), set by the driver


class Policy(Protocol):
    name: str

    def act(self, messages: list[dict], tools: list[dict], max_new_tokens: int) -> Turn: ...


def parse_turn(text: str) -> tuple[str, list[Call]]:
    """Split a Qwen3/Hermes completion into its answer text and its tool calls."""
    calls = []
    for block in TOOL_CALL.findall(text):
        try:
            obj = json.loads(block)
        except json.JSONDecodeError as exc:
            calls.append(Call("", None, block, f"not JSON ({exc.msg})"))
            continue
        if not isinstance(obj, dict) or not isinstance(obj.get("name"), str):
            calls.append(Call("", None, block, "no function name"))
            continue
        args = obj.get("arguments", {})
        if isinstance(args, str):
            try:
                args = json.loads(args)
            except json.JSONDecodeError as exc:
                calls.append(Call(obj["name"], None, block, f"arguments not JSON ({exc.msg})"))
                continue
        calls.append(Call(obj["name"], args if isinstance(args, dict) else None, block,
                          "" if isinstance(args, dict) else "arguments are not an object"))
    content = THINK.sub("", TOOL_CALL.sub("", text)).replace("<|im_end|>", "").strip()
    return content, calls


class ScriptedPolicy:
    """Replays gold calls one per turn (as the gold conversation made them), then the gold answer."""

    name = "scripted"

    def __init__(self, gold_calls: list[tuple[str, dict]], answer: str):
        self.pending = list(gold_calls)
        self.answer = answer

    def act(self, messages, tools, max_new_tokens) -> Turn:
        if self.pending:
            name, args = self.pending.pop(0)
            return Turn("", [Call(name, dict(args))], tokens=len(json.dumps(args)) // 4 + 8)
        return Turn(self.answer, [], tokens=len(self.answer) // 4 + 1)


class NoopPolicy:
    name = "noop"

    def act(self, messages, tools, max_new_tokens) -> Turn:
        return Turn("Sorry, I can't help with that.", [], tokens=8)


def load_saved_model(model_path: str):
    """(tokenizer, model) from a saved Hugging Face folder; a missing folder, a corrupt config.json or corrupt
    weights is a CheckpointError naming the file and the problem, not a traceback from transformers."""
    import json
    from pathlib import Path

    from transformers import AutoModelForCausalLM, AutoTokenizer

    from hrmtrain.errors import CheckpointError

    folder = Path(model_path)
    if not folder.is_dir():
        raise CheckpointError(f"{folder}: no such model folder")
    config = folder / "config.json"
    try:
        json.loads(config.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"{config}: missing (not a saved model folder)") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{config}: corrupt, not valid JSON ({exc})") from None
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder)
    except Exception as exc:  # transformers raises OSError, ValueError, JSON and tokenizers' own errors
        raise CheckpointError(f"{folder}: the tokenizer cannot be loaded ({type(exc).__name__}: "
                              f"{str(exc).splitlines()[0][:200] if str(exc) else ''})") from None
    try:
        model = AutoModelForCausalLM.from_pretrained(folder)
    except Exception as exc:  # config values, safetensors headers, shapes: each library's own error type
        weights = ", ".join(p.name for p in sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.bin"))) or "none"
        raise CheckpointError(f"{folder}: the model cannot be loaded from config.json and its weights ({weights}): "
                              f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}") from None
    return tokenizer, model


def _common_prefix(a, b) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


class LocalPolicy:
    """A transformers causal LM with its chat template (Qwen3's: tools in the system prompt, Hermes calls).

    Prompts are built exactly as training builds each assistant turn (prompt/chat.py's `prompt_ids`:
    the template's text with the generation prompt, pieced together where the template keeps the
    history as generated, no special tokens added), so the model is asked what it was taught to answer.
    `act_batch` generates many turns at once: prompts sorted by their tokens, so those sharing the system
    prompt and tool block come together, `batch_size` at a time; the prefix a batch shares is run once
    and its KV cache shared by every row (`prefix_cache`; the rows' own tokens are left-padded after
    it, positions counted past the padding, so each row computes what it would alone). Greedy turns are
    memoised by their prompt tokens, so a second loop over the same tasks (HRM with the passthrough
    planner asks the flat loop's first turns again) costs nothing. `dtype` bfloat16 casts the weights,
    where the CPU or GPU computes bf16 natively (eval.precision=auto decides). Decoding writes into a KV
    cache that grows in place (`inplace_kv_cache`, agent/kv_cache.py) instead of concatenating per token.
    """

    name = "local"

    batch_size = 16
    prefix_cache = True
    inplace_kv_cache = True  # agent/kv_cache.py: decoding writes into the cache instead of concatenating
    turn_cache_mb = 4096  # agent/kv_cache.TurnCache: an episode's next turn starts from its last one's KV; 0: off
    min_shared_prefix = 32  # tokens; a shorter shared prefix is not worth a separate forward

    def __init__(self, model_path: str, device: str = "cpu", enable_thinking: bool = False,
                 temperature: float = 0.0, seed: int = 0, dtype: str = "float32", batch_size: int = 16,
                 prefix_cache: bool = True, inplace_kv_cache: bool = True, turn_cache_mb: int = 4096):
        import torch

        tokenizer, model = load_saved_model(model_path)
        self._setup(tokenizer, model.to(device=device, dtype=getattr(torch, dtype)).eval(), device, enable_thinking,
                    temperature, seed, None)
        self.dtype, self.batch_size, self.prefix_cache = dtype, batch_size, prefix_cache
        self.inplace_kv_cache, self.turn_cache_mb = inplace_kv_cache, turn_cache_mb

    @classmethod
    def in_memory(cls, model, tokenizer, device, enable_thinking: bool = False, autocast=None) -> "LocalPolicy":
        """A greedy policy over a model being trained (its fp32 weights, under `autocast`), for validation tasks."""
        policy = cls.__new__(cls)
        policy._setup(tokenizer, model, device, enable_thinking, 0.0, 0, autocast)
        policy.dtype = "autocast" if autocast else "float32"
        return policy

    def _setup(self, tokenizer, model, device, enable_thinking, temperature, seed, autocast) -> None:
        from hrmtrain.prompt.chat import ChatEncoder

        self.tokenizer, self.model, self.autocast = tokenizer, model, autocast
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.encoder = ChatEncoder(self.tokenizer, enable_thinking=enable_thinking)
        self.device, self.enable_thinking, self.temperature = device, enable_thinking, temperature
        self.memo: dict[tuple[int, ...], tuple[list[int], bool]] = {}  # prompt -> (continuation, complete)
        self._turn_cache = None  # agent/kv_cache.TurnCache, made on first use (_turns)
        self.stops = {t for t in [self.tokenizer.eos_token_id, self.tokenizer.convert_tokens_to_ids("<|im_end|>")]
                      if isinstance(t, int) and t >= 0}
        self.reseed(seed)

    def reseed(self, seed: int) -> None:
        """generate() samples from the global generator: one seed per trial makes trials reproducible."""
        import torch

        torch.manual_seed(seed)

    def prompt(self, messages, tools) -> tuple[int, ...]:
        return tuple(self.encoder.prompt_ids(messages, tools))

    def act(self, messages, tools, max_new_tokens) -> Turn:
        return self.act_batch([(messages, tools, max_new_tokens)])[0]

    def act_batch(self, asks: list[tuple[list[dict], list[dict], int]]) -> list[Turn]:
        prompts = [self.prompt(m, t) for m, t, _ in asks]
        limits = [n for _, _, n in asks]
        if self.temperature > 0:  # sampled turns differ by design: nothing to reuse
            return [self._turn(row, n) for row, n in zip(self._generate_all(prompts, limits), limits)]
        # A greedy continuation of a prompt is the same whatever the limit: one generated with limit L
        # (or one that ended before it) answers every ask of that prompt with a limit up to L.
        todo: dict[tuple[int, ...], int] = {}
        for p, n in zip(prompts, limits):
            known = self.memo.get(p)
            if known is None or (not known[1] and len(known[0]) < n):
                todo[p] = max(n, todo.get(p, 0))
        if todo:
            rows = self._generate_all(list(todo), list(todo.values()))
            for (p, n), row in zip(todo.items(), rows):
                self.memo[p] = (row, len(row) < n or self._ends(row))
        return [self._turn(self.memo[p][0], n) for p, n in zip(prompts, limits)]

    @property
    def _cache_name(self) -> str:
        """The KV cache's keyword: `cache` from transformers 5.2, `past_key_values` before."""
        return "cache" if "cache" in inspect.signature(self.model.forward).parameters else "past_key_values"

    def _ends(self, row: list[int]) -> bool:
        return bool(row) and row[-1] in self.stops

    def _turn(self, row: list[int], limit: int) -> Turn:
        new = row[:limit]
        content, calls = parse_turn(self.tokenizer.decode(new, skip_special_tokens=False))
        return Turn(content, calls, tokens=len(new))

    def _generate_all(self, prompts: list[tuple[int, ...]], limits: list[int]) -> list[list[int]]:
        """`_generate` over batches of up to `batch_size` prompts. Prompts are sorted by their tokens, so
        those with the same tools sit together, and a batch closes early where the next prompt shares less
        than half of the batch's first prompt: a batch's shared prefix (its KV cache computed once) then
        covers the system prompt and most of the tool block. Measured on 2 cores, bf16: 16 prompts of ~600
        tokens took 3.6 s to prefill, 0.2 s for a 500-token shared prefix plus 0.7 s for the rest. Prompts
        that continue an earlier turn (the turn cache has their start) are batched apart from those that
        do not, and run only their new tokens."""
        turns = self._turns()
        hits = [turns.lookup(p) if turns else (0, None) for p in prompts]
        order = sorted(range(len(prompts)), key=lambda i: (hits[i][1] is None, prompts[i]))
        batches: list[list[int]] = []
        for i in order:
            if batches and len(batches[-1]) < self.batch_size and \
                    (hits[batches[-1][0]][1] is None) == (hits[i][1] is None) and \
                    _common_prefix(prompts[batches[-1][0]], prompts[i]) * 2 >= len(prompts[batches[-1][0]]):
                batches[-1].append(i)
            else:
                batches.append([i])
        rows: list = [None] * len(prompts)
        for chunk in batches:
            known = [hits[i] for i in chunk] if hits[chunk[0]][1] is not None else None
            for i, row in zip(chunk, self._generate([prompts[i] for i in chunk], [limits[i] for i in chunk], known)):
                rows[i] = row
        return rows

    def _turns(self):
        """The turn cache, where it applies: a model whose KV cache grows in place (agent/kv_cache.py)."""
        from hrmtrain.agent.kv_cache import GrowingCache

        if not (self.turn_cache_mb and self.inplace_kv_cache and GrowingCache.supported(self.model)):
            return None
        if self._turn_cache is None:
            from hrmtrain.agent.kv_cache import TurnCache

            self._turn_cache = TurnCache(self.turn_cache_mb * 2**20)
        return self._turn_cache

    def _generate(self, prompts: list[tuple[int, ...]], limits: list[int],
                  known: list[tuple[int, list]] | None = None) -> list[list[int]]:
        """Greedy (or sampled) continuations, each cut after its first stop token and at its limit. `known`:
        per prompt, the turn cache's (n, KV) of its first n tokens; only the rest is run."""
        import torch

        from hrmtrain.agent.kv_cache import GrowingCache, TurnCache

        pad = self.tokenizer.pad_token_id
        if known:
            cached = max(n for n, _ in known)
            own = [list(p[n:]) for p, (n, _) in zip(prompts, known)]
            width = max(len(o) for o in own)
            ids = torch.tensor([[pad] * (cached + width - len(o)) + o for o in own], device=self.device)
            mask = torch.tensor([[0] * (cached - n) + [1] * n + [0] * (width - len(o)) + [1] * len(o)
                                 for (n, _), o in zip(known, own)], device=self.device)
            head = []
        else:
            shared = 0
            if self.prefix_cache and len(prompts) > 1:
                shortest = min(len(p) for p in prompts) - 1  # every row keeps a token of its own
                while shared < shortest and all(p[shared] == prompts[0][shared] for p in prompts):
                    shared += 1
            if shared < self.min_shared_prefix:
                shared = 0
            own = [list(p[shared:]) for p in prompts]
            width = max(len(o) for o in own)
            head = list(prompts[0][:shared])
            ids = torch.tensor([head + [pad] * (width - len(o)) + o for o in own], device=self.device)
            mask = torch.tensor([[1] * shared + [0] * (width - len(o)) + [1] * len(o) for o in own], device=self.device)
        width = ids.shape[1]
        sample = self.temperature > 0
        extra = {}
        with torch.no_grad(), (self.autocast() if self.autocast else contextlib.nullcontext()):
            if known:
                cache = TurnCache.batch_cache(known, cached)
            else:
                cache = GrowingCache() if self.inplace_kv_cache and GrowingCache.supported(self.model) else None
                if head:
                    run = self.model(input_ids=torch.tensor([head], device=self.device), use_cache=True,
                                     **({self._cache_name: cache} if cache is not None else {}))
                    cache = run[self._cache_name]
                    cache.batch_repeat_interleave(len(prompts))
            if cache is not None:
                extra[self._cache_name] = cache
            out = self.model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=max(limits), do_sample=sample,
                                      use_cache=True, **extra,
                                      temperature=self.temperature if sample else None, top_p=None, top_k=None,
                                      pad_token_id=self.tokenizer.pad_token_id, eos_token_id=sorted(self.stops))
        rows = []
        for row, limit in zip(out[:, width:].tolist(), limits):
            row = row[:limit]
            end = next((k for k, tok in enumerate(row) if tok in self.stops), None)
            rows.append(row if end is None else row[: end + 1])
        turns = self._turns()
        if turns is not None and isinstance(cache, GrowingCache):
            self._keep_turns(turns, cache, mask.tolist(), width, prompts, rows)
        return rows

    @staticmethod
    def _keep_turns(turns, cache, mask: list[list[int]], width: int, prompts, rows) -> None:
        """Store each row's KV: its prompt's positions (those its mask kept) and its generated tokens but the
        last (generation never feeds the last token back), under prompt and prompt + turn."""
        from hrmtrain.agent.kv_cache import TurnCache

        positions = [[k for k, m in enumerate(row_mask) if m] + list(range(width, width + max(len(row) - 1, 0)))
                     for row_mask, row in zip(mask, rows)]
        for prompt, row, kv in zip(prompts, rows, TurnCache.rows(cache, positions)):
            turns.store(tuple(prompt) + tuple(row[:-1]), kv)
            if row[:-1]:
                turns.store(tuple(prompt), [(k[:, :len(prompt)], v[:, :len(prompt)]) for k, v in kv])
