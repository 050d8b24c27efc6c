"""`hrmtrain data`: build the SFT splits from the household's files (see build.py).

With the default `data.raw` and no such folder, the seeded sample household (sample/household.py) is
generated there first (sample/): that is what `hrmtrain pipeline` runs on out of the box.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hrmtrain.sample import ensure_household

if TYPE_CHECKING:
    from hrmtrain.config import HrmConfig


def run(cfg: HrmConfig):
    from hrmtrain.data.build import build, print_build

    ensure_household(cfg.data)
    result = build(cfg)
    print_build(result)
    print(f"hrmtrain data: {sum(sum(c.values()) for c in result.counts.values())} examples from "
          f"{result.records_used} records written to {result.out}/")
    return result
