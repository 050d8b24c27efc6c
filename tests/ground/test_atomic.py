"""Atomic writes: whole or not at all, and with the permissions an ordinary write would give."""

from __future__ import annotations

import os
import stat

import pytest

from hrmtrain import atomic


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_written_files_and_folders_are_readable_by_others_under_the_umask(tmp_path, umask_022):
    path = atomic.write_json(tmp_path / "a.json", {"x": 1})
    assert _mode(path) == 0o644
    with atomic.staged_dir(tmp_path / "model") as tmp:
        (tmp / "w.bin").write_bytes(b"1")
    assert _mode(tmp_path / "model") == 0o755


def test_a_failed_staged_folder_leaves_the_old_one_and_no_debris(tmp_path):
    final = tmp_path / "model"
    final.mkdir()
    (final / "old.txt").write_text("old")
    with pytest.raises(RuntimeError):
        with atomic.staged_dir(final, replace=True) as tmp:
            (tmp / "new.txt").write_text("half")
            raise RuntimeError("crash mid-write")
    assert [p.name for p in final.iterdir()] == ["old.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
