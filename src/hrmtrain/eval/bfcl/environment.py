"""The separate virtual environment BFCL's own CLI runs in, created once from the bundled lock and cached.

bfcl-eval pins old versions of what hrmtrain also uses (numpy 1.26.4, tree_sitter 0.21.3) and imports
the clients of many model APIs from its checker, so it cannot be installed beside hrmtrain. The
environment lives under `$HRMTRAIN_CACHE/bfcl/<hash of the lock>/`: a changed lock makes a new one, a
finished one is marked by `ready.json`, written last, so an install that failed or was interrupted is
removed and redone rather than used half-made. Creating it takes a few minutes and about 2 GB
(torch's CPU build comes with sentence-transformers); later runs reuse it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from hrmtrain import atomic
from hrmtrain.errors import HrmError

HERE = Path(__file__).resolve().parent
LOCK = HERE / "requirements.lock"
READY = "ready.json"


def lock_digest(lock: Path = LOCK) -> str:
    return hashlib.sha256(lock.read_bytes()).hexdigest()[:16]


def default_dir(cache: Path, lock: Path = LOCK) -> Path:
    return Path(cache) / "bfcl" / lock_digest(lock)


def python_of(env_dir: Path) -> Path:
    return Path(env_dir) / "bin" / "python"


def is_ready(env_dir: Path) -> bool:
    return (Path(env_dir) / READY).is_file() and python_of(env_dir).exists()


def _run(cmd: list[str], log, what: str, env_dir: Path) -> None:
    log.write(f"$ {' '.join(cmd)}\n".encode())
    log.flush()
    proc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        raise HrmError(f"{env_dir}: {what} failed (exit {proc.returncode}); see {log.name}")


def ensure(env_dir: Path, lock: Path = LOCK, python: str = sys.executable) -> Path:
    """The environment at `env_dir`, created from `lock` (hash-checked) unless it is already there.
    Returns its Python. One process creates it at a time; the others wait and reuse it."""
    env_dir = Path(env_dir)
    if is_ready(env_dir):
        return python_of(env_dir)
    with atomic.locked(env_dir.parent / f"{env_dir.name}.lock"):
        if is_ready(env_dir):
            return python_of(env_dir)
        if env_dir.exists():  # an earlier install that did not finish
            shutil.rmtree(env_dir)
        log_path = env_dir.parent / f"{env_dir.name}.install.log"
        started = time.monotonic()
        print(f"bfcl: creating its environment in {env_dir} from {lock.name} (once; a few minutes; log {log_path})",
              flush=True)
        try:
            with open(log_path, "wb") as log:
                _run([python, "-m", "venv", str(env_dir)], log, "creating the virtual environment", env_dir)
                pip = [str(python_of(env_dir)), "-m", "pip", "--disable-pip-version-check"]
                _run([*pip, "install", "--quiet", "--require-hashes", "--no-deps", "-r", str(lock)], log,
                     f"installing {lock}", env_dir)
                _run([str(python_of(env_dir)), "-c", "import bfcl_eval.__main__"], log,
                     "importing bfcl_eval in the new environment", env_dir)
        except BaseException:
            shutil.rmtree(env_dir, ignore_errors=True)
            raise
        version = subprocess.run([str(python_of(env_dir)), "-c",
                                  "import importlib.metadata as m; print(m.version('bfcl-eval'))"],
                                 capture_output=True, text=True, check=True).stdout.strip()
        atomic.write_json(env_dir / READY, {"lock_sha256_16": lock_digest(lock), "bfcl_eval": version,
                                            "python": python, "install_s": round(time.monotonic() - started, 1),
                                            "pid": os.getpid()})
        print(f"bfcl: environment ready ({time.monotonic() - started:.0f} s)", flush=True)
    return python_of(env_dir)


def bfcl_version(env_dir: Path) -> str:
    return json.loads((Path(env_dir) / READY).read_text()).get("bfcl_eval", "?")
