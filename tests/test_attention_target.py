"""The attention target (training/attention_target.py), the learned scale and
head, and the attention-only training stage."""
import dataclasses

import pytest
import torch

from training.attention import key_validity
from training.attention_target import cell_descriptors, expected_cost, hole_rows, match_costs, target_rows
from training.config import LEGACY_VALUES, DataConfig, LossConfig, TrainConfig, stored_config
from training.model import build_generator
from training.train import ATTENTION_PARAMETERS, Trainer

CELL = 16


def _stripes(size, period, phase, vertical=True):
    axis = torch.arange(size, dtype=torch.float32)
    wave = torch.sin(2 * torch.pi * (axis + phase) / period) * 0.5
    grid = wave[None, :].expand(size, size) if vertical else wave[:, None].expand(size, size)
    return grid.expand(3, size, size).clone()


def test_descriptor_ignores_the_phase_of_a_texture_but_not_its_kind():
    a = _stripes(CELL, 4, 0)[None]
    shifted = _stripes(CELL, 4, 2)[None]  # the same stripes, half a period along
    turned = _stripes(CELL, 4, 0, vertical=False)[None]  # the same stripes, the other way
    flat = torch.zeros_like(a)  # the stripes' mean colour, no texture
    d = {k: cell_descriptors(v, CELL, 3.0)[0, 0] for k, v in
         (("a", a), ("shifted", shifted), ("turned", turned), ("flat", flat))}
    # pixel by pixel the shifted copy is farther from the stripes than the flat cell is ...
    assert (a - shifted).pow(2).sum() > (a - flat).pow(2).sum()
    # ... but by descriptor it is the closest, and the orientation counts
    near = (d["a"] - d["shifted"]).pow(2).sum()
    assert near < 0.05 * (d["a"] - d["flat"]).pow(2).sum()
    assert near < 0.05 * (d["a"] - d["turned"]).pow(2).sum()


def test_descriptor_rejects_sizes_that_do_not_divide_into_cells():
    with pytest.raises(ValueError, match="cells of 16"):
        cell_descriptors(torch.zeros(1, 3, 40, 32), CELL, 3.0)


def _scene(size=128):
    """Left half stripes, right half flat grey; a hole in the stripes."""
    x = torch.zeros(1, 3, size, size)
    x[..., :, : size // 2] = _stripes(size, 4, 0)[:, :, : size // 2]
    mask = torch.zeros(1, 1, size, size)
    mask[..., 48:64, 16:32] = 1.0
    return x, mask


def test_match_costs_are_zero_at_each_rows_best_key_and_huge_on_unusable_keys():
    x, mask = _scene()
    valid = key_validity(mask, CELL)
    cost, rows = match_costs(x, mask, valid, CELL, 3.0)
    n = (128 // CELL) ** 2
    assert cost.shape == (1, n, n)
    assert torch.equal(rows, hole_rows(mask, CELL) * 1.0)
    counted = rows[0] > 0
    assert counted.sum() == 1  # the 16 x 16 hole is one cell
    usable = valid[0, 0] > 0
    row = cost[0, counted][0]
    assert row[usable].min() == 0
    assert (row[~usable] >= 1e3).all()
    # the best keys of the hole (in the stripes) are striped cells, not the flat half
    best = torch.nonzero(row[usable] < 1e-3).flatten()
    cols = torch.nonzero(usable).flatten()[best] % (128 // CELL)
    assert (cols < 4).all()


def test_expected_cost_is_lowest_for_a_row_peaked_on_the_best_key():
    x, mask = _scene()
    valid = key_validity(mask, CELL)
    cost, rows = match_costs(x, mask, valid, CELL, 3.0)
    flat = valid.expand_as(cost) / valid.sum()
    peaked = torch.zeros_like(cost)
    peaked[0, :, int(torch.argmin(cost[0, rows[0] > 0][0]))] = 1.0
    target = target_rows(cost, valid, rows, 0.3)
    assert expected_cost(peaked, cost, valid, rows) == 0
    assert expected_cost(flat, cost, valid, rows) == pytest.approx(1.0)
    assert expected_cost(target, cost, valid, rows) < 0.01 * expected_cost(flat, cost, valid, rows)
    # the target spreads over the equally good keys (every striped cell) only
    hole_row = target[0, rows[0] > 0][0]
    assert hole_row[cost[0, rows[0] > 0][0] < 1e-3].sum() > 0.99
    assert torch.allclose(target[0, rows[0] > 0].sum(dim=1), torch.ones(1))
    assert torch.count_nonzero(target[0, rows[0] == 0]) == 0


def test_learned_scale_starts_at_the_fixed_one_and_stays_bounded():
    torch.manual_seed(0)
    learned = build_generator().eval()
    torch.manual_seed(0)
    fixed = build_generator(dataclasses.replace(learned.cfg, learned_scale=False)).eval()
    assert learned.refine.acm.scale().item() == pytest.approx(10.0, rel=1e-6)
    x, mask = _scene()
    with torch.no_grad():
        a = learned(x * 2 - 1, mask)[2]
        b = fixed(x * 2 - 1, mask)[2]
        assert torch.allclose(a, b, atol=1e-6)
        learned.refine.acm.scale_logit.fill_(1e4)
        assert learned.refine.acm.scale().item() <= learned.cfg.max_softmax_scale


def test_attention_pass_equals_the_full_forwards_attention():
    torch.manual_seed(0)
    g = build_generator().eval()
    with torch.no_grad():  # a non-zero head, so the check covers it
        g.refine.acm.embed.mix.weight.normal_(0, 0.1)
    x, mask = _scene()
    with torch.no_grad():
        assert torch.equal(g.attention(x, mask), g(x, mask)[2])


def test_legacy_configs_get_the_values_their_runs_had():
    cfg = stored_config({"model": {"base_width": 32}, "loss": {"l1_weight": 1.2}})
    for (section, key), value in LEGACY_VALUES.items():
        assert getattr(getattr(cfg, section) if section else cfg, key) == value
    assert TrainConfig().model.learned_scale and TrainConfig().loss.attention_weight > 0


@pytest.mark.slow
def test_attention_stage_trains_only_the_head_and_scale(tmp_path):
    import cv2
    import numpy as np

    rng = np.random.default_rng(0)
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"{i}.png"), rng.integers(0, 256, (160, 160, 3), dtype=np.uint8))
    cfg = dataclasses.replace(TrainConfig(stage="attention", batch_size=2),
                              data=DataConfig(root=str(tmp_path), size=128),
                              loss=LossConfig(adv_weight=0.0, attention_weight=1.0))
    cfg = dataclasses.replace(cfg, optim=dataclasses.replace(cfg.optim, lr=1e-2))
    from training.data import BatchSource

    source = BatchSource(cfg.data, cfg.mask, cfg.batch_size, cfg.seed)
    trainer = Trainer(cfg, torch.device("cpu"))
    before = {k: v.clone() for k, v in trainer.g.state_dict().items()}
    for step in range(3):
        logs = trainer.train_step(*source.batch(step))
    assert {"att_cost", "att_kl", "att_top", "att_scale", "total"} <= set(logs)
    after = trainer.g.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(k.startswith(ATTENTION_PARAMETERS) for k in changed)
    assert "refine.acm.scale_logit" in changed


def test_attention_stage_needs_something_to_train():
    cfg = TrainConfig(stage="attention", loss=LossConfig(attention_weight=0.0))
    with pytest.raises(ValueError, match="stage 'attention'"):
        Trainer(cfg, torch.device("cpu"))
    with pytest.raises(ValueError, match="stage must be one of"):
        Trainer(TrainConfig(stage="decoder"), torch.device("cpu"))
