"""The generator: shapes, parameter count, attention rules, gradients, patch ops."""
import pytest
import torch
import torch.nn.functional as F

from training.attention import extract_block_patches, fold_block_patches
from training.config import ModelConfig
from training.model import build_generator, count_parameters

RELEASED_PARAMETERS = 2_722_791


@pytest.fixture(scope="module")
def generator():
    torch.manual_seed(0)
    return build_generator().eval()


def _box_mask(size, top, left, h, w):
    m = torch.zeros(1, 1, size, size)
    m[..., top:top + h, left:left + w] = 1.0
    return m


def test_parameter_count_matches_release():
    """The release's design has exactly the release's count; the default adds
    the learned softmax scale (1) and the attention head (a 3x3 and a 1x1
    convolution over the refine stage's 128 channels)."""
    release = build_generator(ModelConfig(learned_scale=False, attention_head=False))
    assert count_parameters(release) == RELEASED_PARAMETERS
    assert count_parameters(release.coarse) == 811_489 and count_parameters(release.refine) == 1_911_302
    head = (128 * 128 * 9 + 128) + (128 * 128 + 128)
    assert count_parameters(build_generator()) == RELEASED_PARAMETERS + 1 + head


@pytest.mark.parametrize("h,w", [pytest.param(512, 512, marks=pytest.mark.slow), (256, 384)])
def test_output_shapes(generator, h, w):
    x = torch.rand(2, 3, h, w) * 2 - 1
    m = torch.zeros(2, 1, h, w)
    m[..., h // 4:h // 2, w // 4:w // 2] = 1
    with torch.no_grad():
        coarse, refined, attention = generator(x, m)
    n = (h // 16) * (w // 16)
    assert coarse.shape == (2, 3, h, w)
    assert refined.shape == (2, 3, h, w)
    assert attention.shape == (2, n, n)
    assert refined.min() >= -1 and refined.max() <= 1
    assert coarse.min() >= -1 and coarse.max() <= 1


def test_rejects_size_not_multiple_of_32(generator):
    with pytest.raises(ValueError, match="multiple of 32"):
        generator(torch.zeros(1, 3, 100, 128), torch.zeros(1, 1, 100, 128))


def test_attention_ignores_keys_touching_the_hole(generator):
    size = 256
    m = _box_mask(size, 40, 70, 50, 90)
    m[..., 200:210, 10:12] = 1.0  # a thin second hole: one pixel is enough to void a cell
    x = torch.rand(1, 3, size, size) * 2 - 1
    with torch.no_grad():
        _, _, attention = generator(x, m)
    grid = size // 16
    cells = F.max_pool2d(m, 16, 16)
    touching = F.max_pool2d(cells, 3, 1, 1).flatten()  # key is unusable if its 3x3 patch of cells has a hole
    assert touching.sum() > 0
    weights_on_bad_keys = attention[0][:, touching > 0]
    assert torch.count_nonzero(weights_on_bad_keys) == 0
    row_sums = attention[0].sum(dim=1)
    assert torch.all(row_sums <= 1 + 1e-5)
    assert torch.all(row_sums >= 1 - 1e-5)  # every row has usable keys here
    assert attention.shape[-1] == grid * grid


def test_attention_rows_are_zero_when_no_key_is_usable(generator):
    size = 128
    m = torch.ones(1, 1, size, size)
    with torch.no_grad():
        _, _, attention = generator(torch.zeros(1, 3, size, size), m)
    assert torch.count_nonzero(attention) == 0


def test_known_pixels_pass_through_the_coarse_merge(generator):
    """The refine stage sees the known pixels untouched (merged = coarse in hole, input elsewhere)."""
    size = 128
    m = _box_mask(size, 32, 32, 40, 40)
    x = torch.rand(1, 3, size, size) * 2 - 1
    captured = {}

    def capture(module, args):
        captured["in"] = args[0]

    handle = generator.refine.register_forward_pre_hook(capture)
    try:
        with torch.no_grad():
            generator(x, m)
    finally:
        handle.remove()
    merged = captured["in"][:, :3]
    known = m.expand_as(x) == 0
    assert torch.equal(merged[known], x[known])


@pytest.mark.slow
def test_gradients_reach_every_layer():
    """Each stage's last layer starts at zero (the output is the pre-fill),
    so at the first step only it learns; from the second step on, every
    layer does but the attention head's first convolution, which sits
    behind the head's own zero-started last one: from the third step."""
    torch.manual_seed(1)
    g = build_generator().train()
    opt = torch.optim.Adam(g.parameters(), 1e-3)
    size = 128
    x = torch.rand(2, 3, size, size) * 2 - 1
    m = _box_mask(size, 30, 30, 50, 40).repeat(2, 1, 1, 1)
    missing = []
    for _ in range(3):
        opt.zero_grad()
        coarse, refined, _ = g(x, m)
        loss = (coarse - x).abs().mean() + (refined - x).abs().mean()
        loss.backward()
        missing.append([name for name, p in g.named_parameters()
                        if p.grad is None or torch.count_nonzero(p.grad) == 0])
        opt.step()
    lasts = {f"{stage}.{p}" for stage in ("coarse.body.16.conv", "refine.to_rgb.conv") for p in ("feat.weight", "feat.bias")}
    assert missing[0] and not lasts & set(missing[0])
    assert missing[1] == ["refine.acm.embed.spread.weight", "refine.acm.embed.spread.bias"]
    assert missing[2] == []


@pytest.mark.parametrize("r", [4, 8])
def test_block_patches_round_trip(r):
    x = torch.randn(2, 3, 8 * r, 5 * r)
    cols = extract_block_patches(x, r)
    assert cols.shape == (2, 4 * 3 * r * r, 8 * 5)
    grid = (8, 5)
    coverage = fold_block_patches(torch.ones(1, 4 * r * r, 40), 1, r, grid)
    assert torch.allclose(fold_block_patches(cols, 3, r, grid) / coverage, x)


def test_block_patch_is_centred_on_its_cell():
    r = 4
    x = torch.zeros(1, 1, 8 * r, 8 * r)
    x[0, 0, 3 * r + 1, 5 * r + 1] = 1.0  # top-left quarter of cell (3, 5)
    cols = extract_block_patches(x, r)
    holding = torch.nonzero(cols[0].sum(dim=0)).flatten().tolist()
    # The 2r x 2r patches centred on cells (2..3, 4..5) or (3..4, 5..6) contain it;
    # with the pixel in the top-left quarter of cell (3,5), those are cells 2..3 x 4..5.
    assert sorted(holding) == sorted([2 * 8 + 4, 2 * 8 + 5, 3 * 8 + 4, 3 * 8 + 5])


def test_signal_survives_the_depth_at_initialisation():
    """With PyTorch's default init the coarse stage's output was a constant
    (activation std decayed 30x over 26 gated layers); the feature init keeps it alive."""
    from training.layers import GatedConv

    torch.manual_seed(0)
    g = build_generator().eval()
    stds = []
    hooks = [m.register_forward_hook(lambda mod, i, o: stds.append(o.std().item()))
             for m in g.coarse.modules() if isinstance(m, GatedConv)]
    x = torch.rand(2, 3, 128, 128) * 2 - 1
    m = _box_mask(128, 30, 30, 40, 50).repeat(2, 1, 1, 1)
    with torch.no_grad():
        coarse, _, _ = g(x, m)
    for h in hooks:
        h.remove()
    assert len(stds) == 26
    assert min(stds[:-1]) > 0.25 * stds[0]  # no layer before the output lets the signal fade
    # the coarse result depends on the input: two different inputs, two different outputs
    with torch.no_grad():
        other, _, _ = g(-x, m)
    assert (coarse - other).abs().mean() > 0.05
