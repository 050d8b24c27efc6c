"""`hrmtrain export`: a real tiny run (trained L-Module, adapted embedder and reranker, lineage log) into a
Triton-layout repository: ONNX graphs checked against PyTorch, config.pbtxt from the graphs and parsed
with Triton's protobuf, manifests traced to the audit log, versions that only grow, promote/rollback,
tamper detection, no partial version after a crash, and a real server answering Triton's HTTP client."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest
import torch

from helpers import compose, run_cli, small_train
from hrmtrain.errors import HrmError
from hrmtrain.export.repository import CONFIG, MANIFEST, ModelSpec, Repository, Signature, Tensor, onnx_signature, parse_config, versions
from hrmtrain.export.serve import make_server
from hrmtrain.export.stage import export
from hrmtrain.export.verify import verify_repository
from hrmtrain.lineage import AuditLog, file_sha256
from hrmtrain.retrieval.stage import adapt
from hrmtrain.train.stage import train

# the export needs retrieval models, not good ones: the shortest adaptation that writes both
SMALL_RETRIEVAL = ["retrieval.epochs=0.25", "retrieval.generated_per_chunk=0", "retrieval.mining.enabled=false",
                   "retrieval.reranker.epochs=0.25"]


def _overrides(tmp, sample_data, extra=()):
    return small_train(tmp, "ex", steps=8, extra=[f"data.raw={sample_data.parent / 'household'}",
                                                  f"export.repository={tmp / 'repo'}", *SMALL_RETRIEVAL, *extra])


@pytest.fixture(scope="module")
def exported(tmp_path_factory, sample_data):
    """One trained run with its retrieval models, exported once."""
    tmp = tmp_path_factory.mktemp("export")
    (tmp / "data").symlink_to(sample_data)
    shutil.copytree(sample_data.parent / "lineage", tmp / "lineage")  # the data stage's entry: consent, sources
    cfg = compose(_overrides(tmp, sample_data))
    result = train(cfg)
    adapt(cfg, result.run_dir / "retrieval", progress=False)
    results = export(cfg, result.run_dir)
    return tmp, cfg, result.run_dir, results


def test_repository_has_three_models_in_triton_layout_with_parity(exported):
    tmp, cfg, run_dir, results = exported
    repo = tmp / "repo"
    assert sorted(results["models"]) == ["embedder", "lmodule", "reranker"]
    for name in ("lmodule", "embedder", "reranker"):
        assert versions(repo / name) == [1]
        assert (repo / name / "1" / "model.onnx").is_file() and (repo / name / "1" / MANIFEST).is_file()
        parity = results["models"][name]["parity"]
        assert parity["passed"] and parity["max_abs_diff"] <= parity["tolerance"]
        assert parity["max_abs_diff"] < 1e-4  # measured ~1e-7 on fp32 CPU
    lm = results["models"]["lmodule"]["parity"]
    assert lm["greedy_identical"] is True and lm["greedy_tokens"] == cfg.export.greedy_tokens
    assert lm["inputs"] == len(cfg.export.parity_prompts)
    # the serving stack also needs the tokenizer and chat template beside the graph
    assert (repo / "lmodule" / "1" / "tokenizer.json").is_file() and (repo / "lmodule" / "1" / "chat_template.jinja").is_file()
    assert (run_dir / "export" / "results.json").is_file()
    if not torch.cuda.is_available():
        assert results["tensorrt"]["built"] is False and "GPU" in results["tensorrt"]["why"]
    assert "lmodule_nvfp4" in results["skipped"]  # this run did not train with model.quant=nvfp4


def test_config_pbtxt_declares_the_graphs_real_inputs_and_outputs(exported):
    from tritonclient.grpc import model_config_pb2 as pb

    repo = exported[0] / "repo"
    lm = parse_config(repo / "lmodule" / CONFIG)
    assert lm.platform == "onnxruntime_onnx" and lm.max_batch_size == 0
    assert list(lm.version_policy.specific.versions) == [1]
    names = [i.name for i in lm.input]
    assert names[:3] == ["input_ids", "attention_mask", "position_ids"]
    assert names[3:] == [f"past_key_values.{i}.{kv}" for i in range(2) for kv in ("key", "value")]
    assert [o.name for o in lm.output] == ["logits"] + [f"present.{i}.{kv}" for i in range(2) for kv in ("key", "value")]
    assert pb.DataType.Name(lm.input[0].data_type) == "TYPE_INT64"
    assert list(lm.input[0].dims) == [-1, -1] and list(lm.input[3].dims) == [-1, 2, -1, 16]
    vocab = json.loads((exported[2] / "model" / "config.json").read_text())["vocab_size"]
    assert list(lm.output[0].dims) == [-1, -1, vocab]
    emb = parse_config(repo / "embedder" / CONFIG)
    # batching: Triton adds the batch dimension itself, so the config drops it
    assert emb.max_batch_size == exported[1].export.max_batch_size and emb.HasField("dynamic_batching")
    assert [i.name for i in emb.input] == ["input_ids", "attention_mask", "token_type_ids"]
    assert [o.name for o in emb.output] == ["sentence_embedding"] and list(emb.output[0].dims) == [384]
    sig = onnx_signature(repo / "embedder" / "1" / "model.onnx")
    assert sig.outputs[0].dims == [-1, 384]


def test_manifest_hashes_files_and_traces_to_lineage_and_consent(exported):
    tmp, cfg, run_dir, results = exported
    repo = tmp / "repo"
    m = json.loads((repo / "lmodule" / "1" / MANIFEST).read_text())
    folder = repo / "lmodule" / "1"
    assert set(m["files"]) == {f.name for f in folder.iterdir() if f.name != MANIFEST}
    assert all(file_sha256(folder / f) == h for f, h in m["files"].items())
    stages = [e["stage"] for e in m["lineage"]["entries"]]
    assert "data" in stages and "train" in stages
    assert m["lineage"]["datasets"] and m["lineage"]["consent"][0]["snapshot"]["active"]
    assert m["training_config"]["trainer"]["max_steps"] == 8
    assert "val_loss_final" in m["evaluation"]["training"]
    assert m["hrmtrain_version"] and m["parity"]["passed"] and m["source"]["path"] == str((run_dir / "model").resolve())
    r = json.loads((repo / "reranker" / "1" / MANIFEST).read_text())
    assert [e["stage"] for e in r["lineage"]["entries"]] == ["retrieval"] and r["lineage"]["consent"]
    assert "use" in r and r["evaluation"]["heldout"]
    # one export entry in the audit log, its outputs the three version folders
    entry = [e for e in AuditLog(tmp / "lineage").entries() if e["stage"] == "export"][-1]
    assert sorted(a["path"] for a in entry["outputs"]) == sorted(str((repo / n / "1").resolve())
                                                                for n in ("embedder", "lmodule", "reranker"))
    assert not AuditLog(tmp / "lineage").verify()


def test_verify_detects_a_changed_an_added_and_a_removed_file_and_an_edited_manifest(exported):
    tmp = exported[0]
    repo = tmp / "repo"
    verify = ["export", "verify", "--repository", str(repo), "--log", str(tmp / "lineage")]
    res = run_cli(verify, cwd=tmp)
    assert res.returncode == 0, res.stderr
    assert "3 versions" in res.stdout

    target = repo / "embedder" / "1" / "tokenizer_config.json"
    original = target.read_bytes()
    try:
        target.write_bytes(original.replace(b"{", b"{ ", 1))
        (repo / "embedder" / "1" / "extra.bin").write_bytes(b"x")
        res = run_cli(verify, cwd=tmp)
        assert res.returncode == 1
        assert f"{target}: content changed" in res.stderr
        assert "extra.bin: not listed in manifest.json" in res.stderr
        # the manifest edited to fit the changed file: only the audit log's record can tell

        (repo / "embedder" / "1" / "extra.bin").unlink()
        mpath = repo / "embedder" / "1" / MANIFEST
        saved = mpath.read_bytes()
        m = json.loads(saved)
        m["files"]["tokenizer_config.json"] = file_sha256(target)
        mpath.write_text(json.dumps(m))
        res = run_cli(verify, cwd=tmp)
        assert res.returncode == 1 and "content changed" not in res.stderr
        assert "differs from what the export recorded in the audit log" in res.stderr
        mpath.write_bytes(saved)
        target.unlink()
        res = run_cli(verify, cwd=tmp)
        assert res.returncode == 1 and "tokenizer_config.json: missing" in res.stderr
    finally:
        target.write_bytes(original)
        (repo / "embedder" / "1" / "extra.bin").unlink(missing_ok=True)
    assert run_cli(verify, cwd=tmp).returncode == 0


def test_config_that_does_not_match_the_graph_is_caught(exported):
    repo = exported[0] / "repo"
    path = repo / "reranker" / CONFIG
    original = path.read_text()
    try:
        path.write_text(original.replace('name: "token_type_ids"', 'name: "segment_ids"')
                        .replace("TYPE_FP32", "TYPE_FP16"))
        problems = Repository(repo).verify()
        assert any("has input 'token_type_ids' but config.pbtxt does not declare it" in p for p in problems)
        assert any("declares input 'segment_ids'" in p for p in problems)
        assert any("output 'logits' is TYPE_FP32 in the graph, TYPE_FP16" in p for p in problems)
        path.write_text("name: 'reranker' platform: ")  # not protobuf text at all
        assert any("not a valid Triton model config" in p for p in Repository(repo).verify())
    finally:
        path.write_text(original)
    assert not Repository(repo).verify()


def test_versions_grow_and_promote_and_rollback_move_the_served_one(exported, sample_data):
    tmp, _, run_dir, _ = exported
    repo = Repository(tmp / "repo")
    cfg = compose(_overrides(tmp, sample_data, ["export.models=[lmodule]"]))
    second = export(cfg, run_dir)
    assert second["models"]["lmodule"]["version"] == 2
    assert versions(repo.root / "lmodule") == [1, 2] and versions(repo.root / "embedder") == [1]
    assert list(parse_config(repo.root / "lmodule" / CONFIG).version_policy.specific.versions) == [2]

    res = run_cli(["export", "rollback", "lmodule", "--repository", str(repo.root)], cwd=tmp)
    assert res.returncode == 0 and "from version 2 to 1" in res.stdout
    assert list(parse_config(repo.root / "lmodule" / CONFIG).version_policy.specific.versions) == [1]
    res = run_cli(["export", "list", "--repository", str(repo.root)], cwd=tmp, env={"COLUMNS": "200"})
    assert res.returncode == 0 and "lmodule" in res.stdout and "embedder" in res.stdout
    res = run_cli(["export", "rollback", "lmodule", "--repository", str(repo.root)], cwd=tmp)
    assert res.returncode == 2 and "nothing to roll back to" in res.stderr
    res = run_cli(["export", "promote", "lmodule", "7", "--repository", str(repo.root)], cwd=tmp)
    assert res.returncode == 2 and "no version 7 (versions: 1, 2)" in res.stderr
    res = run_cli(["export", "promote", "lmodule", "2", "--repository", str(repo.root)], cwd=tmp)
    assert res.returncode == 0 and "now serving version 2 (was 1)" in res.stdout
    # export.promote=false adds a version without serving it
    third = export(compose(_overrides(tmp, sample_data, ["export.models=[lmodule]", "export.promote=false"])), run_dir)
    assert third["models"]["lmodule"]["version"] == 3
    assert list(parse_config(repo.root / "lmodule" / CONFIG).version_policy.specific.versions) == [2]


def test_a_failed_parity_check_adds_no_version(exported, sample_data):
    tmp, _, run_dir, _ = exported
    repo = tmp / "repo"
    before = versions(repo / "lmodule")
    cfg = compose(_overrides(tmp, sample_data, ["export.models=[lmodule]", "export.atol=1e-12"]))
    with pytest.raises(HrmError, match=r"does not match PyTorch \(max \|onnxruntime - PyTorch\| = .* > export.atol=1e-12"):
        export(cfg, run_dir)
    assert versions(repo / "lmodule") == before
    assert not list((repo / "lmodule").glob(".*.tmp"))
    # a later model failing keeps the versions written before it, and the audit log records them
    embedder_before = versions(repo / "embedder")
    cfg = compose(_overrides(tmp, sample_data, ["export.models=[lmodule,embedder]", "export.atol_embedding=1e-12"]))
    with pytest.raises(HrmError, match="the embedder ONNX export does not match PyTorch"):
        export(cfg, run_dir)
    assert versions(repo / "lmodule") == before + [before[-1] + 1]
    assert versions(repo / "embedder") == embedder_before
    entry = [e for e in AuditLog(tmp / "lineage").entries() if e["stage"] == "export"][-1]
    assert "embedder" in entry["details"]["failed"]
    assert [a["path"] for a in entry["outputs"]] == [str((repo / "lmodule" / str(before[-1] + 1)).resolve())]
    assert not Repository(repo).verify()


def test_a_crash_half_way_leaves_no_visible_version(tmp_path):
    """A writer killed (SIGKILL) while the version's files are being written: no numbered folder appears,
    the config is untouched, and the next version takes the next number."""

    repo = Repository(tmp_path / "repo")
    spec = ModelSpec("toy", "embedder", "onnxruntime_onnx", 4,
                     Signature([Tensor("x", "TYPE_FP32", [-1, 3])], [Tensor("y", "TYPE_FP32", [-1, 3])]))
    assert repo.add_version(spec, lambda tmp, v: (tmp / "weights.bin").write_bytes(b"1" * 10), {}) == 1
    config_before = (repo.root / "toy" / CONFIG).read_text()
    script = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from hrmtrain.export.repository import ModelSpec, Repository, Signature, Tensor
        spec = ModelSpec("toy", "embedder", "onnxruntime_onnx", 4,
                         Signature([Tensor("x", "TYPE_FP32", [-1, 3])], [Tensor("y", "TYPE_FP32", [-1, 3])]))
        def fill(tmp, version):
            (tmp / "weights.bin").write_bytes(b"2" * 1000)
            print("writing", flush=True)
            time.sleep(60)
        Repository({str(repo.root)!r}).add_version(spec, fill, {{}})
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert versions(repo.root / "toy") == [1]
    assert len(list((repo.root / "toy").glob(".*.tmp"))) == 1  # the hidden staging folder, nothing else
    assert (repo.root / "toy" / CONFIG).read_text() == config_before
    assert not repo.verify()
    assert [r["version"] for r in repo.listing()] == [1]
    assert len(repo.remove_staging()) == 1
    assert repo.add_version(spec, lambda tmp, v: (tmp / "weights.bin").write_bytes(b"3"), {}) == 2


def test_served_over_tritons_http_protocol_matches_pytorch(exported):
    """The serving smoke test: the repository served on 127.0.0.1, queried with tritonclient.http (binary
    tensors), logits and embeddings compared with PyTorch on the same inputs."""
    th = pytest.importorskip("tritonclient.http", reason="tritonclient[http] (dev extras) is Triton's own client")
    from sentence_transformers import SentenceTransformer
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tmp, cfg, run_dir, _ = exported
    server = make_server(Repository(tmp / "repo"), "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = th.InferenceServerClient(f"127.0.0.1:{server.server_address[1]}")
        assert client.is_server_live() and client.is_model_ready("lmodule")
        meta = client.get_model_metadata("lmodule")
        assert [i["name"] for i in meta["inputs"]][:3] == ["input_ids", "attention_mask", "position_ids"]

        tok = AutoTokenizer.from_pretrained(run_dir / "model")
        ids = np.array([tok("Put bin bags on the shopping list")["input_ids"]], np.int64)
        feeds = [("input_ids", ids), ("attention_mask", np.ones_like(ids)), ("position_ids", np.arange(ids.shape[1])[None])]
        feeds += [(f"past_key_values.{i}.{kv}", np.zeros((1, 2, 0, 16), np.float32)) for i in range(2) for kv in ("key", "value")]
        inputs = []
        for name, arr in feeds:
            x = th.InferInput(name, list(arr.shape), "INT64" if arr.dtype == np.int64 else "FP32")
            x.set_data_from_numpy(arr)
            inputs.append(x)
        answer = client.infer("lmodule", inputs, outputs=[th.InferRequestedOutput("logits")])
        served_version = answer.get_response()["model_version"]
        model = AutoModelForCausalLM.from_pretrained(run_dir / "model", dtype=torch.float32).eval()
        with torch.no_grad():
            ref = model(torch.from_numpy(ids)).logits.numpy()
        assert np.abs(answer.as_numpy("logits") - ref).max() < cfg.export.atol
        served = max(parse_config(tmp / "repo" / "lmodule" / CONFIG).version_policy.specific.versions)
        assert served_version == str(served)

        st = SentenceTransformer(str(run_dir / "retrieval" / "embedder"), device="cpu")
        texts = ["how do I descale the kettle", "the dishwasher shows an error after the cycle"]
        enc = st.tokenizer(texts, padding=True, return_tensors="np")
        inputs = []
        for name in ("input_ids", "attention_mask", "token_type_ids"):
            x = th.InferInput(name, list(enc[name].shape), "INT64")
            x.set_data_from_numpy(enc[name].astype(np.int64), binary_data=False)  # the JSON form too
            inputs.append(x)
        got = client.infer("embedder", inputs).as_numpy("sentence_embedding")
        assert np.abs(got - st.encode(texts)).max() < cfg.export.atol_embedding

        with pytest.raises(Exception, match="needs input"):
            client.infer("embedder", inputs[:2])
        with pytest.raises(Exception, match="unknown model 'nope'"):
            client.infer("nope", inputs)
    finally:
        server.shutdown()
        server.server_close()


def test_export_config_typos_and_bad_values_name_the_key(tmp_path):
    res = run_cli(["export", "export.modles=[lmodule]"], cwd=tmp_path)
    assert res.returncode != 0 and "export.modles" in res.stderr
    res = run_cli(["export", "export.models=[lmodule,ranker]"], cwd=tmp_path)
    assert res.returncode == 2 and "export.models[1]" in res.stderr
    res = run_cli(["export", "export.tensorrt.sequence=[1,4096,128]"], cwd=tmp_path)
    assert res.returncode == 2 and "export.tensorrt.sequence" in res.stderr
    res = run_cli(["export", f"export.run={tmp_path / 'nope'}"], cwd=tmp_path)
    assert res.returncode == 2 and "nope: no such run folder" in res.stderr
    res = run_cli(["export", "verify", "--repository", str(tmp_path / "none")], cwd=tmp_path)
    assert res.returncode == 2 and "no model repository here" in res.stderr


def test_untraceable_model_is_refused(exported, sample_data, tmp_path):
    """A model folder changed after training no longer matches its audit-log entry: the export refuses it."""

    tmp, _, run_dir, _ = exported
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    (copy / "model" / "config.json").write_text((copy / "model" / "config.json").read_text() + "\n")
    cfg = compose(_overrides(tmp, sample_data, ["export.models=[lmodule]", f"export.repository={tmp_path / 'r'}"]))
    with pytest.raises(HrmError, match="cannot be traced in the audit log"):
        export(cfg, copy)
    assert versions(tmp_path / "r" / "lmodule") == []


def _verify_copy(exported, tmp_path, tamper, log=None, cli=False):
    """Copy the exported repository, tamper with the copy, verify it against the export's audit log
    (in-process, or through the CLI for its exit status): (problems, CLI result or None)."""

    tmp = exported[0]
    repo = tmp_path / "copy"
    shutil.copytree(tmp / "repo", repo)
    tamper(repo)
    log = log or tmp / "lineage"
    problems, _ = verify_repository(Repository(repo), log)
    res = None
    if cli:
        res = run_cli(["export", "verify", "--repository", str(repo), "--log", str(log)], cwd=tmp_path)
        assert "Traceback" not in res.stderr and res.returncode == (1 if problems else 0), res.stderr
    return problems, res


def test_a_copied_repository_verifies_against_the_same_log(exported, tmp_path):
    problems, res = _verify_copy(exported, tmp_path, lambda repo: None, cli=True)
    assert problems == [] and res.returncode == 0 and "versions, every file matches its manifest" in res.stdout


def _edit_model_and_manifest(repo):
    target = repo / "embedder" / "1" / "tokenizer_config.json"
    target.write_text(target.read_text().replace("{", "{ ", 1))
    m = json.loads((repo / "embedder" / "1" / MANIFEST).read_text())
    m["files"]["tokenizer_config.json"] = file_sha256(target)
    (repo / "embedder" / "1" / MANIFEST).write_text(json.dumps(m))


def _served_tampered_version_two(repo):
    shutil.copytree(repo / "reranker" / "1", repo / "reranker" / "2")
    victim = next(p for p in sorted((repo / "reranker" / "2").glob("*.json")) if p.name != MANIFEST)
    victim.write_text(victim.read_text() + " ")
    m = json.loads((repo / "reranker" / "2" / MANIFEST).read_text())
    m["version"] = 2
    m["files"] = {k: file_sha256(repo / "reranker" / "2" / k) for k in m["files"]}
    (repo / "reranker" / "2" / MANIFEST).write_text(json.dumps(m))
    cfg = (repo / "reranker" / CONFIG).read_text()
    (repo / "reranker" / CONFIG).write_text(cfg.replace("versions: 1", "versions: 2"))


def _set_platform(repo):
    cfg = (repo / "embedder" / CONFIG).read_text()
    (repo / "embedder" / CONFIG).write_text(cfg.replace('platform: "onnxruntime_onnx"', 'platform: "pytorch_libtorch"'))


def _add_parameter(repo):
    (repo / "embedder" / CONFIG).write_text((repo / "embedder" / CONFIG).read_text()
                                            + 'parameters { key: "EXECUTION_ENV_PATH" value { string_value: "/tmp/x" } }\n')


def _break_log(log_copy):
    def tamper(repo):
        (log_copy / "audit.head.json").unlink()
    return tamper


@pytest.mark.parametrize("tamper, expected", [
    (_edit_model_and_manifest, "differs from what the export recorded"),
    (_served_tampered_version_two, "no export in"),
    (lambda repo: (repo / "lmodule" / CONFIG).unlink(), "lmodule/config.pbtxt: missing"),
    (_set_platform, "platform differs from what the export wrote"),
    (_add_parameter, "parameters differs from what the export wrote"),
    (lambda repo: (repo / "embedder" / "1" / MANIFEST).write_text("[]"), "not a version manifest"),
], ids=["model+manifest", "served-v2", "config-deleted", "platform", "parameters", "manifest-list"])
def test_each_tampering_is_a_problem(exported, tmp_path, tamper, expected):
    problems, _ = _verify_copy(exported, tmp_path, tamper, cli=tamper is _served_tampered_version_two)
    assert any(expected in p for p in problems), problems


def test_a_missing_or_broken_log_is_a_problem_with_exit_1(exported, tmp_path):
    problems, res = _verify_copy(exported, tmp_path, lambda repo: None, log=tmp_path / "nonexistent", cli=True)
    assert res.returncode == 1 and "no audit log" in res.stderr
    log_copy = tmp_path / "lineage"
    shutil.copytree(exported[0] / "lineage", log_copy)
    problems, _ = _verify_copy(exported, tmp_path / "b", _break_log(log_copy), log=log_copy)
    assert any("audit.head.json" in p for p in problems), problems
