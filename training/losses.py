"""Losses of the reference recipe (spec hifill.md section 5).

All images are (B, 3, H, W) in [-1, 1]; ``mask`` is (B, 1, H, W), hole = 1.
Means are over every element (the mask broadcast over channels), exactly
as the formulas read; ``ae`` is normalised by the known fraction.
"""
from __future__ import annotations

from typing import Callable, Dict, Optional

import torch

from .attention import key_validity
from .attention_target import attention_kl, expected_cost, match_costs, target_rows, top_weight
from .config import LossConfig


def hole_l1(truth: torch.Tensor, coarse: torch.Tensor, refined: torch.Tensor, mask: torch.Tensor,
            coarse_weight: float = 1.2, normalise: bool = False) -> torch.Tensor:
    """``coarse_weight * mean(|y-x1| m) + mean(|y-x2| m)``; with ``normalise``
    divided by ``mean(m)`` (the mean error per hole pixel, whatever the
    hole's size)."""
    total = (coarse_weight * torch.mean(torch.abs(truth - coarse) * mask)
             + torch.mean(torch.abs(truth - refined) * mask))
    return total / torch.clamp(torch.mean(mask), min=1e-6) if normalise else total


def known_l1(truth: torch.Tensor, coarse: torch.Tensor, refined: torch.Tensor, mask: torch.Tensor,
             coarse_weight: float = 1.2) -> torch.Tensor:
    """``(coarse_weight * mean(|y-x1|(1-m)) + mean(|y-x2|(1-m))) / mean(1-m)``."""
    known = 1.0 - mask
    total = (coarse_weight * torch.mean(torch.abs(truth - coarse) * known)
             + torch.mean(torch.abs(truth - refined) * known))
    return total / torch.mean(known)


def gradient_penalty(critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor,
                     fake: torch.Tensor, generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """WGAN-GP: ``mean((||grad D(interp)||_2 - 1)^2)`` on random interpolates.

    One uniform weight per sample; the graph is kept so the penalty trains D.
    """
    alpha = torch.rand(real.shape[0], 1, 1, 1, generator=generator, dtype=real.dtype)
    alpha = alpha.to(real.device)
    interp = (alpha * real + (1.0 - alpha) * fake).requires_grad_(True)
    score = critic(interp)
    (grad,) = torch.autograd.grad(score.sum(), interp, create_graph=True)
    slopes = torch.sqrt(torch.sum(grad.float() ** 2, dim=(1, 2, 3)) + 1e-12)
    return torch.mean((slopes - 1.0) ** 2)


def critic_loss(critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor, fake: torch.Tensor,
                gp_weight: float = 10.0, generator: Optional[torch.Generator] = None
                ) -> Dict[str, torch.Tensor]:
    """``d = mean(D(fake)) - mean(D(real)) + gp_weight * GP``; ``fake`` is detached."""
    fake = fake.detach()
    d_real = critic(real).float().mean()
    d_fake = critic(fake).float().mean()
    gp = gradient_penalty(critic, real, fake, generator)
    wdist = d_real - d_fake
    return {"d": -wdist + gp_weight * gp, "gp": gp, "wdist": wdist}


def attention_losses(truth: torch.Tensor, mask: torch.Tensor, attention: torch.Tensor, cell: int,
                     cfg: LossConfig) -> Dict[str, torch.Tensor]:
    """The hole's attention rows against where CRA should copy from
    (training/attention_target.py): ``att_cost`` the attention-weighted match
    cost, ``att_kl`` the KL from the target rows, ``att_top`` the mean top
    weight; ``att`` the term trained (``cfg.attention_objective``)."""
    valid = key_validity(mask, cell)
    cost, rows = match_costs(truth, mask, valid, cell, cfg.attention_texture_weight)
    target = target_rows(cost, valid, rows, cfg.attention_temperature)
    out = {"att_cost": expected_cost(attention, cost, valid, rows), "att_kl": attention_kl(attention, target, rows),
           "att_top": top_weight(attention.detach(), rows)}
    out["att"] = out["att_cost"] if cfg.attention_objective == "cost" else out["att_kl"]
    return out


def generator_losses(truth: torch.Tensor, coarse: torch.Tensor, refined: torch.Tensor,
                     mask: torch.Tensor, cfg: LossConfig,
                     critic: Optional[Callable[[torch.Tensor], torch.Tensor]] = None,
                     attention: Optional[torch.Tensor] = None, cell: int = 16
                     ) -> Dict[str, torch.Tensor]:
    """Generator losses; ``total`` is the one to minimise.

    ``critic`` None (or ``cfg.adv_weight == 0``) drops the adversarial term;
    ``attention`` (B, N, N) of cells of ``cell`` pixels adds the attention
    term when ``cfg.attention_weight`` > 0.
    """
    truth, coarse, refined = truth.float(), coarse.float(), refined.float()
    l1 = hole_l1(truth, coarse, refined, mask, cfg.coarse_weight, cfg.hole_normalised)
    ae = known_l1(truth, coarse, refined, mask, cfg.coarse_weight)
    out = {"l1": l1, "ae": ae}
    total = cfg.l1_weight * l1 + cfg.ae_weight * ae
    if attention is not None and cfg.attention_weight > 0:
        out.update(attention_losses(truth, mask, attention, cell, cfg))
        total = total + cfg.attention_weight * out["att"]
    if critic is not None and cfg.adv_weight > 0:
        fake = refined * mask + truth * (1.0 - mask)
        g_adv = -critic(fake).float().mean()
        out["g_adv"] = g_adv
        total = total + cfg.adv_weight * g_adv
    out["total"] = total
    return out
