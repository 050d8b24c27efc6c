"""The model a training run trains: the base (models/base.py) with what the run adds to it: NVFP4 fake
quantization (`model.quant=nvfp4`), LoRA adapters, QLoRA's 4-bit frozen linears."""

from __future__ import annotations

import torch

from hrmtrain.models.base import ModelSource, load_base


def load_model(source: ModelSource, model_cfg, tokenizer, frozen_dtype: torch.dtype | None = None) -> torch.nn.Module:
    """fp32 master weights (autocast gives the compute precision). With LoRA, `frozen_dtype` (bf16 where the
    run computes in bf16) is the dtype of the frozen base: half the memory of fp32, no cast per step, and no
    gradient or optimizer state for it in any case; the adapters stay fp32. With `lora.qlora` the decoder's
    linears are NF4 (train/qlora.py), computing in `frozen_dtype` (fp32 when None)."""
    model = load_base(source, model_cfg, tokenizer)
    if model_cfg.quant == "nvfp4":
        from hrmtrain.models.nvfp4 import fake_quantize_linears

        fake_quantize_linears(model)
    if model_cfg.lora.enabled:
        from peft import LoraConfig, get_peft_model

        lora = model_cfg.lora
        if getattr(lora, "qlora", False):  # configs written before QLoRA have no such key
            from hrmtrain.train.qlora import quantize_base_linears

            quantize_base_linears(model, frozen_dtype or torch.float32)
        model = get_peft_model(model, LoraConfig(
            r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout,
            target_modules=lora.target_modules if lora.target_modules == "all-linear"
            else [m.strip() for m in lora.target_modules.split(",")],
            task_type="CAUSAL_LM",
        ))
        if not getattr(lora, "qlora", False):
            from hrmtrain.train.lora_update import fuse_adapter_updates

            fuse_adapter_updates(model)
        if frozen_dtype is not None and frozen_dtype != torch.float32:
            for p in model.parameters():
                if not p.requires_grad:
                    p.data = p.data.to(frozen_dtype)
    return model


def causal_lm(model: torch.nn.Module):
    """The transformers *ForCausalLM inside a PEFT wrapper (or the model itself)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def count_parameters(model: torch.nn.Module) -> tuple[int, int]:
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return total, trainable
