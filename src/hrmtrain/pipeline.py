"""`hrmtrain pipeline`: every stage that exists, in order, on the configured model and data.

data (bundled sample, unless data.path already holds data) -> train -> report.
"""

from __future__ import annotations

import os
from pathlib import Path

from hrmtrain.data.stage import record_lineage, write_sample_dataset
from hrmtrain.errors import HrmError
from hrmtrain.report import write_report
from hrmtrain.train.stage import print_summary, train


def run(cfg) -> None:
    main = int(os.environ.get("RANK", "0")) == 0
    data = Path(cfg.data.path)
    if data.exists() and not (data / "manifest.json").is_file():
        print(f"[1/3] data: using the existing data at {data}")
    elif int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise HrmError(f"{data}: under torchrun the pipeline needs its data written first: run `hrmtrain data`")
    else:
        write_sample_dataset(data, cfg.data.sample_rows, cfg.data.seed)
        record_lineage(cfg, data)
        print(f"[1/3] data: wrote {cfg.data.sample_rows} sample household conversations to {data}")
    if main:
        print("[2/3] train")
    result = train(cfg)
    if main:
        report = write_report(result.run_dir)
        print(f"[3/3] report: {report}")
        print_summary(result.summary)
        print(f"model: {result.model_dir}\nreport: {report}")
    result.close()
