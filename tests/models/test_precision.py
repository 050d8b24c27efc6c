"""`trainer.precision=auto` resolves by what the device computes natively; explicit values are kept."""

from __future__ import annotations

import pytest
import torch

from helpers import compose
from hrmtrain.models import precision as prec


def test_default_is_auto_and_the_seed_value_is_kept():
    assert compose().trainer.precision.value == "auto"
    assert compose(["experiment=seed_lmodule"]).trainer.precision.value == "bf16"


@pytest.mark.parametrize("name", ["bf16", "fp16", "fp32"])
def test_explicit_precision_is_used_as_configured(name):
    assert prec.resolve(name, "cpu") == (name, "configured")
    assert prec.Precision.from_config(name, "cpu").dtype == prec.DTYPES[name]


def test_auto_on_cpu_follows_native_bf16(monkeypatch):
    monkeypatch.setattr(prec, "cpu_has_native_bf16", lambda: True)
    assert prec.resolve("auto", "cpu")[0] == "bf16"
    monkeypatch.setattr(prec, "cpu_has_native_bf16", lambda: False)
    name, why = prec.resolve("auto", "cpu")
    assert name == "fp32" and "no native bf16" in why


def test_native_bf16_check_agrees_with_the_cpu_flags():
    """oneDNN runs bf16 on AVX512 cores and up; an AVX2-only CPU has no bf16 kernels, an AVX512-BF16 one has."""
    try:
        flags = set(open("/proc/cpuinfo").read().split())
    except OSError:
        pytest.skip("no /proc/cpuinfo on this system")
    avx512_core = {"avx512f", "avx512bw", "avx512vl", "avx512dq"} <= flags
    expected = avx512_core or "avx512_bf16" in flags or "amx_bf16" in flags
    assert prec.cpu_has_native_bf16() is expected, sorted(f for f in flags if f.startswith(("avx512", "amx")))
    assert prec.resolve("auto", "cpu")[0] == ("bf16" if expected else "fp32")


def test_fp16_uses_loss_scaling_and_others_do_not():
    assert prec.Precision("fp16", "cpu").grad_scaler().is_enabled()
    assert not prec.Precision("bf16", "cpu").grad_scaler().is_enabled()
    with prec.Precision("bf16", "cpu").autocast():
        assert torch.mm(torch.ones(2, 2), torch.ones(2, 2)).dtype == torch.bfloat16
    with prec.Precision("fp32", "cpu").autocast():
        assert torch.mm(torch.ones(2, 2), torch.ones(2, 2)).dtype == torch.float32
