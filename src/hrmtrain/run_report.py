"""`hrmtrain report`: a run's `report.html`, the sections of every stage in the order the procedure runs.

This is the entry's list: each stage writes its own section (`<stage>/report_section.py`) and the page
(`report/page.py`) knows none of them, so no stage imports the report and none imports another's.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from hrmtrain import runs
from hrmtrain.data import report_section as data_report
from hrmtrain.eval import report_section as eval_report
from hrmtrain.eval.bfcl import report_section as bfcl_report
from hrmtrain.export import report_section as export_report
from hrmtrain.humaneval import report_section as humaneval_report
from hrmtrain.report.page import write_page
from hrmtrain.retrieval import report_section as retrieval_report
from hrmtrain.train import report_section as train_report

if TYPE_CHECKING:
    from hrmtrain.config import HrmConfig

SECTIONS = (train_report.section, data_report.section, retrieval_report.section, eval_report.section,
            bfcl_report.section, humaneval_report.section, export_report.section)


def write_report(run_dir: Path) -> Path:
    return write_page(Path(run_dir), SECTIONS)


def refresh(run_dir: Path) -> None:
    """Renew the run's report if it has one (after a stage added results to the run)."""
    if (Path(run_dir) / "report.html").is_file():
        print(f"report: {write_report(run_dir)}")


def run(cfg: HrmConfig) -> None:
    run_dir = runs.find_run(cfg.run, runs.TRAINED)
    print(f"report: {write_report(run_dir)}")
