"""PixErase against thumbor on thumbor's own job: fit a 12 MP photo into 512x512, JPEG q80.

Starts both servers itself on free loopback ports: thumbor 7.8 from its own virtual
environment (made once under ~/.cache/pix-erase-bench with uv, from PyPI; file loader, no
result storage) and ``pix-erase serve`` (fresh data directory, tracing off, one image
process, as thumbor computes in one process). Requests alternate between the two, one
client, one at a time, so both run under the same load; every request asks for a box
no earlier request asked for (512, 511, ...), so neither server answers from a cache.
Server CPU per job is the CPU time of the server's whole process tree over the run,
divided by its jobs.

Each round starts with the next contender in turn, so none always runs right after
another server's job (which leaves the CPU's caches full of that server's data).

PixErase answers thumbor's job with one GET of a render URL, with a session (bearer
token) or a signed URL (no session, like thumbor's unsafe URLs); "with upload" is the
flow of a user who starts from the file: upload, then the render.

    uv run python -m bench.thumbor_compare [--n 40]
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from PIL import Image

from bench.common import (
    fmt_ms,
    load_average,
    markdown_table,
    percentile,
    sample_jpeg,
    tree_cpu_seconds,
    versions,
)
from bench.serve_overhead import Server, free_port, login, served, stop, wait_ready

THUMBOR = "thumbor==7.8.0"
VENV = Path.home() / ".cache" / "pix-erase-bench" / "thumbor-venv"
BOX = 512


def thumbor_bin() -> Path:
    """thumbor's executable, installed into its own environment on first use."""
    binary = VENV / "bin" / "thumbor"
    if not binary.exists():
        uv = shutil.which("uv") or "uv"
        subprocess.run([uv, "venv", "--quiet", str(VENV)], check=True)
        python = str(VENV / "bin" / "python")
        subprocess.run([uv, "pip", "install", "--quiet", "--python", python, THUMBOR], check=True)
    return binary


@contextmanager
def thumbor(root: Path) -> Iterator[Server]:
    port = free_port()
    conf = root / "thumbor.conf"
    conf.write_text(
        "LOADER = 'thumbor.loaders.file_loader'\n"
        f"FILE_LOADER_ROOT_PATH = '{root}'\n"
        "STORAGE = 'thumbor.storages.no_storage'\n"
        "RESULT_STORAGE = None\n"
        "ALLOW_UNSAFE_URL = True\n"
        "QUALITY = 80\n"
    )
    log = (root / "thumbor.log").open("wb")
    process = subprocess.Popen(
        [str(thumbor_bin()), "--port", str(port), "--ip", "127.0.0.1", "--conf", str(conf)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(f"{base}/healthcheck", process, root / "thumbor.log")
        yield Server(base, process.pid)
    finally:
        stop(process)
        log.close()


class Contender:
    """One way of doing the job: its requests' latencies and its server's CPU."""

    def __init__(self, name: str, server: Server, job: Callable[[int], bytes]) -> None:
        self.name, self.server, self.job = name, server, job
        self.latencies: list[float] = []
        self.cpu = 0.0

    def run(self, box: int) -> None:
        before = tree_cpu_seconds(self.server.pid)
        start = time.perf_counter()
        data = self.job(box)
        self.latencies.append((time.perf_counter() - start) * 1e3)
        self.cpu += tree_cpu_seconds(self.server.pid) - before
        width, height = Image.open(io.BytesIO(data)).size
        assert max(width, height) == box, (self.name, width, height, box)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=40, help="jobs per contender")
    args = parser.parse_args()
    print(f"{versions()}; {THUMBOR}; {load_average()} at start")
    photo = sample_jpeg(4000, 3000)
    print(f"job: a 4000x3000 JPEG q90 ({len(photo) / 1e6:.2f} MB) fitted into a box, JPEG q80")

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "photo.jpg").write_bytes(photo)
        (root / "pix").mkdir()
        env = {"PIX_ERASE_PROCESSES": "1", "OTEL_TRACES_ENABLED": "false"}
        with (
            thumbor(root) as thumbor_server,
            served(root / "pix", **env) as pix_server,
            httpx.Client(base_url=thumbor_server.base, timeout=60) as thumbor_http,
            httpx.Client(base_url=pix_server.base, timeout=60) as pix,
        ):
            login(pix)
            image_id = pix.post("/api/v1/images", files={"file": ("photo.jpg", photo)}).json()["id"]
            render = f"/api/v1/images/{image_id}/render"

            def thumbor_job(box: int) -> bytes:
                url = f"/unsafe/fit-in/{box}x{box}/filters:quality(80)/photo.jpg"
                return get(thumbor_http, url)

            def session_job(box: int) -> bytes:
                return get(pix, render, w=box, h=box, format="jpeg", q=80)

            # Signed URLs are made ahead, as a site embedding them would.
            boxes = [BOX + 1, *(box_of(index, 2) for index in range(args.n))]
            signed_urls = {
                box: pix.post(
                    f"{render}-url", json={"w": box, "h": box, "format": "jpeg", "q": 80}
                ).json()["url"]
                for box in boxes
            }

            def signed_job(box: int) -> bytes:
                return get(httpx_anonymous, signed_urls[box])

            def upload_job(box: int) -> bytes:
                files = {"file": ("photo.jpg", photo)}
                new_id = pix.post("/api/v1/images", files=files).json()["id"]
                return get(pix, f"/api/v1/images/{new_id}/render", w=box, h=box, q=80)

            httpx_anonymous = httpx.Client(base_url=pix_server.base, timeout=60)
            contenders = [
                Contender("thumbor 7.8, one process", thumbor_server, thumbor_job),
                Contender("PixErase render, session", pix_server, session_job),
                Contender("PixErase render, signed URL", pix_server, signed_job),
                Contender("PixErase upload + render", pix_server, upload_job),
            ]
            for contender in contenders:  # warm-up: imports, pool start, first connections
                contender.job(BOX + 1)
            order = list(enumerate(contenders))
            for index in range(args.n):
                # Each round starts with another contender: the one that runs right after
                # another server's job finds the CPU's caches filled with that server's data.
                shift = index % len(order)
                for number, contender in order[shift:] + order[:shift]:
                    contender.run(box_of(index, number))
            httpx_anonymous.close()

    base = contenders[0]
    rows = []
    for contender in contenders:
        cpu_ms = contender.cpu / args.n * 1e3
        p50 = percentile(contender.latencies, 0.5)
        rows.append(
            [
                contender.name,
                fmt_ms(cpu_ms),
                f"{cpu_ms / (base.cpu / args.n * 1e3):.2f}",
                fmt_ms(p50),
                f"{p50 / percentile(base.latencies, 0.5):.2f}",
            ]
        )
    print(f"\n### {args.n} jobs each, interleaved, one client\n")
    headers = ["", "server CPU ms/job", "x thumbor", "p50 ms", "x thumbor"]
    print(markdown_table(headers, rows))
    print(f"\n{load_average()} at the end")


def box_of(index: int, contender: int) -> int:
    """A box no other request asks for, about 512: nothing comes from a cache."""
    return BOX - 4 * index - contender


def get(http: httpx.Client, url: str, **params: object) -> bytes:
    response = http.get(url, params=params or None)  # type: ignore[arg-type]
    response.raise_for_status()
    return response.content


if __name__ == "__main__":
    if not sys.platform.startswith("linux"):
        raise SystemExit("reads /proc: Linux only")
    os.environ.pop("DATABASE_URL", None)
    main()
