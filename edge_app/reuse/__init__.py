"""Reuse of the network's outputs over the frames of one mask (a fixed
camera and a fixed obstruction: the stream, the serve page's live preview,
the bench's stream).

The network is most of a frame's time, yet in front of a fixed camera the
view around a fixed hole seldom changes. So a mask's frames keep the last
network outputs (512 fill, attention, blend mask) and the CRA work that
depends only on them (the plan and the composed fill), and make every frame
from them and the current frame: the fill follows the current frame's light
(a gain and offset varying smoothly over the view, fitted on the known ring
around the hole and a sparse grid of the rest),
CRA's residuals are taken from the current frame when the context they
borrow from changed, and the network runs again on its own thread, never
holding a frame back, when the view around the hole changed, at the latest
every ``reuse_max_age`` seconds, and at once on a scene change; its new
outputs are cross-faded in. Settings: the "stream reuse" section of
edge_app.config.AppConfig.

Modules: ``light`` (the light correction), ``change`` (what changed in the
view), ``runner`` (the network's own thread), ``fill`` (a composed fill and
its drawing into a frame), ``frames`` (the decisions of each frame).
"""
from .fill import Cells, Fill, draw
from .frames import FrameReuse

__all__ = ["Cells", "Fill", "FrameReuse", "draw"]
