"""`data.mix`: general tool-calling data mixed into the training split, against forgetting.

Fine-tuning on household tasks alone can cost the L-Module the general tool calling it came with (BFCL
measures it: `hrmtrain eval suite=bfcl`). Each source is a public dataset in TRL's conversational format
(`messages`, optional `tools`; a .jsonl, .json or .parquet file, or a folder of them) with a weight: the
share of the training split its rows make up after mixing. With household train rows H and weights w_i,
source i contributes round(w_i / (1 - sum w) * H) rows, drawn without replacement with data.seed (all
of them, and a warning, where it has fewer). Mixed rows go to the training split only: validation and
test stay household tasks. The manifest and the audit log record each source's file hashes, rows and
licence. BFCL's own data is refused: it is what measures the mix.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path

from hrmtrain.errors import HrmError
from hrmtrain.lineage import file_sha256
from hrmtrain.prompt.rows import Row, data_files, load_rows, raw_rows

BFCL_ID = re.compile(r"^(simple_[a-z]+|multiple|parallel|parallel_multiple|irrelevance|live_[a-z_]+|multi_turn_[a-z_]+|"
                     r"memory_[a-z_]+|web_search_[a-z_]+|format_sensitivity)_\d")


@dataclass
class MixedSource:
    name: str
    files: dict[str, str]  # path -> sha256
    available: int
    used: int
    weight: float
    license: str | None


def _refuse_bfcl(path: Path, files: list[Path]) -> None:
    if any("bfcl_eval" in p.parts or p.name.startswith("BFCL_v") for p in [path, *files]):
        raise HrmError(f"data.mix: {path} is BFCL's own data; BFCL measures the mix, so it must not be trained on")
    for file in files:
        for n, raw in raw_rows(file):
            row_id = raw.get("id") if isinstance(raw, dict) else None
            if isinstance(row_id, str) and BFCL_ID.match(row_id):
                raise HrmError(f"data.mix: {file}, row {n} has a BFCL test id ({row_id}); BFCL measures the mix, so "
                               "it must not be trained on")


def _as_example(row: Row, name: str) -> dict:
    """A mixed row in the data stage's example form (what build.py writes to Parquet)."""
    return {"messages": row.messages, "tools": row.tools or [], "task_type": f"mix:{name}", "phrasing": "",
            "multi_step": sum(1 for m in row.messages if m["role"] == "assistant") > 1,
            "record_id": f"mix:{name}:{row.file.name}:{row.number}", "initial_state": "{}"}


def mix_rows(sources, household_train: int, seed: int) -> tuple[list[dict], list[MixedSource], list[str]]:
    """The rows `data.mix` adds to a training split of `household_train` household rows; what each source
    gave; warnings. `check_sources` has vetted the sources before any work (build.py)."""
    if not sources:
        return [], [], []
    total = sum(s.weight for s in sources)
    if total >= 1.0:
        raise HrmError(f"data.mix: the weights add up to {total:g}; they are shares of the training split and "
                       "must add up to less than 1 (the rest is household data)")
    rows, mixed, warnings = [], [], []
    names = set()
    for k, s in enumerate(sources):
        path = Path(s.path)
        name = s.name or path.stem
        if name in names:
            raise HrmError(f"data.mix[{k}]: two sources are named {name!r}; give each a distinct name")
        names.add(name)
        files = data_files(path, setting=f"data.mix[{k}].path")  # BFCL's data: refused by check_sources, first
        available = load_rows(path, setting=f"data.mix[{k}].path")
        wanted = round(s.weight / (1.0 - total) * household_train)
        if wanted > len(available):
            warnings.append(f"data.mix: {path} has {len(available)} rows, fewer than the {wanted} its weight "
                            f"{s.weight:g} asks for; all of them are used")
        rng = random.Random(f"{seed}|mix|{name}")
        chosen = rng.sample(available, min(wanted, len(available)))
        rows.extend(_as_example(r, name) for r in chosen)
        mixed.append(MixedSource(name, {str(f): file_sha256(f) for f in files}, len(available), len(chosen),
                                 s.weight, s.license))
    return rows, mixed, warnings


def check_sources(sources) -> None:
    """Before any work: every source holds data files and none is BFCL's (the message names the setting)."""
    for k, s in enumerate(sources):
        path = Path(s.path)
        _refuse_bfcl(path, data_files(path, setting=f"data.mix[{k}].path"))
