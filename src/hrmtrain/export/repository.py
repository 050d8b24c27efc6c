"""The versioned model repository, in Triton's layout:

    <repository>/<model>/config.pbtxt          written from the exported graph's real inputs/outputs
    <repository>/<model>/<version>/model.onnx  (or model.plan, or a checkpoint for the vLLM backend)
    <repository>/<model>/<version>/manifest.json

Versions are whole numbers that only grow. A version is written in a hidden folder beside its final
name and renamed into place when complete, so a crash half-way leaves no visible partial version
(Triton ignores folders whose name is not a number). `manifest.json` holds the sha256 of every other
file of the version, where the model came from (lineage entries, datasets, consent snapshot), the
training config, the evaluation results, the ONNX parity figures and the package version.
The version a serving stack should load is the one named in `config.pbtxt`'s version policy
(`version_policy: { specific: { versions: [N] } }`); `promote` and `rollback` rewrite just that.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable

from hrmtrain import __version__, atomic
from hrmtrain.errors import HrmError
from hrmtrain.lineage import file_sha256

CONFIG = "config.pbtxt"
MANIFEST = "manifest.json"

# ONNX TensorProto element type -> Triton data type
ONNX_TO_TRITON = {1: "TYPE_FP32", 2: "TYPE_UINT8", 3: "TYPE_INT8", 5: "TYPE_INT16", 6: "TYPE_INT32",
                  7: "TYPE_INT64", 9: "TYPE_BOOL", 10: "TYPE_FP16", 11: "TYPE_FP64", 16: "TYPE_BF16"}


class RepositoryError(HrmError):
    """The repository, a model or a version is missing or not what its manifest says."""


@dataclass
class Tensor:
    name: str
    data_type: str  # Triton's TYPE_*
    dims: list[int]  # -1 for a dynamic dimension


@dataclass
class Signature:
    inputs: list[Tensor]
    outputs: list[Tensor]

    def to_dict(self) -> dict:
        return {k: [vars(t) for t in getattr(self, k)] for k in ("inputs", "outputs")}

    @classmethod
    def from_dict(cls, d: dict) -> "Signature":
        return cls(*([Tensor(**t) for t in d[k]] for k in ("inputs", "outputs")))


def onnx_signature(path: Path) -> Signature:
    """The graph's real inputs and outputs (initializers excluded), symbolic dimensions as -1."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    inits = {i.name for i in model.graph.initializer}

    def tensors(values) -> list[Tensor]:
        out = []
        for v in values:
            if v.name in inits:
                continue
            t = v.type.tensor_type
            if t.elem_type not in ONNX_TO_TRITON:
                raise RepositoryError(f"{path}: {v.name} has ONNX element type {t.elem_type}, which Triton has no type for")
            dims = [d.dim_value if d.HasField("dim_value") else -1 for d in t.shape.dim]
            out.append(Tensor(v.name, ONNX_TO_TRITON[t.elem_type], dims))
        return out

    return Signature(tensors(model.graph.input), tensors(model.graph.output))


@dataclass
class ModelSpec:
    """What goes into one model of the repository."""

    name: str
    kind: str  # "lmodule" | "embedder" | "reranker" | "lmodule_nvfp4" | "lmodule_trt"
    platform: str  # Triton platform or backend: onnxruntime_onnx, tensorrt_plan, vllm
    max_batch_size: int = 0  # 0: the first dim is part of the tensor (the KV-cache L-Module)
    signature: Signature | None = None  # None where the backend describes its own tensors (vllm)
    parameters: dict = field(default_factory=dict)


def model_config(spec: ModelSpec, served: list[int]):
    """Triton's ModelConfig protobuf for `spec`, serving the versions `served`."""
    from tritonclient.grpc import model_config_pb2 as pb

    cfg = pb.ModelConfig(name=spec.name)
    if spec.platform == "vllm":
        cfg.backend = "vllm"
        cfg.instance_group.add(kind=pb.ModelInstanceGroup.KIND_MODEL, count=1)
    else:
        cfg.platform = spec.platform
        cfg.max_batch_size = spec.max_batch_size
        if spec.max_batch_size > 0:
            cfg.dynamic_batching.SetInParent()
    cfg.version_policy.specific.versions.extend(served)
    if spec.signature is not None:
        drop = 1 if spec.max_batch_size > 0 else 0  # with batching Triton adds the batch dim itself
        for tensors, add in ((spec.signature.inputs, cfg.input.add), (spec.signature.outputs, cfg.output.add)):
            for t in tensors:
                add(name=t.name, data_type=pb.DataType.Value(t.data_type), dims=t.dims[drop:])
    for key, value in spec.parameters.items():
        cfg.parameters[key].string_value = str(value)
    return cfg


def write_config(model_dir: Path, spec: ModelSpec, served: list[int]) -> Path:
    from google.protobuf import text_format

    text = text_format.MessageToString(model_config(spec, served))
    path = atomic.write_text(model_dir / CONFIG, text)
    parse_config(path)  # what Triton will read must parse
    return path


def parse_config(path: Path):
    from google.protobuf import text_format
    from tritonclient.grpc import model_config_pb2 as pb

    try:
        return text_format.Parse(Path(path).read_text(), pb.ModelConfig())
    except (text_format.ParseError, OSError, UnicodeDecodeError) as exc:
        raise RepositoryError(f"{path}: not a valid Triton model config: {exc}") from exc


def config_problems(cfg, signature: Signature, where: str) -> list[str]:
    """Where the parsed config disagrees with the graph: names, types and dims of inputs and outputs."""
    from tritonclient.grpc import model_config_pb2 as pb

    drop = 1 if cfg.max_batch_size > 0 else 0
    problems = []
    for kind, declared, real in (("input", cfg.input, signature.inputs), ("output", cfg.output, signature.outputs)):
        want = {t.name: t for t in real}
        have = {t.name: t for t in declared}
        for name in sorted(set(want) - set(have)):
            problems.append(f"{where}: the graph has {kind} {name!r} but {CONFIG} does not declare it")
        for name in sorted(set(have) - set(want)):
            problems.append(f"{where}: {CONFIG} declares {kind} {name!r} but the graph has no such {kind}")
        for name in sorted(set(want) & set(have)):
            t, d = want[name], have[name]
            if pb.DataType.Name(d.data_type) != t.data_type:
                problems.append(f"{where}: {kind} {name!r} is {t.data_type} in the graph, "
                                f"{pb.DataType.Name(d.data_type)} in {CONFIG}")
            if list(d.dims) != t.dims[drop:]:
                problems.append(f"{where}: {kind} {name!r} has dims {t.dims[drop:]} in the graph, {list(d.dims)} in {CONFIG}")
    return problems


def config_drift(cfg, spec: ModelSpec, where: str) -> list[str]:
    """Fields of the config other than its inputs, outputs and version policy (platform, backend, batching,
    parameters, instance groups, name) that differ from what the export wrote for the served version."""
    want = model_config(spec, list(cfg.version_policy.specific.versions))
    have = type(cfg)()
    have.CopyFrom(cfg)
    for msg in (want, have):
        msg.ClearField("version_policy")
        msg.ClearField("input")
        msg.ClearField("output")
    if want == have:
        return []
    return [f"{where}: {f.name} differs from what the export wrote for the served version "
            f"({a!r} expected, {b!r} found)" for f in want.DESCRIPTOR.fields
            if (a := _show(getattr(want, f.name))) != (b := _show(getattr(have, f.name)))]


def _show(value) -> str:
    from google.protobuf import text_format
    from google.protobuf.message import Message

    if isinstance(value, Message):
        return text_format.MessageToString(value, as_one_line=True)
    if hasattr(value, "items"):
        return ", ".join(f"{k}={_show(v)}" for k, v in sorted(value.items()))
    if isinstance(value, (list, tuple)) or type(value).__name__.startswith("Repeated"):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return str(value)


def served_versions(model_dir: Path) -> list[int]:
    """The versions the config's policy names (`latest` resolved against the folders)."""
    cfg = parse_config(model_dir / CONFIG)
    policy = cfg.version_policy.WhichOneof("policy_choice")
    have = versions(model_dir)
    if policy == "specific":
        return sorted(cfg.version_policy.specific.versions)
    if policy == "all":
        return have
    n = cfg.version_policy.latest.num_versions or 1  # Triton's default: latest 1
    return have[-n:]


def versions(model_dir: Path) -> list[int]:
    return sorted(int(p.name) for p in model_dir.iterdir() if p.is_dir() and p.name.isdigit()) \
        if model_dir.is_dir() else []


def hash_files(folder: Path) -> dict[str, str]:
    return {f.relative_to(folder).as_posix(): file_sha256(f)
            for f in sorted(folder.rglob("*")) if f.is_file() and f.name != MANIFEST}


class Repository:
    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def _locked(self):
        """One writer at a time (two exports, or an export and a promote)."""
        return atomic.locked(self.root / ".repository.lock")

    def models(self) -> list[str]:
        """Model folders: those with a config.pbtxt, and those with version folders but no config (which
        `verify` reports: a model whose config was deleted is still checked)."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")
                      and ((p / CONFIG).is_file() or versions(p)))

    def model_dir(self, model: str) -> Path:
        path = self.root / model
        if not (path / CONFIG).is_file():
            known = ", ".join(self.models()) or "none"
            raise RepositoryError(f"{path}: no such model in the repository (models: {known})")
        return path

    def manifest(self, model: str, version: int) -> dict:
        path = self.root / model / str(version) / MANIFEST
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise RepositoryError(f"{path}: missing (version {version} of {model} has no manifest)") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise RepositoryError(f"{path}: not valid JSON ({exc})") from None
        except OSError as exc:
            raise RepositoryError(f"{path}: cannot be read ({exc.strerror})") from None
        if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
            raise RepositoryError(f"{path}: not a version manifest (an object with 'files': {{name: sha256}} "
                                  f"expected, found {type(manifest).__name__})")
        return manifest

    # -- writing -------------------------------------------------------------------------------------
    def add_version(self, spec: ModelSpec, fill: Callable[[Path, int], None], manifest: dict, promote: bool = True) -> int:
        """Write a new version of `spec.name`: `fill(folder, version)` puts the files in a hidden staging folder,
        the manifest (with every file's hash) is added, then the folder is renamed to the next number
        and config.pbtxt is rewritten (serving the new version if `promote`). Returns the version."""
        with self._locked():
            model_dir = self.root / spec.name
            model_dir.mkdir(parents=True, exist_ok=True)
            have = versions(model_dir)
            version = (have[-1] + 1) if have else 1
            with atomic.staged_dir(model_dir / str(version)) as tmp:
                fill(tmp, version)
                full = {"model": spec.name, "version": version, "kind": spec.kind, "platform": spec.platform,
                        "created": datetime.now().astimezone().isoformat(timespec="seconds"),
                        "hrmtrain_version": __version__, **manifest,
                        "signature": spec.signature.to_dict() if spec.signature else None,
                        "spec": _spec_to_json(spec), "files": hash_files(tmp)}
                atomic.write_json(tmp / MANIFEST, full)
            if promote or not (model_dir / CONFIG).is_file():
                write_config(model_dir, spec, [version])
            return version

    def promote(self, model: str, version: int) -> list[int]:
        """Serve `version` (and only it); returns what was served before."""
        with self._locked():
            model_dir = self.model_dir(model)
            if version not in versions(model_dir):
                raise RepositoryError(f"{model_dir}: no version {version} (versions: "
                                      f"{', '.join(map(str, versions(model_dir))) or 'none'})")
            problems = self.verify_version(model, version)
            if problems:
                raise RepositoryError(f"{model_dir / str(version)}: refusing to promote a version that does not "
                                      f"verify: {problems[0]}")
            before = served_versions(model_dir)
            # the config is rebuilt from that version's own spec: its graph may differ from the newest one's
            write_config(model_dir, _spec_from_json(self.manifest(model, version)["spec"]), [version])
            return before

    def rollback(self, model: str) -> tuple[int, int]:
        """Serve the newest version older than the one served now; returns (from, to)."""
        model_dir = self.model_dir(model)
        current = max(served_versions(model_dir), default=0)
        older = [v for v in versions(model_dir) if v < current]
        if not older:
            raise RepositoryError(f"{model_dir}: version {current} is the oldest; there is nothing to roll back to")
        self.promote(model, older[-1])
        return current, older[-1]

    # -- checking ------------------------------------------------------------------------------------
    def verify_version(self, model: str, version: int, served: bool = True) -> list[str]:
        """Every file hash against the manifest (changed, missing, added) and, for a served version, the
        config against the graph."""
        folder = self.root / model / str(version)
        try:
            manifest = self.manifest(model, version)
        except RepositoryError as exc:
            return [str(exc)]
        listed = manifest.get("files", {})
        actual = hash_files(folder)
        problems = [f"{folder / name}: content changed (sha256 {actual[name][:12]}, manifest {listed[name][:12]})"
                    for name in sorted(set(listed) & set(actual)) if actual[name] != listed[name]]
        problems += [f"{folder / name}: missing (listed in {MANIFEST})" for name in sorted(set(listed) - set(actual))]
        problems += [f"{folder / name}: not listed in {MANIFEST} (added after the export)"
                     for name in sorted(set(actual) - set(listed))]
        signature = manifest.get("signature")
        if served and (self.root / model / CONFIG).is_file():
            cfg = parse_config(self.root / model / CONFIG)
            if signature:
                problems += config_problems(cfg, Signature.from_dict(signature), str(self.root / model / CONFIG))
            if isinstance(manifest.get("spec"), dict):
                problems += config_drift(cfg, _spec_from_json(manifest["spec"]), str(self.root / model / CONFIG))
        graph = folder / "model.onnx"
        if graph.is_file() and signature and not problems:
            real = onnx_signature(graph)
            if real.to_dict() != signature:
                problems.append(f"{graph}: inputs/outputs differ from the manifest's signature")
        return problems

    def verify(self) -> list[str]:
        if not self.root.is_dir():
            raise RepositoryError(f"{self.root}: no model repository here")
        problems = []
        for model in self.models():
            model_dir = self.root / model
            if not (model_dir / CONFIG).is_file():
                problems.append(f"{model_dir / CONFIG}: missing: the model cannot be served, nor its config checked")
                problems += [p for v in versions(model_dir) for p in self.verify_version(model, v, served=False)]
                continue
            try:
                served = served_versions(model_dir)
            except RepositoryError as exc:
                problems.append(str(exc))
                served = []
            for v in served:
                if v not in versions(model_dir):
                    problems.append(f"{model_dir / CONFIG}: serves version {v}, which does not exist")
            for v in versions(model_dir):
                problems += self.verify_version(model, v, served=v in served)
        return problems

    def listing(self) -> list[dict]:
        rows = []
        for model in self.models():
            model_dir = self.root / model
            served = served_versions(model_dir)
            for v in versions(model_dir):
                try:
                    m = self.manifest(model, v)
                except RepositoryError:
                    m = {}
                rows.append({"model": model, "version": v, "served": v in served, "created": m.get("created"),
                             "platform": m.get("platform"), "source": (m.get("source") or {}).get("path"),
                             "parity": m.get("parity"), "files": m.get("files", {}),
                             "bytes": sum(f.stat().st_size for f in (model_dir / str(v)).rglob("*") if f.is_file())})
        return rows

    def remove_staging(self) -> list[Path]:
        """Hidden staging folders a crashed export left (never visible as versions); removed under the lock."""
        gone = []
        with self._locked():
            for model_dir in (p for p in self.root.iterdir() if p.is_dir()):
                for tmp in model_dir.glob(".*.tmp"):
                    shutil.rmtree(tmp, ignore_errors=True)
                    gone.append(tmp)
        return gone


def _spec_to_json(spec: ModelSpec) -> dict:
    return {"name": spec.name, "kind": spec.kind, "platform": spec.platform, "max_batch_size": spec.max_batch_size,
            "signature": spec.signature.to_dict() if spec.signature else None, "parameters": spec.parameters}


def _spec_from_json(d: dict) -> ModelSpec:
    sig = d.get("signature")
    return ModelSpec(d["name"], d["kind"], d["platform"], d.get("max_batch_size", 0),
                     Signature.from_dict(sig) if sig else None,
                     d.get("parameters", {}))
