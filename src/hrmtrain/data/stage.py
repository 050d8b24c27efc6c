"""`hrmtrain data`: build the SFT splits from the household's files (see build.py).

With the default `data.raw` and no such folder, the seeded sample household (synth.py) is
generated there first: that is what `hrmtrain pipeline` runs on out of the box.

`write_sample_dataset` writes the older single-file sample conversations (`data.sample`), still
used by the training tests as a small fixed dataset.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from hrmtrain import __version__, atomic
from hrmtrain.config import DataConfig
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


def ensure_household(cfg) -> Path:
    """The raw household folder; the sample household is generated when the default one is absent."""
    raw = Path(cfg.data.raw)
    if not raw.exists() and cfg.data.raw == DataConfig.raw:
        from hrmtrain.data.synth import generate

        generate(raw, seed=cfg.data.seed)
        print(f"hrmtrain data: generated the sample household in {raw}/ (seeded; Sam has not consented to e-mail)")
    return raw


def run(cfg):
    from hrmtrain.data.build import build, print_build

    ensure_household(cfg)
    result = build(cfg)
    print_build(result)
    print(f"hrmtrain data: {sum(sum(c.values()) for c in result.counts.values())} examples from "
          f"{result.records_used} records written to {result.out}/")
    return result
