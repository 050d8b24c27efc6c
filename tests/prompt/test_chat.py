"""Assistant-only loss masks, rendered exactly as Qwen3's stock template renders at inference."""

from __future__ import annotations

import json

from helpers import conversation_rows
from hrmtrain.prompt.chat import IGNORE, ChatEncoder

ROW = conversation_rows(1)[0]


def _spans(labels):
    """Maximal runs of labelled positions as (start, end)."""
    spans, start = [], None
    for i, y in enumerate(labels + [IGNORE]):
        if y != IGNORE and start is None:
            start = i
        elif y == IGNORE and start is not None:
            spans.append((start, i))
            start = None
    return spans


def test_each_assistant_turn_trains_on_exactly_its_own_tokens(tokenizer):
    enc = ChatEncoder(tokenizer)
    examples = enc.encode(ROW["messages"], ROW["tools"], max_length=4096)
    # Qwen3 drops the empty think block of earlier turns from the history, so each turn is its own sequence.
    assert len(examples) == 2
    call = ROW["messages"][2]["tool_calls"][0]["function"]
    targets = [tokenizer.decode([t for t in ex.labels if t != IGNORE]) for ex in examples]
    assert targets[0] == ('<tool_call>\n{"name": "' + call["name"] + '", "arguments": '
                          + json.dumps(call["arguments"], ensure_ascii=False) + "}\n</tool_call><|im_end|>")
    assert targets[1] == ROW["messages"][4]["content"] + "<|im_end|>"
    for ex in examples:
        assert len(_spans(ex.labels)) == 1 and _spans(ex.labels)[0][1] == len(ex.input_ids)


def test_system_user_and_tool_tokens_carry_no_loss(tokenizer):
    enc = ChatEncoder(tokenizer)
    for ex in enc.encode(ROW["messages"], ROW["tools"], max_length=4096):
        start = _spans(ex.labels)[0][0]
        context = tokenizer.decode(ex.input_ids[:start])
        assert all(y == IGNORE for y in ex.labels[:start])
        # the unlabelled part holds the system prompt, the tools, the user turn (and tool response)
        assert ROW["messages"][1]["content"] in context and "<tools>" in context
        labelled = tokenizer.decode([t for t in ex.labels if t != IGNORE])
        assert "<|im_start|>" not in labelled and "<tool_response>" not in labelled
        assert ROW["messages"][1]["content"] not in labelled and "# Tools" not in labelled


def test_training_prefix_is_the_inference_prompt(tokenizer):
    """What the model is trained to continue equals what it is given at inference, think block included."""
    enc = ChatEncoder(tokenizer)
    examples = enc.encode(ROW["messages"], ROW["tools"], max_length=4096)
    assistant_turns = [k for k, m in enumerate(ROW["messages"]) if m["role"] == "assistant"]
    for ex, k in zip(examples, assistant_turns):
        prompt = tokenizer.apply_chat_template(ROW["messages"][:k], tools=ROW["tools"], tokenize=True,
                                               add_generation_prompt=True, enable_thinking=False)
        prompt = prompt["input_ids"] if hasattr(prompt, "keys") else prompt
        start = _spans(ex.labels)[0][0]
        assert ex.input_ids[:start] == list(prompt)
        assert tokenizer.decode(prompt).endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")
    # and the full sequence is the stock template's rendering with that turn last
    full = tokenizer.apply_chat_template(ROW["messages"], tools=ROW["tools"], tokenize=False, enable_thinking=False)
    assert tokenizer.decode(examples[-1].input_ids) == full.rstrip("\n")


def test_templates_that_keep_history_share_one_sequence(tokenizer):
    """Where the next prompt extends the current sequence token for token, turns are packed together."""
    import copy

    plain = copy.copy(tokenizer)
    plain.chat_template = (
        "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
        "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
    msgs = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"},
            {"role": "user", "content": "list"}, {"role": "assistant", "content": "milk, eggs"}]
    examples = ChatEncoder(plain).encode(msgs, None, max_length=512)
    assert len(examples) == 1
    spans = _spans(examples[0].labels)
    assert [plain.decode(examples[0].input_ids[a:b]) for a, b in spans] == ["hello<|im_end|>", "milk, eggs<|im_end|>"]


def test_enable_thinking_renders_no_empty_think_in_prompt(tokenizer):
    enc = ChatEncoder(tokenizer, enable_thinking=True)
    ex = enc.encode(ROW["messages"], ROW["tools"], max_length=4096)[-1]
    start = _spans(ex.labels)[0][0]
    assert tokenizer.decode(ex.input_ids[:start]).endswith("<|im_start|>assistant\n")
    assert tokenizer.decode([t for t in ex.labels if t != IGNORE]).startswith("<think>\n\n</think>\n\n")
