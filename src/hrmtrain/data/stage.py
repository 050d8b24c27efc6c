"""`hrmtrain data`: build the SFT splits from the household's files (see build.py).

With the default `data.raw` and no such folder, the seeded sample household (synth.py) is
generated there first: that is what `hrmtrain pipeline` runs on out of the box.
"""

from __future__ import annotations

from pathlib import Path

from hrmtrain.config import DataConfig


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
