"""Contextual Residual Aggregation at the frame's native size (spec hifill.md 6).

The network works on a 512 x 512 copy; this package brings its result back to
the full frame and borrows the high frequencies the copy lost from the known
parts of the frame, weighted by the network's 1024 x 1024 attention.

Unlike the reference (resize every photo to a fixed square, full-frame float
residual, dense 1024 x 1024 product, resize back, blend everything) it keeps
the native size and aspect ratio and touches only what the hole needs:

- the frame is cut into a 32 x 32 grid of cells with edges ``k * H // 32``
  (cells differ by at most one pixel when the size is not divisible by 32);
  patches are taken at the largest cell size (ph x pw) from each cell's
  top-left corner, clamped at the frame's edge, so all have one length;
- attention rows = "active" cells, those where the soft blend mask is above
  ``soft_floor``; in each row the smallest weights are dropped while their
  sum stays <= ``prune_mass`` (error <= 255 * prune_mass grey levels), after
  an optional sharpening (``attention_power``: the rows to that power,
  renormalised);
- ``result = clip(up(inpainted) + A @ R, 0, 255)`` with the residual
  ``R = (I - up(small)) * (1 - M)`` is rounded and blended with the
  original, ``out = result * soft + I * (1 - soft)``, where ``soft`` follows
  the full-res hole: 1 in it, falling to 0 within ``feather`` pixels outside
  it (see CraPlan._ramp), and never above the 512 blend mask upsampled (the early
  rounding costs at most half a grey level where 0 < soft < 1); every pixel
  where soft <= soft_floor is returned bit-identical. Deliberate difference
  from the reference, which blended with the upsampled 512 mask alone: that
  mask covers known pixels up to a 512 pixel (and its blur) beyond the hole,
  which came back as the blurry fill with a staircase edge.

The product goes by chunks of active cells (``chunk_cells``), by matrix
products for flat rows (an untrained network's) and term by term for peaked
rows (a trained network's), where most terms need no full-resolution
residual (see ``terms``). Memory stays bounded at 8K: no full-frame float
array is made.

Modules: ``plan`` (grid, interpolation rows, active cells and their soft
mask), ``residual`` (pruning of the attention rows, the residual of the
context cells), ``terms`` (the product strategies and the choice between
them), ``threads`` (worker threads, OpenCV's threads), ``composer``
(``compose``: checks, orchestration, rounding and blending).
"""
from .composer import blend_cell, compose
from .plan import CraPlan
from .residual import prune_rows, sharpen_rows
from .threads import default_threads

__all__ = ["CraPlan", "blend_cell", "compose", "default_threads", "prune_rows", "sharpen_rows"]
