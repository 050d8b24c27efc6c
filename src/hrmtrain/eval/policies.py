"""Policies behind one interface: given the conversation so far and the tools, produce the next turn.

`scripted` replays a task's gold calls and answer (the oracle: it must score 100%), `noop` answers
without calling any tool (it must score 0%), `local` generates with a transformers model in Qwen3's
Hermes tool-call format (the trained L-Module).
"""

from __future__ import annotations

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


class LocalPolicy:
    """A transformers causal LM with its chat template (Qwen3: tools in the system prompt, Hermes calls)."""

    name = "local"

    def __init__(self, model_path: str, device: str = "cpu", enable_thinking: bool = False,
                 temperature: float = 0.0, seed: int = 0):
        self.tokenizer, model = load_saved_model(model_path)
        self.model = model.to(device).eval()
        self.device, self.enable_thinking, self.temperature = device, enable_thinking, temperature
        self.reseed(seed)

    def reseed(self, seed: int) -> None:
        """generate() samples from the global generator: one seed per trial makes trials reproducible."""
        import torch

        torch.manual_seed(seed)

    def act(self, messages, tools, max_new_tokens) -> Turn:
        import torch

        inputs = self.tokenizer.apply_chat_template(messages, tools=tools, add_generation_prompt=True,
                                                    enable_thinking=self.enable_thinking, return_tensors="pt",
                                                    return_dict=True).to(self.device)
        sample = self.temperature > 0
        with torch.no_grad():
            out = self.model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=sample,
                                      temperature=self.temperature if sample else None, top_p=None, top_k=None,
                                      pad_token_id=self.tokenizer.pad_token_id)
        new = out[0, inputs["input_ids"].shape[1]:]
        content, calls = parse_turn(self.tokenizer.decode(new, skip_special_tokens=False))
        return Turn(content, calls, tokens=int(new.numel()))
