"""The page's API calls (one method each; the table is in edge_app/serve/__init__.py)."""
import json
import os
import sys
import time
from typing import Dict, List, Tuple

import numpy as np

from .. import fileio, masks
from ..atomic import atomic_path
from . import heap
from .errors import HttpError
from .handler import Handler, routes
from .live import LivePreview
from .store import Photo, Result
from .uploads import decode_mask, decode_photo, encode_png, mask_png

_ID = "([0-9a-f]{16})"
Query = Dict[str, List[str]]


class ApiHandler(Handler):
    """The API of an EdgeServer; every inpaint goes through the Inpainter's one
    path for a frame (``Inpainter.for_mask(hole).inpaint``) on the model's
    thread, after the masks' one policy (``masks.check_pair``, an empty mask
    refused) has run."""

    ROUTES = routes((
        ("GET", "/api/info", "get_info"),
        ("POST", "/api/image", "post_image"),
        ("POST", "/api/frame", "post_frame"),
        ("GET", "/api/image/" + _ID, "get_image"),
        ("POST", "/api/mask/" + _ID, "post_mask"),
        ("POST", "/api/inpaint/" + _ID, "post_inpaint"),
        ("GET", "/api/result/" + _ID, "get_result"),
        ("GET", "/api/result/" + _ID + "/mask", "get_result_mask"),
        ("GET", "/api/stream-mask", "get_stream_mask"),
        ("POST", "/api/stream-mask/" + _ID, "post_stream_mask"),
        ("GET", "/api/live", "get_live"),
    ))

    def get_info(self, query: Query) -> None:
        server, cfg = self.server, self.server.config
        source = server.source
        self.send_json({
            "backend": server.inpainter.backend.name,
            "model": os.path.basename(server.inpainter.backend.model_path),
            "source": source.spec if source else None,
            "frame": [source.shape[1], source.shape[0]] if source else None,
            "stream_mask": server.stream_mask,
            "stream_mask_set": bool(server.live and server.live.hole is not None),
            "stream_command": server.stream_command(),
            "mask_convention": cfg.mask_convention,
            "max_upload_bytes": cfg.serve_max_upload,
            "max_pixels": cfg.serve_max_pixels,
            "store": server.store.usage(),
        })

    def _add_photo(self, source: fileio.SourceImage) -> None:
        key = self.server.store.add("photo", Photo(source))
        self.send_json({"id": key, "width": source.bgr.shape[1], "height": source.bgr.shape[0]})

    def post_image(self, query: Query) -> None:
        self._add_photo(decode_photo(self.body(), self.server.config))

    def post_frame(self, query: Query) -> None:
        if self.server.source is None:
            raise HttpError(404, "no video source: start the server with --source")
        frame = self.server.source.latest()[0]
        self._add_photo(fileio.source_from_array(frame, "frame"))

    def get_image(self, key: str, query: Query) -> None:
        self.send(200, self.server.store.get("photo", key).png(), "image/png")

    def post_mask(self, key: str, query: Query) -> None:
        """The mask file's PNG in the server's convention; header X-Mask-Notes:
        the notes of masks.check_pair as JSON (a likely inverted mask names the
        setting that reads this kind of file the other way)."""
        server = self.server
        image = server.store.get("photo", key).image
        mask = decode_mask(self.body(), server.config)
        masks.check_size(mask.hole, image.shape)
        notes = masks.check_pair(image, mask.hole, server.config, by_alpha=mask.by_alpha)
        self.send(200, mask_png(mask.hole, server.config), "image/png",
                  {"X-Mask-Notes": json.dumps(notes, ensure_ascii=True)})

    def post_inpaint(self, key: str, query: Query) -> None:
        server = self.server
        with server.store.held("photo", key) as photo:  # never dropped while its inpaint is in flight
            image = photo.image
            t0 = time.perf_counter()
            mask = decode_mask(self.body(), server.config)
            hole = mask.hole
            notes = masks.check_pair(image, hole, server.config, empty="error", by_alpha=mask.by_alpha)
            decode = time.perf_counter() - t0
            inpainter = server.inpainter

            def work() -> Tuple[np.ndarray, Dict[str, float], float]:
                started = time.perf_counter()
                out = inpainter.for_mask(hole).inpaint(image)
                return out, dict(inpainter.timings), started

            t_queued = time.perf_counter()
            out, timings, started = server.model.run(work)
            t0 = time.perf_counter()
            result = server.store.add("result", Result(encode_png(photo.source.restore(out)),
                                                       mask_png(hole, server.config)))
        stages = [("decode", decode)] + list(timings.items()) + [("encode", time.perf_counter() - t0)]
        total = sum(seconds for _, seconds in stages)
        backend = inpainter.backend.name
        if server.log_timings:
            sys.stderr.write("inpaint {}x{}, hole {:.1%}, {}: {} ms ({})\n".format(
                image.shape[1], image.shape[0], hole.mean(), backend, round(1000 * total, 1),
                ", ".join("{} {:.1f}".format(k, 1000 * s) for k, s in stages)))
        self.send_json({
            "result": result, "width": image.shape[1], "height": image.shape[0], "backend": backend,
            "hole": float(hole.mean()), "timings_ms": [[k, round(1000 * s, 2)] for k, s in stages],
            "total_ms": round(1000 * total, 2), "waited_ms": round(1000 * (started - t_queued), 2),
            "notes": notes,
        })
        heap.release_free_memory()  # what the inpaint freed, back to the system

    def get_result(self, key: str, query: Query) -> None:
        self.send_png(self.server.store.get("result", key).png, query, "inpainted-{}.png".format(key[:8]))

    def get_result_mask(self, key: str, query: Query) -> None:
        self.send_png(self.server.store.get("result", key).mask_png, query, "mask-{}.png".format(key[:8]))

    def _live(self) -> LivePreview:
        if self.server.live is None:
            raise HttpError(404, "no video source: start the server with --source")
        return self.server.live

    def get_stream_mask(self, query: Query) -> None:
        hole = self._live().hole
        if hole is None:
            raise HttpError(404, "no mask for the stream yet")
        self.send_png(mask_png(hole, self.server.config), query, "stream_mask.png")

    def post_stream_mask(self, key: str, query: Query) -> None:
        server, live = self.server, self._live()
        mask = decode_mask(self.body(), server.config)
        hole = mask.hole
        notes = masks.check_pair(server.store.get("photo", key).image, hole, server.config, empty="error",
                                 by_alpha=mask.by_alpha)
        masks.check_size(hole, server.source.shape, what="a frame of the source")
        if server.stream_mask is None:
            raise HttpError(404, "no mask file for the stream: start the server with --mask FILE")
        if not server.may_replace:
            raise HttpError(409, "{} existed before the server started: restart it with --overwrite to replace "
                                 "that file".format(server.stream_mask))
        try:
            with atomic_path(server.stream_mask) as tmp:
                with open(tmp, "wb") as f:
                    f.write(mask_png(hole, server.config))
        except OSError as exc:
            raise HttpError(500, "cannot write {}: {}".format(server.stream_mask, exc.strerror))
        live.set_hole(hole)
        self.send_json({"path": server.stream_mask, "command": server.stream_command(), "notes": notes})

    def get_live(self, query: Query) -> None:
        jpeg, fps, note = self._live().latest()
        self.send(200, jpeg, "image/jpeg", {"X-Frames-Per-Second": "{:.2f}".format(fps),
                                            "X-Preview-Note": note.encode("ascii", "replace").decode("ascii")})
