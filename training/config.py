"""Every training-side setting in one place.

The dataclasses here are the single source of configuration for the model,
losses, optimiser, masks, data and the training loop. The CLI overrides a
few fields; a YAML file may override any (see ``load_config``): it holds a
nested mapping with the same names, e.g. ``{"optim": {"lr": 2e-4}}``.
"""
from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import yaml


@dataclass
class ModelConfig:
    """Generator shape (spec hifill.md sections 2 to 4)."""

    base_width: int = 32
    # Dilation rates of the coarse stage's dilated block (14 layers).
    coarse_dilations: Tuple[int, ...] = (1, 1, 1, 2, 2, 2, 2, 2, 4, 4, 4, 4, 8, 8)
    # Dilation rates of the refine stage's dilated block (5 layers).
    refine_dilations: Tuple[int, ...] = (1, 2, 4, 8, 16)
    # Attention: softmax scale applied to cosine similarities (bounded logits
    # in [-scale, scale], safe in fp16).
    softmax_scale: float = 10.0
    # Learn the softmax scale, starting at ``softmax_scale``, bounded to
    # (0, max_softmax_scale) so logits stay fp16-safe (one parameter; see
    # training/attention.py). False: the release's fixed scale.
    learned_scale: bool = True
    max_softmax_scale: float = 50.0
    # A small head (3x3 conv, ELU, 1x1 conv, residual, last conv at zero) on
    # the features the attention compares, trainable alone on the attention
    # target without moving the encoder the decoder reads
    # (training/attention.py AttentionEmbedding). False: the release's scores.
    attention_head: bool = True
    # DeepFill v1 "fuse" (two 3x3 identity-kernel convolutions over the scores).
    fuse: bool = False
    # One attention cell covers this many input pixels per side (512 / 32).
    attention_cell: int = 16
    # Feature convolutions start as N(0, (init_gain^2) / fan_in), biases 0.
    # ELU followed by a sigmoid gate (about 0.5 at start) shrinks the signal:
    # with PyTorch's default init the activation std falls 30x over the coarse
    # stage's 26 layers and its output collapses to a constant. A gain of
    # 1 / sqrt(E[elu(z)^2] * 0.5^2) ~ 2.5 keeps it about constant (measured
    # in tests/test_model.py).
    init_gain: float = 2.5
    # Fill the hole inside the graph with a classical membrane interpolation
    # (training/prefill.py) and let both stages learn a correction to it,
    # their last layers starting at zero: an untrained generator is already
    # a classical inpainter (measured at 512 on the validation split: L1 in
    # the hole 0.0682 against Navier-Stokes' 0.0710). False is the release's
    # design (zeros in the hole, stages output the image).
    prefill: bool = True
    # Jacobi sweeps of the pre-fill: per pyramid level, and extra at full size.
    prefill_iters: Tuple[int, int] = (8, 8)


@dataclass
class LossConfig:
    """Loss weights (spec section 5).

    ``l1 = coarse_weight * mean(|y-x1| m) + mean(|y-x2| m)``, ``ae`` the same
    outside the hole divided by ``mean(1-m)``; generator total
    ``adv_weight * g_adv + l1_weight * l1 + ae_weight * ae``.
    ``adv_weight = 0`` disables the discriminator entirely (no D is built).

    Deliberate difference from the reference (whose per-pixel weight of a
    known pixel is above a hole pixel's): ``hole_normalised`` divides ``l1``
    by ``mean(m)`` too, and ``ae`` weighs a quarter of it; only the hole is
    pasted into the result, the known region only steadies the correction.
    """

    l1_weight: float = 1.2
    ae_weight: float = 0.3
    hole_normalised: bool = True
    coarse_weight: float = 1.2
    adv_weight: float = 0.001
    gp_weight: float = 10.0
    # Attention rows of the hole trained towards where CRA should copy from
    # (training/attention_target.py): weight of the KL term, the target's
    # temperature (relative to the image's typical best match) and the
    # weight of the texture part of the cell descriptor. 0 disables it.
    attention_weight: float = 0.1
    attention_objective: str = "cost"
    attention_temperature: float = 0.3
    attention_texture_weight: float = 3.0


@dataclass
class DiscriminatorConfig:
    """WGAN critic: 5x5 stride-2 convs, leaky ReLU, flatten, linear to 1."""

    channels: Tuple[int, ...] = (64, 128, 256, 256, 256, 256)
    negative_slope: float = 0.2


@dataclass
class OptimConfig:
    """Adam for both networks (reference: lr 1e-4, betas (0.5, 0.9))."""

    lr: float = 1e-4
    lr_d: Optional[float] = None  # None: same as lr
    betas: Tuple[float, float] = (0.5, 0.9)
    # Critic updates per generator update, on the same batch (see train.py).
    d_steps: int = 3


@dataclass
class MaskConfig:
    """Training masks (hole = 1): a mix of generators, see masks.py."""

    # Probability of each kind (normalised); kinds with weight 0 are unused.
    free_form: float = 0.5
    lama: float = 0.5
    folder: float = 0.0
    # Folder of mask images (needed when folder > 0) and their convention:
    # "white" = white pixels are the hole (official HiFill test masks),
    # "black" = black pixels are the hole (Ascend sample masks).
    mask_dir: Optional[str] = None
    mask_hole: str = "white"
    # Every mask's hole fraction lies in this closed range.
    hole_ratio: Tuple[float, float] = (0.05, 0.5)
    # One mask per sample (True) or one per batch like the reference (False).
    per_sample: bool = True


@dataclass
class DataConfig:
    """Random crops of a folder of photos."""

    root: str = ""
    size: int = 512
    # A crop's side as a fraction of the (cached) image's short side; the
    # crop is then resized to ``size``. Small fractions zoom in, 1.0 takes
    # the whole short side (the downscaled view CRA inference feeds the net).
    crop_scale: Tuple[float, float] = (0.5, 1.0)
    # Decoded images are cached with the short side at most this many times
    # ``size`` (bounded memory, fast crops) ...
    cache_short_side: float = 2.0
    # ... and at most this many images are kept (least recently used go).
    cache_images: int = 512
    hflip: bool = True


@dataclass
class TrainConfig:
    """Top-level configuration: the model plus everything the trainer needs."""

    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    disc: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    mask: MaskConfig = field(default_factory=MaskConfig)
    data: DataConfig = field(default_factory=DataConfig)
    # "all": every loss and parameter; "attention": only the attention head
    # and learned scale, on the attention term alone, through a pass that
    # skips the transfers and the decoder (about 4x cheaper per image).
    stage: str = "all"
    # Samples per shard; a step's batch is ``shards`` shards of them.
    batch_size: int = 4
    # Shards per step: one per process of a data-parallel run (torchrun,
    # training/distributed.py), each drawn from the seed on its own; None:
    # as many as processes. A run continues on that many processes, or on
    # one that computes every shard and averages their gradients (the same
    # steps, with the memory of a ``shards`` times larger batch).
    shards: Optional[int] = None
    iters: int = 300000
    # Every batch is a function of (seed, step): exact resume, no loader state.
    seed: int = 0
    save_every: int = 500  # overwrite RUN_DIR/last.pt
    snapshot_every: int = 10000  # also keep RUN_DIR/step_XXXXXXXX.pt (0: never)
    log_every: int = 1  # losses.jsonl and TensorBoard scalars
    image_every: int = 500  # TensorBoard image grid + RUN_DIR/samples/*.jpg
    val_data: Optional[str] = None
    val_every: int = 2000
    val_count: int = 16
    amp: bool = False


def _convert(tp: Any, value: Any, where: str) -> Any:
    """Coerce a YAML value to the annotated field type (lists to tuples...)."""
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ValueError(f"config {where}: expected a mapping, got {value!r}")
        return config_from_dict(tp, value, where)
    if origin is typing.Union:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return None if value is None else _convert(args[0], value, where)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"config {where}: expected a list, got {value!r}")
        args = typing.get_args(tp)
        item = args[0] if args else Any
        return tuple(_convert(item, v, where) for v in value)
    if tp is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if tp in (int, str, bool) and not isinstance(value, tp):
        raise ValueError(f"config {where}: expected {tp.__name__}, got {value!r}")
    if tp is int and isinstance(value, bool):
        raise ValueError(f"config {where}: expected int, got {value!r}")
    return value


def config_from_dict(cls: Any, data: Dict[str, Any], where: str = "") -> Any:
    """Build dataclass ``cls`` from a (possibly partial) nested dict.

    Missing fields keep their defaults; an unknown key is an error.
    """
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(f"config {where or cls.__name__}: unknown key(s) {', '.join(unknown)}")
    kwargs = {k: _convert(hints[k], v, f"{where}.{k}".lstrip(".")) for k, v in data.items()}
    return cls(**kwargs)


#: Fields added after checkpoints were first written, with the value that
#: reproduces what an older checkpoint's run did: a stored config without
#: them gets these, not today's defaults (an old run resumes as it was).
#: Section None: a top-level field.
LEGACY_VALUES: Dict[Tuple[Optional[str], str], Any] = {
    ("model", "prefill"): False,
    ("model", "learned_scale"): False,
    ("model", "attention_head"): False,
    ("loss", "attention_weight"): 0.0,
    (None, "shards"): 1,
}


def stored_config(data: Dict[str, Any]) -> "TrainConfig":
    """The TrainConfig of a checkpoint's stored ``config`` mapping (see LEGACY_VALUES)."""
    filled = {k: dict(v) if isinstance(v, dict) else v for k, v in data.items()}
    for (section, key), value in LEGACY_VALUES.items():
        (filled.setdefault(section, {}) if section else filled).setdefault(key, value)
    return config_from_dict(TrainConfig, filled)


def merge_config(cfg: TrainConfig, overrides: Dict[str, Any]) -> TrainConfig:
    """``cfg`` with the nested ``overrides`` applied (a new object)."""
    base = dataclasses.asdict(cfg)

    def deep(a: Dict[str, Any], b: Dict[str, Any]) -> Dict[str, Any]:
        out = dict(a)
        for k, v in b.items():
            out[k] = deep(a[k], v) if isinstance(v, dict) and isinstance(a.get(k), dict) else v
        return out

    return config_from_dict(TrainConfig, deep(base, overrides))


def load_config(path: Optional[str] = None, base: Optional[TrainConfig] = None) -> TrainConfig:
    """Defaults (or ``base``) overridden by the YAML file at ``path``."""
    cfg = base or TrainConfig()
    if path is None:
        return cfg
    text = Path(path).read_text()
    data = yaml.safe_load(text) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a YAML mapping of config sections")
    return merge_config(cfg, data)


def config_to_yaml(cfg: TrainConfig) -> str:
    """The config as YAML (tuples written as lists), loadable by load_config."""

    def plain(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        return v

    return yaml.safe_dump(plain(dataclasses.asdict(cfg)), sort_keys=False)
