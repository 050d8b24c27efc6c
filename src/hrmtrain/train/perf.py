"""The `perf.*` options of `hrmtrain train`: torch.compile, gradient checkpointing, fused AdamW,
channels-last, and the data loader (workers, pinned memory, non-blocking copies).

Each option says what it did in one line (`PerfReport`), printed at start and kept in the run
summary, because most of them silently do nothing on some devices: fused AdamW needs a device with
fused kernels, pinned memory needs CUDA, channels-last needs 4-D weights (an LLM has none: its
Linear weights are 2-D), torch.compile needs a working compiler for its backend.

Measured on 2 CPU cores (NOTES.md, `benchmarks/sft_throughput.py`): compile costs a 30-50 s cold
start for a few percent; checkpointing saves 10-25% memory for ~20% speed; fused AdamW about equal.
On a GPU with an 8B model they are the usual wins; here they are options, not defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class PerfReport:
    """What each perf option ended up doing on this device, in words (for the log and the summary)."""

    lines: dict[str, str] = field(default_factory=dict)

    def note(self, key: str, text: str) -> None:
        self.lines[key] = text

    def __str__(self) -> str:
        return "; ".join(f"{k}: {v}" for k, v in self.lines.items())


def _decoder_layers(model: torch.nn.Module) -> list[torch.nn.Module]:
    return [m for m in model.modules() if type(m).__name__.endswith("DecoderLayer")]


def enable_gradient_checkpointing(model: torch.nn.Module, report: PerfReport) -> None:
    """Recompute each decoder layer's activations in backward instead of keeping them (transformers'
    own switch, non-reentrant so it works with frozen inputs, LoRA and torch.compile). It acts in
    training mode only, as transformers' layers check `self.training`."""
    target = model.get_base_model() if hasattr(model, "get_base_model") else model
    if not getattr(target, "supports_gradient_checkpointing", False):
        report.note("gradient_checkpointing", f"not supported by {type(target).__name__}; off")
        return
    kwargs = {"use_reentrant": False}
    if hasattr(target, "activation_checkpointing_enable"):  # transformers >= 5.2x; the old name warns
        target.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
    else:
        target.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
    report.note("gradient_checkpointing", f"on ({len(_decoder_layers(target))} decoder layers recomputed in backward)")


def apply_channels_last(model: torch.nn.Module, report: PerfReport) -> int:
    """channels-last memory format for the modules whose weights are 4-D (convolutions); returns how
    many. A decoder-only LLM has none, so this is a no-op for the L-Module, and says so."""
    converted = 0
    for module in model.modules():
        own = list(module.parameters(recurse=False))
        if any(p.dim() == 4 for p in own):
            for p in own:
                if p.dim() == 4:
                    p.data = p.data.contiguous(memory_format=torch.channels_last)
            converted += 1
    report.note("channels_last", f"{converted} modules with 4-D weights converted" if converted
                else "no 4-D weights in this model (an LLM's Linear weights are 2-D): nothing to convert")
    return converted


def fused_adamw_unsupported(params: list[torch.Tensor], device: torch.device) -> str | None:
    """Why `AdamW(fused=True)` cannot run on these parameters, or None when it can (torch's own check,
    which otherwise fires only at the first `step()`)."""
    from torch.utils._foreach_utils import _get_fused_kernels_supported_devices

    if device.type not in _get_fused_kernels_supported_devices():
        return f"no fused AdamW kernels for device type {device.type!r}"
    for p in params:
        local = p.to_local() if hasattr(p, "to_local") else p
        if not torch.is_floating_point(local) or local.device.type != device.type:
            return f"a parameter is {local.dtype} on {local.device}; fused AdamW needs floating point on {device.type}"
    return None


def make_optimizer(params: list[torch.Tensor], trainer_cfg, fused: bool, device: torch.device,
                   report: PerfReport) -> torch.optim.AdamW:
    kwargs = dict(lr=trainer_cfg.lr, weight_decay=trainer_cfg.weight_decay, betas=(0.9, 0.95))
    if fused:
        why_not = fused_adamw_unsupported(params, device)
        if why_not is None:
            report.note("fused_adamw", f"on ({device.type})")
            return torch.optim.AdamW(params, fused=True, **kwargs)
        report.note("fused_adamw", f"off: {why_not}")
    else:
        report.note("fused_adamw", "off (perf.fused_adamw=false)")
    return torch.optim.AdamW(params, foreach=True, **kwargs)


def _inductor_probe(mode: str | None) -> str | None:
    """Compile and run a two-op function with the configured mode: returns why it failed, or None.
    A missing C++ compiler (CPU) or Triton (GPU) fails here in seconds, not mid-training."""
    import torch._dynamo

    try:
        probe = torch.compile(lambda x: torch.relu(x) * 2 + 1, mode=mode, fullgraph=True)
        out = probe(torch.ones(4))
        if not torch.equal(out, torch.full((4,), 3.0)):
            return "the compiled probe computed a wrong result"
    except Exception as exc:  # noqa: BLE001 - any backend failure means "cannot compile here"
        return f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ''}"
    finally:
        torch._dynamo.reset()
    return None


def compile_layers(model: torch.nn.Module, mode: str, report: PerfReport) -> bool:
    """torch.compile each decoder layer in place (regional compilation: one graph shared by the
    identical layers, a shorter cold start than the whole model, and it composes with DDP, FSDP2 and
    checkpointing). Returns whether anything was compiled. Where the backend cannot compile (probe
    failed) the model stays eager and the reason is reported; a layer that fails later falls back
    to eager on its own (dynamo's `suppress_errors`, which logs the error)."""
    if mode == "off":
        report.note("compile", "off")
        return False
    import torch._dynamo

    if not torch._dynamo.is_dynamo_supported():
        report.note("compile", f"{mode} requested, running eager: torch.compile is not supported on this Python/platform")
        return False
    torch_mode = None if mode == "default" else mode
    why_not = _inductor_probe(torch_mode)
    if why_not:
        report.note("compile", f"{mode} requested, running eager: the inductor backend failed a probe ({why_not})")
        return False
    layers = _decoder_layers(model)
    if not layers:
        report.note("compile", f"{mode} requested, running eager: no decoder layers found in {type(model).__name__}")
        return False
    torch._dynamo.config.suppress_errors = True
    for layer in layers:
        layer.compile(mode=torch_mode)
    report.note("compile", f"{mode} ({len(layers)} decoder layers; first steps include compilation)")
    return True


def describe_loader(perf_cfg, device: torch.device, report: PerfReport) -> dict:
    """DataLoader arguments from perf.*: pinned memory only where it means something (CUDA)."""
    workers = perf_cfg.loader_workers
    pin = bool(perf_cfg.pin_memory) and device.type == "cuda"
    kwargs = {"num_workers": workers, "pin_memory": pin,
              "persistent_workers": bool(perf_cfg.persistent_workers) and workers > 0}
    if workers > 0:
        kwargs["prefetch_factor"] = perf_cfg.prefetch_factor
    parts = [f"{workers} workers" + (" (persistent)" if kwargs["persistent_workers"] else "")]
    if perf_cfg.pin_memory and not pin:
        parts.append(f"pin_memory off (pinned host memory helps only copies to CUDA; device is {device.type})")
    elif pin:
        parts.append("pin_memory on")
    parts.append("non_blocking copies" if perf_cfg.non_blocking else "blocking copies")
    report.note("loader", ", ".join(parts))
    return kwargs
