"""A missing or a silent trace collector costs requests nothing, and shutdown does not hang.

`pix-erase serve` runs with tracing on, pointed at (a) a port nobody listens on and
(b) a socket that accepts connections and never answers.
"""

import signal
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.backends import PixProcess, free_port
from tests.conftest import encode, sample_rgb


@pytest.fixture
def silent_collector() -> Iterator[int]:
    """Accepts TCP connections and never says a word (a hung collector)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for connection in held:
        connection.close()
    server.close()


def serve_with_collector(tmp_path: Path, collector_port: int) -> None:
    port = free_port()
    env = {
        "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin",
        "PIX_ERASE_DATA_DIR": str(tmp_path),
        "UVICORN_PORT": str(port),
        "OTEL_TRACES_ENABLED": "true",
        "TEMPO_HOST": "127.0.0.1",
        "TEMPO_GRPC_PORT": str(collector_port),
    }
    serve = PixProcess(["serve"], env, tmp_path / "serve.log")
    try:
        base = f"http://127.0.0.1:{port}"
        serve.wait_ready(base)
        with httpx.Client(base_url=base, timeout=10) as http:
            creds = {"email": "t@example.com", "password": "long enough pw"}
            assert http.post("/api/v1/auth/signup", json=creds).status_code == 201
            token = http.post("/api/v1/auth/login", json=creds).json()["access_token"]
            for _ in range(20):  # enough spans to fill export batches
                upload = http.post(
                    "/api/v1/images",
                    headers={"Authorization": f"Bearer {token}"},
                    files={"file": ("a.png", encode(sample_rgb(), "PNG"))},
                )
                assert upload.status_code == 201
        # Shutdown flushes spans for at most the export timeout (3 s), then exits;
        # uvicorn finishes its graceful shutdown, then re-raises the signal it got.
        assert serve.terminate(timeout=30) in (0, -signal.SIGTERM)
        assert "Finished server process" in serve.log()
    finally:
        serve.stop()


def test_a_missing_collector_changes_nothing(tmp_path: Path) -> None:
    serve_with_collector(tmp_path, free_port())  # nothing listens there


def test_a_silent_collector_changes_nothing(tmp_path: Path, silent_collector: int) -> None:
    serve_with_collector(tmp_path, silent_collector)
