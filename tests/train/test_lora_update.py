"""The in-place LoRA update (train/lora_update.py) computes what PEFT's own forward computes, with the same
gradients, in fp32 and under bf16 autocast, and leaves every other case to PEFT."""

from __future__ import annotations

import torch
from peft.tuners.lora.layer import Linear as LoraLinear

from helpers import compose
from hrmtrain.models.base import ModelSource, load_tokenizer
from hrmtrain.train.lora_update import _fused_forward
from hrmtrain.train.loss import SFTLoss
from hrmtrain.train.model import causal_lm, load_model

LORA = ["model.lora.enabled=true", "model.lora.r=8"]


def _models(extra=()):
    """The same LoRA model twice: with the in-place update (what load_model gives) and with PEFT's forward."""
    tiny = ModelSource("tiny", None)
    tokenizer = load_tokenizer(tiny)
    cfg = compose([*LORA, *extra])
    fused = load_model(tiny, cfg.model, tokenizer)
    plain = load_model(tiny, cfg.model, tokenizer)
    for m in plain.modules():
        if isinstance(m, LoraLinear):
            del m.forward  # back to the class's (PEFT's) forward
    plain.load_state_dict(fused.state_dict())
    torch.manual_seed(0)
    for (_, p), (_, q) in zip(fused.named_parameters(), plain.named_parameters()):
        if p.requires_grad:  # B starts at zero: give it values so the update is not trivially zero
            p.data.normal_(0, 0.05)
            q.data.copy_(p.data)
    return fused, plain


def _loss_and_grads(model, batch, autocast: bool):
    sft = SFTLoss(causal_lm(model), 64)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        loss, n = sft(**batch)
    loss.backward()
    return loss.detach(), {name: p.grad.clone() for name, p in model.named_parameters() if p.requires_grad}


def _batch():
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, 1000, (2, 24), generator=g)
    labels = ids.clone()
    labels[:, :8] = -100
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": labels}


def _relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.float() - b.float()).norm() / b.float().norm())


def test_the_in_place_update_matches_peft_in_value_and_gradient_in_fp32():
    fused, plain = _models()
    layers = compose([]).model.tiny.num_hidden_layers
    assert sum(getattr(m.forward, "__func__", None) is _fused_forward
               for m in fused.modules() if isinstance(m, LoraLinear)) == 7 * layers
    loss_f, grads_f = _loss_and_grads(fused, _batch(), autocast=False)
    loss_p, grads_p = _loss_and_grads(plain, _batch(), autocast=False)
    torch.testing.assert_close(loss_f, loss_p, rtol=1e-5, atol=1e-6)
    assert grads_f.keys() == grads_p.keys() and len(grads_f) == 2 * 7 * layers  # A and B of every projection
    for name in grads_f:
        assert grads_f[name].abs().sum() > 0, name
        torch.testing.assert_close(grads_f[name], grads_p[name], rtol=1e-5, atol=1e-6, msg=name)


def test_under_bf16_autocast_it_is_as_close_to_fp32_as_peft_is():
    """bf16 rounds differently along the two paths (PEFT rounds B's output, its scaled copy and the sum; addmm_
    rounds once), so each is held to the fp32 gradients instead of to the other."""
    fused, plain = _models()
    _, exact = _loss_and_grads(plain, _batch(), autocast=False)
    plain.zero_grad(set_to_none=True)
    _, grads_f = _loss_and_grads(fused, _batch(), autocast=True)
    _, grads_p = _loss_and_grads(plain, _batch(), autocast=True)
    err_f = max(_relative_error(grads_f[n], exact[n]) for n in exact)
    err_p = max(_relative_error(grads_p[n], exact[n]) for n in exact)
    assert err_f < 0.05 and err_f <= 1.25 * err_p, (err_f, err_p)


def _first_lora_linears(fused, plain):
    return (next(m for m in fused.modules() if isinstance(m, LoraLinear)),
            next(m for m in plain.modules() if isinstance(m, LoraLinear)))


def test_dropout_takes_peft_s_own_path():
    fused, plain = _models(["model.lora.dropout=0.5"])
    layer, ref = _first_lora_linears(fused, plain)
    x = torch.randn(3, 5, layer.in_features)
    torch.manual_seed(3)
    a = layer(x)
    torch.manual_seed(3)
    b = ref(x)
    torch.testing.assert_close(a, b)  # the same dropout mask drawn: PEFT's forward ran
    layer.eval()
    assert not torch.allclose(layer(x), a)  # and dropout did change the output in training mode


def test_merged_and_disabled_adapters_are_not_added_twice():
    fused, plain = _models()
    layer, ref = _first_lora_linears(fused, plain)
    x = torch.randn(3, 5, layer.in_features)
    with torch.no_grad():
        expected = ref(x)
        torch.testing.assert_close(layer(x), expected, rtol=1e-5, atol=1e-6)
        layer.merge()
        torch.testing.assert_close(layer(x), expected, rtol=1e-5, atol=1e-5)
        layer.unmerge()
        layer.enable_adapters(False)
        torch.testing.assert_close(layer(x), layer.base_layer(x))
        assert not torch.allclose(layer(x), expected)
