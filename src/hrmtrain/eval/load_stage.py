"""`hrmtrain loadtest`: the concurrency sweep against eval.endpoint, or against a `transformers serve`
of the run's model started on 127.0.0.1 for the sweep (and stopped after it)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING


from hrmtrain import atomic, config
from hrmtrain.eval.load import sweep
from hrmtrain.agent.loop import Budget

if TYPE_CHECKING:
    from hrmtrain.config import HrmConfig


def print_sweep(result: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"hrmtrain loadtest: {result['endpoint']}",
                  caption=f"ms as p50/p99; good/s: requests/s within the SLO (goodput); memory: {result['memory_source']}")
    for col in ("conc", "req", "fail", "TTFT", "ITL", "e2e", "req/s", "tok/s", "good/s", "peak MB"):
        table.add_column(col, justify="right")

    def q(d):
        return f"{d['p50']:.0f} / {d['p99']:.0f}" if d else "-"

    for lv in result["levels"]:
        table.add_row(str(lv["concurrency"]), str(lv["requests"]), str(lv["failed"]), q(lv["ttft_ms"]),
                      q(lv["itl_ms"]), q(lv["e2e_ms"]), f"{lv['requests_per_s']:.2f}",
                      f"{lv['output_tokens_per_s']:.1f}", f"{lv['goodput_per_s']:.2f}",
                      f"{lv['peak_memory_mb']:,.0f}" if lv["peak_memory_mb"] else "-")
    Console().print(table)


def loadtest(cfg: HrmConfig, model: Path | None = None, out: Path | None = None) -> tuple[dict, Path]:
    from hrmtrain.eval.server import ServedModel
    from hrmtrain.eval.stage import model_path, task_set

    e = cfg.eval
    tasks = task_set(cfg.eval, cfg.data.path)
    budget = Budget(**config.plain(e.budget))

    def report(level: dict) -> None:
        print(f"loadtest: concurrency {level['concurrency']}: {level['requests']} requests, {level['failed']} failed, "
              f"{level['wall_s']:.1f} s", flush=True)

    if e.endpoint.base_url:
        if not e.endpoint.model:
            from hrmtrain.errors import HrmError

            raise HrmError("eval.endpoint.model must be set with eval.endpoint.base_url (the name the server expects)")
        result = sweep(e.endpoint.base_url, e.endpoint.model, tasks, e.load, budget, None, e.endpoint.timeout_s,
                       e.endpoint.api_key_env, report)
        out = out or Path(cfg.run.dir) / "load.json"
    else:
        model = model or model_path(cfg)
        out = out or ((model.parent / "eval" / "load.json") if model.name == "model" else Path(cfg.run.dir) / "load.json")
        with ServedModel(model, out.parent / "server.log", device=e.load.server_device,
                         extra_args=list(e.load.server_args)) as server:
            print(f"loadtest: serving {model} at {server.base_url} (pid {server.pid})", flush=True)
            result = sweep(server.base_url, server.model, tasks, e.load, budget, server.pid, e.endpoint.timeout_s,
                           e.endpoint.api_key_env, report)
        result["server"] = {"command": "transformers serve", "args": list(e.load.server_args),
                            "device": e.load.server_device}
    atomic.write_json(out, result)
    return result, out


def run(cfg: HrmConfig):
    result, out = loadtest(cfg)
    print_sweep(result)
    print(f"hrmtrain loadtest: results in {out}")
    return result
