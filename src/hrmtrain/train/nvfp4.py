"""NVFP4 fake quantisation in plain PyTorch (the CPU reference for quantisation-aware training).

NVFP4: E2M1 values (+-{0, 0.5, 1, 1.5, 2, 3, 4, 6}), one FP8-E4M3 scale per block of 16
consecutive values, one FP32 scale per tensor (amax / (448 * 6)). Rounding to E2M1 is
round-half-to-even. Gradients pass straight through (STE). Applied to the weights of the
transformer's Linear layers (not embeddings or the output head) through a parametrization, so
PEFT/LoRA, DDP and FSDP see ordinary Linear modules.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import parametrize

BLOCK = 16
E2M1_MAX = 6.0
E4M3_MAX = 448.0


def round_e2m1(x: torch.Tensor) -> torch.Tensor:
    """Round |x| <= 6 to the E2M1 grid, ties to the even code."""
    a = x.abs()
    q = torch.where(a <= 0.25, 0.0,
        torch.where(a < 0.75, 0.5,
        torch.where(a <= 1.25, 1.0,
        torch.where(a < 1.75, 1.5,
        torch.where(a <= 2.5, 2.0,
        torch.where(a < 3.5, 3.0,
        torch.where(a <= 5.0, 4.0, 6.0)))))))
    return torch.copysign(q.to(x.dtype), x)


def nvfp4_quantize(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Return (E2M1 values as float, E4M3 block scales as float, FP32 tensor scale)."""
    if w.shape[-1] % BLOCK:
        raise ValueError(f"NVFP4 needs the last dimension to be a multiple of {BLOCK}, got {tuple(w.shape)}")
    x = w.float().reshape(-1, BLOCK)
    tensor_scale = x.abs().amax() / (E4M3_MAX * E2M1_MAX)
    if tensor_scale == 0:
        tensor_scale = torch.ones((), dtype=torch.float32)
    block_scale = (x.abs().amax(dim=1, keepdim=True) / E2M1_MAX / tensor_scale)
    block_scale = block_scale.clamp(max=E4M3_MAX).to(torch.float8_e4m3fn).float()
    denom = block_scale * tensor_scale
    scaled = torch.where(denom > 0, x / torch.where(denom > 0, denom, 1.0), 0.0)
    values = round_e2m1(scaled.clamp(-E2M1_MAX, E2M1_MAX))
    return values.reshape(w.shape), block_scale.reshape(*w.shape[:-1], -1), tensor_scale


def nvfp4_fake_quantize(w: torch.Tensor) -> torch.Tensor:
    values, block_scale, tensor_scale = nvfp4_quantize(w)
    deq = (values.reshape(-1, BLOCK) * block_scale.reshape(-1, 1) * tensor_scale).reshape(w.shape)
    return deq.to(w.dtype)


class NVFP4FakeQuant(nn.Module):
    """Weight parametrization: forward sees NVFP4-rounded weights, backward is the identity."""

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        return w + (nvfp4_fake_quantize(w.detach()) - w).detach()


def fake_quantize_linears(model: nn.Module, skip: tuple[str, ...] = ("lm_head",)) -> list[str]:
    names = []
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear) and not any(s in name for s in skip) and module.in_features % BLOCK == 0:
            parametrize.register_parametrization(module, "weight", NVFP4FakeQuant())
            names.append(name)
    return names


def remove_fake_quant(model: nn.Module) -> None:
    """Drop the parametrizations, keeping the high-precision master weights (for saving)."""
    for module in model.modules():
        if parametrize.is_parametrized(module, "weight") and isinstance(module, nn.Linear):
            parametrize.remove_parametrizations(module, "weight", leave_parametrized=False)
