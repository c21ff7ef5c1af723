"""Stage timings: the one vocabulary of stage names, in pipeline order.

The Inpainter, its backends, the stream loop, the CLI's ``--timings``, the
serve page and the bench report (docs/bench_schema.md) all record seconds
per stage in a ``Timings`` dict under these names.
"""
from typing import Dict, List, Mapping, Tuple

#: The stages of one frame, in pipeline order:
#: decode: image and mask files to arrays;
#: preprocess: ROI crop, 512 image and mask tensors;
#: h2d: the input tensors to the accelerator;
#: inference: the model run;
#: d2h: the outputs back to the host;
#: cra: the output frame's copy, CRA plan, upsampling, residual and aggregation
#: (with --fill patches also the completion of the 512 view, edge_app.completion,
#: and the transfer of detail through it, edge_app.cra.dense);
#: blend: the soft-mask blend into the frame, and the thin parts of the hole
#: filled at native resolution (edge_app.thin_holes);
#: (frames that reuse the network's outputs, edge_app.reuse: the light fit
#: and the change counts are preprocess, composing a fill again is cra,
#: drawing the fill into the frame is blend; the network's runs on its own
#: thread are no frame's: the stream reports them apart)
#: encode: the result to its file format.
STAGES = ("decode", "preprocess", "h2d", "inference", "d2h", "cra", "blend", "encode")

#: The copies to and from the accelerator: a backend that cannot time them
#: apart (onnxruntime copies inside its run) leaves them out, and their time
#: is in "inference".
COPIES = ("h2d", "d2h")

#: Seconds per stage (a subset of STAGES).
Timings = Dict[str, float]


def in_order(timings: Mapping[str, float]) -> List[Tuple[str, float]]:
    """(stage, seconds) in pipeline order; ValueError for a name that is not a stage."""
    unknown = sorted(set(timings) - set(STAGES))
    if unknown:
        raise ValueError("unknown stage(s) {}: the stages are {}".format(", ".join(unknown), ", ".join(STAGES)))
    return [(stage, timings[stage]) for stage in STAGES if stage in timings]
