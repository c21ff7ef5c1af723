#!/usr/bin/env python3
"""Compare bench reports (python -m edge_app bench) side by side.

    scripts/compare_timings.py A.json B.json ... [--plot timings.png] [--out table.md]

Validates every file (edge_app.bench.validate_report; reports of an older
schema version are read in the current one's stage names), then prints, per
resolution, a markdown table of stages x machines (median ms) with the ratio
of each machine to the first file; with --plot, one stacked bar chart per
resolution (stage medians stacked, one bar per file).
"""
import argparse
import json
import os
import sys
from typing import Dict, List, Optional, Sequence, Union

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from edge_app.bench.schema import upgrade_report, validate_report  # noqa: E402
from edge_app.timings import STAGES  # noqa: E402

Report = Dict[str, object]


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


def rows_for(result: Optional[dict]) -> List[Cell]:
    """Median ms of every stage, then end to end, then stream frames/s."""
    if result is None:
        return [None] * (len(STAGES) + 2)
    values = [result["stages"][s].get("included_in") or result["stages"][s]["median_ms"]
              for s in STAGES]  # type: List[Cell]
    return values + [result["end_to_end"]["median_ms"], result["stream"]["fps"]]


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
    names = list(STAGES) + ["end to end", "stream frames/s"]
    lines = ["Median ms per stage (ratio = this file / {}; below 1x is faster, "
             "except frames/s where above 1x is faster).".format(labels[0]), ""]
    for path, r in zip(paths, reports):
        machine, run = r["machine"], r["run"]
        lines.append("- {}: {} ({} cores); accelerator {}; {} {}; CANN {}; model {} ({}); {}".format(
            os.path.basename(path), machine["cpu_model"], machine["cpu_count"], machine["accelerator"] or "none",
            run["backend"], run["provider"] or machine["onnxruntime_version"] or "", machine["cann_version"] or "none",
            run["model"], run["precision"], r["date"]))
    for size in sizes_in_order(reports):
        columns = [rows_for(result_for(r, size)) for r in reports]
        header = ["stage", labels[0]]
        for lab in labels[1:]:
            header += [lab, "ratio"]
        lines += ["", "### {}".format(size), "", "| " + " | ".join(header) + " |",
                  "|" + "---|" * len(header)]
        for k, name in enumerate(names):
            cells = [name, _fmt(columns[0][k])]
            for col in columns[1:]:
                cells += [_fmt(col[k]), _ratio(col[k], columns[0][k])]
            lines.append("| " + " | ".join(cells) + " |")
        modes = ["{}: {}".format(lab.split(" (")[0], result_for(r, size)["stream"]["mode"])
                 for lab, r in zip(labels, reports) if result_for(r, size) is not None]
        lines += ["", "Stream mode: " + "; ".join(modes) + "."]
    return "\n".join(lines) + "\n"


def plot(paths: Sequence[str], reports: Sequence[Report], out: str) -> None:
    """Stacked bars of the stage medians, one panel per resolution."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = sizes_in_order(reports)
    short = [os.path.splitext(os.path.basename(p))[0] for p in paths]
    fig, axes = plt.subplots(1, len(sizes), figsize=(max(5.0, 1.6 * len(paths) + 2.5) * len(sizes), 5.0),
                             squeeze=False)
    colors = plt.get_cmap("tab10").colors
    for ax, size in zip(axes[0], sizes):
        bottoms = [0.0] * len(reports)
        for s, stage in enumerate(STAGES):
            heights = [(result_for(r, size)["stages"][stage]["median_ms"] if result_for(r, size) else 0.0)
                       for r in reports]
            ax.bar(range(len(reports)), heights, bottom=bottoms, color=colors[s % len(colors)], label=stage)
            bottoms = [b + h for b, h in zip(bottoms, heights)]
        ax.set_xticks(range(len(reports)))
        ax.set_xticklabels(short, rotation=20, ha="right")
        ax.set_title(size)
        ax.set_ylabel("median ms per frame")
    axes[0][-1].legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small")
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
