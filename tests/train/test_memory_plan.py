"""`hrmtrain plan`: the parameter counts it plans with are the models' own, the Qwen3-8B table says what fits
which card, and bad plan settings name their key. (Its estimate against measured peaks: the SFT benchmark,
test_benchmark_scripts.py.)"""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from helpers import run_cli
from hrmtrain.config import TinyModelConfig
from hrmtrain.models.base import ModelSource, vocab_size
from hrmtrain.train import memory_plan
from hrmtrain.train.memory_plan import GB, Shape, plan
from hrmtrain.train.model import count_parameters, load_model


@pytest.fixture(scope="module")
def tiny_lora_and_full(tokenizer):
    out = {}
    for lora in (False, True):
        cfg = OmegaConf.create({"tiny": TinyModelConfig(), "quant": "none",
                                "lora": {"enabled": lora, "r": 8, "alpha": 16, "dropout": 0.0,
                                         "target_modules": "all-linear"}})
        out[lora] = count_parameters(load_model(ModelSource("tiny", None), cfg, tokenizer))
    return out


def test_the_planned_parameter_counts_are_the_models_own(tokenizer, tiny_lora_and_full):
    cfg = OmegaConf.create({"base": "tiny", "tiny": TinyModelConfig()})
    shape = memory_plan.shape_of(cfg, vocab_size(tokenizer))
    total, trainable = tiny_lora_and_full[False]
    assert shape.params() == total == trainable
    _, adapters = tiny_lora_and_full[True]
    assert shape.lora_params(8) == adapters


def test_qwen3_8b_has_its_published_size_and_what_fits_follows():
    shape = Shape(**memory_plan.KNOWN_SHAPES["qwen3-8b"])
    assert 8.1e9 < shape.params() < 8.3e9  # Qwen3-8B: 8.2B parameters
    kw = dict(tokens=4 * 2048, bf16=True, chunk=512)
    full = plan(shape, "full", checkpointing=True, **kw)
    lora = plan(shape, "lora", checkpointing=True, **kw)
    qlora = plan(shape, "qlora", checkpointing=True, **kw)
    assert full.parts["optimizer (AdamW)"] == 8 * shape.params()
    assert qlora.total < lora.total < full.total
    assert lora.total < 32 * GB < full.total  # LoRA fits an RTX 5090, full fine-tuning does not
    sharded = plan(shape, "full", checkpointing=True, gpus=8, **kw)
    assert sharded.parts["weights"] == full.parts["weights"] / 8
    assert plan(shape, "full", checkpointing=False, **kw).parts["activations"] > 5 * full.parts["activations"]


def test_plan_command_prints_the_table_and_the_verdict(tmp_path):
    proc = run_cli(["plan", "model.base=qwen3-8b", "plan.gpu_memory_gb=32", "trainer.max_length=2048",
                    "perf.gradient_checkpointing=true"], tmp_path, tiny=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    assert "qwen3-8b: 8.19B parameters" in out and "| qlora | 8 |" in out
    assert "lora: fits on 1 x 32 GB GPU with gradient checkpointing" in out
    assert "full: does not fit 8 x 32 GB GPUs" in out


def test_plan_settings_out_of_range_name_their_key(tmp_path):
    proc = run_cli(["plan", "model.base=qwen3-8b", "plan.gpu_memory_gb=0"], tmp_path, tiny=False)
    assert proc.returncode == 2 and "plan.gpu_memory_gb" in proc.stderr
