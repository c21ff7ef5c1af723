"""The classical fill inside the generator: an untrained generator is
already a membrane (harmonic) inpainter, never a grey one."""
import cv2
import numpy as np
import pytest
import torch

from training.config import ModelConfig
from training.model import build_generator
from training.prefill import MembraneFill, pyramid_levels

FILL = MembraneFill(*ModelConfig().prefill_iters)  # the generator's own settings


def _blob_mask(size: int, seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    m = np.zeros((size, size), np.uint8)
    for _ in range(4):
        cx, cy = rng.integers(size // 5, 4 * size // 5, 2)
        cv2.ellipse(m, (int(cx), int(cy)), (size // 9, size // 13), float(rng.uniform(0, 180)), 0, 360, 1, -1)
    cv2.line(m, (0, size // 3), (size - 1, size // 2), 1, 3)
    return torch.from_numpy(m).float()[None, None]


def _smooth_photo(size: int, seed: int = 0) -> np.ndarray:
    """A smooth colour field (sky-like gradients), BGR uint8."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(30, 230, (4, 4, 3)).astype(np.uint8)
    return cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC)


def _to_net(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(img).permute(2, 0, 1)[None].float() / 127.5 - 1.0


def test_pyramid_levels():
    assert pyramid_levels(512, 512) == 9
    assert pyramid_levels(256, 384) == 7  # 2 x 3 after seven halvings
    assert pyramid_levels(96, 64) == 5


def test_constant_colour_is_filled_exactly_not_grey():
    x = torch.tensor([0.6, -0.3, 0.1]).reshape(1, 3, 1, 1).expand(1, 3, 128, 128).clone()
    m = _blob_mask(128)
    filled = FILL(x, m)
    assert torch.allclose(filled, x, atol=2e-3)


def test_known_pixels_are_returned_unchanged():
    x = torch.rand(2, 3, 64, 96) * 2 - 1
    m = torch.zeros(2, 1, 64, 96)
    m[..., 10:40, 20:70] = 1
    filled = FILL(x, m)
    known = m.expand_as(x) == 0
    assert torch.equal(filled[known], x[known])


def test_linear_ramp_is_continued():
    """Harmonic functions include linear ones: a ramp's hole is filled with the ramp."""
    ramp = torch.linspace(-0.8, 0.8, 128)
    x = (ramp[None, :] * 0.5 + ramp[:, None] * 0.4).expand(1, 3, 128, 128).clone()
    m = torch.zeros(1, 1, 128, 128)
    m[..., 50:80, 40:90] = 1
    err = (FILL(x, m) - x).abs()[m.expand_as(x) > 0]
    assert err.mean() < 0.01  # 1.3 grey levels of 255


def test_no_known_pixel_gives_zeros():
    x = torch.rand(1, 3, 32, 32)
    assert torch.equal(FILL(x, torch.ones(1, 1, 32, 32)), torch.zeros_like(x))


def test_untrained_generator_returns_the_classical_fill():
    """Zero-initialised corrections: the untrained generator's output in the
    hole is the membrane fill, within 2 grey levels of OpenCV's Navier-Stokes
    on a smooth photo and far from a grey fill."""
    torch.manual_seed(0)
    g = build_generator().eval()
    size = 256
    img = _smooth_photo(size)
    m = _blob_mask(size, seed=3)
    x = _to_net(img)
    with torch.no_grad():
        coarse, refined, _ = g(x, m)
    prefill = FILL(x, m)
    hole = m.expand_as(x) > 0
    assert torch.allclose(refined[hole], prefill[hole], atol=1e-5)
    assert torch.allclose(coarse[hole], prefill[hole], atol=1e-5)
    ours = ((refined[0].permute(1, 2, 0) + 1) * 127.5).numpy()
    hole_np = m[0, 0].numpy() > 0
    ns = cv2.inpaint(img, hole_np.astype(np.uint8) * 255, 3, cv2.INPAINT_NS).astype(np.float32)
    truth = img.astype(np.float32)
    ours_err = np.abs(ours - truth)[hole_np].mean()
    ns_err = np.abs(ns - truth)[hole_np].mean()
    grey_err = np.abs(127.5 - truth)[hole_np].mean()
    print(f"L1 in hole (grey levels): untrained generator {ours_err:.2f}, Navier-Stokes {ns_err:.2f}, grey {grey_err:.2f}")
    assert ours_err <= ns_err + 2.0
    assert ours_err < 0.25 * grey_err


def test_release_design_without_prefill_starts_from_zeros():
    torch.manual_seed(0)
    g = build_generator(ModelConfig(prefill=False)).eval()
    assert g.prefill is None
    x = _to_net(_smooth_photo(128))
    m = _blob_mask(128)
    with torch.no_grad():
        _, refined, _ = g(x, m)
    hole = m.expand_as(x) > 0
    assert not torch.allclose(refined[hole], FILL(x, m)[hole], atol=0.05)


@pytest.mark.parametrize("stored,expected", [({}, False), ({"prefill": True}, True)])
def test_checkpoints_before_the_prefill_load_as_the_release_design(stored, expected):
    from training.checkpoint import model_config_from

    assert model_config_from({"config": {"model": stored}}).prefill is expected
