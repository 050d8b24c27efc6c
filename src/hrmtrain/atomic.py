"""Atomic file and folder writes (write beside the target, fsync, then rename over it), and the
exclusive file lock the audit log and the model repository take for their writers.

A crash at any point leaves either the old content or the new, never a half-written file.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def usual_mode(path: Path, directory: bool) -> None:
    """mkstemp/mkdtemp create 0600 files and 0700 folders; the result should carry the permissions
    any other write would (0666/0777 less the umask), or a serving user cannot read a model."""
    os.chmod(path, (0o777 if directory else 0o666) & ~_umask())


def write_text(path: str | os.PathLike, text: str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        usual_mode(Path(tmp), directory=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json(path: str | os.PathLike, obj) -> Path:
    return write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


@contextmanager
def staged_dir(final: str | os.PathLike, replace: bool = False,
               commit: Callable[[Path], object] | None = None) -> Iterator[Path]:
    """Yield a hidden temporary folder beside `final`; rename it to `final` only on success.

    With `replace`, an existing `final` is swapped out only after the new one is complete.
    `commit(final)` runs once the new folder is in place (e.g. the audit-log entry for it); if it
    raises, the new folder is removed and the previous one, if any, put back: the output and its
    record appear together or not at all.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    usual_mode(tmp, directory=True)
    old = final.with_name(f".{final.name}.old")
    try:
        yield tmp
        if final.exists() and not replace:
            raise FileExistsError(f"{final} already exists")
        had_old = final.exists()
        if had_old:
            shutil.rmtree(old, ignore_errors=True)
            os.replace(final, old)
        os.replace(tmp, final)
        if commit is not None:
            try:
                commit(final)
            except BaseException:
                shutil.rmtree(final, ignore_errors=True)
                if had_old:
                    os.replace(old, final)
                raise
        if had_old:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def ensure_writable(folder: str | os.PathLike, what: str = "output folder") -> Path:
    """Create `folder` if needed and check a file can be written in it, before any long work: a read-only
    or unwritable output folder is an error naming it, not a PermissionError after an hour of training."""
    from hrmtrain.errors import HrmError

    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-probe.", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise HrmError(f"{folder}: the {what} cannot be written ({exc.strerror or exc})") from None
    return folder


@contextmanager
def locked(lock_file: str | os.PathLike) -> Iterator[None]:
    """An exclusive advisory lock on `lock_file` (created with its folder): one writer at a time across
    processes (torchrun ranks, parallel stages, an export beside a promote)."""
    lock_file = Path(lock_file)
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_file, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
