"""The built-in tiny model's tokenizer: Qwen3's, retrained on the run's training conversations.

With Qwen3's 151,936-token vocabulary the tiny model is mostly embedding: at hidden size 128 that is
19.4M of its 20.5M parameters, and the dense gradient and AdamW update of that matrix made a training
step 3x slower than the same model with a 2,048-token vocabulary (1.2 s vs 0.4 s per step on 2 CPU
cores). `tokenizers`' BPE trainer (`train_new_from_iterator`) keeps Qwen3's byte-level alphabet
(any text still encodes), special tokens (`<|im_start|>`, `<tool_call>`, ...) and chat
template, and learns merges from the household's own conversations. The result is saved in the run
folder (so a resumed run uses the same vocabulary) and with the model.

One change to Qwen3's pre-tokenizer: a space is never part of a word's token. Qwen3 (like GPT-2)
writes " milk" in "Put 3 oat milk" and "milk" in `{"item": "oat milk"}` as different tokens, so
copying a word from the request into an argument is a learnt mapping per word, which a model that
never saw the word cannot do. With the space split off, a copied span has the same tokens wherever
it stands. (It did not, by itself, make the tiny model copy: see the README's Evaluation section.)
Sequences get about 20% longer (median 687 vs 565 tokens on the sample household).
"""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

from hrmtrain.prompt.chat import ChatEncoder

if TYPE_CHECKING:
    from hrmtrain.config import DataConfig, ModelConfig

HOUSEHOLD = "household"
SUBDIR = "tokenizer"  # <run>/tokenizer
# letters, one digit, punctuation (with at most one space before it), or one whitespace character
PIECES = r"\p{L}+|\p{N}|\s?[^\s\p{L}\p{N}]+|\s"


def copyable_pre_tokenizer():
    from tokenizers import Regex, pre_tokenizers

    return pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(PIECES), behavior="isolated"),
                                    pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])


def conversation_texts(rows, encoder: ChatEncoder) -> list[str]:
    """Each conversation as the chat template renders it (with its tools)."""
    return [encoder.render(row.messages, row.tools, generation_prompt=False) for row in rows]


def train_household_tokenizer(base, rows, vocab_size: int, enable_thinking: bool = False):
    """A tokenizer with Qwen3's specials and template and `vocab_size` entries learnt from `rows`."""
    texts = conversation_texts(rows, ChatEncoder(base, enable_thinking=enable_thinking))
    base = copy.deepcopy(base)
    base.backend_tokenizer.pre_tokenizer = copyable_pre_tokenizer()
    trained = base.train_new_from_iterator(texts, vocab_size)
    # Saved as Qwen2Tokenizer, it would be loaded with Qwen3's own pre-tokenizer again (transformers 5
    # builds that class's pipeline in Python); the generic class keeps tokenizer.json as it is.
    from transformers import PreTrainedTokenizerFast

    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=trained.backend_tokenizer, eos_token=base.eos_token,
        pad_token=base.pad_token or base.eos_token, model_max_length=base.model_max_length,
        chat_template=base.chat_template, clean_up_tokenization_spaces=False)
    return tokenizer


def uses_household_tokenizer(model: ModelConfig) -> bool:
    return str(model.tiny.tokenizer) == HOUSEHOLD


def vocabulary_digest(tokenizer) -> str:
    """Hash of the whole tokenizer definition (vocabulary and merges)."""
    return hashlib.sha256(tokenizer.backend_tokenizer.to_str().encode()).hexdigest()


def tiny_tokenizer(model: ModelConfig, data: DataConfig, base, train_rows, run_dir: Path, resuming: bool):
    """The tokenizer the tiny model trains with: the run's saved one when resuming, else a new one."""
    if not uses_household_tokenizer(model):
        return base
    saved = run_dir / SUBDIR
    if resuming and (saved / "tokenizer.json").is_file():
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(saved)
    return train_household_tokenizer(base, train_rows, model.tiny.vocab_size, data.enable_thinking)
