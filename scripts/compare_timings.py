#!/usr/bin/env python3
"""Compare bench reports (python -m edge_app bench) side by side.

    scripts/compare_timings.py A.json B.json ... [--plot timings.png] [--out table.md]

Validates every file (edge_app.bench.validate_report; reports of an older
schema version are read in the current one's stage names), then prints, per
resolution, a markdown table of stages x machines (median ms) with the ratio
of each machine to the first file; with --plot, one stacked bar chart per
resolution (stage medians stacked, one bar per file).

A report made with `edge_app bench --ais-bench` also holds ais_bench's
figure of the model alone (`model_only`): it gets its own row, "model only
(ais_bench)", beside the app's `inference` stage and its end to end time, and
its own bar beside the file's stacked bar.
"""
import argparse
import json
import os
import sys
from typing import Dict, List, Optional, Sequence, Tuple, Union

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from edge_app.bench.schema import upgrade_report, validate_report  # noqa: E402
from edge_app.timings import STAGES  # noqa: E402

Report = Dict[str, object]
#: The row (and bar) of ais_bench's model-only median.
MODEL_ONLY = "model only (ais_bench)"
#: Table rows: the stages, the model alone right after the app's inference, then the whole app.
_AFTER_INFERENCE = STAGES.index("inference") + 1
ROW_NAMES = (list(STAGES[:_AFTER_INFERENCE]) + [MODEL_ONLY] + list(STAGES[_AFTER_INFERENCE:])
             + ["end to end", "stream frames/s"])


class CompareError(Exception):
    """An unreadable or invalid report: one line for the user."""


def load_report(path: str) -> Report:
    """Read and validate one report (in the current schema version's terms);
    CompareError lists its problems."""
    try:
        with open(path) as f:
            report = json.load(f)
    except FileNotFoundError:
        raise CompareError("{}: file not found".format(path))
    except json.JSONDecodeError as exc:
        raise CompareError("{}: not JSON ({})".format(path, exc))
    problems = validate_report(report)
    if problems:
        raise CompareError("{}: not a valid bench report:\n  ".format(path) + "\n  ".join(problems))
    return upgrade_report(report)


def label(path: str, report: Report) -> str:
    """Column title: file stem, backend and accelerator or CPU."""
    machine, run = report["machine"], report["run"]
    where = machine["accelerator"] or machine["cpu_model"] or "unknown CPU"
    provider = run["provider"] or run["backend"]
    return "{} ({}, {}, {})".format(os.path.splitext(os.path.basename(path))[0], where,
                                    provider.replace("ExecutionProvider", ""), run["precision"])


def sizes_in_order(reports: Sequence[Report]) -> List[str]:
    """Every frame size, in order of first appearance."""
    seen = []
    for report in reports:
        for result in report["results"]:
            if result["size"] not in seen:
                seen.append(result["size"])
    return seen


def result_for(report: Report, size: str) -> Optional[dict]:
    for result in report["results"]:
        if result["size"] == size:
            return result
    return None


#: A cell: a number, the stage that holds this one's time, or None (no data).
Cell = Union[float, str, None]


def model_only_ms(report: Report) -> Optional[float]:
    """ais_bench's median of the model alone, or None when the report has none."""
    model_only = report.get("model_only")
    return model_only["inference"]["median_ms"] if model_only else None


def rows_for(report: Report, size: str) -> List[Cell]:
    """One cell per ROW_NAMES: stage medians (ms), the model-only median (the
    same at every size: the model always sees 512 x 512), end to end, frames/s."""
    result = result_for(report, size)
    if result is None:
        return [None] * len(ROW_NAMES)
    cells = {s: result["stages"][s].get("included_in") or result["stages"][s]["median_ms"]
             for s in STAGES}  # type: Dict[str, Cell]
    cells.update({MODEL_ONLY: model_only_ms(report), "end to end": result["end_to_end"]["median_ms"],
                  "stream frames/s": result["stream"]["fps"]})
    return [cells[name] for name in ROW_NAMES]


def _fmt(value: Cell) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return "in " + value
    return "{:.1f}".format(value) if value >= 10 else "{:.2f}".format(value)


def _ratio(value: Cell, base: Cell) -> str:
    if not isinstance(value, (int, float)) or not isinstance(base, (int, float)) or base == 0:
        return "-"
    return "{:.2f}x".format(value / base)


def markdown_table(paths: Sequence[str], reports: Sequence[Report]) -> str:
    """Per resolution: stages x files (median ms), ratio of each file to the first."""
    labels = [label(p, r) for p, r in zip(paths, reports)]
    lines = ["Median ms per stage (ratio = this file / {}; below 1x is faster, "
             "except frames/s where above 1x is faster).".format(labels[0]), ""]
    for path, r in zip(paths, reports):
        machine, run = r["machine"], r["run"]
        lines.append("- {}: {} ({} cores); accelerator {}; {} {}; CANN {}; model {} ({}); {}".format(
            os.path.basename(path), machine["cpu_model"], machine["cpu_count"], machine["accelerator"] or "none",
            run["backend"], run["provider"] or machine["onnxruntime_version"] or "", machine["cann_version"] or "none",
            run["model"], run["precision"], r["date"]))
        if r.get("model_only"):
            m = r["model_only"]
            lines.append("  - {}: ais_bench's NPU_compute_time of the model alone, median of {} runs; model {}; {}".format(
                MODEL_ONLY, m["count"] or "its", m["model"] or "not stated", m["source"]))
    for size in sizes_in_order(reports):
        columns = [rows_for(r, size) for r in reports]
        header = ["stage", labels[0]]
        for lab in labels[1:]:
            header += [lab, "ratio"]
        lines += ["", "### {}".format(size), "", "| " + " | ".join(header) + " |",
                  "|" + "---|" * len(header)]
        for k, name in enumerate(ROW_NAMES):
            cells = [name, _fmt(columns[0][k])]
            for col in columns[1:]:
                cells += [_fmt(col[k]), _ratio(col[k], columns[0][k])]
            lines.append("| " + " | ".join(cells) + " |")
        modes = ["{}: {}".format(lab.split(" (")[0], result_for(r, size)["stream"]["mode"])
                 for lab, r in zip(labels, reports) if result_for(r, size) is not None]
        lines += ["", "Stream mode: " + "; ".join(modes) + "."]
    return "\n".join(lines) + "\n"


def bars_for(paths: Sequence[str], reports: Sequence[Report], size: str) -> List[Tuple[str, Dict[str, float]]]:
    """The bars of one panel: (label, {segment: ms}) per file, the app's stage
    medians stacked, and after it, where the report has one and this size, a
    bar of the model alone (ais_bench)."""
    bars = []
    for path, report in zip(paths, reports):
        stem = os.path.splitext(os.path.basename(path))[0]
        result = result_for(report, size)
        bars.append((stem, {s: (result["stages"][s]["median_ms"] if result else 0.0) for s in STAGES}))
        if result is not None and model_only_ms(report) is not None:
            bars.append((stem + "\nmodel only", {MODEL_ONLY: model_only_ms(report)}))
    return bars


def plot(paths: Sequence[str], reports: Sequence[Report], out: str) -> None:
    """Stacked bars of the stage medians, one panel per resolution, with a
    hatched bar of the model alone beside each file that has one."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = sizes_in_order(reports)
    panels = [bars_for(paths, reports, size) for size in sizes]
    width = max(len(bars) for bars in panels)
    fig, axes = plt.subplots(1, len(sizes), figsize=(max(5.0, 1.6 * width + 2.5) * len(sizes), 5.0), squeeze=False)
    colors = plt.get_cmap("tab10").colors
    styles = {s: {"color": colors[k % len(colors)]} for k, s in enumerate(STAGES)}
    styles[MODEL_ONLY] = {"color": styles["inference"]["color"], "hatch": "//", "edgecolor": "black"}
    for ax, size, bars in zip(axes[0], sizes, panels):
        bottoms = [0.0] * len(bars)
        for stage in STAGES:
            heights = [segments.get(stage, 0.0) for _, segments in bars]
            ax.bar(range(len(bars)), heights, bottom=bottoms, label=stage, **styles[stage])
            bottoms = [b + h for b, h in zip(bottoms, heights)]
        alone = [(x, segments[MODEL_ONLY]) for x, (_, segments) in enumerate(bars) if MODEL_ONLY in segments]
        if alone:
            ax.bar([x for x, _ in alone], [h for _, h in alone], label=MODEL_ONLY, **styles[MODEL_ONLY])
        ax.set_xticks(range(len(bars)))
        ax.set_xticklabels([name for name, _ in bars], rotation=20, ha="right")
        ax.set_title(size)
        ax.set_ylabel("median ms per frame")
    handles = {}
    for ax in axes[0]:
        for handle, name in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(name, handle)
    axes[0][-1].legend(list(handles.values()), list(handles), loc="upper left", bbox_to_anchor=(1.0, 1.0),
                       fontsize="small")
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reports", nargs="+", help="bench JSON files; ratios are against the first")
    parser.add_argument("--plot", help="write a stacked bar chart (PNG) here")
    parser.add_argument("--out", help="also write the markdown table here")
    args = parser.parse_args(argv)
    try:
        reports = [load_report(p) for p in args.reports]
    except CompareError as exc:
        print("error: {}".format(exc), file=sys.stderr)
        return 2
    table = markdown_table(args.reports, reports)
    print(table, end="")
    if args.out:
        with open(args.out, "w") as f:
            f.write(table)
    if args.plot:
        plot(args.reports, reports, args.plot)
        print("wrote {}".format(args.plot))
    return 0


if __name__ == "__main__":
    sys.exit(main())
