"""The bench's test frames: generated (texture and obstruction mask) or a
given photo, resized and encoded in memory as the pipeline receives them."""
import re
from typing import List, Optional, Tuple

import cv2
import numpy as np

from ..config import AppConfig
from ..masks import hole_from_file_array, hole_to_file_array

DEFAULT_SIZES = "1920x1080,3840x2160,7680x4320"
#: Hole fraction of the generated obstruction mask.
TARGET_HOLE_FRACTION = 0.10


def parse_sizes(text: str) -> List[Tuple[int, int]]:
    """``"1920x1080,3840x2160"`` -> [(1920, 1080), (3840, 2160)]."""
    sizes = []
    for item in text.split(","):
        match = re.match(r"^\s*(\d+)\s*[xX]\s*(\d+)\s*$", item)
        if not match or int(match.group(1)) < 32 or int(match.group(2)) < 32:
            raise ValueError("bad size {!r}: expected WxH with W, H >= 32 (e.g. 1920x1080)".format(item))
        sizes.append((int(match.group(1)), int(match.group(2))))
    if len(set(sizes)) != len(sizes):
        raise ValueError("a size is given twice in {!r}".format(text))
    return sizes


def synthetic_frame(width: int, height: int, seed: int = 0) -> np.ndarray:
    """uint8 BGR photo-like frame: smooth colour fields, edges and fine grain.

    Built at a quarter of the size and upsampled, then sharp shapes and a
    tiled grain are added at full size, so 8K stays within a few hundred MB.
    """
    rng = np.random.RandomState(seed)
    w4, h4 = max(8, width // 4), max(8, height // 4)
    field = np.zeros((h4, w4, 3), np.float32)
    for cells, weight in ((3, 90.0), (12, 40.0), (48, 20.0), (192, 10.0)):
        coarse = rng.uniform(-1.0, 1.0, (max(2, cells * h4 // w4), cells, 3)).astype(np.float32)
        field += weight * cv2.resize(coarse, (w4, h4), interpolation=cv2.INTER_CUBIC)
    field += 128.0
    frame = cv2.resize(np.clip(field, 0, 255).astype(np.uint8), (width, height), interpolation=cv2.INTER_CUBIC)
    scale = max(1, min(width, height) // 200)
    for _ in range(40):
        color = tuple(int(c) for c in rng.randint(0, 256, 3))
        p1 = (int(rng.randint(0, width)), int(rng.randint(0, height)))
        p2 = (int(rng.randint(0, width)), int(rng.randint(0, height)))
        if rng.rand() < 0.5:
            cv2.rectangle(frame, p1, p2, color, int(rng.randint(1, 3 * scale + 1)))
        else:
            cv2.line(frame, p1, p2, color, int(rng.randint(1, 2 * scale + 1)), cv2.LINE_AA)
    grain = rng.randint(0, 24, (256, 256, 3)).astype(np.uint8)
    reps = (height // 256 + 1, width // 256 + 1, 1)
    cv2.add(frame, np.ascontiguousarray(np.tile(grain, reps)[:height, :width]), dst=frame)
    cv2.subtract(frame, (12, 12, 12, 0), dst=frame)
    return frame


def obstruction_mask(width: int, height: int, fraction: float = TARGET_HOLE_FRACTION, seed: int = 1) -> np.ndarray:
    """uint8 (H, W) hole map (1 = hole): irregular strokes until ``fraction`` is covered."""
    rng = np.random.RandomState(seed)
    hole = np.zeros((height, width), np.uint8)
    side = min(width, height)
    target = fraction * width * height
    for _ in range(1000):
        x, y = rng.uniform(0, width), rng.uniform(0, height)
        thickness = int(max(2, rng.uniform(0.01, 0.04) * side))
        angle = rng.uniform(0, 2 * np.pi)
        for _ in range(int(rng.randint(4, 10))):
            angle += rng.uniform(-0.8, 0.8)
            step = rng.uniform(0.03, 0.12) * side
            nx = float(np.clip(x + step * np.cos(angle), 0, width - 1))
            ny = float(np.clip(y + step * np.sin(angle), 0, height - 1))
            cv2.line(hole, (int(x), int(y)), (int(nx), int(ny)), 1, thickness)
            x, y = nx, ny
        if np.count_nonzero(hole) >= target:
            break
    return hole


class Frame:
    """One test frame as the pipeline receives it: encoded bytes in memory
    (the JPEG at the config's quality, the mask PNG in its convention)."""

    def __init__(self, image: np.ndarray, hole: np.ndarray, config: AppConfig):
        self.config = config
        self.width, self.height = image.shape[1], image.shape[0]
        self.hole_fraction = float(np.count_nonzero(hole)) / hole.size
        ok1, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, config.jpeg_quality])
        ok2, png = cv2.imencode(".png", hole_to_file_array(hole, config))
        if not (ok1 and ok2):
            raise RuntimeError("OpenCV cannot encode the test frame")
        self.jpeg, self.png = jpeg, png

    @property
    def size(self) -> str:
        return "{}x{}".format(self.width, self.height)

    def decode(self) -> Tuple[np.ndarray, np.ndarray]:
        """(image, hole) as the app reads them from files: cv2.imdecode, mask to hole map."""
        image = cv2.imdecode(self.jpeg, cv2.IMREAD_COLOR)
        hole = hole_from_file_array(cv2.imdecode(self.png, cv2.IMREAD_UNCHANGED), self.config)
        return image, hole


def make_frame(size: Optional[Tuple[int, int]], image: Optional[np.ndarray], hole: Optional[np.ndarray],
               config: AppConfig) -> Frame:
    """The given image/hole resized to ``size`` (native when None), or a generated frame."""
    if image is None:
        width, height = size
        return Frame(synthetic_frame(width, height), obstruction_mask(width, height), config)
    if size is not None and size != (image.shape[1], image.shape[0]):
        shrink = size[0] * size[1] < image.shape[0] * image.shape[1]
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)
        hole = cv2.resize(hole, size, interpolation=cv2.INTER_NEAREST)
    return Frame(image, hole, config)
