"""``python -m edge_app bench``: per-stage timings of the pipeline on one machine.

For each frame size: a realistic frame (generated texture and an irregular
obstruction mask of about 10 %, or --image/--mask resized), encoded as JPEG
and PNG in memory, then, over --runs timed runs after --warmup untimed ones,
the median / min / max of every stage (edge_app.timings.STAGES: decode,
preprocess, h2d, inference, d2h, cra, blend, encode), the end-to-end time of
a whole frame through the app, and the frames/s of the stream loop. The
report (docs/bench_schema.md, SCHEMA_VERSION) also records the machine: CPU,
accelerator, onnxruntime and CANN versions, backend and precision (the
backend says which accelerator, precision and providers it runs on). With
--ais-bench it also holds ais_bench's figures of the model alone.

One job a module: ``schema`` (the report's schema and validator),
``machine`` (probes of the machine), ``frames`` (the test frames),
``measure`` (the measurements at one frame size), ``report`` (a whole run
into a report), ``ais_bench`` (reading an ais_bench report), ``cli`` (the
options). Board rules apply: numpy and OpenCV, onnxruntime or acl imported
lazily, Python 3.7 syntax.
"""
from .cli import add_parser, main, run
from .schema import SCHEMA_VERSION, upgrade_report, validate_report

__all__ = ["SCHEMA_VERSION", "add_parser", "main", "run", "upgrade_report", "validate_report"]
