"""QLoRA (model.lora.qlora=true): the tiny base's decoder linears in bitsandbytes NF4 on this CPU, fp32
adapters that learn, checkpoints of the adapters alone that resume, and a saved fp32 model that computes
what the run trained."""

from __future__ import annotations

import bitsandbytes as bnb
import pytest
import torch
from omegaconf import OmegaConf

from helpers import compose, read_jsonl, small_train, val_losses
from hrmtrain.config import ConfigValueError, check_values
from hrmtrain.models.base import ModelSource, load_tokenizer
from hrmtrain.train.model import load_model
from hrmtrain.train.stage import train

QLORA = ["model.lora.enabled=true", "model.lora.qlora=true", "model.lora.r=8", "trainer.lr=1e-2"]


@pytest.fixture(scope="module")
def qlora_run(tmp_path_factory, sample_data):
    """8 steps with a checkpoint at 4, then resumed to 12."""
    tmp = tmp_path_factory.mktemp("qlora")
    (tmp / "data").symlink_to(sample_data)
    first = train(compose(small_train(tmp, "q", steps=8, extra=QLORA)))
    resumed = train(compose(small_train(tmp, "q", steps=12, extra=[*QLORA, "trainer.resume=true"])))
    return first, resumed


def test_the_base_is_nf4_and_only_the_adapters_train():
    tiny = ModelSource("tiny", None)
    cfg = compose(QLORA)
    model = load_model(tiny, cfg.model, load_tokenizer(tiny))
    four_bit = [m for m in model.modules() if isinstance(m, bnb.nn.Linear4bit)]
    layers = cfg.model.tiny.num_hidden_layers
    assert len(four_bit) == 7 * layers  # q, k, v, o, gate, up, down of every layer; not the output layer
    for m in four_bit:
        assert m.weight.dtype == torch.uint8 and m.weight.quant_type == "nf4" and not m.weight.requires_grad
        assert m.weight.numel() * 2 == m.in_features * m.out_features  # two 4-bit codes a byte
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)
    assert not isinstance(model.get_base_model().lm_head, bnb.nn.Linear4bit)


def test_qlora_learns_and_saves_the_function_it_trained(qlora_run):
    first, resumed = qlora_run
    val = val_losses(resumed.run_dir)
    # a random base behind 4-bit weights learns slowly through rank-8 adapters, but it learns
    assert val[-1] < val[0] - 0.2, val
    assert resumed.summary["model"]["trainable_params"] < 0.1 * resumed.summary["model"]["params"]
    # the saved model is an ordinary fp32 one; rebuilt from the base and the saved adapter, the 4-bit model
    # gives the same logits
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM

    saved = AutoModelForCausalLM.from_pretrained(resumed.model_dir)
    assert all(p.dtype == torch.float32 for p in saved.parameters())
    assert not any(isinstance(m, bnb.nn.Linear4bit) for m in saved.modules())
    tiny = ModelSource("tiny", None)
    cfg = compose(QLORA)
    rebuilt = load_model(tiny, cfg.model, load_tokenizer(tiny))
    set_peft_model_state_dict(rebuilt, load_file(resumed.run_dir / "adapter" / "adapter_model.safetensors"))
    ids = torch.tensor([[1, 500, 2000, 77, 31, 9000, 12, 4]])
    with torch.no_grad():
        trained_logits = rebuilt.eval()(input_ids=ids).logits
        saved_logits = saved.eval()(input_ids=ids).logits
    torch.testing.assert_close(saved_logits, trained_logits, atol=2e-4, rtol=1e-4)
    # each merged weight is the NF4 round trip of the base weight plus alpha/r * B @ A of the saved adapter
    base = load_model(tiny, OmegaConf.merge(cfg.model, {"lora": {"enabled": False, "qlora": False}}),
                      load_tokenizer(tiny)).state_dict()
    merged = load_file(resumed.model_dir / "model.safetensors")
    adapter = load_file(resumed.run_dir / "adapter" / "adapter_model.safetensors")
    assert torch.equal(merged["model.embed_tokens.weight"], base["model.embed_tokens.weight"])
    q = "model.layers.0.self_attn.q_proj"
    codes, state = bnb.functional.quantize_4bit(base[f"{q}.weight"], quant_type="nf4", compress_statistics=True)
    nf4_base = bnb.functional.dequantize_4bit(codes, state)
    assert 0 < (nf4_base - base[f"{q}.weight"]).abs().max() < 0.2 * base[f"{q}.weight"].abs().max()
    delta = (adapter[f"base_model.model.{q}.lora_B.weight"] @ adapter[f"base_model.model.{q}.lora_A.weight"]
             * cfg.model.lora.alpha / cfg.model.lora.r)
    assert delta.abs().max() > 0
    torch.testing.assert_close(merged[f"{q}.weight"], nf4_base + delta, atol=1e-5, rtol=1e-5)


def test_qlora_checkpoints_hold_only_the_adapters_and_resume(qlora_run):
    from torch.distributed.checkpoint import FileSystemReader

    first, resumed = qlora_run
    ckpt = first.run_dir / "checkpoints" / "step_00000008"
    keys = [k for k in FileSystemReader(str(ckpt)).read_metadata().state_dict_metadata if k.startswith("model.")]
    # the adapters, and bitsandbytes' quantization statistics of the 4-bit weights (one absmax per 64 weights);
    # no base weight: not the 4-bit codes, not the frozen embeddings or the output layer tied to them
    weights = [k for k in keys if k.endswith(".weight")]
    assert weights and all("lora_" in k for k in weights), weights[:5]
    assert all("lora_" in k or ".weight." in k for k in keys), keys[:5]
    size = sum(f.stat().st_size for f in ckpt.iterdir())
    assert size < 2e6, size  # the tiny model's fp32 embeddings alone are 39 MB
    steps = [r["step"] for r in read_jsonl(resumed.run_dir / "metrics.jsonl") if "train/loss" in r]
    assert steps == list(range(1, 13))  # 1-8 from the first run, 9-12 after resuming at 8
    assert resumed.summary["metrics"]["steps"] == 12


def test_qlora_without_lora_or_with_nvfp4_names_the_key():
    with pytest.raises(ConfigValueError, match="model.lora.qlora"):
        check_values(compose(["model.lora.qlora=true"]))
    with pytest.raises(ConfigValueError, match="model.lora.qlora"):
        check_values(compose([*QLORA, "model.quant=nvfp4"]))
