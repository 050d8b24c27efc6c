"""ONNX export of the L-Module (with past key values, for decoding), the embedder and the reranker,
each checked with onnxruntime against PyTorch on the same inputs before it is kept.

`torch.onnx.export(dynamo=True)` (torch.export + onnxscript) writes the graphs. The L-Module graph
follows the naming of Optimum and onnxruntime-genai, so serving code written for those reads it:
inputs `input_ids`, `attention_mask` (past + new tokens), `position_ids`,
`past_key_values.{i}.key|value` [batch, kv_heads, past, head_dim]; outputs `logits`,
`present.{i}.key|value`. Prefill is the same graph with a past of length 0. The embedder graph holds
the whole sentence-transformers pipeline (transformer, pooling, normalisation): `sentence_embedding`
out of `input_ids`, `attention_mask`, `token_type_ids`. The reranker graph gives the cross-encoder's raw
`logits` [batch, 1] (the sigmoid a CrossEncoder applies does not change the order).

Measured with torch 2.13, transformers 5.24, onnxscript 0.7, onnxruntime 1.32 (CPU): the tiny L-Module
exports in ~6 s with logits within 4e-7 of PyTorch and the same greedy tokens; MiniLM within 2e-7.
Weights stay fp32 in the file: TensorRT casts them at engine build (its precision flags), and
onnxruntime on a CPU runs fp32.
"""

from __future__ import annotations

import inspect
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from hrmtrain.errors import HrmError

ONNX_FILE = "model.onnx"
ONNX_DATA = "model.onnx.data"  # weights beside the graph when it would pass protobuf's 2 GB limit


class ExportError(HrmError):
    """An export failed or did not match PyTorch; the message names the model and the figure."""


@dataclass
class Parity:
    """How closely onnxruntime reproduces PyTorch on the same inputs."""

    model: str
    max_abs_diff: float
    tolerance: float
    inputs: int  # prompts, texts or pairs compared
    greedy_tokens: int = 0  # tokens generated per prompt (L-Module), 0 where it does not apply
    greedy_identical: bool | None = None
    seconds: float = 0.0
    details: dict = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.max_abs_diff <= self.tolerance and self.greedy_identical is not False

    def to_dict(self) -> dict:
        return {**asdict(self), "passed": self.passed}

    def raise_if_failed(self, path: Path) -> None:
        if self.passed:
            return
        why = []
        if self.max_abs_diff > self.tolerance:
            why.append(f"max |onnxruntime - PyTorch| = {self.max_abs_diff:.3g} > export.atol={self.tolerance:g}")
        if self.greedy_identical is False:
            why.append(f"greedy tokens differ: {self.details.get('first_mismatch')}")
        raise ExportError(f"{path}: the {self.model} ONNX export does not match PyTorch ({'; '.join(why)}); "
                          "nothing was added to the repository")


def onnx_missing() -> str | None:
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError as exc:
        return f"{exc.name} is not installed (pip install onnx onnxscript onnxruntime)"
    return None


def _export(module: torch.nn.Module, args: tuple, path: Path, input_names, output_names, dynamic_shapes, opset: int):
    """torch.onnx.export(dynamo=True) into `path` (one file, or graph + model.onnx.data over 2 GB)."""
    why = onnx_missing()
    if why:
        raise ExportError(f"cannot export to ONNX: {why}")
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        try:
            program = torch.onnx.export(module, args, dynamo=True, input_names=list(input_names),
                                        output_names=list(output_names), dynamic_shapes=dynamic_shapes,
                                        opset_version=opset, optimize=True, verbose=False)
        except Exception as exc:  # torch.export raises many kinds; the user needs the model and the cause
            raise ExportError(f"{path}: torch.onnx.export failed: {_export_cause(exc)}") from exc
    size = sum(p.numel() * p.element_size() for p in module.parameters())
    program.save(str(path), external_data=size > 1_800_000_000)  # weights to <name>.data: model.onnx.data
    return program


def _export_cause(exc: Exception) -> str:
    """The line of torch.onnx's long error text that says what went wrong."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    for i, line in enumerate(lines):
        if line.startswith("## Exception summary") and i + 1 < len(lines):
            return lines[i + 1]
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"


def session(path: Path, threads: int | None = None):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    if threads:
        opts.intra_op_num_threads = threads
    try:
        return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise ExportError(f"{path}: onnxruntime cannot load it: {exc}") from exc


# -- L-Module ---------------------------------------------------------------------------------------

class KVDecoder(torch.nn.Module):
    """A causal LM as a function of tensors only: (ids, mask, positions, flat past) -> (logits, flat present)."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.layers = model.config.num_hidden_layers
        # transformers >= 5.24 calls it `cache` (`past_key_values` still works there, with a warning)
        self.cache_arg = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"

    def forward(self, input_ids, attention_mask, position_ids, *past):
        from transformers import DynamicCache

        cache = DynamicCache(ddp_cache_data=[(past[2 * i], past[2 * i + 1]) for i in range(self.layers)],
                             config=self.model.config)
        out = self.model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                         use_cache=True, **{self.cache_arg: cache})
        present = []
        for layer in getattr(out, self.cache_arg).layers:
            present += [layer.keys, layer.values]
        return (out.logits, *present)


def kv_shape(config) -> tuple[int, int]:
    heads = getattr(config, "num_key_value_heads", None) or config.num_attention_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    return heads, head_dim


def lmodule_names(layers: int) -> tuple[list[str], list[str]]:
    past = [f"past_key_values.{i}.{kv}" for i in range(layers) for kv in ("key", "value")]
    present = [f"present.{i}.{kv}" for i in range(layers) for kv in ("key", "value")]
    return ["input_ids", "attention_mask", "position_ids", *past], ["logits", *present]


def load_causal_lm(model_dir: Path):
    from transformers import AutoModelForCausalLM

    try:
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    except Exception as exc:
        raise ExportError(f"{model_dir}: cannot load the L-Module: {exc}") from exc
    model.config.use_cache = True
    return model.eval()


def export_lmodule(model_dir: Path, out: Path, opset: int) -> float:
    """Export the saved causal LM in `model_dir` to `out` (model.onnx); returns seconds taken."""
    from torch.export import Dim

    started = time.perf_counter()
    model = load_causal_lm(model_dir)
    layers = model.config.num_hidden_layers
    heads, head_dim = kv_shape(model.config)
    batch, seq, past_len, total = Dim("batch", max=1024), Dim("sequence", max=1 << 17), \
        Dim("past_sequence", max=1 << 17), Dim("total_sequence", max=1 << 18)
    b, s, p = 2, 3, 4  # sample sizes, all different so the exporter cannot confuse the dims
    past = [torch.randn(b, heads, p, head_dim) for _ in range(2 * layers)]
    args = (torch.randint(0, model.config.vocab_size, (b, s)), torch.ones(b, p + s, dtype=torch.long),
            torch.arange(p, p + s).repeat(b, 1), *past)
    names_in, names_out = lmodule_names(layers)
    shapes = ({0: batch, 1: seq}, {0: batch, 1: total}, {0: batch, 1: seq},
              tuple({0: batch, 2: past_len} for _ in past))  # *past arrives as one tuple
    _export(KVDecoder(model), args, out, names_in, names_out, shapes, opset)
    return time.perf_counter() - started


def _ort_step(sess, ids: np.ndarray, mask: np.ndarray, past: list[np.ndarray]):
    pos = np.arange(mask.shape[1] - ids.shape[1], mask.shape[1], dtype=np.int64)[None].repeat(ids.shape[0], 0)
    names = [i.name for i in sess.get_inputs()]
    feeds = dict(zip(names, [ids, mask, pos, *past]))
    out = sess.run(None, feeds)
    return out[0], out[1:]


def empty_past(config, batch: int) -> list[np.ndarray]:
    heads, head_dim = kv_shape(config)
    return [np.zeros((batch, heads, 0, head_dim), np.float32) for _ in range(2 * config.num_hidden_layers)]


def ort_greedy(sess, config, prompt_ids: list[int], new_tokens: int, suppress: list[int] = ()) -> list[int]:
    """Greedy decoding with the exported graph: one prefill, then one token per step through the KV cache.
    `suppress` (the end-of-turn tokens) can never be chosen, as `generate(min_new_tokens=...)` does, so
    every prompt compares `new_tokens` tokens even for a model that would stop at once."""
    ids = np.array([prompt_ids], np.int64)
    mask = np.ones_like(ids)
    logits, past = _ort_step(sess, ids, mask, empty_past(config, 1))
    out = []
    for _ in range(new_tokens):
        last = logits[0, -1].copy()
        last[list(suppress)] = -np.inf
        token = int(last.argmax())
        out.append(token)
        mask = np.ones((1, mask.shape[1] + 1), np.int64)
        logits, past = _ort_step(sess, np.array([[token]], np.int64), mask, past)
    return out


def check_lmodule(model_dir: Path, onnx_path: Path, prompts: list[str], new_tokens: int, atol: float) -> Parity:
    """Logits of a padded batch of prompts (prefill) and greedy tokens per prompt, ORT vs PyTorch."""
    from transformers import AutoTokenizer

    started = time.perf_counter()
    model = load_causal_lm(model_dir)
    tok = AutoTokenizer.from_pretrained(model_dir)
    sess = session(onnx_path)
    enc = tok(prompts, return_tensors="np", padding=True)
    ids, mask = enc["input_ids"].astype(np.int64), enc["attention_mask"].astype(np.int64)
    pos = np.clip(mask.cumsum(1) - 1, 0, None)  # right or left padding: each row counts its own tokens
    feeds = dict(zip([i.name for i in sess.get_inputs()], [ids, mask, pos, *empty_past(model.config, len(prompts))]))
    ort_logits = sess.run(["logits"], feeds)[0]
    with torch.no_grad():
        ref = model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask),
                    position_ids=torch.from_numpy(pos)).logits.numpy()
    real = mask.astype(bool)  # padded positions' logits are meaningless on both sides
    diff = float(np.abs(ort_logits - ref)[real].max())
    identical, mismatch = True, None
    eos = model.generation_config.eos_token_id
    eos = [] if eos is None else [eos] if isinstance(eos, int) else list(eos)
    for prompt in prompts:
        prompt_ids = tok(prompt)["input_ids"]
        with torch.no_grad():
            gen = model.generate(torch.tensor([prompt_ids]), attention_mask=torch.ones(1, len(prompt_ids), dtype=torch.long),
                                 max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False,
                                 pad_token_id=tok.pad_token_id)[0, len(prompt_ids):].tolist()
        mine = ort_greedy(sess, model.config, prompt_ids, new_tokens, eos)
        if mine != gen and identical:
            identical, mismatch = False, {"prompt": prompt, "pytorch": gen, "onnxruntime": mine}
    return Parity("L-Module", diff, atol, len(prompts), new_tokens, identical, time.perf_counter() - started,
                  {"first_mismatch": mismatch} if mismatch else {})


# -- embedder and reranker --------------------------------------------------------------------------

class SentenceEmbedding(torch.nn.Module):
    """A SentenceTransformer's modules (transformer, pooling, normalize) as a tensor function."""

    def __init__(self, st_model):
        super().__init__()
        self.st = st_model

    def forward(self, input_ids, attention_mask, token_type_ids):
        return self.st({"input_ids": input_ids, "attention_mask": attention_mask,
                        "token_type_ids": token_type_ids})["sentence_embedding"]


class CrossEncoderLogits(torch.nn.Module):
    def __init__(self, hf_model):
        super().__init__()
        self.model = hf_model

    def forward(self, input_ids, attention_mask, token_type_ids):
        return self.model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).logits


ENCODER_INPUTS = ["input_ids", "attention_mask", "token_type_ids"]


def _encoder_shapes():
    from torch.export import Dim

    batch, seq = Dim("batch", max=4096), Dim("sequence", min=2, max=8192)
    return tuple({0: batch, 1: seq} for _ in ENCODER_INPUTS)


def _encoder_sample(vocab: int):
    b, s = 2, 7
    return (torch.randint(0, vocab, (b, s)), torch.ones(b, s, dtype=torch.long), torch.zeros(b, s, dtype=torch.long))


def load_embedder(path: Path):
    from sentence_transformers import SentenceTransformer

    try:
        return SentenceTransformer(str(path), device="cpu").eval()
    except Exception as exc:
        raise ExportError(f"{path}: cannot load the embedder: {exc}") from exc


def load_reranker(path: Path):
    from sentence_transformers import CrossEncoder

    try:
        return CrossEncoder(str(path), device="cpu")
    except Exception as exc:
        raise ExportError(f"{path}: cannot load the reranker: {exc}") from exc


def export_embedder(path: Path, out: Path, opset: int) -> float:
    started = time.perf_counter()
    st = load_embedder(path)
    vocab = st.tokenizer.vocab_size
    _export(SentenceEmbedding(st), _encoder_sample(vocab), out, ENCODER_INPUTS, ["sentence_embedding"],
            _encoder_shapes(), opset)
    return time.perf_counter() - started


def export_reranker(path: Path, out: Path, opset: int) -> float:
    started = time.perf_counter()
    ce = load_reranker(path)
    _export(CrossEncoderLogits(ce.model.eval()), _encoder_sample(ce.tokenizer.vocab_size), out, ENCODER_INPUTS,
            ["logits"], _encoder_shapes(), opset)
    return time.perf_counter() - started


def _encoder_feeds(enc) -> dict:
    feeds = {k: np.asarray(enc[k], np.int64) for k in ("input_ids", "attention_mask")}
    feeds["token_type_ids"] = np.asarray(enc.get("token_type_ids", np.zeros_like(feeds["input_ids"])), np.int64)
    return feeds


def check_embedder(path: Path, onnx_path: Path, texts: list[str], atol: float) -> Parity:
    started = time.perf_counter()
    st = load_embedder(path)
    feeds = _encoder_feeds(st.tokenizer(texts, padding=True, truncation=True, max_length=st.max_seq_length,
                                        return_tensors="np"))
    got = session(onnx_path).run(["sentence_embedding"], feeds)[0]
    ref = st.encode(texts, convert_to_numpy=True, batch_size=len(texts))
    return Parity("embedder", float(np.abs(got - ref).max()), atol, len(texts), seconds=time.perf_counter() - started)


def check_reranker(path: Path, onnx_path: Path, pairs: list[tuple[str, str]], atol: float) -> Parity:
    started = time.perf_counter()
    ce = load_reranker(path)
    enc = ce.tokenizer([q for q, _ in pairs], [d for _, d in pairs], padding=True, truncation=True,
                       max_length=ce.max_seq_length, return_tensors="np")
    got = session(onnx_path).run(["logits"], _encoder_feeds(enc))[0]
    with torch.no_grad():
        ref = ce.model(**{k: torch.from_numpy(v) for k, v in _encoder_feeds(enc).items()}).logits.numpy()
    return Parity("reranker", float(np.abs(got - ref).max()), atol, len(pairs), seconds=time.perf_counter() - started)
