"""The ModelOpt NVFP4 deployment checkpoint: written by an nvfp4 training run, in ModelOpt's format
(packed E2M1 codes, E4M3 block scales, FP32 tensor and input scales), reloaded into a transformers
model whose weights are the decoded codes; without ModelOpt the run says what is missing."""

from __future__ import annotations

import json
import sys

import pytest
import torch

from helpers import compose, small_train
from hrmtrain.errors import HrmError
from hrmtrain.export.repository import CONFIG, Repository, parse_config
from hrmtrain.export.stage import export
from hrmtrain.models import nvfp4
from hrmtrain.models import nvfp4_checkpoint as export_nvfp4
from hrmtrain.run_report import write_report
from hrmtrain.train.stage import train

pytest.importorskip("modelopt", reason="nvidia-modelopt (the dev extras install it) writes the checkpoint")


@pytest.fixture(scope="module")
def nvfp4_run(tmp_path_factory, sample_data):
    tmp = tmp_path_factory.mktemp("nvfp4")
    (tmp / "data").symlink_to(sample_data)
    return train(compose(small_train(tmp, "fp4", steps=8, extra=["model.quant=nvfp4",
                                                                    "model.nvfp4_calibration_sequences=4"])))


def _tensors(path):
    from safetensors.torch import load_file

    return {k: v for f in sorted(path.glob("*.safetensors")) for k, v in load_file(f).items()}


def test_checkpoint_is_modelopt_nvfp4_with_packed_codes_and_scales(nvfp4_run):
    out = nvfp4_run.run_dir / "nvfp4"
    config = json.loads((out / "config.json").read_text())
    assert config["quantization_config"]["quant_method"] == "modelopt"
    quant = json.loads((out / "hf_quant_config.json").read_text())["quantization"]
    assert quant["quant_algo"] == "NVFP4" and quant["group_size"] == 16
    assert "lm_head" in quant["exclude_modules"]
    assert (out / "tokenizer.json").is_file() and (out / "tokenizer_config.json").is_file()
    assert json.loads((out / "nvfp4_manifest.json").read_text())["modelopt_version"] == "0.47.0"

    t = _tensors(out)
    master = _tensors(nvfp4_run.model_dir)
    quantized = sorted(k[: -len(".weight_scale_2")] for k in t if k.endswith(".weight_scale_2"))
    assert len(quantized) == 2 * 7  # q, k, v, o, gate, up, down in each of the 2 layers
    for name in quantized:
        out_f, in_f = master[f"{name}.weight"].shape
        assert t[f"{name}.weight"].dtype == torch.uint8 and t[f"{name}.weight"].shape == (out_f, in_f // 2)
        assert t[f"{name}.weight_scale"].dtype == torch.float8_e4m3fn
        assert t[f"{name}.weight_scale"].shape == (out_f, in_f // 16)
        assert t[f"{name}.weight_scale_2"].dtype == torch.float32 and t[f"{name}.weight_scale_2"].dim() == 0
        assert t[f"{name}.input_scale"].dtype == torch.float32 and float(t[f"{name}.input_scale"]) > 0
    # the unquantized embedding is carried over bit for bit
    assert torch.equal(t["model.embed_tokens.weight"], master["model.embed_tokens.weight"])


def test_codes_of_unshared_layers_match_our_quantizer(nvfp4_run):
    """o_proj and down_proj have their own tensor scale (amax / (6 x 448)), as our quantizer: the block
    scales agree exactly and the codes in all but rounding-tie cases (ModelOpt divides by the scale
    where ours multiplies by its reciprocal, NOTES.md)."""
    t = _tensors(nvfp4_run.run_dir / "nvfp4")
    master = _tensors(nvfp4_run.model_dir)
    for name in ("model.layers.0.self_attn.o_proj", "model.layers.1.mlp.down_proj"):
        packed, block_scale, tensor_scale = nvfp4.nvfp4_encode(master[f"{name}.weight"])
        assert float(tensor_scale) == pytest.approx(float(t[f"{name}.weight_scale_2"]), rel=1e-6)
        assert torch.equal(block_scale.view(torch.uint8), t[f"{name}.weight_scale"].view(torch.uint8))
        same = (export_nvfp4.unpack_e2m1(packed) == export_nvfp4.unpack_e2m1(t[f"{name}.weight"])).float().mean()
        assert same > 0.999, f"{name}: only {same:.4%} of the codes agree"


def test_reloaded_model_has_the_decoded_weights_and_a_close_validation_loss(nvfp4_run):
    out = nvfp4_run.run_dir / "nvfp4"
    t = _tensors(out)
    master = _tensors(nvfp4_run.model_dir)
    model = export_nvfp4.load_nvfp4_checkpoint(out, simulate_activations=False)
    weights = dict(model.named_parameters())
    name = "model.layers.1.mlp.gate_proj"
    decoded = export_nvfp4.dequantize_weight(t[f"{name}.weight"], t[f"{name}.weight_scale"], t[f"{name}.weight_scale_2"])
    assert torch.equal(weights[f"{name}.weight"].detach(), decoded)
    w = master[f"{name}.weight"]
    assert (decoded - w).norm() / w.norm() < 0.15  # 4-bit rounding, not garbage
    assert model.lm_head.weight is model.model.embed_tokens.weight  # tied again

    report = nvfp4_run.summary["nvfp4_checkpoint"]
    assert report["written"] and report["quant_algo"] == "NVFP4"
    qat_val = nvfp4_run.summary["metrics"]["val_loss_final"]
    assert report["val_loss_reloaded"] == pytest.approx(qat_val, rel=0.05)
    saved = json.loads((nvfp4_run.run_dir / "summary.json").read_text())
    assert saved["nvfp4_checkpoint"]["path"].endswith("nvfp4")


def test_input_fake_quantization_rounds_to_the_nvfp4_grid():
    x = torch.randn(3, 32)
    scale = x.abs().amax() / (6 * 448)
    y = export_nvfp4.fake_quantize_input(x, scale)
    blocks_x, blocks_y = x.reshape(-1, 16), y.reshape(-1, 16)
    for bx, by in zip(blocks_x, blocks_y):
        step = (bx.abs().amax() / (6 * scale)).to(torch.float8_e4m3fn).float() * scale
        on_grid = (by / step).abs()
        assert all(any(torch.isclose(v, g) for g in nvfp4.E2M1_GRID) for v in on_grid)
    assert (y - x).abs().max() <= x.abs().amax() / 6  # at most one grid step at the top of a block


def test_a_plain_model_folder_is_refused_with_its_name(nvfp4_run):
    with pytest.raises(HrmError, match="quant_method is not 'modelopt'"):
        export_nvfp4.load_nvfp4_checkpoint(nvfp4_run.model_dir)


def test_without_modelopt_the_reason_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "modelopt", None)
    monkeypatch.setitem(sys.modules, "modelopt.torch.export", None)
    why = export_nvfp4.modelopt_missing()
    assert why and "pip install 'hrmtrain[nvfp4]'" in why
    with pytest.raises(HrmError, match="cannot write the NVFP4 checkpoint"):
        export_nvfp4.write_nvfp4_checkpoint(None, None, [])


def test_run_report_names_the_checkpoint_and_the_perf_options(nvfp4_run):
    page = write_report(nvfp4_run.run_dir).read_text()
    assert "NVFP4 checkpoint validation loss" in page and "ModelOpt 0.47.0" in page
    assert "perf: fused_adamw" in page and "step time (s, median)" in page


def test_checkpoint_goes_into_the_repository_for_vllm(nvfp4_run, tmp_path):
    """`hrmtrain export` places the ModelOpt checkpoint, with its quant config, as a model for Triton's vLLM
    backend (model.json naming the checkpoint), hashed and traced like the ONNX models."""
    tmp = nvfp4_run.run_dir.parent.parent
    cfg = compose(small_train(tmp, "fp4", extra=["export.models=[]", f"export.repository={tmp_path / 'repo'}"]))
    results = export(cfg, nvfp4_run.run_dir)
    row = results["models"]["lmodule_nvfp4"]
    assert row["version"] == 1 and row["platform"] == "vllm" and row["quant_algo"] == "NVFP4"
    folder = tmp_path / "repo" / "lmodule_nvfp4" / "1"
    assert (folder / "checkpoint" / "hf_quant_config.json").is_file()
    assert json.loads((folder / "checkpoint" / "config.json").read_text())["quantization_config"]["quant_method"] == "modelopt"
    model_json = json.loads((folder / "model.json").read_text())
    assert model_json["model"] == str((folder / "checkpoint").resolve())
    config = parse_config(tmp_path / "repo" / "lmodule_nvfp4" / CONFIG)
    assert config.backend == "vllm" and list(config.version_policy.specific.versions) == [1]
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["quantization"]["quant_algo"] == "NVFP4" and "checkpoint/model.safetensors" in manifest["files"]
    assert [e["stage"] for e in manifest["lineage"]["entries"]] == ["train"]
    assert not Repository(tmp_path / "repo").verify()
    # the checkpoint in the repository still loads and computes (weights decoded exactly)
    model = export_nvfp4.load_nvfp4_checkpoint(folder / "checkpoint")
    assert torch.isfinite(model(input_ids=torch.tensor([[1, 2, 3]])).logits).all()
