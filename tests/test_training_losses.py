"""Critic shape, loss formulas (spec section 5) and gradient flow."""
import pytest
import torch

from training.config import DiscriminatorConfig, LossConfig
from training.discriminator import Discriminator
from training.losses import critic_loss, generator_losses, gradient_penalty, hole_l1, known_l1


@pytest.mark.parametrize("size", [64, 96, 128])
def test_discriminator_output_shape(size):
    d = Discriminator(size)
    assert d(torch.zeros(3, 3, size, size)).shape == (3,)
    side = size
    for _ in range(6):
        side = (side + 1) // 2
    assert d.linear.in_features == 256 * side * side
    with pytest.raises(ValueError, match="critic built for"):
        d(torch.zeros(1, 3, size + 32, size + 32))


def test_discriminator_layers_follow_config():
    convs = [m for m in Discriminator(128).modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == list(DiscriminatorConfig().channels)
    assert all(c.kernel_size == (5, 5) and c.stride == (2, 2) for c in convs)


def _case():
    truth = torch.zeros(1, 3, 2, 2)
    coarse = torch.full((1, 3, 2, 2), 0.5)
    refined = torch.full((1, 3, 2, 2), 0.25)
    mask = torch.tensor([[[[1.0, 0.0], [0.0, 0.0]]]])  # one hole pixel of four
    return truth, coarse, refined, mask


def test_reconstruction_losses_match_hand_computation():
    truth, coarse, refined, mask = _case()
    # mean over 12 elements: hole part has 3 elements.
    expected_l1 = 1.2 * (0.5 * 3 / 12) + (0.25 * 3 / 12)
    expected_ae = (1.2 * (0.5 * 9 / 12) + (0.25 * 9 / 12)) / 0.75
    assert hole_l1(truth, coarse, refined, mask).item() == pytest.approx(expected_l1)
    assert known_l1(truth, coarse, refined, mask).item() == pytest.approx(expected_ae)
    # the reference's weighting ...
    reference = LossConfig(l1_weight=1.2, ae_weight=1.2, hole_normalised=False)
    out = generator_losses(truth, coarse, refined, mask, reference)
    assert out["total"].item() == pytest.approx(1.2 * expected_l1 + 1.2 * expected_ae)
    assert "g_adv" not in out
    # ... and the default: the hole term per hole pixel (hole = 1/4 of the image), ae weighted 0.3
    out = generator_losses(truth, coarse, refined, mask, LossConfig())
    assert out["l1"].item() == pytest.approx(expected_l1 / 0.25)
    assert out["total"].item() == pytest.approx(1.2 * expected_l1 / 0.25 + 0.3 * expected_ae)


class _Linear(torch.nn.Module):
    """D(x) = sum(w * x): its input gradient is w everywhere."""

    def __init__(self, w: float) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.tensor(w))

    def forward(self, x):
        return (self.w * x).flatten(1).sum(1)


def test_adversarial_terms_match_formulas():
    truth, coarse, refined, mask = _case()
    critic = _Linear(0.5)
    out = generator_losses(truth, coarse, refined, mask, LossConfig(), critic)
    fake = refined * mask + truth * (1 - mask)  # 0.25 in the hole pixel, 3 channels
    assert out["g_adv"].item() == pytest.approx(-0.5 * 0.25 * 3)
    cfg = LossConfig()
    assert out["total"].item() == pytest.approx(
        0.001 * out["g_adv"].item() + cfg.l1_weight * out["l1"].item() + cfg.ae_weight * out["ae"].item())
    d = critic_loss(critic, truth, fake, gp_weight=10.0)
    slope = 0.5 * 12 ** 0.5  # ||grad|| = |w| * sqrt(#elements)
    assert d["gp"].item() == pytest.approx((slope - 1) ** 2, rel=1e-5)
    assert d["d"].item() == pytest.approx(0.5 * 0.75 - 0.0 + 10 * (slope - 1) ** 2, rel=1e-5)


def test_gradient_penalty_trains_the_critic_and_is_seeded():
    real, fake = torch.rand(2, 3, 64, 64), torch.rand(2, 3, 64, 64)
    d = Discriminator(64)
    a = gradient_penalty(d, real, fake, torch.Generator().manual_seed(3))
    b = gradient_penalty(d, real, fake, torch.Generator().manual_seed(3))
    assert a.item() == b.item()
    loss = critic_loss(d, real, fake)["d"]
    loss.backward()
    for name, p in d.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        if name != "linear.bias":  # cancels in D(fake) - D(real), absent from the penalty
            assert p.grad.abs().sum() > 0, name


def test_generator_adversarial_gradient_reaches_generator_output_only_in_hole():
    truth = torch.rand(1, 3, 64, 64) * 2 - 1
    refined = torch.zeros(1, 3, 64, 64, requires_grad=True)
    mask = torch.zeros(1, 1, 64, 64)
    mask[..., 16:48, 16:48] = 1
    out = generator_losses(truth, refined.detach(), refined, mask, LossConfig(l1_weight=0, ae_weight=0),
                           Discriminator(64))
    out["total"].backward()
    assert refined.grad[..., 16:48, 16:48].abs().sum() > 0
    outside = refined.grad.clone()
    outside[..., 16:48, 16:48] = 0
    assert outside.abs().sum() == 0
