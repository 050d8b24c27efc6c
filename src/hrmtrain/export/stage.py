"""`hrmtrain export`: a run's models into the versioned model repository.

For each model (L-Module from `<run>/model`, embedder and reranker from `<run>/retrieval/`): export
to ONNX in the new version's hidden staging folder, check it with onnxruntime against PyTorch (a
failed check removes the staging folder and stops the export), write the manifest (file hashes,
lineage, training config, evaluation, parity), rename the version into place and point
`config.pbtxt` at it. Then TensorRT engines where a GPU and TensorRT exist, and the run's ModelOpt
NVFP4 checkpoint as the vLLM/TensorRT-LLM artifact. The lineage log gets one `export` entry whose
outputs are the version folders; results go to `<run>/export/results.json` for the report.
"""

from __future__ import annotations

import json
import random
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING

from omegaconf import OmegaConf

from hrmtrain import atomic, config
from hrmtrain.errors import HrmError
from hrmtrain.export import onnx as ox
from hrmtrain.export import tensorrt as trt
from hrmtrain.export.repository import ModelSpec, Repository, onnx_signature
from hrmtrain import runs
from hrmtrain.jsonl import read_json_lines
from hrmtrain.lineage import AuditLog, LineageError

if TYPE_CHECKING:
    from hrmtrain.config import HrmConfig

RESULTS = "results.json"  # <run>/export/results.json
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.json",
                   "merges.txt", "vocab.txt", "chat_template.jinja", "generation_config.json", "config.json")


def run_folder(cfg: HrmConfig) -> Path:
    """export.run, or run.name, or the newest trained run under run.dir (runs.py)."""
    return runs.find_run(cfg.run, runs.TRAINED, explicit=cfg.export.run, setting="export.run")


# -- lineage --------------------------------------------------------------------------------------

def lineage_of(log: AuditLog, path: Path) -> dict:
    """The audit-log entries `path` descends from, the datasets they read and the consent they ran under."""
    try:
        tree = log.trace(path)
    except LineageError as exc:
        raise HrmError(f"{path}: cannot be traced in the audit log {log.path} ({exc}); the export refuses "
                       "models it cannot trace to the consent that allowed them") from exc
    entries: dict[int, dict] = {}
    stack = [tree]
    while stack:
        node = stack.pop()
        if node["entry"] is not None:
            entries[node["entry"]["seq"]] = node["entry"]
        stack += node["parents"]
    ordered = [entries[k] for k in sorted(entries)]
    consent = [{"entry": e["seq"], "stage": e["stage"], "snapshot": e["consent"]} for e in ordered if e.get("consent")]
    return {"log": str(log.path), "artifact": tree["artifact"],
            "entries": [{"seq": e["seq"], "stage": e["stage"], "time": e["time"], "hash": e["hash"],
                         "run_id": e["run_id"]} for e in ordered],
            "datasets": [{"entry": e["seq"], **a} for e in ordered if e["stage"] == "train" for a in e["inputs"]],
            "source_files": sum(len(e["inputs"]) for e in ordered if e["stage"] in ("data", "retrieval")),
            "consent": consent, "members": sorted({m for e in ordered for m in e.get("members", [])})}


def _evaluation(run_dir: Path) -> dict:
    """What the run measured of the L-Module: validation loss, and task success per loop where evaluated."""
    out = {}
    summary = run_dir / "summary.json"
    if summary.is_file():
        out["training"] = json.loads(summary.read_text()).get("metrics", {})
    for name in ("results", "base-results"):
        path = run_dir / "eval" / f"{name}.json"
        if path.is_file():
            r = json.loads(path.read_text())
            out[f"eval_{name.replace('-', '_')}"] = {
                "policy": r.get("policy"), "tasks": r.get("tasks"),
                "loops": {k: v["summary"]["overall"] for k, v in r.get("loops", {}).items()},
                "safety": {k: v["summary"]["overall"] for k, v in (r.get("safety") or {}).items()}}
    return out


def _copy_files(src: Path, dst: Path, names=TOKENIZER_FILES) -> None:
    for name in names:
        if (src / name).is_file():
            shutil.copy2(src / name, dst / name)


# -- one model each ---------------------------------------------------------------------------------

class Exporter:
    def __init__(self, cfg, run_dir: Path):
        self.cfg, self.e, self.run_dir = cfg, cfg.export, run_dir
        self.repo = Repository(cfg.export.repository)
        self.log = AuditLog(cfg.lineage.dir)
        self.results: dict = {"run": str(run_dir), "repository": str(self.repo.root.resolve()), "models": {},
                              "skipped": {}}
        self.inputs: list[Path] = []
        self.outputs: list[Path] = []
        self.lineages: list[dict] = []

    def _add(self, name: str, kind: str, source: Path, platform: str, max_batch: int, fill, manifest: dict,
             signature_from: str | Path | None = ox.ONNX_FILE) -> dict:
        """fill(tmp, version) writes the files (and checks parity, raising on failure); the tensors the
        config declares come from the graph `signature_from` (a name in the version, or a path).
        Returns the result row."""
        lineage = lineage_of(self.log, source)
        self.lineages.append(lineage)
        state: dict = {}

        def staged(tmp: Path, version: int) -> None:
            state.update(fill(tmp, version) or {})
            if signature_from:
                spec.signature = onnx_signature(tmp / signature_from)  # an absolute path stays itself
            full.update({"parity": state.get("parity"), "build": state.get("build")})

        spec = ModelSpec(name, kind, platform, max_batch)
        full = {"source": {"path": str(source.resolve()), "sha256": lineage["artifact"]["sha256"]},
                "lineage": lineage, **manifest}
        version = self.repo.add_version(spec, staged, full, promote=self.e.promote)
        folder = self.repo.root / name / str(version)
        self.inputs.append(source)
        self.outputs.append(folder)
        row = {"version": version, "path": str(folder.resolve()), "platform": platform,
               "files": self.repo.manifest(name, version)["files"], **state}
        self.results["models"][name] = row
        return row

    def lmodule(self) -> None:
        model_dir = self.run_dir / "model"
        if not (model_dir / "config.json").is_file():
            raise HrmError(f"{model_dir}: no trained L-Module in this run (run `hrmtrain train` first)")
        training_config = OmegaConf.to_container(OmegaConf.load(self.run_dir / "config.yaml"), resolve=True) \
            if (self.run_dir / "config.yaml").is_file() else None

        def fill(tmp: Path, _version: int) -> dict:
            seconds = ox.export_lmodule(model_dir, tmp / ox.ONNX_FILE, self.e.opset)
            parity = ox.check_lmodule(model_dir, tmp / ox.ONNX_FILE, list(self.e.parity_prompts),
                                      self.e.greedy_tokens, self.e.atol)
            parity.raise_if_failed(model_dir)
            _copy_files(model_dir, tmp)
            return {"parity": parity.to_dict(), "export_seconds": round(seconds, 1)}

        self._add("lmodule", "lmodule", model_dir, "onnxruntime_onnx", 0, fill,
                  {"training_config": training_config, "evaluation": _evaluation(self.run_dir)})

    def _retrieval_sample(self) -> tuple[list[str], list[tuple[str, str]]]:
        folder = self.run_dir / "retrieval"
        by_id = {row["id"]: row["text"] for _, row in read_json_lines(folder / "corpus.jsonl")} \
            if (folder / "corpus.jsonl").is_file() else {}
        chunks = list(by_id.values())
        queries = [row for _, row in read_json_lines(folder / "queries" / "heldout.jsonl")] \
            if (folder / "queries" / "heldout.jsonl").is_file() else []
        rng = random.Random(0)
        n = self.e.parity_texts
        texts = rng.sample(chunks, min(n, len(chunks))) + [q["text"] for q in queries[:n]]
        pairs = []
        for q in queries[:n]:
            if q["positives"] and q["positives"][0] in by_id:
                pairs.append((q["text"], by_id[q["positives"][0]]))
            if chunks:
                pairs.append((q["text"], rng.choice(chunks)))
        texts = texts or list(self.e.parity_prompts)
        pairs = pairs or [(p, p) for p in self.e.parity_prompts]
        return texts, pairs

    def _retrieval_manifest(self, folder: Path) -> dict:
        own = folder / "hrmtrain_manifest.json"
        m = json.loads(own.read_text()) if own.is_file() else {}
        return {"training_config": m.get("config"), "evaluation": {"heldout": m.get("heldout")},
                "use": m.get("use", True), "why": m.get("why"), "base": m.get("base")}

    def encoder(self, kind: str) -> None:
        folder = self.run_dir / "retrieval" / kind
        if not folder.is_dir():
            self.results["skipped"][kind] = (f"{folder} does not exist (run `hrmtrain retrieval` for this run, "
                                             "or leave it out of export.models)")
            return
        texts, pairs = self._retrieval_sample()

        def fill(tmp: Path, _version: int) -> dict:
            out = tmp / ox.ONNX_FILE
            if kind == "embedder":
                seconds = ox.export_embedder(folder, out, self.e.opset)
                parity = ox.check_embedder(folder, out, texts, self.e.atol_embedding)
            else:
                seconds = ox.export_reranker(folder, out, self.e.opset)
                parity = ox.check_reranker(folder, out, pairs, self.e.atol)
            parity.raise_if_failed(folder)
            _copy_files(folder, tmp, (*TOKENIZER_FILES, "hrmtrain_manifest.json", "sentence_bert_config.json",
                                      "config_sentence_transformers.json", "modules.json"))
            return {"parity": parity.to_dict(), "export_seconds": round(seconds, 1)}

        self._add(kind, kind, folder, "onnxruntime_onnx", self.e.max_batch_size, fill, self._retrieval_manifest(folder))

    def engines(self) -> None:
        t = self.e.tensorrt
        onnx_models = [n for n in self.results["models"] if self.results["models"][n]["platform"] == "onnxruntime_onnx"]
        why = None if t.enabled else "export.tensorrt.enabled=false"
        why = why or trt.tensorrt_missing(t.builder)
        if why:
            self.results["tensorrt"] = {"built": False, "why": why}
            return
        built = {}
        for name in onnx_models:
            src = Path(self.results["models"][name]["path"])
            source = self.run_dir / "model" if name == "lmodule" else self.run_dir / "retrieval" / name
            max_batch = 0 if name == "lmodule" else self.e.max_batch_size

            def fill(tmp: Path, _version: int, src=src) -> dict:
                build = trt.build_engine(src / ox.ONNX_FILE, tmp / trt.PLAN_FILE, t)
                _copy_files(src, tmp)
                return {"build": build}

            # the engine's tensors are the graph's: the config declares them from the ONNX file
            row = self._add(f"{name}_trt", name, source, "tensorrt_plan", max_batch, fill,
                            {"onnx_version": self.results["models"][name]["version"]},
                            signature_from=(src / ox.ONNX_FILE).resolve())
            built[f"{name}_trt"] = row["version"]
        self.results["tensorrt"] = {"built": True, "engines": built, "precision": str(t.precision)}

    def nvfp4(self) -> None:
        from hrmtrain.models.nvfp4_checkpoint import SUBDIR

        src = self.run_dir / SUBDIR
        if not self.e.nvfp4:
            return
        if not (src / "hf_quant_config.json").is_file():
            self.results["skipped"]["lmodule_nvfp4"] = (f"{src} holds no ModelOpt checkpoint (train with "
                                                        "model.quant=nvfp4 to write one)")
            return
        quant = json.loads((src / "hf_quant_config.json").read_text()).get("quantization", {})

        def fill(tmp: Path, version: int) -> dict:
            shutil.copytree(src, tmp / "checkpoint")
            # Triton's vLLM backend reads model.json; vLLM finds the ModelOpt quant config in the checkpoint
            final = (self.repo.root / "lmodule_nvfp4").resolve()
            atomic.write_json(tmp / "model.json", {"model": str(final / str(version) / "checkpoint"),
                                                   "disable_log_requests": True, "gpu_memory_utilization": 0.9})
            return {"quant_algo": quant.get("quant_algo"), "group_size": quant.get("group_size")}

        self._add("lmodule_nvfp4", "lmodule_nvfp4", src, "vllm", 0, fill,
                  {"quantization": quant, "training_config": None, "evaluation": _evaluation(self.run_dir)},
                  signature_from=None)

    def finish(self) -> dict:
        consent = next((c["snapshot"] for lin in self.lineages for c in reversed(lin["consent"])), None)
        members = sorted({m for lin in self.lineages for m in lin["members"]})
        self.log.append("export", inputs=self.inputs, outputs=self.outputs,
                        config=config.plain(self.e), consent=consent, members=members,
                        details={"run": self.run_dir.name, "repository": self.results["repository"],
                                 "versions": {k: v["version"] for k, v in self.results["models"].items()},
                                 "failed": self.results.get("failed")})
        atomic.write_json(self.run_dir / "export" / RESULTS, self.results)
        return self.results


def export(cfg: HrmConfig, run_dir: Path) -> dict:
    started = time.perf_counter()
    ex = Exporter(cfg, Path(run_dir))
    why = ox.onnx_missing()
    if why:
        raise HrmError(f"cannot export: {why}")
    try:
        for name in cfg.export.models:
            print(f"hrmtrain export: {name} -> ONNX, checking against PyTorch")
            if name == "lmodule":
                ex.lmodule()
            else:
                ex.encoder(name)
        ex.engines()
        ex.nvfp4()
    except BaseException as exc:
        if ex.outputs:  # versions written before the failure stay, and the audit log says where they came from
            ex.results["failed"] = f"{type(exc).__name__}: {exc}"
            ex.finish()
        raise
    ex.results["seconds"] = round(time.perf_counter() - started, 1)
    return ex.finish()


def print_export_results(results: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"model repository {results['repository']}")
    for col in ("model", "version", "platform", "max |ORT - PyTorch|", "greedy tokens", "size (MB)"):
        table.add_column(col, justify="left" if col in ("model", "platform") else "right")
    for name, row in results["models"].items():
        p = row.get("parity") or {}
        greedy = ("identical" if p.get("greedy_identical") else "DIFFER") if p.get("greedy_tokens") else "-"
        size = sum(f.stat().st_size for f in Path(row["path"]).rglob("*") if f.is_file()) / 1e6
        table.add_row(name, str(row["version"]), row["platform"],
                      f"{p['max_abs_diff']:.2e}" if p else "-", greedy, f"{size:,.1f}")
    Console().print(table)
    trt_info = results.get("tensorrt", {})
    if not trt_info.get("built"):
        print(f"TensorRT engines not built: {trt_info.get('why')}")
    for name, why in results.get("skipped", {}).items():
        print(f"{name} not exported: {why}")


def run(cfg: HrmConfig) -> Path:
    """`hrmtrain export`; returns the run folder exported from (whose report the entry then renews)."""
    run_dir = run_folder(cfg)
    results = export(cfg, run_dir)
    print_export_results(results)
    print(f"repository: {results['repository']}  (hrmtrain export list --repository {cfg.export.repository})")
    return run_dir
