"""The seeded sample household the procedure runs on out of the box: its records and consent
(`household`) and its documents with the household's questions (`documents`). Below the stages that read
it (data, retrieval); `ensure_household` writes it where the default config points and nothing is yet."""

from __future__ import annotations

from pathlib import Path

from hrmtrain.config import DataConfig


def ensure_household(data_cfg) -> Path:
    """The raw household folder (`data.raw`); the sample household is generated when the default one is
    absent."""
    raw = Path(data_cfg.raw)
    if not raw.exists() and data_cfg.raw == DataConfig.raw:
        from hrmtrain.sample.household import generate

        generate(raw, seed=data_cfg.seed)
        print(f"hrmtrain data: generated the sample household in {raw}/ (seeded; Sam has not consented to e-mail)")
    return raw
