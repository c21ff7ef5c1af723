"""What ATC of CANN 5.0.4 (the Atlas 200 DK era) accepts in an ONNX graph.

The single table of the pre-flight check (spec ascend.md section 4). The
CLI's help text is generated from it too, so the two never drift apart.
"""
from __future__ import annotations

import textwrap
from typing import Dict, FrozenSet, Tuple

#: The only ONNX opset ATC of CANN 5.0.x / 6.0.x parses (default domain).
OPSET = 11

#: ONNX operators ATC of CANN 5.0.4 converts (spec ascend.md section 4).
SUPPORTED_OPS: FrozenSet[str] = frozenset("""
Abs Acos Acosh Add And ArgMax ArgMin Asin Asinh Atan Atanh AveragePool
BatchNormalization Cast Ceil Celu Clip Concat Constant ConstantOfShape Conv
ConvTranspose Cos Cosh CumSum DepthToSpace Div Dropout Elu Equal Erf Exp
Expand EyeLike Flatten Floor Gather GatherElements GatherND Gemm
GlobalAveragePool GlobalLpPool GlobalMaxPool Greater GreaterOrEqual
HardSigmoid Hardmax HardSwish Identity If InstanceNormalization LRN LSTM
LeakyRelu Less LessOrEqual Log LogSoftmax LpNormalization LpPool MatMul Max
MaxPool MaxRoiPool MaxUnpool Mean MeanVarianceNormalization Min Mod Mul
Multinomial Neg NonMaxSuppression NonZero Not OneHot Or PRelu Pad Pow
RandomNormalLike RandomUniform RandomUniformLike Range Reciprocal ReduceL1
ReduceL2 ReduceLogSum ReduceLogSumExp ReduceMax ReduceMean ReduceMin
ReduceProd ReduceSum ReduceSumSquare Relu Reshape Resize ReverseSequence
RoiAlign Round Scatter ScatterElements ScatterND Selu Shape Shrink Sigmoid
Sign Sin Sinh Size Slice Softmax Softplus Softsign SpaceToDepth Split Sqrt
Squeeze Sub Sum Tanh TfIdfVectorizer ThresholdedRelu Tile TopK Transpose
Unsqueeze Where Xor
""".split())

#: Operators that parse but have data-dependent output shapes, which the
#: 310's static pipeline cannot compile.
DATA_DEPENDENT_OPS: FrozenSet[str] = frozenset({"NonZero"})

#: Resize modes ATC maps onto ResizeBilinearV2 / ResizeNearestNeighborV2.
RESIZE_MODES: FrozenSet[str] = frozenset({"nearest", "linear"})

#: Resize coordinate modes accepted here. CANN 5.0.4 maps Resize onto TF-style
#: kernels with two switches (align_corners, half_pixel_centers); these three
#: modes are exactly what those switches express. ``pytorch_half_pixel``
#: (differs only for output size 1) and ``tf_crop_and_resize`` are only
#: documented for later CANN releases, so they are rejected to be safe.
RESIZE_COORDINATE_MODES: FrozenSet[str] = frozenset({"half_pixel", "asymmetric", "align_corners"})

#: (operator, input indices) that must be constants (initializers or Constant
#: nodes) for a static graph: shapes, pads, slice bounds, resize scales.
CONSTANT_INPUTS: Dict[str, Tuple[int, ...]] = {
    "Reshape": (1,),
    "Resize": (1, 2, 3),
    "Slice": (1, 2, 3, 4),
    "Pad": (1, 2),
    "Tile": (1,),
    "Expand": (1,),
    "ConstantOfShape": (0,),
    "Clip": (1, 2),
}

#: Operators whose weight input (index 1) must be a constant, not data.
WEIGHT_OPS: FrozenSet[str] = frozenset({"Conv", "ConvTranspose"})


def help_text() -> str:
    """The rules of ``python -m convert check``, for the CLI's --help."""
    ops = sorted(SUPPORTED_OPS)
    return "\n".join([
        f"Rules (ATC, CANN 5.0.4): opset {OPSET} (default domain); static shapes on inputs,",
        "outputs and every inferred value; Conv/ConvTranspose weights constant;",
        f"Resize mode {'/'.join(sorted(RESIZE_MODES))}, coordinate mode",
        f"{'/'.join(sorted(RESIZE_COORDINATE_MODES))}, constant scales/sizes, H and W only;",
        "shape-like inputs constant (" + ", ".join(sorted(CONSTANT_INPUTS)) + ");",
        f"no data-dependent shapes ({', '.join(sorted(DATA_DEPENDENT_OPS))}).",
        f"Supported operators ({len(ops)}):",
        textwrap.fill(" ".join(ops), width=78, initial_indent="  ", subsequent_indent="  "),
    ])
