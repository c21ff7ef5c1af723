#!/usr/bin/env python3
"""The serve page's memory over many inpaints: the server's RSS every N rounds.

    scripts/serve_memory.py --size 640x480 --inpaints 200 --every 20 [--model PATH] [-- SERVE FLAGS]

Starts ``python -m edge_app serve`` on a free loopback port (the bundled
model unless --model; flags after ``--`` go to serve, e.g.
``-- --serve-keep-bytes 268435456``), then runs rounds as a page user
does: upload a photo of --size (edge_app/samples/bridge.jpg scaled, or
--image), inpaint a box of about 4 % of it, fetch the result. After every
--every rounds it prints the server's resident memory (VmRSS), its peak
(VmHWM) and what the page's store holds (/api/info). A 503 (the store is
full, or the model busy) waits the reply's Retry-After and tries again;
any other failure stops the run. Linux only (/proc).
"""
import argparse
import http.client
import json
import os
import re
import subprocess
import sys
import time
from typing import Dict, List, Optional, Tuple

import cv2
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLE = os.path.join(ROOT, "edge_app", "samples", "bridge.jpg")


def memory_mb(pid: int) -> Tuple[float, float]:
    """(VmRSS, VmHWM) of a process, in MB."""
    fields = {}
    with open("/proc/{}/status".format(pid)) as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value
    return int(fields["VmRSS"].split()[0]) / 1024.0, int(fields["VmHWM"].split()[0]) / 1024.0


class Client:
    """Requests to the server on 127.0.0.1; a 503 is waited out (Retry-After) and retried."""

    def __init__(self, port: int):
        self.port = port
        self.waits = 0

    def request(self, method: str, path: str, body: Optional[bytes] = None) -> bytes:
        while True:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
            try:
                conn.request(method, path, body=body, headers={"Content-Type": "image/png"})
                reply = conn.getresponse()
                data = reply.read()
            finally:
                conn.close()
            if reply.status == 200:
                return data
            if reply.status != 503:
                raise RuntimeError("{} {}: {} {}".format(method, path, reply.status, data[:300]))
            self.waits += 1
            time.sleep(float(reply.getheader("Retry-After") or 1))

    def json(self, method: str, path: str, body: Optional[bytes] = None) -> Dict:
        return json.loads(self.request(method, path, body))


def start_server(argv: List[str]) -> Tuple[subprocess.Popen, int]:
    """The serve process and its port (read from the URL it prints)."""
    proc = subprocess.Popen([sys.executable, "-m", "edge_app", "serve", "--port", "0"] + argv, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    for line in proc.stdout:
        match = re.match(r"\s+http://127\.0\.0\.1:(\d+)/", line)
        if match:
            return proc, int(match.group(1))
    raise RuntimeError("the server stopped before printing its URL (exit status {})".format(proc.wait()))


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="640x480", help="photo size WxH (default: %(default)s)")
    parser.add_argument("--inpaints", type=int, default=200, help="rounds (default: %(default)s)")
    parser.add_argument("--every", type=int, default=20, help="print after every N rounds (default: %(default)s)")
    parser.add_argument("--image", default=SAMPLE, help="photo to scale to --size (default: the bridge sample)")
    parser.add_argument("--model", help="model for serve (default: the bundled one)")
    parser.add_argument("serve", nargs=argparse.REMAINDER, help="after --: flags for serve")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))
    image = cv2.resize(cv2.imread(args.image), (width, height), interpolation=cv2.INTER_AREA)
    mask = np.zeros((height, width), np.uint8)
    mask[int(0.4 * height):int(0.6 * height), int(0.4 * width):int(0.6 * width)] = 255
    photo = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 92])[1].tobytes()
    mask_png = cv2.imencode(".png", mask)[1].tobytes()
    serve = [a for a in args.serve if a != "--"] + (["--model", args.model] if args.model else [])
    proc, port = start_server(serve)
    try:
        client = Client(port)
        rss, _ = memory_mb(proc.pid)
        print("{} photos, serve {}; RSS at start {:.0f} MB".format(args.size, " ".join(serve) or "(defaults)", rss),
              flush=True)
        started = time.monotonic()
        for n in range(1, args.inpaints + 1):
            key = client.json("POST", "/api/image", photo)["id"]
            reply = client.json("POST", "/api/inpaint/" + key, mask_png)
            client.request("GET", "/api/result/" + reply["result"])
            if n % args.every == 0 or n == args.inpaints:
                rss, peak = memory_mb(proc.pid)
                store = client.json("GET", "/api/info").get("store")
                held = " store {:.1f} MB ({} photos, {} results);".format(
                    store["bytes"] / 2.0 ** 20, store["photos"], store["results"]) if store else ""
                print("after {:4d} inpaints ({:6.0f} s): RSS {:7.1f} MB, peak {:7.1f} MB;{} {} waits".format(
                    n, time.monotonic() - started, rss, peak, held, client.waits), flush=True)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    return 0


if __name__ == "__main__":
    sys.exit(main())
