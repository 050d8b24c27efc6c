"""LoRA's update added into the frozen layer's output in place: one `addmm_` instead of PEFT's three tensors.

PEFT computes a LoRA linear as `result = result + lora_B(lora_A(dropout(x))) * scaling`. That allocates
three tokens x out_features tensors per adapted projection (B's output, its scaled copy, the sum) where
the result needs none: the frozen layer's output is saved by nothing (a linear without weight gradient
keeps only its weight), so the update can be accumulated into it. Measured on SmolLM2-135M (30 layers,
7 adapted projections each, one packed micro-batch of 2,980 tokens, fp32, AVX2 EPYC): the tensors autograd
saves were *smaller* with LoRA than with full fine-tuning (3.9 vs 4.3 GB), but the process's peak RSS after
the backward was *larger* (8.5 vs 6.4 GB): the ~600 short-lived temporaries of 7-18 MB each fall below
glibc's (dynamically raised) mmap threshold, land on its heap between saved activations and are not
returned. See benchmarks/README.md ("LoRA") for the figures with this module.

Only vanilla LoRA takes this path: one active adapter, no dropout (the default, `model.lora.dropout=0`),
no DoRA or other variant, adapters not merged or disabled. Anything else runs PEFT's own forward.
"""

from __future__ import annotations

import types

import torch
import torch.nn.functional as F


def _fused_forward(self, x: torch.Tensor, *args, **kwargs) -> torch.Tensor:
    active = self.active_adapters
    if (self.disable_adapters or self.merged or args or kwargs or len(active) != 1
            or active[0] not in self.lora_A or active[0] in self.lora_variant
            or not isinstance(self.lora_dropout[active[0]], torch.nn.Identity)):
        return type(self).forward(self, x, *args, **kwargs)
    name = active[0]
    a_weight = self.lora_A[name].weight
    b_weight = self.lora_B[name].weight
    # under autocast the linear casts x itself (once, the copy it saves); PEFT's cast to the adapters' fp32
    # first would add an fp32 copy of every bf16 input (attention's output, the MLP's product)
    down = F.linear(x if torch.is_autocast_enabled(x.device.type) else x.to(a_weight.dtype), a_weight)
    out = self.base_layer(x)
    flat = out.view(-1, out.shape[-1])
    flat.addmm_(down.reshape(-1, down.shape[-1]).to(out.dtype), b_weight.t().to(out.dtype), alpha=self.scaling[name])
    return out


def fuse_adapter_updates(model: torch.nn.Module) -> int:
    """Give every PEFT LoRA `Linear` of `model` the in-place forward; returns how many got it. PEFT's module,
    its state dict, saving and merging are untouched (only the instance's `forward` is replaced)."""
    from peft.tuners.lora.layer import Linear as LoraLinear

    n = 0
    for module in model.modules():
        if type(module) is LoraLinear and type(module.base_layer) is torch.nn.Linear:
            module.forward = types.MethodType(_fused_forward, module)
            n += 1
    return n
