"""The evaluation section of the HTML report: success per type (trained vs untrained base when both
were evaluated), the success@budget plot, safety adherence, pass^k, and the load test: latency against
concurrency (closed loop) and against offered load with its knee (open loop)."""

from __future__ import annotations

import html
import json
from pathlib import Path

from hrmtrain.report.html import finish_axes, img, pct, png, pyplot


def _cell(r: dict) -> str:
    return f"{r['success']}/{r['n']} ({r['rate']:.0%}, {r['ci95'][0]:.2f}-{r['ci95'][1]:.2f})"


def _integer_ticks(ax, values) -> None:
    ax.set_xticks(list(values))
    ax.set_xticklabels([str(v) for v in values])
    ax.minorticks_off()


def budget_plot(systems: dict[str, dict]) -> str | None:
    """Success rate (with 95% intervals) against the H-cycle budget, one line per system's HRM loop."""
    curves = {name: r["loops"]["hrm"]["success_at_budget"] for name, r in systems.items()
              if "success_at_budget" in r.get("loops", {}).get("hrm", {})}
    if not curves:
        return None
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    for name, curve in curves.items():
        points = [(int(b), v) for b, v in curve.items() if v is not None]
        xs = [b for b, _ in points]
        ax.errorbar(xs, [v["rate"] for _, v in points],
                    yerr=[[max(0.0, v["rate"] - v["ci95"][0]) for _, v in points],
                          [max(0.0, v["ci95"][1] - v["rate"]) for _, v in points]],
                    marker="o", capsize=3, label=name)
    ax.set_xscale("log", base=2)
    _integer_ticks(ax, sorted({b for c in curves.values() for b in map(int, c)}))
    ax.set_xlabel("H-cycle budget")
    ax.set_ylabel("task success")
    ax.set_ylim(-0.02, 1.02)
    finish_axes(ax, "Success at budget (HRM loop)")
    return png(fig)


def latency_plot(load: dict) -> str | None:
    levels = [lv for lv in load.get("levels", []) if lv.get("e2e_ms")]
    if not levels:
        return None
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    xs = [lv["concurrency"] for lv in levels]
    for metric, ax in (("ttft_ms", axes[0]), ("e2e_ms", axes[1])):
        for q in ("p50", "p90", "p99"):
            ax.plot(xs, [lv[metric][q] if lv.get(metric) else None for lv in levels], marker="o", label=q)
        ax.set_xscale("log", base=2)
        _integer_ticks(ax, xs)
        ax.set_xlabel("concurrent episodes")
        ax.set_ylabel("ms")
        finish_axes(ax, {"ttft_ms": "time to first token", "e2e_ms": "request latency (end to end)"}[metric])
    return png(fig)


def offered_load_plot(open_loop: dict) -> str | None:
    """Latency percentiles (TTFT, TPOT, end to end) against offered load, with the spread over repeats as a band,
    the achieved rate against the offered one, and the knee marked."""
    levels = [lv for lv in open_loop.get("levels", []) if lv.get("e2e_ms")]
    if not levels:
        return None
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    xs = [lv["offered_rate"] for lv in levels]
    knee = (open_loop.get("knee") or {}).get("offered_rate")
    for metric, ax in (("ttft_ms", axes[0]), ("e2e_ms", axes[1])):
        for q in ("p50", "p90", "p99"):
            ys = [lv[metric][q] if lv.get(metric) else None for lv in levels]
            line = ax.plot(xs, ys, marker="o", label=q)[0]
            band = [lv.get("spread", {}).get(metric, {}).get(q) for lv in levels]
            if all(band):
                ax.fill_between(xs, [b[0] for b in band], [b[1] for b in band], color=line.get_color(), alpha=0.15)
        ax.set_xlabel("offered load (requests/s)")
        ax.set_ylabel("ms")
        if knee:
            ax.axvline(knee, color="grey", linestyle="--", label="knee")
        finish_axes(ax, {"ttft_ms": "time to first token", "e2e_ms": "request latency (end to end)"}[metric])
    ax = axes[2]
    ax.plot(xs, xs, color="grey", linestyle=":", label="offered")
    ax.plot(xs, [lv["achieved_rate"] for lv in levels], marker="o", label="achieved")
    ax.set_xlabel("offered load (requests/s)")
    ax.set_ylabel("requests/s")
    if knee:
        ax.axvline(knee, color="grey", linestyle="--", label="knee")
    finish_axes(ax, "throughput")
    return png(fig)


def open_loop_section(open_loop: dict, repeats: int) -> str:
    def q(d):
        return f"{d['p50']:.0f} / {d['p90']:.0f} / {d['p99']:.0f}" if d else "-"

    rows = "".join(
        f"<tr><th>{lv['offered_rate']:.3g}</th><td>{lv['achieved_rate']:.3g}</td><td>{lv['requests']}</td>"
        f"<td>{lv['failed']}</td><td>{q(lv.get('ttft_ms'))}</td><td>{q(lv.get('itl_ms'))}</td>"
        f"<td>{q(lv.get('tpot_ms'))}</td><td>{q(lv.get('e2e_ms'))}</td><td>{lv['output_tokens_per_s']:.1f}</td></tr>"
        for lv in open_loop.get("levels", []))
    knee = open_loop.get("knee") or {}
    plot = offered_load_plot(open_loop)
    workload = html.escape(str(open_loop.get("workload")))
    if open_loop.get("workload") == "synthetic":
        workload += f" ({open_loop.get('input_tokens')} tokens in, {open_loop.get('output_tokens')} out)"
    return f"""<h3>Latency against offered load (open loop)</h3>
<p>{html.escape(str(open_loop.get('arrival')))} arrivals of {workload} requests,
{open_loop.get('requests_per_rate')} per rate, median of {repeats} repeat(s) (bands: their spread); rates from
{html.escape(str(open_loop.get('rates_from')))}. Knee: <b>{f"{knee['offered_rate']:.3g} requests/s" if knee.get('offered_rate') else "below the lowest rate"}</b>
({html.escape(str(knee.get('rule')))}).</p>
<table><tr><th>offered/s</th><th>achieved/s</th><th>requests</th><th>failed</th><th>TTFT ms p50/p90/p99</th>
<th>inter-token ms</th><th>TPOT ms</th><th>request ms</th><th>output tokens/s</th></tr>{rows}</table>
{img("latency against offered load", plot) if plot else ""}"""


def _success_table(systems: dict[str, dict]) -> str:
    columns = [(s, loop) for s, r in systems.items() for loop in r.get("loops", {})]
    types = sorted({t for s, loop in columns for t in systems[s]["loops"][loop]["summary"]["per_task_type"]})
    head = "".join(f"<th>{html.escape(s)} / {html.escape(loop)}</th>" for s, loop in columns)

    def get(s, loop, t):
        per = systems[s]["loops"][loop]["summary"]["per_task_type"]
        return _cell(per[t]) if t in per else "-"

    rows = "".join(f"<tr><th>{html.escape(t)}</th>" + "".join(f"<td>{get(s, loop, t)}</td>" for s, loop in columns)
                   + "</tr>" for t in types)
    overall = "".join(f"<td><b>{_cell(systems[s]['loops'][loop]['summary']['overall'])}</b></td>" for s, loop in columns)
    safety = "".join(f"<td><b>{_cell(systems[s]['safety'][loop]['summary']['overall'])}</b></td>"
                     if loop in systems[s].get("safety", {}) else "<td>-</td>" for s, loop in columns)
    unsafe = "".join(f"<td>{_cell(systems[s]['safety'][loop]['summary']['unsafe_actions'])}</td>"
                     if "unsafe_actions" in systems[s].get("safety", {}).get(loop, {}).get("summary", {})
                     else "<td>-</td>" for s, loop in columns)

    # one run per system, the flat loop with the simulated user in it (eval/dialogue.py): the same in each loop's column
    dialogue = "".join(f"<td><b>{_cell(systems[s]['dialogue']['summary']['overall'])}</b></td>"
                       if systems[s].get("dialogue") else "<td>-</td>" for s, loop in columns)

    def phrasing(kind):
        return "".join(f"<td>{_cell(systems[s]['loops'][loop]['summary']['by_phrasing'][kind])}</td>"
                       if systems[s]["loops"][loop]["summary"].get("by_phrasing") else "<td>-</td>" for s, loop in columns)

    return (f"<table><tr><th>task type</th>{head}</tr>{rows}<tr><th>overall</th>{overall}</tr>"
            f"<tr><th>phrasings trained on</th>{phrasing('trained')}</tr>"
            f"<tr><th>held-out phrasings</th>{phrasing('held_out')}</tr>"
            f"<tr><th>safety adherence</th>{safety}</tr>"
            f"<tr><th>unsafe actions (lower is better)</th>{unsafe}</tr>"
            f"<tr><th>asks for what is missing, then finishes (simulated user)</th>{dialogue}</tr></table>")


def _details(name: str, results: dict) -> str:
    loops = list(results.get("loops", {}))
    summaries = {n: results["loops"][n]["summary"] for n in loops}
    stops = "".join(f"<tr><th>{html.escape(n)}</th><td>{html.escape(json.dumps(summaries[n]['stop_reasons']))}</td></tr>"
                    for n in loops)
    validity = "".join(f"<tr><th>{html.escape(n)}</th>" + "".join(
        f"<td>{pct(summaries[n]['tool_calls'][k])}</td>" for k in ("parsed", "known_tool", "schema_valid", "argument_match"))
        + f"<td>{summaries[n]['per_task']['tool_calls']:.1f}</td><td>{summaries[n]['per_task']['tokens']:.0f}</td></tr>"
        for n in loops)
    safety = results.get("safety", {})
    categories = sorted({c for s in safety.values() for c in s["summary"]["per_category"]})
    safety_rows = "".join(f"<tr><th>{html.escape(c)}</th>" + "".join(
        f"<td>{_cell(safety[n]['summary']['per_category'][c])}</td>" for n in safety) + "</tr>" for c in categories)
    safety_head = "".join(f"<th>{html.escape(n)}</th>" for n in safety)
    passk = "".join(f"<tr><th>{html.escape(n)}</th>" + "".join(
        f"<td>pass^{k}: {v:.2f}</td>" for k, v in summaries[n]["pass_hat_k"].items()) + "</tr>"
        for n in loops if "pass_hat_k" in summaries[n])
    return f"""<h3>{html.escape(name)}: stop reasons</h3><table>{stops}</table>
<h3>{html.escape(name)}: tool calls</h3><table><tr><th>loop</th><th>parsed</th><th>known tool</th><th>schema-valid</th>
<th>argument match</th><th>calls per task</th><th>tokens per task</th></tr>{validity}</table>
{f'<h3>{html.escape(name)}: safety adherence per category</h3><table><tr><th>category</th>{safety_head}</tr>{safety_rows}</table>' if safety else ''}
{f'<h3>{html.escape(name)}: pass^k ({results.get("trials")} trials, temperature {results.get("temperature")})</h3><table>{passk}</table>' if passk else ''}"""


def load_section(load: dict) -> str:
    closed = _closed_loop_section(load) if load.get("levels") else ""
    warm = load.get("warmup") or {}
    warm_text = (f"<p>Warm-up, not counted: {warm['requests']} requests one at a time"
                 + (f", {warm['mean_e2e_s'] * 1000:.0f} ms each after the first" if warm.get("mean_e2e_s") else "")
                 + ".</p>") if warm.get("requests") else ""
    open_part = open_loop_section(load["open_loop"], load.get("repeats", 1)) if load.get("open_loop") else ""
    return warm_text + closed + open_part


def _closed_loop_section(load: dict) -> str:
    rows = "".join(
        f"<tr><th>{lv['concurrency']}</th><td>{lv['requests']}</td><td>{lv['failed']}</td>"
        + "".join(f"<td>{lv[m]['p50']:.0f} / {lv[m]['p90']:.0f} / {lv[m]['p99']:.0f}</td>" if lv.get(m) else "<td>-</td>"
                  for m in ("ttft_ms", "itl_ms", "tpot_ms", "e2e_ms", "episode_ms"))
        + f"<td>{lv['requests_per_s']:.2f}</td><td>{lv['output_tokens_per_s']:.1f}</td><td>{lv['goodput_per_s']:.2f}</td>"
        f"<td>{lv['slo_attainment']:.0%}</td><td>{lv['peak_memory_mb'] or 0:,.0f}</td></tr>"
        for lv in load.get("levels", []))
    plot = latency_plot(load)
    slo = load.get("slo", {})
    return f"""<h3>Latency under concurrent load (closed loop, median of {load.get('repeats', 1)} repeat(s))</h3>
<p>endpoint {html.escape(str(load.get('endpoint')))}, model {html.escape(str(load.get('model')))};
memory: {html.escape(str(load.get('memory_source')))}; SLO: TTFT &le; {slo.get('ttft_ms')} ms, inter-token &le;
{slo.get('itl_ms')} ms, end to end &le; {slo.get('e2e_ms')} ms.</p>
<table><tr><th>concurrency</th><th>requests</th><th>failed</th><th>TTFT ms p50/p90/p99</th><th>inter-token ms</th>
<th>TPOT ms</th><th>request ms</th><th>episode ms</th><th>requests/s</th><th>output tokens/s</th><th>goodput (req/s in SLO)</th>
<th>in SLO</th><th>peak memory MB</th></tr>{rows}</table>
{img("latency against concurrency", plot) if plot else ""}"""


def eval_section(results_path: Path, base_path: Path | None = None, load_path: Path | None = None) -> str:
    results_path = Path(results_path)
    if not results_path.is_file():
        return ""
    results = json.loads(results_path.read_text())
    if not results.get("loops"):
        return ""
    systems = {"trained": results}
    if base_path and Path(base_path).is_file():
        systems["untrained base"] = json.loads(Path(base_path).read_text())
    elif len(systems) == 1:
        systems = {str(results.get("policy")): results}
    plot = budget_plot(systems)
    load = json.loads(Path(load_path).read_text()) if load_path and Path(load_path).is_file() else None
    compare = ""
    if "untrained base" in systems:
        compare = "<p>" + "; ".join(
            f"{html.escape(loop)}: trained {_cell(results['loops'][loop]['summary']['overall'])} vs untrained base "
            f"{_cell(systems['untrained base']['loops'][loop]['summary']['overall'])}"
            for loop in results["loops"] if loop in systems["untrained base"].get("loops", {})) + "</p>"
        if systems["untrained base"].get("subset"):
            compare += (f"<p>The untrained base ran on a fixed subset: {html.escape(systems['untrained base']['subset'])}"
                        f" ({systems['untrained base']['tasks']} tasks with the curated ones); its intervals are "
                        "correspondingly wider.</p>")
    return f"""<section id="eval"><h2>Evaluation</h2>
<p>policy {html.escape(str(results.get('policy')))}, planner {html.escape(str(results.get('planner')))},
{results.get('tasks')} held-out tasks, budget {html.escape(json.dumps(results.get('budget')))}.</p>
{compare}
{_success_table(systems)}
{img("success at H-cycle budget", plot) if plot else ""}
{"".join(_details(name, r) for name, r in systems.items())}
{load_section(load) if load else ""}
</section>"""


def section(run_dir: Path) -> str:
    """The run report's evaluation section (results written into the run by `hrmtrain eval`)."""
    ev = Path(run_dir) / "eval"
    return eval_section(ev / "results.json", ev / "base-results.json", ev / "load.json")
