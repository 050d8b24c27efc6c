"""`hrmtrain loadtest`: the closed-loop concurrency sweep and the open-loop rates (eval.load.mode) against
eval.endpoint, or against a `transformers serve` of the run's model started on 127.0.0.1 for the sweep
(and stopped after it)."""

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

    def q(d):
        return f"{d['p50']:.0f} / {d['p99']:.0f}" if d else "-"

    console = Console()
    repeats = f"median of {result.get('repeats', 1)} repeat(s)"
    if result.get("levels"):
        table = Table(title=f"hrmtrain loadtest, closed loop: {result['endpoint']}",
                      caption=f"ms as p50/p99, {repeats}; good/s: requests/s within the SLO (goodput); "
                              f"memory: {result['memory_source']}")
        for col in ("conc", "req", "fail", "TTFT", "ITL", "TPOT", "e2e", "req/s", "tok/s", "good/s", "peak MB"):
            table.add_column(col, justify="right")
        for lv in result["levels"]:
            table.add_row(str(lv["concurrency"]), str(lv["requests"]), str(lv["failed"]), q(lv["ttft_ms"]),
                          q(lv["itl_ms"]), q(lv.get("tpot_ms")), q(lv["e2e_ms"]), f"{lv['requests_per_s']:.2f}",
                          f"{lv['output_tokens_per_s']:.1f}", f"{lv['goodput_per_s']:.2f}",
                          f"{lv['peak_memory_mb']:,.0f}" if lv["peak_memory_mb"] else "-")
        console.print(table)
    ol = result.get("open_loop")
    if ol:
        knee = ol["knee"]
        table = Table(title=f"hrmtrain loadtest, open loop ({ol['arrival']} arrivals, {ol['workload']} requests): "
                            f"{result['endpoint']}",
                      caption=f"ms as p50/p99, {repeats}; rates from {ol['rates_from']}; knee: "
                              + (f"{knee['offered_rate']:.3g} requests/s" if knee["offered_rate"] else "below the lowest rate")
                              + f" ({knee['rule']})")
        for col in ("offered/s", "achieved/s", "req", "fail", "TTFT", "ITL", "TPOT", "e2e", "tok/s", "peak MB"):
            table.add_column(col, justify="right")
        for lv in ol["levels"]:
            table.add_row(f"{lv['offered_rate']:.3g}", f"{lv['achieved_rate']:.3g}", str(lv["requests"]),
                          str(lv["failed"]), q(lv["ttft_ms"]), q(lv["itl_ms"]), q(lv["tpot_ms"]), q(lv["e2e_ms"]),
                          f"{lv['output_tokens_per_s']:.1f}",
                          f"{lv['peak_memory_mb']:,.0f}" if lv.get("peak_memory_mb") else "-")
        console.print(table)


def _tokenizer(model: Path | None):
    """The served model's tokenizer (the synthetic workload counts its prompts in its tokens)."""
    if model is None:
        from hrmtrain.errors import HrmError

        raise HrmError("eval.load.workload=synthetic against eval.endpoint needs eval.model=PATH: a folder with the "
                       "served model's tokenizer, to make prompts of exactly eval.load.input_tokens tokens")
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(model)


def loadtest(cfg: HrmConfig, model: Path | None = None, out: Path | None = None) -> tuple[dict, Path]:
    from hrmtrain.eval.server import ServedModel
    from hrmtrain.eval.stage import model_path, task_set

    e = cfg.eval
    tasks = task_set(cfg.eval, cfg.data.path)
    budget = Budget(**config.plain(e.budget))

    def report(level: dict) -> None:
        where = (f"concurrency {level['concurrency']}" if "concurrency" in level
                 else f"offered {level['offered_rate']:.3g} requests/s (achieved {level['achieved_rate']:.3g})")
        print(f"loadtest: {where}: {level['requests']} requests, {level['failed']} failed, "
              f"{level['wall_s']:.1f} s over {level['repeats']} repeat(s)", flush=True)

    synthetic = str(e.load.workload) == "synthetic"
    if e.endpoint.base_url:
        if not e.endpoint.model:
            from hrmtrain.errors import HrmError

            raise HrmError("eval.endpoint.model must be set with eval.endpoint.base_url (the name the server expects)")
        force = "vllm" if str(e.load.force_output_length) == "auto" else str(e.load.force_output_length)
        tokenizer = _tokenizer(model or (Path(e.model) if e.model else None)) if synthetic else None
        result = sweep(e.endpoint.base_url, e.endpoint.model, tasks, e.load, budget, None, e.endpoint.timeout_s,
                       e.endpoint.api_key_env, report, tokenizer, force)
        out = out or Path(cfg.run.dir) / "load.json"
    else:
        model = model or model_path(cfg)
        out = out or ((model.parent / "eval" / "load.json") if model.name == "model" else Path(cfg.run.dir) / "load.json")
        force = "transformers" if str(e.load.force_output_length) == "auto" else str(e.load.force_output_length)
        tokenizer = _tokenizer(model) if synthetic else None
        with ServedModel(model, out.parent / "server.log", device=e.load.server_device,
                         extra_args=list(e.load.server_args)) as server:
            print(f"loadtest: serving {model} at {server.base_url} (pid {server.pid})", flush=True)
            result = sweep(server.base_url, server.model, tasks, e.load, budget, server.pid, e.endpoint.timeout_s,
                           e.endpoint.api_key_env, report, tokenizer, force)
        result["server"] = {"command": "transformers serve", "args": list(e.load.server_args),
                            "device": e.load.server_device}
    atomic.write_json(out, result)
    return result, out


def run(cfg: HrmConfig):
    result, out = loadtest(cfg)
    print_sweep(result)
    print(f"hrmtrain loadtest: results in {out}")
    return result
