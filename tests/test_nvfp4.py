"""NVFP4 fake quantizer: the E2M1 grid, exact round trips, straight-through gradients."""

from __future__ import annotations

import torch

from hrmtrain.train.nvfp4 import NVFP4FakeQuant, nvfp4_fake_quantize, nvfp4_quantize, round_e2m1

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
