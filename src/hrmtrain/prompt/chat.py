"""Tokenise TRL conversational rows for SFT with loss on assistant tokens only.

Qwen3's chat template has no `{% generation %}` markers, and it renders an assistant turn
differently in history (no `<think>` block) than when the model produces it (after the generation
prompt `<|im_start|>assistant\\n<think>\\n\\n</think>\\n\\n`). So each assistant turn k is
trained exactly as it is seen at inference: the prompt is the template's rendering of
`messages[:k]` with the generation prompt, tokenised on its own, and the target is what the
template appends for turn k, through `<|im_end|>`.

Consecutive turns share one sequence where the template keeps the history as generated (the text
of turn k+1's prompt starts with turn k's prompt and target, as with the `lmodule` template,
chat_templates.py). The sequence then goes on with the tokens of the new text alone, as an agent
with a KV cache appends a tool result to what it generated: tokenising the whole text again would
let BPE merge across the seam (`</think>\n\n` + `<tool_call>`) into tokens the model never
produced. `prompt_ids` builds an inference prompt the same way, so evaluation asks exactly what
training taught. With Qwen3's stock template (the think block leaves the history) every assistant
turn is its own sequence, its prompt tokenised whole.
"""

from __future__ import annotations

from dataclasses import dataclass, field

IGNORE = -100


@dataclass
class Example:
    input_ids: list[int]
    labels: list[int]
    source: str = ""  # "file, row N" for messages
    truncated: bool = False

    @property
    def n_targets(self) -> int:
        return sum(1 for t in self.labels if t != IGNORE)


@dataclass
class Rendered:
    """What an assistant turn looks like: its prompt (text) and its target (text)."""

    prompt: str
    target: str


class PromptTooLong(ValueError):
    def __init__(self, prompt_tokens: int, max_length: int):
        super().__init__(
            f"trainer.max_length={max_length} is shorter than the system+tools prompt "
            f"({prompt_tokens} tokens); raise trainer.max_length or send fewer tools"
        )
        self.prompt_tokens = prompt_tokens


@dataclass
class ChatEncoder:
    tokenizer: object
    enable_thinking: bool = False
    end_token: str = "<|im_end|>"
    _cache: dict = field(default_factory=dict, repr=False)

    def render(self, messages: list[dict], tools: list[dict] | None, generation_prompt: bool) -> str:
        return self.tokenizer.apply_chat_template(
            messages, tools=tools or None, tokenize=False,
            add_generation_prompt=generation_prompt, enable_thinking=self.enable_thinking,
        )

    def turns(self, messages: list[dict], tools: list[dict] | None) -> list[Rendered]:
        """Prompt and target text of every assistant turn, as the template renders them."""
        out = []
        for k, message in enumerate(messages):
            if message["role"] != "assistant":
                continue
            prompt = self.render(messages[:k], tools, generation_prompt=True)
            full = self.render(messages[: k + 1], tools, generation_prompt=False)
            if not full.startswith(prompt):
                raise ValueError(
                    f"the chat template renders assistant turn {k} so that it does not extend its "
                    "generation prompt; cannot train it as it is generated"
                )
            target = full[len(prompt):]
            cut = target.rfind(self.end_token)
            out.append(Rendered(prompt, target[: cut + len(self.end_token)] if cut >= 0 else target))
        return out

    def _ids(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def _walk(self, messages: list[dict], tools: list[dict] | None, max_length: int | None):
        """(ids, labels) of each sequence, the last one open: the turns' prompts and targets, pieced
        together where the text of one turn's prompt extends the sequence so far."""
        sequences: list[tuple[list[int], list[int]]] = []
        ids: list[int] = []
        labels: list[int] = []
        text = ""
        for turn in self.turns(messages, tools):
            if ids and turn.prompt.startswith(text):
                new = self._ids(turn.prompt[len(text):])  # same sequence goes on
                ids, labels = ids + new, labels + [IGNORE] * len(new)
            else:
                if ids:
                    sequences.append((ids, labels))
                ids = self._ids(turn.prompt)
                labels = [IGNORE] * len(ids)
            if max_length is not None and len(ids) >= max_length and len(labels) == len(ids) \
                    and all(t == IGNORE for t in labels):
                raise PromptTooLong(len(ids), max_length)
            target = self._ids(turn.target)
            ids, labels = ids + target, labels + target
            text = turn.prompt + turn.target
        return sequences, ids, labels, text

    def prompt_ids(self, messages: list[dict], tools: list[dict] | None) -> list[int]:
        """The tokens a model is prompted with for the next assistant turn, built as training builds them."""
        try:
            _, ids, _, text = self._walk(messages, tools, None)
        except ValueError:  # a history the template cannot extend turn by turn: the prompt on its own
            ids, text = [], ""
        prompt = self.render(messages, tools, generation_prompt=True)
        if ids and prompt.startswith(text):
            return ids + self._ids(prompt[len(text):])
        return self._ids(prompt)

    def encode(self, messages: list[dict], tools: list[dict] | None, max_length: int) -> list[Example]:
        sequences, ids, labels, _ = self._walk(messages, tools, max_length)
        if ids:
            sequences.append((ids, labels))
        examples = [Example(i, l) for i, l in sequences]
        for ex in examples:
            if len(ex.input_ids) > max_length:
                ex.input_ids, ex.labels, ex.truncated = ex.input_ids[:max_length], ex.labels[:max_length], True
        return examples
