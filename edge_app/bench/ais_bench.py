"""Read a report of Huawei's ``ais_bench`` (the model alone on the NPU) into
the bench report's optional ``model_only`` field (docs/bench_schema.md).

``python3 -m ais_bench --model x.om --loop 100 --output DIR`` times the .om
by itself: no decode, pre-processing, CRA or encode. Its format, as its own
source writes it (repository Ascend/tools, ais-bench_workload/tool/ais_bench:
``ais_bench/infer/summary.py``, ``ais_bench/infer/__main__.py``, ``Readme.md``):

- with ``--output DIR`` a JSON file ``DIR/<YYYY_MM_DD-HH_MM_SS>_summary.json``
  (``DIR/<name>_summary.json`` with ``--output_dirname name``), holding
  ``NPU_compute_time``, ``H2D_latency`` and ``D2H_latency`` as
  ``{"min", "max", "mean", "median", "percentile(99%)", "count"}`` in ms,
  ``throughput`` (1000 x batch size / mean), ``args`` (its command line),
  ``npu_compute_time_list`` and more;
- on the console, a summary block of lines such as
  ``[INFO] NPU_compute_time (ms): min = 2.47, max = 3.93, mean = 3.55, median = 3.72, percentile(99%) = 3.93``
  and ``[INFO] throughput 1000*batchsize.mean(1)/NPU_compute_time.mean(3.55): 281.4``
  (H2D / D2H lines only with ``--display_all_summary 1``).

:func:`read_ais_bench` takes either form, or the ``--output`` folder when it
holds exactly one summary file. Board rules apply: standard library only,
Python 3.7 syntax.
"""
import glob
import json
import math
import os
import re
from typing import Dict, List, Optional

TOOL = "ais_bench"
#: How the figures were read: the --output JSON, or the printed summary lines.
SOURCE_FORMATS = ("summary_json", "printed_summary")
#: ais_bench's names -> the app's stage names (edge_app.timings.STAGES).
SECTIONS = (("NPU_compute_time", "inference"), ("H2D_latency", "h2d"), ("D2H_latency", "d2h"))
NOTE = ("the model alone, timed by ais_bench: NPU_compute_time is the model's execution on the NPU, without the "
        "app's decode, pre-processing, copies, CRA, blend or encode")

# "percentile(99%)"; one later ais_bench writes the key of NPU_compute_time with
# blanks before ")" (a line continuation inside the string in its summary.py).
_PERCENTILE_KEY = re.compile(r"^percentile\((\d+(?:\.\d+)?)%\s*\)$")
_PRINTED = re.compile(r"(?P<section>H2D_latency|NPU_compute_time|D2H_latency) \(ms\): min = (?P<min>[^,\s]+), "
                      r"max = (?P<max>[^,\s]+), mean = (?P<mean>[^,\s]+), median = (?P<median>[^,\s]+), "
                      r"percentile\((?P<pct>[\d.]+)%\) = (?P<p>[^,\s]+)")
_THROUGHPUT = re.compile(r"throughput 1000\*batchsize\.mean\((?P<batch>[^)]*)\)/NPU_compute_time\.mean\([^)]*\): "
                         r"(?P<value>\S+)")
_LOADED = re.compile(r"load model (\S+) success")
_MODEL_FLAGS = ("--model", "-m", "--om-model", "-om")


class AisBenchError(ValueError):
    """An ais_bench report that cannot be read: one line for the user."""


def _number(value, where: str) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise AisBenchError("{}: {!r} is not a number".format(where, value))
    if isinstance(value, bool) or not math.isfinite(x) or x < 0:
        raise AisBenchError("{}: {!r} is not a time >= 0".format(where, value))
    return x


def _timing(values: Dict[str, object], where: str) -> Dict[str, float]:
    """{median_ms, min_ms, max_ms, mean_ms[, p99_ms]} from ais_bench's min / max / mean / median / percentile."""
    timing = {"{}_ms".format(k): _number(values.get(k), "{}.{}".format(where, k))
              for k in ("median", "min", "max", "mean")}
    for key, value in values.items():
        match = _PERCENTILE_KEY.match(str(key))
        if match and float(match.group(1)) == 99:
            timing["p99_ms"] = _number(value, "{}.{}".format(where, key))
    if not timing["min_ms"] <= timing["median_ms"] <= timing["max_ms"]:
        raise AisBenchError("{}: needs min <= median <= max, got {} / {} / {}".format(
            where, timing["min_ms"], timing["median_ms"], timing["max_ms"]))
    return timing


def _model_from_args(args: List[str]) -> Optional[str]:
    for i, arg in enumerate(args):
        if arg in _MODEL_FLAGS and i + 1 < len(args):
            return args[i + 1]
        for flag in _MODEL_FLAGS:
            if arg.startswith(flag + "="):
                return arg[len(flag) + 1:]
    return None


def _from_json(data: dict, where: str) -> Dict[str, object]:
    if not isinstance(data.get("NPU_compute_time"), dict):
        raise AisBenchError("{}: no NPU_compute_time object: not an ais_bench summary".format(where))
    sections = {}  # type: Dict[str, Optional[Dict[str, float]]]
    counts = {}  # type: Dict[str, int]
    for name, stage in SECTIONS:
        values = data.get(name)
        count = values.get("count") if isinstance(values, dict) else None
        if isinstance(values, dict) and count != 0:
            sections[stage] = _timing(values, "{}: {}".format(where, name))
            if isinstance(count, int) and not isinstance(count, bool):
                counts[stage] = count
        else:
            sections[stage] = None  # not measured (count 0) or absent
    if sections["inference"] is None:
        raise AisBenchError("{}: NPU_compute_time.count is 0: ais_bench timed no inference".format(where))
    args = data.get("args")
    args = [str(a) for a in args] if isinstance(args, list) else []
    throughput = data.get("throughput")
    return dict(sections, source_format="summary_json", model=_model_from_args(args),
                command=" ".join(args) or None, count=counts.get("inference"), batch_size=None,
                throughput_per_s=_positive_or_none(throughput))


def _positive_or_none(value) -> Optional[float]:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) and x > 0 else None


def _from_text(text: str, where: str) -> Dict[str, object]:
    found = {}  # type: Dict[str, List[Dict[str, float]]]
    for match in _PRINTED.finditer(text):
        values = {k: match.group(k) for k in ("min", "max", "mean", "median")}
        values["percentile({}%)".format(match.group("pct"))] = match.group("p")
        section = match.group("section")
        found.setdefault(section, []).append(_timing(values, "{}: {}".format(where, section)))
    runs = found.get("NPU_compute_time", [])
    if not runs:
        raise AisBenchError("{}: no 'NPU_compute_time (ms): min = ...' line: not an ais_bench summary (pass the "
                            "*_summary.json it writes with --output, or its printed summary)".format(where))
    if len(runs) > 1:
        raise AisBenchError("{}: {} performance summaries (a run on several devices?): pass the summary of one "
                            "device".format(where, len(runs)))
    throughput = _THROUGHPUT.search(text)
    loaded = _LOADED.search(text)
    sections = {stage: (found[name][0] if name in found else None) for name, stage in SECTIONS}
    return dict(sections, source_format="printed_summary", model=loaded.group(1) if loaded else None,
                command=None, count=None,
                batch_size=_positive_or_none(throughput.group("batch")) if throughput else None,
                throughput_per_s=_positive_or_none(throughput.group("value")) if throughput else None)


def summary_file(path: str) -> str:
    """``path`` itself, or the one ``*_summary.json`` in the folder ``path``."""
    if not os.path.isdir(path):
        if not os.path.isfile(path):
            raise AisBenchError("ais_bench report not found: {}".format(path))
        return path
    found = sorted(glob.glob(os.path.join(path, "*_summary.json")))
    if len(found) != 1:
        raise AisBenchError("{}: holds {} *_summary.json files, pass one of them{}".format(
            path, len(found), ": " + ", ".join(os.path.basename(f) for f in found[:3]) if found else
            " (ais_bench writes one with --output)"))
    return found[0]


def read_ais_bench(path: str) -> Dict[str, object]:
    """The ``model_only`` object of a bench report from an ais_bench summary
    JSON, its printed summary, or its ``--output`` folder; AisBenchError
    (one line) when it is none of them."""
    source = summary_file(path)
    with open(source, errors="replace") as f:
        text = f.read()
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    figures = _from_json(data, source) if isinstance(data, dict) else _from_text(text, source)
    if figures["inference"]["max_ms"] == 0:
        raise AisBenchError("{}: NPU_compute_time is all 0: ais_bench timed no inference".format(source))
    order = ("source_format", "model", "command", "inference", "h2d", "d2h", "count", "batch_size",
             "throughput_per_s")
    result = {"tool": TOOL, "source": source}  # type: Dict[str, object]
    result.update((key, figures[key]) for key in order)
    result["note"] = NOTE
    return result
