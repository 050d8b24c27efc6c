"""NVFP4 fake quantizer: the E2M1 grid, exact round trips, straight-through gradients."""

from __future__ import annotations

import pytest
import torch

from hrmtrain.models import nvfp4
from hrmtrain.models.nvfp4 import E2M1_GRID, NVFP4FakeQuant, nvfp4_encode, nvfp4_fake_quantize, nvfp4_quantize, round_e2m1

GRID = [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0]


def test_e2m1_rounding_ties_to_even():
    x = torch.tensor([0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5.0, 0.3, 2.9, -5.1, -0.25])
    assert round_e2m1(x).tolist() == [0.0, 1.0, 1.0, 2.0, 2.0, 4.0, 4.0, 0.5, 3.0, -6.0, -0.0]


def test_exactly_representable_values_round_trip():
    g = torch.Generator().manual_seed(0)
    grid = torch.tensor(GRID + [-v for v in GRID[1:]])
    values = grid[torch.randint(0, len(grid), (64, 64), generator=g)]
    values[:, ::16] = 6.0  # every block of 16 holds the max, so every block scale is 448 (exact in E4M3)
    w = values * 448 * 2.0**-10  # amax / (448 * 6) = 2^-10: an exact FP32 tensor scale
    assert torch.equal(nvfp4_fake_quantize(w), w)


def test_quantize_shapes_and_error_bound():
    w = torch.randn(32, 64)
    values, block, tensor = nvfp4_quantize(w)
    assert block.shape == (32, 4) and values.shape == w.shape
    assert set(values.abs().unique().tolist()) <= set(GRID)
    deq = nvfp4_fake_quantize(w)
    # E2M1 has 1 mantissa bit: relative error per element bounded by the block's scale step
    assert (deq - w).abs().max() <= (w.abs().reshape(-1, 16).amax(1).max() / 6) * 1.01


def test_straight_through_gradient():
    w = torch.randn(8, 32, requires_grad=True)
    out = NVFP4FakeQuant()(w)
    assert torch.equal(out.detach(), nvfp4_fake_quantize(w.detach()))
    (out * 3).sum().backward()
    assert torch.equal(w.grad, torch.full_like(w, 3.0))


def _torchao_reference(w: torch.Tensor):
    """torchao's NVFP4 reference (two-level scaling): packed codes and E4M3 block scales."""
    from torchao.prototype.mx_formats.nvfp4_tensor import nvfp4_quantize as ao_quantize
    from torchao.prototype.mx_formats.nvfp4_tensor import per_tensor_amax_to_scale

    scales, packed = ao_quantize(w.contiguous(), 16, per_tensor_scale=per_tensor_amax_to_scale(w.float().abs().amax()))
    return packed, scales


def _weights():
    g = torch.Generator().manual_seed(0)
    yield torch.randn(64, 128, generator=g)
    yield torch.randn(32, 64, generator=g).to(torch.bfloat16)
    yield torch.randn(16, 256, generator=g) * 1e-3
    wide = torch.randn(48, 96, generator=g) * torch.logspace(-6, 3, 96)  # block scales span E4M3 and beyond
    wide[3, :32] = 0.0  # all-zero blocks (their scale is clamped to E4M3's smallest normal)
    wide[5, 16:32] = -0.0
    yield wide
    grid = torch.tensor(GRID + [-v for v in GRID[1:]])
    yield grid[torch.randint(0, len(grid), (8, 64), generator=g)] * 0.75  # ties of the E2M1 rounding
    for _ in range(8):  # many blocks: where division and multiplication by the reciprocal round apart
        yield torch.randn(256, 256, generator=g) * float(torch.rand((), generator=g) * 10)


def test_codes_and_scales_match_torchao_bit_for_bit():
    for w in _weights():
        packed, scales, tensor_scale = nvfp4_encode(w)
        ref_packed, ref_scales = _torchao_reference(w)
        assert packed.dtype == torch.uint8 and packed.shape == (w.shape[0], w.shape[1] // 2)
        assert torch.equal(packed, ref_packed.view(torch.uint8)), w.dtype
        assert torch.equal(scales.view(torch.uint8), ref_scales.reshape(scales.shape).view(torch.uint8))


def test_packed_codes_decode_to_the_fake_quantized_weights():
    w = torch.randn(16, 64)
    packed, scales, tensor_scale = nvfp4_encode(w)
    codes = torch.stack([packed & 0xF, packed >> 4], dim=-1).reshape(w.shape).long()
    values = E2M1_GRID[codes & 7] * torch.where(codes >= 8, -1.0, 1.0)
    deq = (values.reshape(-1, 16) * scales.float().reshape(-1, 1) * tensor_scale).reshape(w.shape)
    assert torch.equal(deq, nvfp4_fake_quantize(w))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="the NVFP4 quantizer on a GPU; no GPU here")
def test_quantizer_on_a_gpu_gives_the_cpu_codes_and_scales():
    w = torch.randn(64, 256, generator=torch.Generator().manual_seed(3))
    cpu = nvfp4.nvfp4_encode(w)
    gpu = nvfp4.nvfp4_encode(w.cuda())
    assert torch.equal(cpu[0], gpu[0].cpu())
    assert torch.equal(cpu[1].view(torch.uint8), gpu[1].cpu().view(torch.uint8))
    assert torch.equal(cpu[2], gpu[2].cpu())
