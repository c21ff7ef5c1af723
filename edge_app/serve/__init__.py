"""``python -m edge_app serve``: a web page to draw the mask and see the result.

For a board without a screen: a browser on the same network loads one static
page (edge_app/static/index.html: no internet needed), paints the hole over
an uploaded photo or the current frame of ``--source``, and gets the result,
its stage timings and the backend's name. Standard library HTTP server,
numpy and OpenCV only.

Safety: the CLI binds 127.0.0.1 unless told otherwise; bound to another
address every request needs the random token of the printed URL (403
without it). Uploads stay in memory, limited in bytes and pixels
(``AppConfig.serve_*``), photos and results kept within a memory budget
(``store``: a new upload gets 503 with Retry-After while the memory is
full of work in progress; a dropped photo or result answers 410); no path
from a request reaches the file system: the only file written is the
stream mask named on the command line. One thread
runs the model: page requests in turn (a request that waits longer than
``serve_wait`` seconds gets 503), live preview frames while none waits.
Photos keep their bit depth, grey and alpha, as the CLI's files do; masks
follow the same checks and messages as the CLI's (``masks.check_pair``,
an empty mask refused).

API (bad input: a 4xx status and ``{"error": "..."}``; masks are PNG or
JPEG in the server's ``--mask-convention``, both ways):

    GET  /                     the page
    GET  /api/info             backend, limits, mask convention, source, stream mask, what is kept
    POST /api/image            body: a PNG or JPEG photo -> {"id", "width", "height"}
    POST /api/frame            the source's current frame -> the same
    GET  /api/image/ID         that photo as decoded, PNG (its depth, grey and alpha)
    POST /api/mask/ID          body: a mask file -> its mask PNG, checked against the photo's size
                               (header X-Mask-Notes: the notes of masks.check_pair, JSON)
    POST /api/inpaint/ID       body: the mask -> {"result", "backend", "timings_ms", "notes", ...}
    GET  /api/result/ID        the result PNG, in the photo's layout (``?download=1``: as a file)
    GET  /api/result/ID/mask   its mask PNG
    GET  /api/stream-mask      the mask of the stream PNG (404 when none)
    POST /api/stream-mask/ID   body: the mask -> written where ``stream --mask`` reads it
    GET  /api/live             the newest inpainted frame, JPEG (header X-Frames-Per-Second)

One job a module: ``errors`` (HttpError), ``header`` (an upload's format
and size from its header), ``uploads`` (photos and masks in, PNGs out),
``store`` (the photos and results kept), ``heap`` (freed memory back to
the system after each inpaint), ``access`` (token, Host and
Origin checks), ``live`` (the live preview), ``model_thread`` (the thread
that runs the model), ``handler`` (HTTP plumbing), ``api`` (the calls
above), ``addresses`` (the URLs to print), ``server`` (EdgeServer,
run_server). The camera is ``edge_app.stream.LatestFrame``.
"""
from .access import needs_token
from .addresses import reachable_urls
from .errors import HttpError
from .header import header_size
from .server import EdgeServer, run_server

__all__ = ["EdgeServer", "HttpError", "header_size", "needs_token", "reachable_urls", "run_server"]
