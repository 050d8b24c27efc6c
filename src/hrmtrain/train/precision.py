"""Mixed precision: bf16 autocast, fp16 autocast with loss scaling, or plain fp32.

Measured on the 2-core CPU: bf16 autocast 1.6-2.6x faster than fp32; fp16 autocast ~10x slower
(no fast fp16 kernels); fp16 is kept for GPUs and for the precision ablation.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}


@dataclass
class Precision:
    name: str
    device_type: str

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
