"""The in-place KV cache gives transformers' own DynamicCache results: the same logits and greedy tokens,
across reallocations, a shared prefix repeated over the batch, and a crop."""

from __future__ import annotations

import torch

from helpers import ROOT, compose

from hrmtrain.agent.kv_cache import GrowingCache, GrowingLayer
from hrmtrain.agent.policies import LocalPolicy
from hrmtrain.models import base as base_model
from hrmtrain.train import model as models


def _tiny():
    source = base_model.ModelSource("tiny", None)
    tok = base_model.load_tokenizer(source)
    model = models.load_model(source, compose([]).model, tok).eval()
    return model


def test_greedy_generation_and_logits_equal_dynamic_cache_across_reallocations(monkeypatch):
    from transformers import DynamicCache

    monkeypatch.setattr(GrowingLayer, "step", 3)  # reallocate every few tokens
    model = _tiny()
    assert GrowingCache.supported(model)
    torch.manual_seed(0)
    ids = torch.randint(10, 1000, (3, 17))
    mask = torch.ones_like(ids)
    mask[1, :4] = 0  # a left-padded row
    outs = {}
    for name, cache in (("dynamic", DynamicCache()), ("growing", GrowingCache())):
        with torch.no_grad():
            out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=12, min_new_tokens=12,
                                 do_sample=False, cache=cache, pad_token_id=0, return_dict_in_generate=True,
                                 output_logits=True)
        outs[name] = out
        assert cache.get_seq_length() == 17 + 11
    assert torch.equal(outs["dynamic"].sequences, outs["growing"].sequences)
    for a, b in zip(outs["dynamic"].logits, outs["growing"].logits):
        torch.testing.assert_close(a, b)


def test_shared_prefix_repeated_over_the_batch_then_cropped():
    from transformers import DynamicCache

    model = _tiny()
    prefix = torch.randint(10, 1000, (1, 9), generator=torch.Generator().manual_seed(1))
    rest = torch.randint(10, 1000, (4, 5), generator=torch.Generator().manual_seed(2))
    logits = {}
    for name, cache in (("dynamic", DynamicCache()), ("growing", GrowingCache())):
        with torch.no_grad():
            model(input_ids=prefix, cache=cache, use_cache=True)
            cache.batch_repeat_interleave(4)
            model(input_ids=rest, cache=cache, use_cache=True)
            cache.crop(-3)
            assert cache.get_seq_length() == 11
            logits[name] = model(input_ids=rest[:, 2:], cache=cache, use_cache=True).logits
    torch.testing.assert_close(logits["dynamic"], logits["growing"])


def test_decode_benchmark_compares_the_two_caches_and_finds_the_same_tokens(tmp_path):
    import re
    import subprocess
    import sys

    model = _tiny()
    model.save_pretrained(tmp_path / "model")
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "kv_cache_decode.py"), "--model",
                           str(tmp_path / "model"), "--batch", "2", "--prompt", "16", "--steps", "4", "--warmup", "1",
                           "--repeats", "1"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    last = proc.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"in-place KV cache: \d+\.\d\dx faster decode steps; greedy tokens identical", last), last


def test_a_next_turn_starts_from_the_last_turns_kv_and_generates_what_a_fresh_prefill_does(tmp_path):
    """LocalPolicy's turn cache: prompts that continue earlier turns (prompt + generated turn + new tokens)
    run only their new tokens, batched across rows with different cached lengths, with the same result."""

    model = _tiny()
    model.save_pretrained(tmp_path / "model")

    base_model.load_tokenizer(base_model.ModelSource("tiny", None)).save_pretrained(tmp_path / "model")
    cached = LocalPolicy(str(tmp_path / "model"), batch_size=4, prefix_cache=True)
    fresh = LocalPolicy(str(tmp_path / "model"), batch_size=1, prefix_cache=False, turn_cache_mb=0)
    g = torch.Generator().manual_seed(3)
    system = tuple(torch.randint(10, 1000, (40,), generator=g).tolist())
    firsts = [system + tuple(torch.randint(10, 1000, (n,), generator=g).tolist()) for n in (5, 9, 14)]
    rows = cached._generate_all(firsts, [6, 6, 6])
    assert cached._turn_cache.entries  # the rows were kept
    seconds = [p + tuple(r) + tuple(torch.randint(10, 1000, (n,), generator=g).tolist())
               for p, r, n in zip(firsts, rows, (3, 7, 4))]
    used = []
    generate = cached._generate
    cached._generate = lambda prompts, limits, known=None: used.append(known) or generate(prompts, limits, known)
    again = cached._generate_all(seconds, [6, 6, 6])
    # every row started from its first prompt and turn, not just the shared system prompt
    assert used and all(k is not None and all(n >= min(map(len, firsts)) for n, _ in k) for k in used)
    assert again == fresh._generate_all(seconds, [6, 6, 6])
    assert rows == fresh._generate_all(firsts, [6, 6, 6])
