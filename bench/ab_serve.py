"""One request against ``pix-erase serve`` from several checkouts, interleaved: is a change
cheaper?

Starts ``serve`` from each checkout given (its own ``.venv``, made by ``uv sync`` there; its
own data directory and port; one image process, tracing off), makes one account and one
uploaded 12 MP photo on each, then sends the same kind of request to each in turn, ``--n``
times, each round starting with the next checkout. Printed per checkout: the API process's
CPU per request, its image processes' CPU (the process tree below it), and the p50
latency; CPU comes from ``/proc`` in clock ticks, so use enough requests that a tick (10
ms) is small against their sum.

    git worktree add /tmp/base HEAD~1 && (cd /tmp/base && uv sync)
    uv run python -m bench.ab_serve --mode render --n 80 /tmp/base .

Modes: ``get`` (the image's row), ``render`` (a render URL the cache does not hold: each
request names a new box), ``cached`` (one render, answered from the cache), ``signed`` (a
new box through a signed URL, no session), ``upload`` (the 2.6 MB photo).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.common import (
    load_average,
    markdown_table,
    process_and_tree_cpu_seconds,
    sample_jpeg,
)
from bench.serve_overhead import free_port, login, stop, wait_ready

MODES = ("get", "render", "cached", "signed", "upload")


@dataclass
class Side:
    checkout: Path
    http: httpx.Client
    anonymous: httpx.Client  # for signed URLs: no session
    pid: int
    image_id: str
    signed: dict[int, str] = field(default_factory=dict)
    api: float = 0.0
    images: float = 0.0
    latencies: list[float] = field(default_factory=list)


@contextlib.contextmanager
def serve(checkout: Path, data: Path) -> Iterator[tuple[str, int]]:
    port = free_port()
    skip = {"DATABASE_URL", "REDIS_URL", "PYTHONPATH", "VIRTUAL_ENV"}
    env = {k: v for k, v in os.environ.items() if k not in skip}
    env |= {
        "PIX_ERASE_DATA_DIR": str(data),
        "UVICORN_PORT": str(port),
        "PIX_ERASE_PROCESSES": "1",
        "OTEL_TRACES_ENABLED": "false",
    }
    log = data / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(checkout / ".venv/bin/python"), "-m", "pix_erase", "serve"],
            cwd=checkout,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_ready(f"http://127.0.0.1:{port}/health/ready", process, log)
            yield f"http://127.0.0.1:{port}", process.pid
        finally:
            stop(process)


def request(mode: str, side: Side, photo: bytes) -> Callable[[int], httpx.Response]:
    images = f"/api/v1/images/{side.image_id}"

    def send(i: int) -> httpx.Response:
        box: dict[str, int | str] = {"w": 900 - i, "h": 900 - i, "format": "jpeg", "q": 80}
        if mode == "get":
            return side.http.get(images)
        if mode == "render":
            return side.http.get(f"{images}/render", params=box)
        if mode == "cached":
            return side.http.get(f"{images}/render", params={"w": 600, "h": 600})
        if mode == "signed":
            return side.anonymous.get(side.signed[i])
        return side.http.post("/api/v1/images", files={"file": ("photo.jpg", photo)})

    return send


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("checkouts", nargs="+", type=Path, help="directories with a .venv")
    parser.add_argument("--mode", choices=MODES, default="render")
    parser.add_argument("--n", type=int, default=60, help="timed requests per checkout")
    args = parser.parse_args()
    print(f"{load_average()} at start")
    photo = sample_jpeg(4000, 3000)
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        sides = []
        for number, checkout in enumerate(args.checkouts):
            data = tmp / str(number)
            data.mkdir()
            base, pid = stack.enter_context(serve(checkout.resolve(), data))
            http = stack.enter_context(httpx.Client(base_url=base, timeout=60))
            anonymous = stack.enter_context(httpx.Client(base_url=base, timeout=60))
            login(http)
            upload = http.post("/api/v1/images", files={"file": ("photo.jpg", photo)})
            image_id = upload.raise_for_status().json()["id"]
            side = Side(checkout, http, anonymous, pid, image_id)
            if args.mode == "signed":
                for i in range(-3, args.n):
                    box = {"w": 900 - i, "h": 900 - i, "format": "jpeg", "q": 80}
                    made = http.post(f"/api/v1/images/{side.image_id}/render-url", json=box)
                    side.signed[i] = made.raise_for_status().json()["url"]
            sides.append(side)
        senders = [request(args.mode, side, photo) for side in sides]
        for send in senders:
            for i in range(-3, 0):  # warm-up: the image process starts, the code is loaded
                send(i).raise_for_status()
        for i in range(args.n):
            for turn in range(len(sides)):
                number = (i + turn) % len(sides)
                side, send = sides[number], senders[number]
                api, tree = process_and_tree_cpu_seconds(side.pid)
                start = time.perf_counter()
                send(i).raise_for_status()
                side.latencies.append((time.perf_counter() - start) * 1e3)
                api_after, tree_after = process_and_tree_cpu_seconds(side.pid)
                side.api += api_after - api
                side.images += (tree_after - api_after) - (tree - api)
    rows = [
        [
            str(side.checkout),
            f"{side.api / args.n * 1e3:.2f}",
            f"{side.images / args.n * 1e3:.2f}",
            f"{(side.api + side.images) / args.n * 1e3:.2f}",
            f"{statistics.median(side.latencies):.1f}",
        ]
        for side in sides
    ]
    print(f"\n### {args.mode}: {args.n} requests per checkout, interleaved\n")
    headers = ["checkout", "API CPU ms/req", "image processes ms/req", "total", "p50 ms"]
    print(markdown_table(headers, rows))
    print(f"\n{load_average()} at the end")


if __name__ == "__main__":
    main()
