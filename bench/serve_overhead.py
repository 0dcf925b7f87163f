"""What the HTTP service adds on top of the image work, for one user's whole flow.

Starts ``pix-erase serve`` as a real process (fresh data directory, free port), signs up
and logs in with httpx, then N times: upload a 12 MP JPEG, ask for a resize to 2000x1500
with ``?wait=30`` (one request answers with the finished task), download the result.
Each flow is timed next to a bare ``run_steps`` call on the same bytes in this process
(interleaved), so the ratio says what the queue, the database, the storage and HTTP cost.

The same resize also runs as a render URL after the upload (``GET .../render?w=2000&h=1500
&q=90``, the one-request path for a cheap transform: no task, the answer is the result;
unlike the task's result it carries no EXIF), interleaved with the other two.

    uv run python -m bench.serve_overhead [--n 20]
"""

from __future__ import annotations

import argparse
import io
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
from PIL import Image

from bench.common import (
    fmt_ms,
    load_average,
    markdown_table,
    percentile,
    sample_jpeg,
    versions,
)
from pix_erase.processing import Resize, run_steps
from pix_erase.processing.pipeline import DEFAULT_QUALITY

MAX_PIXELS = 100_000_000
OPERATION = {"type": "resize", "width": 2000, "height": 1500}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class Server:
    base: str
    pid: int


@contextmanager
def served(data_dir: Path, **extra_env: str) -> Iterator[Server]:
    """``pix-erase serve`` on a free port; SIGTERM at the end, SIGKILL after 30 s."""
    port = free_port()
    # A DATABASE_URL or REDIS_URL from the caller's shell would point serve elsewhere.
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env |= {"PIX_ERASE_DATA_DIR": str(data_dir), "UVICORN_PORT": str(port), **extra_env}
    log_path = data_dir / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "pix_erase", "serve"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_ready(f"{base}/health/ready", process, log_path)
            yield Server(base, process.pid)
        finally:
            stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, as a service manager stops a server; killed if it is not gone in 30 s."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def wait_ready(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    """Until `url` answers 200; fails with the server's log if it exits or takes 60 s."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited:\n{log_path.read_text()}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} was not ready after 60 s:\n{log_path.read_text()}")


def login(http: httpx.Client) -> None:
    creds = {"email": "bench@example.com", "password": "a long bench password"}
    http.post("/api/v1/auth/signup", json=creds).raise_for_status()
    token = http.post("/api/v1/auth/login", json=creds).json()["access_token"]
    http.headers["Authorization"] = f"Bearer {token}"


STAGES = (
    ("upload (POST /images)", "upload"),
    ("submit + queue wait (to started_at)", "queue"),
    ("task run on the server (started_at to finished_at)", "run"),
    ("until the answer arrives (finished_at to response)", "notice"),
    ("download (GET content)", "download"),
)


@dataclass
class Flow:
    """Stage wall times (ms). The server's task timestamps split the wait for the task,
    which works because client and server share this machine's clock."""

    upload: float
    queue: float
    run: float
    notice: float
    download: float
    result: bytes

    @property
    def total(self) -> float:
        return self.upload + self.queue + self.run + self.notice + self.download


def _server_time(text: str) -> float:
    stamp = datetime.fromisoformat(text)
    return (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).timestamp()


def flow(http: httpx.Client, photo: bytes) -> Flow:
    """Upload, operate with `?wait=30`, download; as the README's curl walk-through."""
    start = time.time()
    upload = http.post("/api/v1/images", files={"file": ("photo.jpg", photo, "image/jpeg")})
    upload.raise_for_status()
    uploaded = time.time()
    submit = http.post(
        f"/api/v1/images/{upload.json()['id']}/operations",
        params={"wait": 30},
        json={"operation": OPERATION},
    )
    submit.raise_for_status()
    task = submit.json()
    if submit.status_code != 200 or task["status"] != "succeeded":
        raise RuntimeError(f"task did not succeed within the wait: {task}")
    done = time.time()
    result = http.get(f"/api/v1/images/{task['result']['image_id']}/content")
    result.raise_for_status()
    end = time.time()
    started, finished = _server_time(task["started_at"]), _server_time(task["finished_at"])
    return Flow(
        upload=(uploaded - start) * 1e3,
        queue=(started - uploaded) * 1e3,
        run=(finished - started) * 1e3,
        notice=(done - finished) * 1e3,
        download=(end - done) * 1e3,
        result=result.content,
    )


def render_flow(http: httpx.Client, photo: bytes) -> tuple[float, float, bytes]:
    """Upload, then the same resize as a render URL: (upload ms, render ms, result)."""
    start = time.perf_counter()
    upload = http.post("/api/v1/images", files={"file": ("photo.jpg", photo, "image/jpeg")})
    upload.raise_for_status()
    uploaded = time.perf_counter()
    box = {"w": 2000, "h": 1500, "q": DEFAULT_QUALITY}  # OPERATION as a render
    result = http.get(f"/api/v1/images/{upload.json()['id']}/render", params=box)
    result.raise_for_status()
    end = time.perf_counter()
    return (uploaded - start) * 1e3, (end - uploaded) * 1e3, result.content


def bare(photo: bytes) -> tuple[float, bytes]:
    step = Resize.model_validate(OPERATION)
    start = time.perf_counter()
    encoded = run_steps(photo, [step], max_pixels=MAX_PIXELS)
    return (time.perf_counter() - start) * 1e3, encoded.data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=20, help="flows to time")
    args = parser.parse_args()

    print(f"{versions()}; {load_average()} at start")
    photo = sample_jpeg(4000, 3000)
    print(f"sample: 4000x3000 JPEG q90 {len(photo) / 1e6:.2f} MB; operation {OPERATION}")
    with (
        tempfile.TemporaryDirectory() as tmp,
        served(Path(tmp)) as server,
        httpx.Client(base_url=server.base, timeout=60) as http,
    ):
        login(http)
        # The first job starts the worker pool's processes; report it, don't mix it in.
        cold = flow(http, photo).total
        render_flow(http, photo)
        bare(photo)
        flows: list[Flow] = []
        renders: list[tuple[float, float, bytes]] = []
        bares: list[float] = []
        for _ in range(args.n):
            flows.append(flow(http, photo))
            renders.append(render_flow(http, photo))
            ms, expected = bare(photo)
            bares.append(ms)
    for data in (flows[-1].result, renders[-1][2], expected):
        assert Image.open(io.BytesIO(data)).size == (2000, 1500)

    totals = [f.total for f in flows]
    rows = [[label, *_p([getattr(f, name) for f in flows])] for label, name in STAGES]
    rows += [["whole flow", *_p(totals)], ["bare run_steps", *_p(bares)]]
    ratio = [f"{percentile(totals, q) / percentile(bares, q):.1f}" for q in (0.5, 0.99)]
    rows.append(["ratio flow / bare", *ratio])
    render_totals = [upload + render for upload, render, _ in renders]
    rows += [
        ["render URL flow: upload", *_p([upload for upload, _, _ in renders])],
        ["render URL flow: GET render", *_p([render for _, render, _ in renders])],
        ["render URL flow, whole", *_p(render_totals)],
    ]
    ratio = [f"{percentile(render_totals, q) / percentile(bares, q):.1f}" for q in (0.5, 0.99)]
    rows.append(["ratio render URL flow / bare", *ratio])
    print(f"\n### {args.n} flows of each kind, interleaved with bare run_steps\n")
    print(markdown_table(["stage", "p50 ms", "p99 ms"], rows))
    print(f"\nfirst flow (starts the worker processes): {fmt_ms(cold)} ms")
    print(f"{load_average()} at the end")


def _p(values: list[float]) -> list[str]:
    return [fmt_ms(percentile(values, 0.5)), fmt_ms(percentile(values, 0.99))]


if __name__ == "__main__":
    main()
