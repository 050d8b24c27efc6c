"""TensorRT engines from the exported graphs. The profile and command-line logic runs everywhere; building
and running an engine needs an NVIDIA GPU and TensorRT and is skipped elsewhere, saying which is missing."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from helpers import compose
from hrmtrain.export import onnx as ox
from hrmtrain.export import tensorrt as trt
from hrmtrain.models.base import ModelSource, load_tokenizer, tiny_config

TRT = SimpleNamespace(batch=[1, 2, 8], sequence=[1, 64, 256], past_sequence=[0, 32, 512], precision="bf16",
                      builder="python", workspace_gib=1.0)


@pytest.fixture(scope="module")
def tiny_onnx(tmp_path_factory):
    from transformers import AutoModelForCausalLM

    tmp = tmp_path_factory.mktemp("trt")
    tok = load_tokenizer(ModelSource("tiny", None))
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(tiny_config(compose([]).model.tiny, tok))
    model.save_pretrained(tmp / "model")
    tok.save_pretrained(tmp / "model")
    ox.export_lmodule(tmp / "model", tmp / "onnx" / "model.onnx", 20)
    return tmp


def test_profile_sizes_every_dynamic_input_from_the_graphs_dimension_names(tiny_onnx):
    shapes = trt.Profile.from_config(TRT).shapes(tiny_onnx / "onnx" / "model.onnx")
    assert shapes["input_ids"] == ((1, 1), (2, 64), (8, 256))
    assert shapes["position_ids"] == shapes["input_ids"]
    # the mask covers past + new tokens
    assert shapes["attention_mask"] == ((1, 1), (2, 96), (8, 768))
    assert shapes["past_key_values.1.value"] == ((1, 2, 0, 16), (2, 2, 32, 16), (8, 2, 512, 16))
    assert len(shapes) == 3 + 4


def test_bad_profile_is_refused_with_the_key():
    with pytest.raises(trt.EngineError, match=r"export.tensorrt.sequence must be \[min, opt, max\]"):
        trt.Profile.from_config(SimpleNamespace(**{**vars(TRT), "sequence": [64, 1, 256]}))


def test_trtexec_command_carries_shapes_and_precision(tiny_onnx):
    onnx_file = tiny_onnx / "onnx" / "model.onnx"
    cmd = trt.trtexec_command(onnx_file, tiny_onnx / "model.plan", "nvfp4", trt.Profile.from_config(TRT), 2.0)
    assert cmd[0] == "trtexec" and f"--onnx={onnx_file}" in cmd and "--memPoolSize=workspace:2048M" in cmd
    mins = next(a for a in cmd if a.startswith("--minShapes="))
    assert "input_ids:1x1" in mins and "past_key_values.0.key:1x2x0x16" in mins
    assert "attention_mask:8x768" in next(a for a in cmd if a.startswith("--maxShapes="))
    assert {"--fp4", "--fp8", "--bf16"} <= set(cmd)


def test_fp8_and_nvfp4_without_qdq_nodes_are_reported(tiny_onnx):
    onnx_file = tiny_onnx / "onnx" / "model.onnx"
    assert not trt.has_qdq(onnx_file)
    assert "no Q/DQ nodes" in trt._note("nvfp4", onnx_file)
    assert trt._note("bf16", onnx_file) is None


def test_missing_gpu_or_tensorrt_is_named(monkeypatch):
    import sys

    monkeypatch.setattr(trt, "cuda_gpu_count", lambda: 0)
    assert "no NVIDIA GPU" in trt.tensorrt_missing("python") and "no NVIDIA GPU" in trt.tensorrt_missing("trtexec")
    monkeypatch.setattr(trt, "cuda_gpu_count", lambda: 1)
    monkeypatch.setitem(sys.modules, "tensorrt", None)  # import fails as if not installed
    assert "tensorrt Python package is not installed" in trt.tensorrt_missing("python")
    monkeypatch.setattr(trt.shutil, "which", lambda name: None)
    assert "trtexec is not on PATH" in trt.tensorrt_missing("trtexec")
    monkeypatch.setattr(trt.shutil, "which", lambda name: f"/opt/tensorrt/bin/{name}")
    assert trt.tensorrt_missing("trtexec") is None


needs_trt = pytest.mark.skipif(trt.tensorrt_missing("python") is not None or not torch.cuda.is_available(),
                               reason=f"building and running an engine needs an NVIDIA GPU, TensorRT and a CUDA torch: "
                                      f"{trt.tensorrt_missing('python') or 'this torch has no CUDA'}")


@needs_trt
@pytest.mark.parametrize("precision,atol", [("fp32", 1e-3), ("bf16", 0.15)])
def test_engine_matches_onnxruntime(tiny_onnx, precision, atol):
    onnx_file = tiny_onnx / "onnx" / "model.onnx"
    plan = tiny_onnx / f"{precision}.plan"
    info = trt.build_engine(onnx_file, plan, SimpleNamespace(**{**vars(TRT), "precision": precision}))
    assert plan.stat().st_size > 0 and info["precision"] == precision
    # one decoding step with a past of 5 tokens, the past made by onnxruntime's prefill
    sess = ox.session(onnx_file)
    ids = np.array([[11, 22, 33, 44, 55]], np.int64)
    prefill = sess.run(None, dict(zip([i.name for i in sess.get_inputs()],
                                      [ids, np.ones_like(ids), np.arange(5)[None], *ox.empty_past(_config(tiny_onnx), 1)])))
    feeds = dict(zip([i.name for i in sess.get_inputs()],
                     [np.array([[66]], np.int64), np.ones((1, 6), np.int64), np.array([[5]], np.int64), *prefill[1:]]))
    want = sess.run(["logits"], feeds)[0]
    got = trt.run_engine(plan, feeds)["logits"]
    assert np.abs(got - want).max() < atol


def _config(tmp):
    from transformers import AutoConfig

    return AutoConfig.from_pretrained(tmp / "model")
