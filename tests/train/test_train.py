"""Full fine-tuning and LoRA both train; W&B offline metrics read back; the saved model is complete."""

from __future__ import annotations

import json

import pytest
import torch

from helpers import compose, read_jsonl, small_train, val_losses
from hrmtrain.config import TinyModelConfig
from hrmtrain.errors import HrmError
from hrmtrain.lineage import AuditLog, LineageError
from hrmtrain.models.base import ModelSource, load_tokenizer
from hrmtrain.prompt.chat import ChatEncoder
from hrmtrain.prompt.rows import load_rows
from hrmtrain.train.dataset import encode_rows, evenly_spaced
from hrmtrain.train.loss import SFTLoss
from hrmtrain.train.model import causal_lm, load_model
from hrmtrain.train.stage import train
from hrmtrain.train.task_validation import Choice, TaskValidation, restore
from hrmtrain.train.tracking import read_offline_history


@pytest.fixture(scope="module")
def full_run(tmp_path_factory, sample_data):
    tmp = tmp_path_factory.mktemp("full")
    (tmp / "data").symlink_to(sample_data)
    cfg = compose(small_train(tmp, "full", steps=16, extra=["logging.wandb_mode=offline"]))
    return train(cfg)


def test_full_fine_tuning_lowers_validation_loss(full_run):
    val = val_losses(full_run.run_dir)
    assert len(val) == 5  # step 0, 4, 8, 12, 16
    assert val[-1] < 0.8 * val[0]
    assert full_run.summary["metrics"]["val_loss_final"] == pytest.approx(val[-1])
    steps = [r for r in read_jsonl(full_run.run_dir / "metrics.jsonl") if "train/step_time_s" in r]
    times = sorted(r["train/step_time_s"] for r in steps[1:])
    assert len(times) == 15 and full_run.summary["metrics"]["step_time_s_median"] == pytest.approx(times[7])


def test_validation_subset_is_the_same_evenly_spread_rows(full_run, sample_data, tokenizer):
    """The tiny experiment validates on 8 rows spread over the whole split (not its first 8, which would be
    one kind of request), and trainer.val_subset=0 keeps all of them."""
    rows = load_rows(sample_data / "val.parquet")
    picked = evenly_spaced(rows, 8)
    assert len(picked) == 8 and picked[0] is rows[0] and picked[-1] is rows[(7 * len(rows)) // 8]
    assert len({r.number for r in picked}) == 8
    assert len({r.messages[1]["content"][:12] for r in picked}) > 4  # not one kind of request
    assert evenly_spaced(rows, 0) is rows and evenly_spaced(rows, len(rows) + 1) is rows
    encoder = ChatEncoder(tokenizer, enable_thinking=False)
    assert full_run.summary["data"]["val_sequences"] == len(encode_rows(picked, encoder, 1024))
    assert full_run.summary["data"]["val_sequences"] < len(encode_rows(rows, encoder, 1024))
    assert compose(["trainer.val_subset=0"]).trainer.val_subset == 0


def test_wandb_offline_metrics_read_back(full_run):
    logged = read_offline_history(full_run.run_dir)
    ours = read_jsonl(full_run.run_dir / "metrics.jsonl")
    train_rows = [r for r in logged if "train/loss" in r]
    assert [r["_step"] for r in train_rows] == list(range(1, 17))
    expected = {r["step"]: r["train/loss"] for r in ours if "train/loss" in r}
    assert all(r["train/loss"] == pytest.approx(expected[r["_step"]]) for r in train_rows)
    assert [r["val/loss"] for r in logged if "val/loss" in r] == pytest.approx(val_losses(full_run.run_dir))
    run_dirs = list((full_run.run_dir / "wandb").glob("offline-run-*"))
    assert run_dirs, "no offline W&B run"
    # the run name and config were logged too
    cfg_file = next(run_dirs[0].glob("files/config.yaml"), None)
    if cfg_file is not None:
        assert "hrm-lmodule" in cfg_file.read_text() or "max_steps" in cfg_file.read_text()


def test_final_model_has_weights_tokenizer_template_and_manifest(full_run):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model_dir = full_run.model_dir
    manifest = json.loads((model_dir / "manifest.json").read_text())
    assert manifest["config"]["trainer"]["max_steps"] == 16
    assert len(manifest["data"]["sha256"]) == 64
    assert manifest["hrmtrain_version"] and manifest["metrics"]["steps"] == 16
    tok = AutoTokenizer.from_pretrained(model_dir)
    assert "<tool_call>" in tok.chat_template
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    prompt = tok.apply_chat_template([{"role": "user", "content": "Add milk to the shopping list."}],
                                     add_generation_prompt=True, enable_thinking=False, return_tensors="pt",
                                     return_dict=True)
    out = model.generate(**prompt, max_new_tokens=4, do_sample=False)
    assert prompt["input_ids"].shape[1] < out.shape[1] <= prompt["input_ids"].shape[1] + 4


def test_lora_trains_only_adapters(tmp_path, sample_data):
    (tmp_path / "data").symlink_to(sample_data)
    cfg = compose(small_train(tmp_path, "lora", steps=12, extra=["model.lora.enabled=true", "model.lora.r=8",
                                                                  "trainer.lr=1e-2"]))
    result = train(cfg)
    val = val_losses(result.run_dir)
    # a random base with a frozen output layer learns slowly through rank-8 adapters, but it learns
    assert val[-1] < val[0] - 0.2, val
    assert result.summary["model"]["trainable_params"] < 0.1 * result.summary["model"]["params"]
    adapter = result.run_dir / "adapter"
    assert (adapter / "adapter_config.json").is_file() and (adapter / "adapter_model.safetensors").is_file()
    # the merged model differs from the untrained base only in the adapted linear layers
    from safetensors.torch import load_file

    from omegaconf import OmegaConf

    base = load_model(ModelSource("tiny", None), OmegaConf.merge(cfg.model, {"lora": {"enabled": False}}),
                      load_tokenizer(ModelSource("tiny", None))).state_dict()
    merged = load_file(result.model_dir / "model.safetensors")
    assert torch.equal(merged["model.embed_tokens.weight"], base["model.embed_tokens.weight"])
    assert not torch.equal(merged["model.layers.0.self_attn.q_proj.weight"], base["model.layers.0.self_attn.q_proj.weight"])


def test_nvfp4_fake_quant_trains_and_saves_master_weights(tmp_path, sample_data):
    (tmp_path / "data").symlink_to(sample_data)
    result = train(compose(small_train(tmp_path, "fp4", steps=8, extra=["model.quant=nvfp4"])))
    val = val_losses(result.run_dir)
    assert val[-1] < val[0]
    from safetensors.torch import load_file

    keys = load_file(result.model_dir / "model.safetensors").keys()
    assert "model.layers.0.mlp.up_proj.weight" in keys and not any("parametrizations" in k for k in keys)


def test_existing_run_is_not_overwritten(tmp_path, sample_data):
    (tmp_path / "data").symlink_to(sample_data)
    (tmp_path / "runs" / "taken").mkdir(parents=True)
    (tmp_path / "runs" / "taken" / "keep.txt").write_text("mine")
    with pytest.raises(HrmError, match="already exists"):
        train(compose(small_train(tmp_path, "taken", steps=2)))
    assert (tmp_path / "runs" / "taken" / "keep.txt").read_text() == "mine"


def test_a_log_that_does_not_verify_stops_training_before_it_starts(tmp_path, sample_data):
    (tmp_path / "data").symlink_to(sample_data)
    (tmp_path / "lineage").mkdir()
    (tmp_path / "lineage" / "audit.jsonl").write_text('{"seq": 1, "stage": "data"}\n')  # no hash, no head
    with pytest.raises(LineageError, match="does not verify"):
        train(compose(small_train(tmp_path, "r", steps=2)))
    assert not (tmp_path / "runs" / "r").exists()


def test_a_model_the_log_refuses_is_moved_out_of_use(tmp_path, sample_data, monkeypatch):
    (tmp_path / "data").symlink_to(sample_data)

    def failing(self, *a, **kw):
        raise OSError("read-only file system")

    monkeypatch.setattr(AuditLog, "append", failing)
    with pytest.raises(HrmError, match="moved out of use"):
        train(compose(small_train(tmp_path, "r", steps=2, extra=["trainer.eval_every=2", "trainer.checkpoint_every=2"])))
    run = tmp_path / "runs" / "r"
    assert not (run / "model").exists() and (run / ".unrecorded" / "model" / "model.safetensors").is_file()


def test_checkpoint_choice_keeps_the_best_by_task_success_then_loss_and_counts_stale_evaluations():
    model = torch.nn.Linear(2, 2)
    tv = TaskValidation.__new__(TaskValidation)  # update() needs no tasks
    choice = Choice()

    def set_weights(v):
        with torch.no_grad():
            model.weight.fill_(v)

    set_weights(1.0)
    assert tv.update(choice, 10, 3, 16, 0.50, model)
    set_weights(2.0)
    assert tv.update(choice, 20, 3, 16, 0.40, model)  # same success, lower loss: better
    set_weights(3.0)
    assert not tv.update(choice, 30, 2, 16, 0.10, model)  # lower loss, fewer successes: not better
    assert not tv.update(choice, 40, 3, 16, 0.45, model) and choice.stale == 2
    restore(choice, model)
    assert choice.step == 20 and torch.all(model.weight == 2.0)
    assert [h[0] for h in choice.to_json()["history"]] == [10, 20, 30, 40]


def test_validation_tasks_run_during_training_and_choose_the_saved_weights(tmp_path, sample_data):
    (tmp_path / "data").symlink_to(sample_data)
    result = train(compose(small_train(tmp_path, "tasks", steps=8, extra=[
        "trainer.eval_tasks_every=4", "trainer.eval_tasks=3", "eval.budget.max_new_tokens=6"])))
    rows = read_jsonl(result.run_dir / "metrics.jsonl")
    assert [r["step"] for r in rows if "val/task_success" in r] == [4, 8]
    choice = json.loads((result.run_dir / "summary.json").read_text())["checkpoint"]
    assert [h[0] for h in choice["history"]] == [4, 8] and choice["n"] == 3
    assert (choice["success"], -choice["val_loss"]) == max((h[1], -h[3]) for h in choice["history"])


def test_lora_keeps_its_frozen_base_in_bf16_and_trains_only_fp32_adapters():
    """Where the run computes in bf16 the frozen base is stored in bf16 (half of fp32) and gets no gradient;
    the adapters stay fp32 and learn under bf16 autocast."""
    from omegaconf import OmegaConf

    cfg = OmegaConf.create({"tiny": TinyModelConfig(), "quant": "none",
                            "lora": {"enabled": True, "r": 4, "alpha": 8, "dropout": 0.0, "target_modules": "all-linear"}})
    model = load_model(ModelSource("tiny", None), cfg, load_tokenizer(ModelSource("tiny", None)), frozen_dtype=torch.bfloat16)
    frozen = [p for p in model.parameters() if not p.requires_grad]
    adapters = [p for p in model.parameters() if p.requires_grad]
    assert frozen and adapters
    assert all(p.dtype == torch.bfloat16 for p in frozen) and all(p.dtype == torch.float32 for p in adapters)
    ids = torch.tensor([[5, 17, 99, 4, 23, 8, 61, 2]])
    labels = ids.clone()
    labels[0, :3] = -100
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss, n = SFTLoss(causal_lm(model), chunk_size=16)(input_ids=ids, labels=labels,
                                                           attention_mask=torch.ones_like(ids))
    (loss / n).backward()
    assert all(p.grad is None for p in frozen)
    assert all(p.grad is not None and p.grad.dtype == torch.float32 for p in adapters)
    assert any(float(p.grad.abs().sum()) > 0 for p in adapters)
