"""Tokenise TRL conversational rows for SFT with loss on assistant tokens only.

Qwen3's chat template has no `{% generation %}` markers, and it renders an assistant turn
differently in history (no `<think>` block) than when the model produces it (after the generation
prompt `<|im_start|>assistant\\n<think>\\n\\n</think>\\n\\n`). So each assistant turn k is
trained exactly as it is seen at inference: the prompt is the template's rendering of
`messages[:k]` with the generation prompt, tokenised on its own, and the target is what the
template appends for turn k, through `<|im_end|>`. Consecutive turns share one sequence only where
the next turn's prompt tokens start with the current sequence's tokens (templates that keep the
history as generated); with Qwen3's stock template every assistant turn is its own sequence.
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

    def encode(self, messages: list[dict], tools: list[dict] | None, max_length: int) -> list[Example]:
        examples: list[Example] = []
        ids: list[int] = []
        labels: list[int] = []
        for turn in self.turns(messages, tools):
            prompt = self._ids(turn.prompt)
            if len(prompt) >= max_length:
                raise PromptTooLong(len(prompt), max_length)
            if ids and prompt[: len(ids)] == ids:
                labels = labels + [IGNORE] * (len(prompt) - len(ids))  # same sequence goes on
            else:
                if ids:
                    examples.append(Example(ids, labels))
                labels = [IGNORE] * len(prompt)
            target = self._ids(turn.target)
            ids = prompt + target
            labels = labels + target
        if ids:
            examples.append(Example(ids, labels))
        for ex in examples:
            if len(ex.input_ids) > max_length:
                ex.input_ids, ex.labels, ex.truncated = ex.input_ids[:max_length], ex.labels[:max_length], True
        return examples
