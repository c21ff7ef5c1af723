"""What a person sees of a fill, on generated scenes, through the whole app
(the bundled model, the default settings):

- a tree line under an object-sized hole comes back at its height and in
  its colour, not as the average of sky, trees and ground (the fog the
  membrane start gives: ``--fill network``);
- the fill of a texture shows no edges along the borders of CRA's 32 x 32
  cells (cell CRA stamps each cell from elsewhere, with a step at its
  border).
"""
import cv2
import numpy as np
import pytest

from edge_app.pipeline import Inpainter

#: Horizon test bounds: the mean |fill - truth| of the hole's row profile
#: (grey, averaged over the hole's pixels in each row), the lower edge of the
#: band (the row of the profile's largest step) against the truth's, and the
#: band's colour (mean BGR over its rows in the hole) against the truth's.
#: Measured: the default 3.1 / 0 px / 3.3; ``--fill network`` 19.8 / 0 px / 55 (its fog has its
#: largest step at the right row, but neither the band's level nor its colour).
PROFILE_MAX = 10.0
EDGE_ROWS_MAX = 8
BAND_COLOUR_MAX = 15.0


def landscape(height: int = 1024, width: int = 1536, seed: int = 7):
    """Sky (a blue gradient), a dark leafy tree line with a ragged top
    (rows ~470 to 540) and sandy ground, each with its own grain."""
    rng = np.random.default_rng(seed)
    rows = np.arange(height, dtype=np.float32)[:, None, None]
    image = np.broadcast_to(np.array([235.0, 200.0, 150.0]) - 60.0 * rows / height, (height, width, 3)).copy()
    bottom = 540
    ragged = cv2.resize(rng.normal(0, 1, (1, 48)).astype(np.float32), (width, 1), interpolation=cv2.INTER_CUBIC)[0]
    top = (470 + 10 * ragged).astype(int)
    band = (np.arange(height)[:, None] >= top[None, :]) & (np.arange(height)[:, None] < bottom)
    image[band] = (40.0, 70.0, 45.0)
    image[bottom:] = (70.0, 150.0, 160.0)

    def grain(scale: int) -> np.ndarray:
        noise = rng.normal(0, 1, (height // scale, width // scale)).astype(np.float32)
        return cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC)

    image[band] += 18.0 * grain(6)[band][:, None]
    image[bottom:] += 14.0 * grain(3)[bottom:, :, None]
    image += rng.normal(0, 3, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8), bottom


def _profile(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float64)
    rows = np.flatnonzero(hole.any(axis=1))
    return np.array([grey[y][hole[y] != 0].mean() for y in rows])


@pytest.fixture(scope="module")
def horizon():
    image, bottom = landscape()
    hole = np.zeros(image.shape[:2], np.uint8)
    cv2.ellipse(hole, (760, 505), (150, 130), 0, 0, 360, 1, -1)
    with Inpainter() as inpainter:
        frames = inpainter.for_mask(hole)
        inferred = frames.infer(image)
        default = frames.finish(image, inferred)
        fog = Inpainter(backend=inpainter.backend, fill="network").for_mask(hole).finish(image, inferred)
    return image, hole, bottom, default, fog


def _horizon_errors(result, image, hole, bottom):
    profile, truth = _profile(result, hole), _profile(image, hole)
    first = int(np.flatnonzero(hole.any(axis=1))[0])
    edge = first + int(np.argmax(np.abs(np.diff(profile))))
    truth_edge = first + int(np.argmax(np.abs(np.diff(truth))))
    assert abs(truth_edge - bottom) <= 2  # the truth's largest step is the band's lower edge
    rows = np.arange(hole.shape[0])[:, None]
    band = (hole != 0) & (rows >= 485) & (rows < bottom)
    colour = np.abs(result[band].mean(axis=0) - image[band].mean(axis=0)).max()
    return float(np.abs(profile - truth).mean()), abs(edge - truth_edge), float(colour)


@pytest.mark.slow  # runs the 512 model
def test_a_tree_line_under_an_object_sized_hole_comes_back_at_its_height_in_its_colour(horizon):
    image, hole, bottom, default, _ = horizon
    profile, edge, colour = _horizon_errors(default, image, hole, bottom)
    assert profile < PROFILE_MAX, profile
    assert edge <= EDGE_ROWS_MAX, edge
    assert colour < BAND_COLOUR_MAX, colour
    # the average of sky, trees and ground is far from the band's colour: a fog would fail
    rows = np.arange(hole.shape[0])[:, None]
    band = (hole != 0) & (rows >= 485) & (rows < bottom)
    ring = (cv2.dilate(hole, np.ones((41, 41), np.uint8)) != 0) & (hole == 0)
    assert np.abs(image[ring].mean(axis=0) - image[band].mean(axis=0)).max() > 3 * BAND_COLOUR_MAX


@pytest.mark.slow  # runs the 512 model
def test_the_membrane_fill_turns_the_tree_line_to_fog(horizon):
    image, hole, bottom, _, fog = horizon
    profile, edge, colour = _horizon_errors(fog, image, hole, bottom)
    assert profile > PROFILE_MAX and colour > BAND_COLOUR_MAX, (profile, colour)


def texture(height: int, width: int, seed: int = 1) -> np.ndarray:
    """Grey-green grain at several scales (blotches of 256, 32 and 8 px, pixel noise)."""
    rng = np.random.default_rng(seed)
    image = np.zeros((height, width, 3), np.float32)
    for scale, amplitude in ((256, 25), (32, 22), (8, 16), (1, 5)):
        noise = rng.normal(0, 1, (height // scale, width // scale)).astype(np.float32)
        image += amplitude * cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC)[..., None]
    return np.clip(image * np.array([1.0, 0.9, 0.8]) + np.array([110, 130, 120]), 0, 255).astype(np.uint8)


def cell_border_ratio(result: np.ndarray, hole: np.ndarray) -> float:
    """Mean |step| between neighbouring pixels across the borders of CRA's
    32 x 32 cells (edges k * H // 32) inside the hole, over the mean step
    elsewhere inside it: about 1 without a grid."""
    height, width = hole.shape
    grey = cv2.cvtColor(result, cv2.COLOR_BGR2GRAY).astype(np.float32)
    inner = cv2.erode(hole, np.ones((5, 5), np.uint8)) != 0
    steps_x, steps_y = np.abs(np.diff(grey, axis=1)), np.abs(np.diff(grey, axis=0))
    border_x = np.zeros(width - 1, bool)
    border_x[np.arange(1, 32) * width // 32 - 1] = True
    border_y = np.zeros(height - 1, bool)
    border_y[np.arange(1, 32) * height // 32 - 1] = True
    in_x, in_y = inner[:, 1:] & inner[:, :-1], inner[1:] & inner[:-1]
    on = np.concatenate([steps_x[in_x & border_x[None, :]], steps_y[in_y & border_y[:, None]]])
    off = np.concatenate([steps_x[in_x & ~border_x[None, :]], steps_y[in_y & ~border_y[:, None]]])
    return float(on.mean() / off.mean())


#: Cell-border ratio bounds. Measured on this texture (4096 x 2304, a
#: 1300 x 900 hole): the truth 1.04, the default 1.04; cell CRA with the
#: texture model and --detail 3 (its sharpest borrowing) 1.25.
GRID_RATIO_MAX = 1.1


@pytest.mark.slow  # runs the 512 model at 4K
def test_no_edges_along_the_cells_of_cra():
    height, width = 2304, 4096
    image = texture(height, width)
    hole = np.zeros((height, width), np.uint8)
    hole[700:1600, 1400:2700] = 1
    assert cell_border_ratio(image, hole) < GRID_RATIO_MAX
    with Inpainter(thin_width=0) as inpainter:
        assert cell_border_ratio(inpainter(image, hole), hole) < GRID_RATIO_MAX
    with Inpainter("edge_app/models/hifill_texture.onnx", fill="network", attention_power=3.0,
                   thin_width=0) as cells:
        assert cell_border_ratio(cells(image, hole), hole) > GRID_RATIO_MAX


#: The largest share of the hole's fill taken from one 16 x 16 cell of the
#: 512 view. Measured on the texture above: the default's completion 0.019
#: (its sources spread over 381 cells); cell CRA with the texture model and
#: --detail 3: 0.126 of the hole rows' weight on one context cell, the top
#: cell of 19 % of the hole's cells (the stamped repeats).
ONE_CELL_SHARE_MAX = 0.05


@pytest.mark.slow  # runs the 512 model
def test_no_context_cell_is_stamped_over_the_hole():
    from edge_app.completion import complete_view
    from edge_app.cra.residual import sharpen_rows
    from edge_app.interface import ATTENTION_GRID
    from edge_app.preprocess import small_hole

    height, width = 2304, 4096
    image = texture(height, width)
    hole = np.zeros((height, width), np.uint8)
    hole[700:1600, 1400:2700] = 1
    view_hole = small_hole(hole)
    done = complete_view(cv2.resize(image, (512, 512), interpolation=cv2.INTER_AREA), view_hole)
    ty, tx = done.targets
    sy, sx = done.sources
    in_hole = view_hole[ty, tx] != 0
    cell = 512 // ATTENTION_GRID
    used = np.bincount((sy[in_hole] // cell) * ATTENTION_GRID + sx[in_hole] // cell)
    assert used.max() / in_hole.sum() < ONE_CELL_SHARE_MAX
    with Inpainter("edge_app/models/hifill_texture.onnx") as cells:
        attention = np.asarray(cells.for_mask(hole).infer(image).outputs[1]).reshape(ATTENTION_GRID ** 2, -1)
    hole_cells = cv2.resize(view_hole.astype(np.float32), (ATTENTION_GRID,) * 2, interpolation=cv2.INTER_AREA)
    rows = sharpen_rows(attention[hole_cells.reshape(-1) > 0], 3.0)
    assert rows.sum(axis=0).max() / rows.sum() > ONE_CELL_SHARE_MAX
