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
E4M3_MIN_NORMAL = 2.0**-6  # smallest normal E4M3 value: block scales are kept at or above it
E2M1_GRID = torch.tensor([0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0])


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
    """Return (E2M1 values as float, E4M3 block scales as float, FP32 tensor scale).

    NVIDIA's two-level recipe, step for step as torchao's reference (`nvfp4_quantize` with a per-tensor
    scale), so that the codes and scales agree bit for bit: tensor scale amax / (448 * 6); block scale
    (block amax / 6) / tensor scale, clamped to [2^-6, 448] (E4M3's normal range) and rounded to E4M3;
    values multiplied by the reciprocal (1 / tensor scale) / block scale, clamped to +-6, rounded to E2M1.
    """
    if w.shape[-1] % BLOCK:
        raise ValueError(f"NVFP4 needs the last dimension to be a multiple of {BLOCK}, got {tuple(w.shape)}")
    x = w.float().reshape(-1, BLOCK)
    tensor_scale = x.abs().amax() / (E4M3_MAX * E2M1_MAX)
    if tensor_scale == 0:
        tensor_scale = torch.ones((), dtype=torch.float32)
    block_scale = (x.abs().amax(dim=1, keepdim=True) / E2M1_MAX) / tensor_scale
    block_scale = block_scale.clamp(min=E4M3_MIN_NORMAL, max=E4M3_MAX).to(torch.float8_e4m3fn).float()
    scaled = x * ((1.0 / tensor_scale) / block_scale)
    values = round_e2m1(scaled.clamp(-E2M1_MAX, E2M1_MAX))
    return values.reshape(w.shape), block_scale.reshape(*w.shape[:-1], -1), tensor_scale


def e2m1_codes(values: torch.Tensor) -> torch.Tensor:
    """4-bit E2M1 codes (sign bit 8, magnitude index 0-7 on the grid) of values already on the grid."""
    magnitude = torch.searchsorted(E2M1_GRID, values.abs().float().contiguous())
    return (magnitude | (torch.signbit(values).to(torch.int64) << 3)).to(torch.uint8)


def nvfp4_encode(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The deployable form: (two E2M1 codes per byte, element 2i in the low nibble; block scales as
    float8_e4m3fn; FP32 tensor scale)."""
    values, block_scale, tensor_scale = nvfp4_quantize(w)
    codes = e2m1_codes(values)
    packed = codes[..., ::2] | (codes[..., 1::2] << 4)
    return packed, block_scale.to(torch.float8_e4m3fn), tensor_scale


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
