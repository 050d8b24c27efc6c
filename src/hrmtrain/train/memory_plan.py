"""`hrmtrain plan`: how much memory one device needs to fine-tune the configured base, before renting it.

For full fine-tuning, LoRA and QLoRA, each alone and under FSDP2 over N GPUs, the plan adds up what
hrmtrain's loop keeps (train/loop.py, train/loss.py, train/varlen_attention.py):

* weights: full fine-tuning keeps fp32 master weights (autocast computes in bf16); LoRA keeps the frozen
  base in `plan.lora_base_dtype` and fp32 adapters; QLoRA keeps the linear layers in bitsandbytes NF4
  (4 bits + one fp32 absmax per 64 weights) and the rest like a LoRA base (`plan.lora_base_dtype`);
* gradients and AdamW's two moments (fp32) for what trains, plus the foreach step's temporary (one more
  fp32 copy of the trained weights, for sqrt(v));
* autocast's bf16 copies of the fp32 weights it casts (kept for the whole forward and backward);
* activations autograd saves per token and layer, counted from the layer's operations (`_saved_per_token`):
  both RMSNorms' inputs, normalised and weighted outputs, q/k/v/attention output as SDPA keeps them (k and v widened to the
  query heads, as varlen_attention.py hands them to SDPA), o_proj's input, and the MLP's gate, up,
  silu(gate) and their product. With gradient checkpointing: each layer's input, plus one layer's worth
  recomputed;
* the loss: one chunk of `trainer.loss_chunk_size` positions x vocabulary in fp32, its log-softmax and
  its gradient;
* FSDP2 shards weights, gradients and optimizer state over N GPUs and all-gathers one layer at a time (two
  with prefetch) in the compute dtype;
* the runtime: on a GPU the CUDA context and kernels (1 GB, an allowance); on a CPU the resident size of
  this very process once torch, transformers and the tokenizer are loaded (measured, not assumed).
* validation between steps, where its one chunk of logits outgrows the step (a large vocabulary on a small
  model): what it needs beyond the step;
* what is not there at the same time: the loop frees the gradients after each step (`set_to_none`), so the
  backward starts (the loss's backward: where every measured run peaks) with all activations and no
  gradient, and ends with all gradients and no activation; the optimizer's temporaries come after both. So
  a step holds the larger of (activations + loss) and (gradients + step temporaries), not their sum; with
  gradient accumulation the gradients of earlier micro-batches are there throughout, and only the
  temporaries overlap nothing.

The estimate is checked against the peak of live tensors of real runs on the CPU (benchmarks/memory_peak.py:
the CPU's max_memory_allocated) and against their peak RSS (benchmarks/sft_throughput.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hrmtrain.config import HrmConfig

GB = 1024**3
CUDA_RUNTIME_BYTES = 1 * GB

# Shapes of bases that need not be on disk to be planned for (their config.json values).
_QWEN3_8B = dict(hidden=4096, intermediate=12288, layers=36, heads=32, kv_heads=8, head_dim=128, vocab=151936,
                 tied=False)
KNOWN_SHAPES = {"qwen3-8b": _QWEN3_8B, "qwen/qwen3-8b": _QWEN3_8B}


@dataclass(frozen=True)
class Shape:
    hidden: int
    intermediate: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    vocab: int
    tied: bool

    @property
    def q_width(self) -> int:
        return self.heads * self.head_dim

    @property
    def kv_width(self) -> int:
        return self.kv_heads * self.head_dim

    def layer_linear_params(self) -> int:
        h, a, kv, i = self.hidden, self.q_width, self.kv_width, self.intermediate
        return h * (a + 2 * kv) + a * h + 3 * h * i

    def linear_params(self) -> int:
        return self.layers * self.layer_linear_params()

    def embedding_params(self) -> int:
        return self.vocab * self.hidden * (1 if self.tied else 2)

    def params(self) -> int:
        norms = self.layers * (2 * self.hidden + 2 * self.head_dim) + self.hidden
        return self.linear_params() + self.embedding_params() + norms

    def lora_params(self, r: int) -> int:
        """A (r x in) and B (out x r) for each of a layer's seven projections."""
        h, a, kv, i = self.hidden, self.q_width, self.kv_width, self.intermediate
        pairs = [(h, a), (h, kv), (h, kv), (a, h), (h, i), (h, i), (i, h)]
        return self.layers * sum(r * (n_in + n_out) for n_in, n_out in pairs)


def shape_of(model_cfg, tokenizer_vocab: int | None = None) -> Shape:
    """The base's shape: the tiny model from its config, a known name, else the base's config.json."""
    base = str(model_cfg.base)
    if base == "tiny":
        t = model_cfg.tiny
        return Shape(t.hidden_size, t.intermediate_size, t.num_hidden_layers, t.num_attention_heads,
                     t.num_key_value_heads, t.head_dim, tokenizer_vocab or 151936, True)
    if base.lower() in KNOWN_SHAPES:
        return Shape(**KNOWN_SHAPES[base.lower()])
    from transformers import AutoConfig

    from hrmtrain.models import base as base_model


    return shape_from_config(AutoConfig.from_pretrained(base_model.resolve(base, model_cfg.revision).path))


def shape_from_config(c) -> Shape:
    """The Shape of a transformers config of a Llama/Qwen-style decoder."""
    head_dim = getattr(c, "head_dim", None) or c.hidden_size // c.num_attention_heads
    return Shape(c.hidden_size, c.intermediate_size, c.num_hidden_layers, c.num_attention_heads,
                 c.num_key_value_heads, head_dim, c.vocab_size, bool(getattr(c, "tie_word_embeddings", False)))


def _saved_per_token(shape: Shape, bf16: bool, adapters_r: int = 0) -> float:
    """Bytes autograd keeps per token per decoder layer (see the module docstring). Each RMSNorm keeps its
    input and, for the weight's gradient, its normalised output, both fp32 (not the latter when the weight is
    frozen: LoRA, QLoRA). The projections after it keep its weighted output: in fp32 one tensor per norm;
    under bf16 autocast a bf16 cast per projection (q, k, v; gate, up), since autocast caches the casts of
    weights, not of activations. Projections' outputs are bf16 under autocast; in fp32 everything is 4
    bytes. With adapters of rank `adapters_r`, each of the seven adapted projections also keeps A's output
    (tokens x r). Checked against the tensors autograd saves (saved_tensors_hooks): one SmolLM2 step of
    2,980 packed tokens in fp32, full fine-tuning 4,275 MiB saved against this count's 4,256 (x 30 layers),
    LoRA r=16 3,907 against 3,901; a 4-layer model of SmolLM2's layout (width 192) under bf16 autocast, its
    layers' saved activations 25.7 MiB against 25.2 (full) and 22.0 against 22.2 (LoRA)."""
    h, a, i = shape.hidden, shape.q_width, shape.intermediate
    act = 2 if bf16 else 4
    normalised = 0 if adapters_r else h * 4
    norms = 2 * (h * 4 + normalised) + (5 * h * 2 if bf16 else 2 * h * 4)
    attention = 4 * a * act + a * act  # q, k, v (widened to the query heads), output; o_proj's input copy
    mlp = 4 * i * act  # gate, up, silu(gate), silu(gate) * up
    adapters = 7 * adapters_r * act
    return norms + attention + mlp + adapters


@dataclass
class Plan:
    method: str
    gpus: int
    parts: dict  # name -> bytes

    @property
    def total(self) -> int:
        return int(sum(self.parts.values()))


def plan(shape: Shape, method: str, *, tokens: int, bf16: bool, checkpointing: bool, chunk: int,
         lora_r: int = 16, lora_base_dtype: str = "bf16", gpus: int = 1, runtime: int = CUDA_RUNTIME_BYTES,
         loss_tokens: int | None = None, val_tokens: int | None = None, val_loss_tokens: int | None = None,
         accumulation: int = 1) -> Plan:
    """Bytes one device holds at the peak of a step (module docstring), for `method` full|lora|qlora.
    `loss_tokens`: the positions with a label (the loss projects only those onto the vocabulary); by
    default every token, the worst case. `val_tokens`, `val_loss_tokens`: the same for the largest
    validation batch (padded); by default those of the step. `accumulation`: micro-batches per optimizer step
    (trainer.gradient_accumulation_steps)."""
    p, linear = shape.params(), shape.linear_params()
    base_bytes = {"bf16": 2, "fp16": 2, "fp32": 4}[lora_base_dtype]  # a (Q)LoRA run's frozen weights
    if method == "full":
        weights, trained = 4 * p, p
        casts = 2 * (linear + shape.vocab * shape.hidden) if bf16 else 0
    elif method == "lora":
        trained = shape.lora_params(lora_r)
        weights = base_bytes * p + 4 * trained
        casts = 2 * trained if bf16 else 0
    elif method == "qlora":
        trained = shape.lora_params(lora_r)
        # embeddings and norms stay as a LoRA base keeps them
        weights = int(linear * (0.5 + 4 / 64)) + base_bytes * (p - linear) + 4 * trained
        casts = 2 * trained if bf16 else 0
    else:
        raise ValueError(f"unknown method {method!r}: full, lora or qlora")
    sharded = {"weights": weights, "gradients": 4 * trained, "optimizer (AdamW)": 8 * trained,
               "optimizer step temporaries": 4 * trained}
    parts = {k: v / gpus for k, v in sharded.items()}
    # FSDP2 (distributed.py: fully_shard per decoder layer, no mixed-precision policy) gathers a layer's weights
    # in their stored dtype, the next one prefetched; autocast's bf16 copies are of whole weights either way
    stored = {"full": 4, "lora": base_bytes, "qlora": 0.5625}[method]
    parts["FSDP2 gathered layers"] = 2 * shape.layer_linear_params() * stored if gpus > 1 else 0
    parts["autocast weight copies"] = casts
    per_layer = _saved_per_token(shape, bf16, 0 if method == "full" else lora_r) * tokens
    if checkpointing:
        parts["activations"] = shape.layers * tokens * shape.hidden * 4 + per_layer
    else:
        parts["activations"] = shape.layers * per_layer
    labelled = tokens if loss_tokens is None else min(loss_tokens, tokens)
    # one chunk's fp32 logits (recomputed in backward), their log-softmax and gradient; the labelled hidden states
    parts["loss (one chunk)"] = 3 * min(chunk, labelled) * shape.vocab * 4 + labelled * shape.hidden * 4
    parts["runtime"] = runtime
    # validation between steps (no grad): the weights, AdamW's state and one chunk's logits with their
    # log-softmax; it sets the peak only where the vocabulary dwarfs the model (the tiny Qwen3: 151,936 x 64)
    val_tokens = tokens if val_tokens is None else val_tokens
    val_labelled = val_tokens if val_loss_tokens is None else min(val_loss_tokens, val_tokens)
    validation = (parts["weights"] + parts["optimizer (AdamW)"] + runtime
                  + 2 * min(chunk, val_labelled) * shape.vocab * 4 + val_tokens * shape.hidden * 4)
    during = parts["activations"] + parts["loss (one chunk)"]
    after = parts["optimizer step temporaries"] + (parts["gradients"] if accumulation == 1 else 0)
    parts["not at the same time: gradients replace activations"] = -min(during, after)
    parts["validation, beyond the step"] = max(0, validation - sum(parts.values()))
    return Plan(method, gpus, parts)


def cpu_runtime_bytes() -> int:
    """Resident size of this process with torch, transformers and a tokenizer loaded: what a CPU training
    process holds before its first tensor."""
    import psutil
    import torch  # noqa: F401
    import transformers  # noqa: F401

    return int(psutil.Process().memory_info().rss)


def table(plans: list[Plan], gpu_memory_gb: float) -> str:
    rows = ["| method | GPUs | " + " | ".join(plans[0].parts) + " | total | fits |",
            "|---|---:|" + "---:|" * (len(plans[0].parts) + 2)]
    for pl in plans:
        cells = " | ".join(f"{v / GB:.1f}" for v in pl.parts.values())
        fits = "yes" if pl.total <= gpu_memory_gb * GB else "no"
        rows.append(f"| {pl.method} | {pl.gpus} | {cells} | {pl.total / GB:.1f} | {fits} |")
    return "\n".join(rows)


def run(cfg: HrmConfig) -> None:
    """`hrmtrain plan`: the table for the configured base and trainer, GB per GPU."""
    from hrmtrain.models.precision import resolve

    t, pc = cfg.trainer, cfg.plan
    vocab = None
    if str(cfg.model.base) == "tiny":
        from hrmtrain.models import base as base_model

        vocab = base_model.vocab_size(base_model.load_tokenizer(base_model.ModelSource("tiny", None)))
    shape = shape_of(cfg.model, vocab)
    precision = str(t.precision)
    # on the GPU `auto` is bf16 (every card this plan is for has it)
    bf16 = (resolve(precision, "cuda")[0] if precision != "auto" else "bf16") in ("bf16", "fp16")
    tokens = pc.tokens or t.batch_size * t.max_length
    ckpt = bool(cfg.perf.gradient_checkpointing)
    print(f"hrmtrain plan: {cfg.model.base}: {shape.params() / 1e9:.2f}B parameters ({shape.layers} layers, "
          f"hidden {shape.hidden}, vocabulary {shape.vocab}); {tokens} tokens per micro-batch "
          f"(trainer.batch_size {t.batch_size} x max_length {t.max_length}), "
          f"{'bf16 autocast' if bf16 else 'fp32'}, LoRA r={cfg.model.lora.r}; GB per GPU, "
          f"card: {pc.gpu_memory_gb:g} GB (plan.gpu_memory_gb)")
    plans = {(method, checkpointing, n): plan(shape, method, tokens=tokens, bf16=bf16, checkpointing=checkpointing,
                                              chunk=t.loss_chunk_size, lora_r=cfg.model.lora.r,
                                              lora_base_dtype=pc.lora_base_dtype, gpus=n,
                                              accumulation=t.gradient_accumulation_steps)
             for method in ("full", "lora", "qlora") for checkpointing in (False, True) for n in pc.gpus}
    for checkpointing in ([ckpt] if ckpt else [False, True]):
        print(f"\ngradient checkpointing {'on' if checkpointing else 'off'}:")
        print(table([plans[m, checkpointing, n] for m in ("full", "lora", "qlora") for n in pc.gpus], pc.gpu_memory_gb))
    smallest = {}  # the fewest GPUs that fit, without checkpointing before with it
    for method in ("full", "lora", "qlora"):
        for checkpointing in (False, True):
            fits = [n for n in sorted(pc.gpus) if plans[method, checkpointing, n].total <= pc.gpu_memory_gb * GB]
            if fits:
                smallest.setdefault(method, (fits[0], checkpointing, plans[method, checkpointing, fits[0]].total))
    print()
    for method in ("full", "lora", "qlora"):
        if method in smallest:
            n, c, total = smallest[method]
            print(f"{method}: fits on {n} x {pc.gpu_memory_gb:g} GB GPU{'s' if n > 1 else ''}"
                  f"{' with gradient checkpointing' if c else ''} ({total / GB:.1f} GB each)")
        else:
            print(f"{method}: does not fit {max(pc.gpus)} x {pc.gpu_memory_gb:g} GB GPUs; lower trainer.batch_size "
                  f"or trainer.max_length, or add GPUs (plan.gpus)")


__all__ = ["Shape", "Plan", "plan", "shape_of", "shape_from_config", "table", "run", "cpu_runtime_bytes", "KNOWN_SHAPES"]
