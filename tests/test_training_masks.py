"""Training masks: hole-ratio ranges, reproducibility, folder templates."""
import cv2
import numpy as np
import pytest

from training.config import MaskConfig
from training.masks import FolderMasks, MaskGenerator, fit_ratio, free_form_mask, lama_mask, rectangle_mask

SIZE = 128
RANGE = (0.05, 0.5)


def _rng(seed):
    return np.random.default_rng(seed)


@pytest.mark.parametrize("fn", [free_form_mask, lama_mask, rectangle_mask])
@pytest.mark.parametrize("lo,hi", [RANGE, (0.3, 0.35)])
def test_stroke_masks_stay_in_range(fn, lo, hi):
    ratios = []
    for seed in range(60):
        m = fn(_rng(seed), SIZE, lo, hi)
        assert m.shape == (SIZE, SIZE) and m.dtype == np.float32
        assert set(np.unique(m)) <= {0.0, 1.0}
        ratios.append(m.mean())
    assert lo <= min(ratios) and max(ratios) <= hi
    assert np.std(ratios) > 0  # not one fixed mask


def test_masks_are_reproducible_for_a_seed():
    gen = MaskGenerator(MaskConfig(), SIZE)
    a = [gen(_rng(s)) for s in range(10)]
    b = [gen(_rng(s)) for s in range(10)]
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[0], a[1])


def test_fit_ratio_shrinks_and_grows_into_range():
    full = np.ones((SIZE, SIZE), np.float32)
    empty = np.zeros((SIZE, SIZE), np.float32)
    dot = empty.copy()
    dot[60:64, 60:64] = 1
    for m in (full, empty, dot):
        out = fit_ratio(m, _rng(0), 0.1, 0.2)
        assert 0.1 <= out.mean() <= 0.2


def _templates(folder, hole_white=True):
    folder.mkdir()
    for i in range(3):
        img = np.zeros((90, 120), np.uint8)
        cv2.ellipse(img, (60, 45), (20 + 10 * i, 15 + 5 * i), 30 * i, 0, 360, 255, -1)
        cv2.imwrite(str(folder / f"m{i}.png"), img if hole_white else 255 - img)
    (folder / "broken.png").write_bytes(b"not an image")
    return folder


@pytest.mark.parametrize("convention", ["white", "black"])
def test_folder_masks_conventions_and_range(tmp_path, convention):
    folder = _templates(tmp_path / "masks", hole_white=convention == "white")
    masks = FolderMasks(str(folder), convention)
    assert len(masks.templates) == 3
    ratios = [masks(_rng(s), SIZE, *RANGE).mean() for s in range(40)]
    assert RANGE[0] <= min(ratios) and max(ratios) <= RANGE[1]
    # The ellipses cover well under half of the template: the hole is the ellipse.
    assert np.mean(ratios) < 0.35


def test_folder_masks_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="mask folder not found"):
        FolderMasks(str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no usable mask image"):
        FolderMasks(str(tmp_path / "empty"))
    with pytest.raises(ValueError, match="mask_hole"):
        FolderMasks(str(tmp_path / "empty"), "grey")


def test_mixed_generator_uses_the_configured_kinds(tmp_path):
    folder = _templates(tmp_path / "masks")
    cfg = MaskConfig(free_form=0.0, lama=0.0, folder=1.0, mask_dir=str(folder), hole_ratio=(0.1, 0.4))
    gen = MaskGenerator(cfg, SIZE)
    assert gen.names[int(np.argmax(gen.probs))] == "folder" and gen.probs.max() == 1.0
    for s in range(20):
        assert 0.1 <= gen(_rng(s)).mean() <= 0.4
    with pytest.raises(ValueError, match="mask_dir"):
        MaskGenerator(MaskConfig(folder=1.0), SIZE)
    with pytest.raises(ValueError, match="all kind probabilities are zero"):
        MaskGenerator(MaskConfig(free_form=0, lama=0), SIZE)
    with pytest.raises(ValueError, match="hole_ratio"):
        MaskGenerator(MaskConfig(hole_ratio=(0.6, 0.2)), SIZE)
