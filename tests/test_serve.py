"""`pix-erase serve` as a user runs it: a real process, real HTTP, embedded defaults.

This is the README's curl walk-through, made with httpx against the running process.
"""

import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.backends import PixProcess, free_port
from tests.conftest import decode, encode, sample_rgb


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    data_dir = tmp_path_factory.mktemp("serve")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env |= {"PIX_ERASE_DATA_DIR": str(data_dir), "UVICORN_PORT": str(port)}
    serve = PixProcess(["serve"], env, data_dir / "serve.log")
    base = f"http://127.0.0.1:{port}"
    try:
        serve.wait_ready(base)
        yield base, data_dir
    finally:
        serve.stop()


def test_walkthrough_signup_login_upload_rotate_poll_download(
    served: tuple[str, Path],
) -> None:
    base, data_dir = served
    with httpx.Client(base_url=base, timeout=30) as http:
        creds = {"email": "walk@example.com", "password": "a long password"}
        assert http.post("/api/v1/auth/signup", json=creds).status_code == 201
        token = http.post("/api/v1/auth/login", json=creds).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}

        upload = http.post(
            "/api/v1/images",
            headers=auth,
            files={"file": ("photo.jpg", encode(sample_rgb(64, 48), "JPEG"))},
        )
        assert upload.status_code == 201
        image_id = upload.json()["id"]

        submit = http.post(
            f"/api/v1/images/{image_id}/operations",
            headers=auth,
            json={"operation": {"type": "rotate", "angle": 90}},
        )
        assert submit.status_code == 202
        assert submit.json()["status"] == "queued"
        task_id = submit.json()["task_id"]
        for _ in range(600):
            task = http.get(f"/api/v1/tasks/{task_id}", headers=auth).json()
            if task["status"] in ("succeeded", "failed"):
                break
            time.sleep(0.05)
        assert task["status"] == "succeeded", task

        result = http.get(f"/api/v1/images/{task['result']['image_id']}/content", headers=auth)
        assert result.status_code == 200
        assert decode(result.content).size == (48, 64)
    # Embedded defaults: the SQLite file and the objects live in the data directory.
    assert (data_dir / "pix_erase.db").is_file()
    assert any((data_dir / "objects").rglob("*"))


def test_serve_logs_json_lines(served: tuple[str, Path]) -> None:
    import json

    _, data_dir = served
    lines = [line for line in (data_dir / "serve.log").read_text().splitlines() if line.strip()]
    assert lines
    for line in lines:
        entry = json.loads(line)
        assert {"event", "level", "timestamp"} <= set(entry)
