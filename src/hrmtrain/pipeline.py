"""`hrmtrain pipeline`: every stage that exists, in order, on the configured model and data.

data (the household's files, or the generated sample household) -> train -> report. When data.path
already holds SFT data that `hrmtrain data` did not write, that data is used as it is.
"""

from __future__ import annotations

import os
from pathlib import Path

from hrmtrain.errors import HrmError
from hrmtrain.report import write_report
from hrmtrain.train.stage import print_summary, train


def run(cfg) -> None:
    main = int(os.environ.get("RANK", "0")) == 0
    data = Path(cfg.data.path)
    if data.exists() and any(data.iterdir()) and not (data / "manifest.json").is_file():
        print(f"[1/3] data: using the existing data at {data}")
    elif int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise HrmError(f"{data}: under torchrun the pipeline needs its data written first: run `hrmtrain data`")
    else:
        from hrmtrain.data.stage import run as build_data

        print("[1/3] data")
        build_data(cfg)
    if main:
        print("[2/3] train")
    result = train(cfg)
    if main:
        report = write_report(result.run_dir)
        print(f"[3/3] report: {report}")
        print_summary(result.summary)
        print(f"model: {result.model_dir}\nreport: {report}")
    result.close()
