"""`hrmtrain data`: write the SFT dataset to `data.path`.

Until the household data pipeline lands this writes the bundled sample household conversations
(`hrmtrain.data.sample`) as JSONL, with a manifest carrying the content hash.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from hrmtrain import __version__, atomic
from hrmtrain.data.sample import sample_rows
from hrmtrain.errors import HrmError


def write_sample_dataset(path: str | Path, rows: int, seed: int) -> Path:
    out = Path(path)
    if out.suffix in (".jsonl", ".json", ".parquet"):
        raise HrmError(f"data.path must be a folder for `hrmtrain data`, got the file {out}")
    manifest = out / "manifest.json"
    if out.exists() and any(out.iterdir()):
        written_by_us = manifest.is_file() and "hrmtrain.data.sample" in manifest.read_text(errors="replace")
        if not written_by_us:
            raise HrmError(f"{out}: data.path already holds data that `hrmtrain data` did not write; "
                           "refusing to overwrite it (choose another data.path)")
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in sample_rows(rows, seed))
    with atomic.staged_dir(out, replace=True) as tmp:
        atomic.write_text(tmp / "train.jsonl", text)
        atomic.write_json(tmp / "manifest.json", {
            "source": "hrmtrain.data.sample (bundled sample household data)",
            "rows": rows,
            "seed": seed,
            "files": {"train.jsonl": hashlib.sha256(text.encode()).hexdigest()},
            "hrmtrain_version": __version__,
        })
    return out


def record_lineage(cfg, out: Path) -> None:
    from omegaconf import OmegaConf

    from hrmtrain.lineage import AuditLog

    AuditLog(cfg.lineage.dir).append("data", outputs=[out], config=OmegaConf.to_container(cfg.data, resolve=True),
                                     details={"source": "hrmtrain.data.sample", "rows": cfg.data.sample_rows})


def run(cfg) -> None:
    out = write_sample_dataset(cfg.data.path, cfg.data.sample_rows, cfg.data.seed)
    record_lineage(cfg, out)
    print(f"hrmtrain data: wrote {cfg.data.sample_rows} sample conversations to {out}/train.jsonl")
