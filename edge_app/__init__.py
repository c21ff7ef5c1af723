"""HiFill-Edge: HiFill inpainting with Contextual Residual Aggregation on the edge.

Runs on an Atlas 200 DK (numpy, OpenCV, pyACL; Python 3.7) and on desktops
(onnxruntime). Python API::

    from edge_app import Inpainter
    with Inpainter() as inpaint:          # backend "auto", bundled model
        result = inpaint(image, mask)     # uint8 BGR in/out, mask non-zero = hole

The CRA step alone: ``edge_app.cra.compose``. Command line: ``python -m edge_app``.
"""
from .config import AppConfig
from .errors import InpaintError, InpaintWarning, ModelError
from .pipeline import Inpainter

__all__ = ["AppConfig", "Inpainter", "InpaintError", "InpaintWarning", "ModelError"]
