"""Write the trained model: weights, tokenizer + chat template, and a manifest, atomically."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING


from hrmtrain import atomic, config
from hrmtrain.train import distributed
from hrmtrain.train import model as models
from hrmtrain.train.loss import SFTLoss
from hrmtrain.models.nvfp4 import remove_fake_quant

if TYPE_CHECKING:
    from hrmtrain.config import HrmConfig


def _full_model(cfg: HrmConfig, source, model, sft, tokenizer, info: distributed.DistInfo):
    """The trained model as one ordinary module on rank 0 (gathered from shards under FSDP)."""
    if info.strategy != "fsdp":
        return model
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    full = get_model_state_dict(sft, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    if not info.is_main:
        return None
    fresh = models.load_model(source, cfg.model, tokenizer)
    SFTLoss(models.causal_lm(fresh), 1).load_state_dict(full)
    return fresh


def save_final_model(cfg: HrmConfig, source, model, sft, tokenizer, run_dir: Path, info, summary: dict) -> Path:
    full = _full_model(cfg, source, model, sft, tokenizer, info)
    model_dir = run_dir / "model"
    if info.is_main:
        full = full.to("cpu")
        remove_fake_quant(full)
        if cfg.model.lora.enabled:
            full = full.float()  # a bf16 frozen base (model.load_model): merge the adapters in fp32
            with atomic.staged_dir(run_dir / "adapter", replace=True) as tmp:
                full.save_pretrained(tmp)
            if getattr(cfg.model.lora, "qlora", False):
                from hrmtrain.train.qlora import merged_full_precision

                full = merged_full_precision(full)
            else:
                full = full.merge_and_unload()
        full.config.use_cache = True
        with atomic.staged_dir(model_dir, replace=True) as tmp:
            full.save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)
            atomic.write_json(tmp / "manifest.json", {
                **summary,
                "kind": "L-Module SFT",
                "base_model": {"base": cfg.model.base, "repo_id": source.repo_id,
                               "path": str(source.path) if source.path else "built-in tiny Qwen3",
                               **({"provenance": source.provenance} if source.provenance else {})},
                "config": config.plain(cfg),
            })
        atomic.write_json(run_dir / "summary.json", summary)
    distributed.barrier(info)
    return model_dir
