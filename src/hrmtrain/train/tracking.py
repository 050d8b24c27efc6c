"""Weights & Biases tracking: offline unless the user has logged in, and reading offline runs back.

Offline runs store metrics only in the binary `run-<id>.wandb` log (LevelDB-log framing of
`wandb_internal_pb2.Record` protobufs); `read_offline_history` decodes it so tests and reports can
check what was logged without a server.
"""

from __future__ import annotations

import json
import netrc
import os
import struct
import zlib
from pathlib import Path

HEADER = struct.Struct("<4sHB")  # ":W&B", magic 0xBEE1, version
RECORD = struct.Struct("<IHB")  # crc32, length, type
BLOCK = 32768
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def wandb_mode(configured: str) -> str:
    """`auto`: WANDB_MODE if set, online if an API key is found, else offline."""
    if configured != "auto":
        return configured
    if os.environ.get("WANDB_MODE"):
        return os.environ["WANDB_MODE"]
    if os.environ.get("WANDB_API_KEY"):
        return "online"
    try:
        rc = netrc.netrc(os.environ.get("NETRC") or os.path.expanduser("~/.netrc"))
        host = os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai").split("://")[-1].split("/")[0]
        if rc.authenticators(host):
            return "online"
    except (OSError, netrc.NetrcParseError):
        pass
    return "offline"


class Tracker:
    """A thin wrapper so the loop logs the same way with W&B on, offline, or disabled."""

    def __init__(self, run_dir: Path, project: str, name: str, config: dict, mode: str,
                 entity: str | None = None, run_id: str | None = None):
        self.mode = wandb_mode(mode)
        self.run = None
        if self.mode == "disabled":
            return
        import wandb

        os.environ.setdefault("WANDB_SILENT", "true")
        self.run = wandb.init(project=project, entity=entity, name=name, config=config, mode=self.mode,
                              dir=str(run_dir), id=run_id, resume="allow" if run_id else None,
                              settings=wandb.Settings(console="off", x_disable_stats=True))

    @property
    def run_id(self) -> str | None:
        return self.run.id if self.run else None

    def log(self, metrics: dict, step: int) -> None:
        if self.run:
            self.run.log(metrics, step=step)

    def summary(self, metrics: dict) -> None:
        if self.run:
            self.run.summary.update(metrics)

    def finish(self) -> None:
        if self.run:
            import wandb

            self.run.finish()
            wandb.teardown()
            self.run = None


def _records(path: Path):
    data = path.read_bytes()
    ident, magic, _version = HEADER.unpack_from(data, 0)
    if ident != b":W&B" or magic != 0xBEE1:
        raise ValueError(f"{path}: not a W&B run log")
    pos, pending = HEADER.size, b""
    while pos + RECORD.size <= len(data):
        left = BLOCK - pos % BLOCK
        if left < RECORD.size:
            pos += left
            continue
        crc, length, kind = RECORD.unpack_from(data, pos)
        if length == 0 and kind == 0:
            pos += left  # zero padding to the block end
            continue
        body = data[pos + RECORD.size: pos + RECORD.size + length]
        pos += RECORD.size + length
        if zlib.crc32(bytes([kind]) + body) & 0xFFFFFFFF != crc:
            raise ValueError(f"{path}: corrupt record at byte {pos}")
        if kind == FULL:
            yield body
        elif kind == FIRST:
            pending = body
        elif kind == MIDDLE:
            pending += body
        elif kind == LAST:
            yield pending + body
            pending = b""


def read_offline_history(run_dir: Path) -> list[dict]:
    """Every `history` row logged by the offline runs under `run_dir/wandb/`, in order."""
    from wandb.proto import wandb_internal_pb2

    rows = []
    for log in sorted(Path(run_dir).glob("wandb/offline-run-*/run-*.wandb")):
        for raw in _records(log):
            rec = wandb_internal_pb2.Record()
            rec.ParseFromString(raw)
            if rec.WhichOneof("record_type") == "history":
                rows.append({item.key or "/".join(item.nested_key): json.loads(item.value_json)
                             for item in rec.history.item})
    return rows
