"""perf.* options: each does what it says on the CPU, says so when it cannot, and leaves the maths
unchanged (same loss and gradients as the plain run)."""

from __future__ import annotations

import json

import pytest
import torch

from helpers import compose, read_jsonl, small_train
from hrmtrain.config import check_values
from hrmtrain.models.base import ModelSource
from hrmtrain.prompt.chat import ChatEncoder, IGNORE
from hrmtrain.train import perf
from hrmtrain.prompt.rows import load_rows
from hrmtrain.train.dataset import StepBatches, StepDataset, ValBatches, collate, encode_rows, loader
from hrmtrain.train.loss import SFTLoss
from hrmtrain.train.model import load_model
from hrmtrain.train.stage import train


def _tiny(tokenizer, layers: int = 2):
    cfg = compose([f"model.tiny.num_hidden_layers={layers}"]).model
    return load_model(ModelSource("tiny", None), cfg, tokenizer)


def _batch(tokenizer, n: int = 3, length: int = 40) -> dict:
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(10, 5000, (n, length), generator=g)
    labels = ids.clone()
    labels[:, : length // 2] = IGNORE
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": labels}


def _loss_and_grads(model, batch):
    sft = SFTLoss(model, 64).train()
    model.zero_grad(set_to_none=True)
    loss, _ = sft(**batch)
    loss.backward()
    return float(loss.detach()), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def test_gradient_checkpointing_recomputes_layers_and_keeps_loss_and_gradients(tokenizer):
    batch = _batch(tokenizer)
    plain = _tiny(tokenizer)
    loss_plain, grads_plain = _loss_and_grads(plain, batch)

    ckpt = _tiny(tokenizer)
    report = perf.PerfReport()
    perf.enable_gradient_checkpointing(ckpt, report)
    calls = []
    ckpt.model.layers[0].mlp.register_forward_pre_hook(lambda *a: calls.append(1))  # a recompute may stop before the end
    loss_ckpt, grads_ckpt = _loss_and_grads(ckpt, batch)

    assert len(calls) == 2, "the layer's forward ran once, so backward did not recompute it"
    assert "on (2 decoder layers" in report.lines["gradient_checkpointing"]
    assert loss_ckpt == pytest.approx(loss_plain, rel=1e-6)
    assert grads_ckpt.keys() == grads_plain.keys()
    for name, g in grads_plain.items():
        torch.testing.assert_close(grads_ckpt[name], g, rtol=1e-5, atol=1e-7, msg=name)


def test_channels_last_converts_4d_weights_only_and_says_an_llm_has_none(tokenizer):
    report = perf.PerfReport()
    assert perf.apply_channels_last(_tiny(tokenizer), report) == 0
    assert "no 4-D weights" in report.lines["channels_last"]

    conv = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.Conv2d(8, 4, 1), torch.nn.Linear(4, 2))
    x = torch.randn(2, 3, 9, 9)
    before = conv[:3](x)
    assert perf.apply_channels_last(conv, report) == 2
    assert conv[0].weight.is_contiguous(memory_format=torch.channels_last)
    assert conv[2].weight.is_contiguous(memory_format=torch.channels_last)
    assert conv[3].weight.is_contiguous()  # 2-D weight left alone
    torch.testing.assert_close(conv[:3](x), before)


def test_fused_adamw_on_cpu_matches_the_foreach_step(tokenizer):
    t = compose().trainer
    results = []
    for fused in (True, False):
        model = _tiny(tokenizer)
        report = perf.PerfReport()
        opt = perf.make_optimizer([p for p in model.parameters() if p.requires_grad], t, fused, torch.device("cpu"), report)
        assert bool(opt.param_groups[0]["fused"]) is fused
        assert report.lines["fused_adamw"] == ("on (cpu)" if fused else "off (perf.fused_adamw=false)")
        for _ in range(2):
            _loss_and_grads(model, _batch(tokenizer))
            opt.step()
        results.append(dict(model.named_parameters()))
    for name, p in results[0].items():
        torch.testing.assert_close(p, results[1][name], rtol=1e-5, atol=1e-6, msg=name)


def test_fused_adamw_falls_back_with_the_reason_where_it_cannot_run():
    ints = [torch.zeros(3, dtype=torch.int64)]
    assert "needs floating point" in perf.fused_adamw_unsupported(ints, torch.device("cpu"))
    meta = [torch.nn.Parameter(torch.empty(3, device="meta"))]
    why = perf.fused_adamw_unsupported(meta, torch.device("meta"))
    assert "no fused AdamW kernels for device type 'meta'" == why
    report = perf.PerfReport()
    opt = perf.make_optimizer(meta, compose().trainer, True, torch.device("meta"), report)
    assert not opt.param_groups[0]["fused"]
    assert report.lines["fused_adamw"].startswith("off: no fused AdamW kernels")


def test_compile_without_a_working_compiler_runs_eager_and_says_why(tokenizer):
    import torch._inductor.config as inductor_config

    model = _tiny(tokenizer, layers=1)
    report = perf.PerfReport()
    # torch's own patch, not monkeypatch: pytest 9's monkeypatch deletes the key on undo (the config proxy
    # has no instance attribute), which left `cpp.cxx` missing for every later compile in the session
    with inductor_config.patch({"cpp.cxx": ("/nonexistent/c++",)}):
        assert perf.compile_layers(model, "default", report) is False
    assert "running eager: the inductor backend failed a probe" in report.lines["compile"]
    assert model.model.layers[0]._compiled_call_impl is None
    perf.compile_layers(model, "off", report)
    assert report.lines["compile"] == "off"


def test_compiled_layers_give_the_eager_loss_and_gradients(tokenizer):
    """Inductor on this CPU: ~20-40 s of compilation for the one-layer model."""
    batch = _batch(tokenizer)
    eager = _tiny(tokenizer, layers=1)
    loss_eager, grads_eager = _loss_and_grads(eager, batch)
    compiled = _tiny(tokenizer, layers=1)
    report = perf.PerfReport()
    try:
        assert perf.compile_layers(compiled, "default", report), report.lines
        assert compiled.model.layers[0]._compiled_call_impl is not None
        loss_c, grads_c = _loss_and_grads(compiled, batch)
    finally:
        torch._dynamo.reset()
        torch._dynamo.config.suppress_errors = False
    assert loss_c == pytest.approx(loss_eager, rel=1e-4)
    for name, g in grads_eager.items():
        torch.testing.assert_close(grads_c[name], g, rtol=1e-3, atol=1e-5, msg=name)


def _examples(tokenizer, sample_data, n=24):
    return encode_rows(load_rows(sample_data / "val.parquet")[:n], ChatEncoder(tokenizer), 1024)


@pytest.mark.parametrize("packing", [False, True])
def test_loader_workers_deliver_the_same_steps_in_order(tokenizer, sample_data, packing):
    examples = _examples(tokenizer, sample_data)
    batches = StepBatches(examples, 3, 2, seed=5, pad_id=0, pack_width=1024 if packing else None)
    report = perf.PerfReport()
    kwargs = perf.describe_loader(compose(["perf.loader_workers=2"]).perf, torch.device("cpu"), report)
    assert kwargs["num_workers"] == 2 and kwargs["persistent_workers"] and kwargs["prefetch_factor"] == 2
    got = list(loader(StepDataset(batches, 3, 9), kwargs))
    assert len(got) == 6
    for step, micro in zip(range(3, 9), got):
        want = batches(step)
        assert len(micro) == len(want) == 2
        for a, b in zip(micro, want):
            assert a.keys() == b.keys()
            assert all(torch.equal(a[k], b[k]) for k in a)


def test_validation_batches_cover_every_example_sorted_by_length(tokenizer, sample_data):
    examples = _examples(tokenizer, sample_data)[:10]
    val = ValBatches(examples, 4, pad_id=0)
    assert [b["input_ids"].shape[0] for b in val] == [4, 4, 2]
    widths = [b["input_ids"].shape[1] for b in val]
    assert widths == sorted(widths)
    assert sum(int(b["attention_mask"].sum()) for b in val) == sum(len(e.input_ids) for e in examples)
    first = sorted(examples, key=lambda e: len(e.input_ids))[:4]
    assert torch.equal(val[0]["input_ids"], collate(first, 0)["input_ids"])


def test_pin_memory_applies_only_to_cuda_and_says_so():
    cfg = compose(["perf.loader_workers=0"]).perf
    report = perf.PerfReport()
    kwargs = perf.describe_loader(cfg, torch.device("cpu"), report)
    assert kwargs == {"num_workers": 0, "pin_memory": False, "persistent_workers": False}
    assert "pin_memory off (pinned host memory helps only copies to CUDA" in report.lines["loader"]
    assert perf.describe_loader(cfg, torch.device("cuda"), perf.PerfReport())["pin_memory"] is True


@pytest.mark.skipif(not torch.cuda.is_available(), reason="pinned-memory copies need a CUDA device (none here)")
def test_pinned_batches_reach_the_gpu(tokenizer, sample_data):
    batches = StepBatches(_examples(tokenizer, sample_data), 3, 1, seed=0, pad_id=0)
    kwargs = perf.describe_loader(compose(["perf.loader_workers=1"]).perf, torch.device("cuda"), perf.PerfReport())
    micro = next(iter(loader(StepDataset(batches, 0, 1), kwargs)))
    assert micro[0]["input_ids"].is_pinned()


@pytest.mark.parametrize("override, key", [("perf.compile=max_autotune", "perf.compile"),
                                           ("perf.loader_workers=-1", "perf.loader_workers"),
                                           ("perf.prefetch_factor=0", "perf.prefetch_factor")])
def test_bad_perf_values_name_the_key(override, key):
    with pytest.raises(Exception, match=key.split(".")[-1]):
        check_values(compose([override]))


def test_cli_run_with_perf_options_trains_the_same_and_reports_them(workdir):
    plain = train(compose(small_train(workdir, "plain", steps=4)))
    tuned = train(compose(small_train(workdir, "tuned", steps=4, extra=[
        "perf.gradient_checkpointing=true", "perf.channels_last=true", "perf.loader_workers=1",
        "perf.fused_adamw=false", "perf.non_blocking=false"])))
    losses = [[r.get("train/loss", r.get("val/loss")) for r in read_jsonl(r.run_dir / "metrics.jsonl")]
              for r in (plain, tuned)]
    # The maths is the same; the rounding is not: fused and foreach AdamW apply the fp32 update in a
    # different order, and under bf16 autocast the step-4 loss then moved by up to 1.5e-5 relative
    # (measured in a CI run). 1e-4 relative is ~1e-3 absolute, over 100x below what one step changes
    # the loss by here (~0.2), so an option that changed the computation would still fail.
    assert losses[1] == pytest.approx(losses[0], rel=1e-4)
    lines = json.loads((tuned.run_dir / "summary.json").read_text())["perf"]
    assert lines["gradient_checkpointing"].startswith("on")
    assert lines["fused_adamw"].startswith("off")
    assert lines["loader"].startswith("1 workers (persistent)")
    assert "no 4-D weights" in lines["channels_last"]
    assert json.loads((plain.run_dir / "summary.json").read_text())["perf"]["fused_adamw"] == "on (cpu)"


needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(),
                                reason="CUDA-only path (fused CUDA AdamW, inductor's Triton backend); no GPU here")


@needs_cuda
def test_on_a_gpu_fused_adamw_and_compiled_layers_keep_the_eager_result(tokenizer):
    batch = {k: v.cuda() for k, v in _batch(tokenizer).items()}
    eager = _tiny(tokenizer, layers=1).cuda()
    loss_eager, grads_eager = _loss_and_grads(eager, batch)
    compiled = _tiny(tokenizer, layers=1).cuda()
    report = perf.PerfReport()
    try:
        assert perf.compile_layers(compiled, "max-autotune", report), report.lines
        loss_c, grads_c = _loss_and_grads(compiled, batch)
    finally:
        torch._dynamo.reset()
        torch._dynamo.config.suppress_errors = False
    assert loss_c == pytest.approx(loss_eager, rel=1e-3)
    opt = perf.make_optimizer(list(compiled.parameters()), compose().trainer, True, torch.device("cuda"), report)
    assert opt.param_groups[0]["fused"] and report.lines["fused_adamw"] == "on (cuda)"
    opt.step()


@needs_cuda
def test_on_a_gpu_peak_memory_is_cudas_max_allocated(workdir):
    torch.cuda.reset_peak_memory_stats()
    result = train(compose(small_train(workdir, "gpu", steps=2, extra=["trainer.device=cuda"])))
    rows = [r for r in read_jsonl(result.run_dir / "metrics.jsonl") if "train/peak_memory_mb" in r]
    assert rows[-1]["train/peak_memory_mb"] <= torch.cuda.max_memory_allocated() / 2**20 + 1e-6
    assert rows[-1]["train/peak_memory_mb"] > 0
