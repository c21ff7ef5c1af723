"""HiFill-Edge: HiFill inpainting with Contextual Residual Aggregation on the edge.

Runs on an Atlas 200 DK (numpy, OpenCV, pyACL; Python 3.7) and on desktops
(onnxruntime). Python API::

    from edge_app import Inpainter
    with Inpainter() as inpaint:          # backend "auto", bundled model
        result = inpaint(image, mask)     # uint8 BGR in/out, mask non-zero = hole

The CRA step alone: ``edge_app.cra.compose``. Command line: ``python -m edge_app``.

``Inpainter`` is imported on first use, so the standard-library modules
(``edge_app.atomic``, ``edge_app.config``, ``edge_app.errors``) import
without numpy or OpenCV: the trainer and the exporter use them too.
"""
from .config import AppConfig
from .errors import InpaintError, InpaintWarning, ModelError

__all__ = ["AppConfig", "Inpainter", "InpaintError", "InpaintWarning", "ModelError"]


def __getattr__(name: str):
    """``edge_app.Inpainter``, imported with the pipeline on first use (PEP 562)."""
    if name == "Inpainter":
        from .pipeline import Inpainter
        return Inpainter
    raise AttributeError("module {!r} has no attribute {!r}".format(__name__, name))
