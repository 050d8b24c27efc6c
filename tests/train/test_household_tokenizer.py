"""The tiny model's household tokenizer: copyable words, lossless, Qwen3's specials and template."""

from __future__ import annotations

import json

import pytest

from helpers import compose, conversation_rows, run_cli, small_train
from hrmtrain.config import ConfigValueError, check_values
from hrmtrain.prompt.rows import Row
from hrmtrain.train.household_tokenizer import tiny_tokenizer, train_household_tokenizer, vocabulary_digest


def _rows(n: int = 40) -> list[Row]:
    return [Row(r["messages"], r["tools"], "memory", i + 1) for i, r in enumerate(conversation_rows(n))]


@pytest.fixture(scope="module")
def household(tokenizer):
    return train_household_tokenizer(tokenizer, _rows(), 512)


def _contains(seq: list[int], part: list[int]) -> bool:
    return any(seq[i:i + len(part)] == part for i in range(len(seq) - len(part) + 1))


def test_a_copied_span_has_the_same_tokens_in_the_request_and_in_the_arguments(household, tokenizer):
    request = "Put 3 oat milk on the shopping list."
    arguments = json.dumps({"item": "oat milk", "quantity": 3})
    span = household("oat milk", add_special_tokens=False).input_ids
    assert _contains(household(request).input_ids, span) and _contains(household(arguments).input_ids, span)
    # Qwen3's own pre-tokenizer writes " oat" in the request and "oat" after the quote: not a copy
    qspan = tokenizer("oat milk", add_special_tokens=False).input_ids
    assert not _contains(tokenizer(request).input_ids, qspan)


def test_saved_and_loaded_it_splits_text_the_same_way(household, tmp_path):
    from transformers import AutoTokenizer

    household.save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    text = 'Put 3 oat milk on the list.<|im_end|>\n<tool_call>\n{"item": "oat milk"}'
    assert loaded(text).input_ids == household(text).input_ids
    assert loaded.chat_template == household.chat_template and loaded.pad_token_id == household.pad_token_id


def test_lossless_with_qwen3_specials_and_template(household, tokenizer):
    rows = _rows(3)
    text = tokenizer.apply_chat_template(rows[0].messages, tools=rows[0].tools, tokenize=False)
    for s in (text, "Zoë's café at 07:45 🍰 — naïve ＡＢＣ\ttabs\n\nand\r\nlines"):
        assert household.decode(household(s, add_special_tokens=False).input_ids) == s
    for special in ("<|im_start|>", "<|im_end|>", "<tool_call>", "</tool_call>", "<think>"):
        assert len(household(special, add_special_tokens=False).input_ids) == 1
    assert household.chat_template == tokenizer.chat_template
    assert household.eos_token == tokenizer.eos_token and household.pad_token_id is not None
    assert 300 < len(household) <= 512 + len(tokenizer.get_added_vocab())


def test_the_same_rows_give_the_same_tokenizer(household, tokenizer):
    assert vocabulary_digest(train_household_tokenizer(tokenizer, _rows(), 512)) == vocabulary_digest(household)
    assert vocabulary_digest(train_household_tokenizer(tokenizer, _rows(), 600)) != vocabulary_digest(household)


def test_too_small_a_vocabulary_is_refused_with_the_key():
    with pytest.raises(ConfigValueError, match="model.tiny.vocab_size"):
        check_values(compose(["model.tiny.vocab_size=100"]))


# slow: trains the tokenizer, then a run and its resumption (35 s on an AVX2 EPYC under two workers)
@pytest.mark.slow
def test_training_with_it_keeps_it_in_the_run_and_the_model_and_resumes_with_it(workdir):
    from transformers import AutoTokenizer

    opts = ["model.tiny.tokenizer=household", "model.tiny.vocab_size=1024", "trainer.max_length=1536"]
    first = run_cli(["train", *small_train(workdir, "hh", steps=4, extra=opts)], workdir)
    assert first.returncode == 0, first.stderr[-3000:]
    run = workdir / "runs" / "hh"
    saved = AutoTokenizer.from_pretrained(run / "tokenizer")
    assert len(saved) <= 1024 + len(saved.get_added_vocab())
    config = json.loads((run / "model" / "config.json").read_text())
    assert config["vocab_size"] == -(-len(saved) // 64) * 64  # embedding rows: the tokenizer rounded up to 64
    assert vocabulary_digest(AutoTokenizer.from_pretrained(run / "model")) == vocabulary_digest(saved)
    again = run_cli(["train", *small_train(workdir, "hh", steps=6, extra=[*opts, "trainer.resume=true"])], workdir)
    assert again.returncode == 0, again.stderr[-3000:]
    assert vocabulary_digest(AutoTokenizer.from_pretrained(run / "model")) == vocabulary_digest(saved)


def test_a_resumed_run_uses_its_saved_tokenizer(household, tokenizer, tmp_path):
    cfg = compose(["model.tiny.tokenizer=household", "model.tiny.vocab_size=600"])
    household.save_pretrained(tmp_path / "tokenizer")  # learnt with 512 entries: not what cfg would learn
    resumed = tiny_tokenizer(cfg.model, cfg.data, tokenizer, _rows(), tmp_path, resuming=True)
    fresh = tiny_tokenizer(cfg.model, cfg.data, tokenizer, _rows(), tmp_path, resuming=False)
    assert vocabulary_digest(resumed) == vocabulary_digest(household) != vocabulary_digest(fresh)
    assert tiny_tokenizer(compose([]).model, compose([]).data, tokenizer, _rows(), tmp_path, resuming=True) is tokenizer  # qwen3: as is
