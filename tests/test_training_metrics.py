"""Metric sanity: identities, monotonic under noise, reference SSIM, size limits."""
import math

import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from training import metrics


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _pair(size=192, noise=0.05, seed=0):
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")
    x = torch.stack([yy, xx, (yy + xx) / 2])[None].repeat(2, 1, 1, 1)
    y = (x + noise * torch.randn(x.shape, generator=g)).clamp(0, 1)
    return x, y


def test_identical_images_score_perfectly():
    x, _ = _pair()
    assert torch.allclose(metrics.ssim(x, x), torch.ones(2))
    assert torch.allclose(metrics.ms_ssim(x, x), torch.ones(2))
    assert torch.isinf(metrics.psnr(x, x)).all()
    assert metrics.l1(x, x).abs().max() == 0


def test_more_noise_scores_worse():
    x, small = _pair(noise=0.02)
    _, large = _pair(noise=0.2)
    for fn in (metrics.ssim, metrics.ms_ssim, metrics.psnr):
        assert (fn(x, small) > fn(x, large)).all(), fn.__name__
        assert (fn(x, large) < fn(x, x)).all(), fn.__name__
    assert (metrics.l1(x, small) < metrics.l1(x, large)).all()


def test_psnr_and_l1_values():
    x = torch.zeros(1, 3, 16, 16)
    y = torch.full_like(x, 0.1)
    assert metrics.psnr(x, y).item() == pytest.approx(20.0, abs=1e-4)
    mask = torch.zeros(1, 1, 16, 16)
    mask[..., :4, :] = 1
    y[..., :4, :] = 0.5
    assert metrics.l1(x, y, mask).item() == pytest.approx(0.5)
    assert metrics.l1(x, y).item() == pytest.approx(0.25 * 0.5 + 0.75 * 0.1)


def test_ssim_matches_scikit_image():
    x, y = _pair(size=64, noise=0.1, seed=3)
    a = x[0].permute(1, 2, 0).double().numpy()
    b = y[0].permute(1, 2, 0).double().numpy()
    ref = structural_similarity(a, b, channel_axis=2, data_range=1.0, gaussian_weights=True, sigma=1.5,
                                use_sample_covariance=False)
    assert metrics.ssim(x[:1], y[:1]).item() == pytest.approx(ref, abs=1e-6)


def test_ms_ssim_scales_and_size_limits():
    assert metrics.max_ms_ssim_scales(176, 400) == 5
    assert metrics.max_ms_ssim_scales(175, 400) == 4
    assert metrics.max_ms_ssim_scales(128, 128) == 4
    assert metrics.max_ms_ssim_scales(64, 64) == 3
    assert metrics.max_ms_ssim_scales(10, 64) == 0
    x, y = _pair(size=64)
    with pytest.raises(ValueError, match="scales=3"):
        metrics.ms_ssim(x, y)
    assert 0 < metrics.ms_ssim(x, y, scales=3).min() < 1
    # One scale is plain SSIM.
    assert torch.allclose(metrics.ms_ssim(x, y, scales=1), metrics.ssim(x, y), atol=1e-6)
    with pytest.raises(ValueError, match="at least 11x11"):
        metrics.ssim(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 8))
    with pytest.raises(ValueError, match="same shape|one shape"):
        metrics.psnr(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 9))


def test_metrics_work_on_non_square_images():
    x, y = _pair(size=192)
    x, y = x[..., :180, :], y[..., :180, :]
    for value in (metrics.ssim(x, y), metrics.ms_ssim(x, y), metrics.psnr(x, y)):
        assert value.shape == (2,) and np.isfinite(value.numpy()).all() and math.isfinite(value[0].item())
