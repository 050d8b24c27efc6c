"""`hrmtrain pipeline`: every stage that exists, in order, on the configured model and data.

data (bundled sample, unless data.path already holds data) -> train -> report.
"""

from __future__ import annotations

from pathlib import Path

from hrmtrain.data.stage import write_sample_dataset
from hrmtrain.report import write_report
from hrmtrain.train.stage import print_summary, train


def run(cfg) -> None:
    data = Path(cfg.data.path)
    if data.exists() and not (data / "manifest.json").is_file():
        print(f"[1/3] data: using the existing data at {data}")
    else:
        write_sample_dataset(data, cfg.data.sample_rows, cfg.data.seed)
        print(f"[1/3] data: wrote {cfg.data.sample_rows} sample household conversations to {data}")
    print("[2/3] train")
    result = train(cfg)
    report = write_report(result.run_dir)
    print(f"[3/3] report: {report}")
    print_summary(result.summary)
    print(f"model: {result.model_dir}\nreport: {report}")
