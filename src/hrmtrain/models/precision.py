"""Mixed precision: bf16 autocast, fp16 autocast with loss scaling, plain fp32, or `auto`.

`auto` picks what the device computes fast, because bf16 is not always the fast choice on a CPU.
Measured with `benchmarks/precision_cpu.py` (tiny Qwen3, batch 8 x ~700 tokens, one optimizer step):
on an AVX2-only AMD EPYC (no AVX512-BF16/AMX) bf16 autocast was ~15x SLOWER than fp32 (10.0 s vs
0.68 s a step, median of 3), the bf16 GEMMs of the 151,936 x 64 output layer alone taking 5.4 s; on
a CPU with bf16 kernels (AVX512 and newer) the same kind of run was 1.6-2.6x faster than fp32. fp16 autocast on a CPU
was ~10x slower than fp32. So: CUDA -> bf16 where the GPU supports it, else fp16; CPU -> bf16
only where oneDNN reports native bf16 support, else fp32.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}


def cpu_has_native_bf16() -> bool:
    """oneDNN's own check (bf16 kernels on AVX512 cores and newer); private API, so a failure means 'no'."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def resolve(name: str, device_type: str) -> tuple[str, str]:
    """(precision to use, why) for a configured `trainer.precision` on a device type."""
    if name != "auto":
        return name, "configured"
    if device_type == "cuda":
        if torch.cuda.is_bf16_supported():
            return "bf16", "auto: the GPU supports bf16"
        return "fp16", "auto: the GPU has no bf16, fp16 with loss scaling"
    if device_type == "cpu" and cpu_has_native_bf16():
        return "bf16", "auto: oneDNN has bf16 kernels for this CPU"
    return "fp32", f"auto: no native bf16 on this {device_type.upper()} (bf16 autocast would be slower than fp32)"


@dataclass
class Precision:
    name: str
    device_type: str

    @classmethod
    def from_config(cls, configured, device_type: str) -> "Precision":
        name, _ = resolve(str(configured), device_type)
        return cls(name, device_type)

    @property
    def dtype(self) -> torch.dtype:
        return DTYPES[self.name]

    def autocast(self):
        if self.name == "fp32":
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device_type, dtype=self.dtype)

    def grad_scaler(self) -> torch.amp.GradScaler:
        """Dynamic loss scaling for fp16; a disabled (pass-through) scaler otherwise."""
        return torch.amp.GradScaler(self.device_type, enabled=self.name == "fp16")
