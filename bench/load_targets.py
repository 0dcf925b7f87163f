"""The deployments `bench.load` runs against: `serve`, and `api` + `worker` on real
PostgreSQL, Redis and S3 (from `tests.backends`), each on a free loopback port."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from tests.backends import PixProcess, ProductionBackends, free_port

Target = tuple[str, str, Callable[[], None]]


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    keep = ("DATABASE_URL", "REDIS_URL", "S3_", "PIX_ERASE_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(keep)}
    return env | {"PIX_ERASE_DATA_DIR": str(data_dir), "PIX_ERASE_PROCESSES": "2"} | extra


def serve_target(log_dir: Path) -> Target:
    log_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = PixProcess(
        ["serve", "--port", str(port)], _env(log_dir / "data"), log_dir / "serve.log"
    )
    process.wait_ready(base)
    return "serve", base, process.stop


def production_target(log_dir: Path) -> Target:
    log_dir.mkdir(parents=True, exist_ok=True)
    backends = ProductionBackends()
    env = _env(log_dir / "data", **backends.env(), WORKER_METRICS_PORT=str(free_port()))
    subprocess.run([sys.executable, "-m", "pix_erase", "migrate"], env=env, check=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    api = PixProcess(["api", "--port", str(port)], env, log_dir / "api.log")
    worker = PixProcess(["worker", "--processes", "2"], env, log_dir / "worker.log")
    api.wait_ready(base)

    def stop() -> None:
        api.stop()
        worker.stop()
        backends.close()

    return "api + worker", base, stop


def targets(mode: str) -> Iterator[Target]:
    log_dir = Path(tempfile.mkdtemp(prefix="pix-load-"))
    print(f"logs in {log_dir}", flush=True)
    if mode in ("serve", "both"):
        yield serve_target(log_dir / "serve")
    if mode in ("production", "both"):
        yield production_target(log_dir / "production")
