"""QLoRA: the frozen base's decoder linears stored in 4-bit NF4 through bitsandbytes, LoRA adapters in fp32.

`model.lora.qlora=true` replaces every nn.Linear of the decoder layers with bitsandbytes' `Linear4bit`
(NF4, double-quantized absmax: about 4.1 bits a weight) before PEFT adds the adapters, as transformers'
`BitsAndBytesConfig(load_in_4bit=True)` does at load time; the output layer and embeddings stay as they
are (they are tied in the small bases). PEFT then wraps the 4-bit layers with its bitsandbytes LoRA layers.

The saved model is an ordinary fp32 one: each 4-bit weight dequantized plus its adapter's delta, which is
the function the run trained (merging into the original fp32 weights instead would give a model that
differs from it by the quantization error). bitsandbytes >= 0.49 runs NF4 forward and backward on the CPU
as well as on CUDA.
"""

from __future__ import annotations

import torch

from hrmtrain.errors import HrmError


def require_bitsandbytes():
    try:
        import bitsandbytes as bnb
    except ImportError as exc:
        raise HrmError(f"model.lora.qlora=true needs bitsandbytes ({exc}): pip install 'hrmtrain[qlora]'") from None
    return bnb


def _decoder_linears(model: torch.nn.Module):
    """(name, module) of each plain nn.Linear inside the decoder (not the output layer)."""
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    for name, module in model.named_modules():
        if type(module) is torch.nn.Linear and module is not head:
            yield name, module


def quantize_base_linears(model: torch.nn.Module, compute_dtype: torch.dtype) -> int:
    """Replace the decoder's linears with frozen NF4 `Linear4bit`s (quantized from their current weights on
    their current device); returns how many were replaced."""
    bnb = require_bitsandbytes()
    replaced = 0
    for name, linear in list(_decoder_linears(model)):
        with torch.device("meta"):
            q = bnb.nn.Linear4bit(linear.in_features, linear.out_features, bias=linear.bias is not None,
                                  compute_dtype=compute_dtype, compress_statistics=True, quant_type="nf4")
        # bitsandbytes repacks a CPU layer's weights for its inference kernel whenever it runs in eval mode
        # without gradients (a validation pass) on AVX512-BF16 CPUs; training then continues on that other
        # layout. The packing is an inference speed-up only, so it is kept off.
        q.support_avx512bf16_for_cpu = False
        weight = linear.weight.detach().to(torch.float32)
        q.weight = bnb.nn.Params4bit(weight, requires_grad=False, compress_statistics=True, quant_type="nf4",
                                     module=q).to(weight.device)
        if linear.bias is not None:
            q.bias = torch.nn.Parameter(linear.bias.detach().clone(), requires_grad=False)
        q.requires_grad_(False)
        model.set_submodule(name, q)
        replaced += 1
    if not replaced:
        raise HrmError("model.lora.qlora=true: the model has no linear layers to quantize")
    return replaced


def merged_full_precision(peft_model) -> torch.nn.Module:
    """The trained model as plain fp32 linears: dequantized NF4 weight + the adapter's delta, per layer."""
    bnb = require_bitsandbytes()
    from peft.tuners.lora import LoraLayer

    base = peft_model.get_base_model()
    for name, module in list(base.named_modules()):
        if not isinstance(module, LoraLayer):
            continue
        layer = module.get_base_layer()
        if not isinstance(layer, bnb.nn.Linear4bit):
            continue
        weight = bnb.functional.dequantize_4bit(layer.weight.data, layer.weight.quant_state).to(torch.float32)
        for adapter in module.active_adapters:
            weight = weight + module.get_delta_weight(adapter).to(torch.float32)
        plain = torch.nn.Linear(layer.in_features, layer.out_features, bias=layer.bias is not None,
                                device=weight.device, dtype=torch.float32)
        with torch.no_grad():
            plain.weight.copy_(weight)
            if layer.bias is not None:
                plain.bias.copy_(layer.bias.to(torch.float32))
        base.set_submodule(name, plain)
    return base.float()
