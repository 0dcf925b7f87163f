"""A mixed load against a running PixErase on loopback: do other users still get served?

`--clients` concurrent users for `--seconds`, each in one role (by its number):
wrong logins (a guessed password, again and again), stalled uploads (a multipart body
that announces 1 MB, sends 100 bytes and waits), real uploads (a 1 MP PNG, then its
EXIF) and operations (grayscale and a 40-rectangle `erase` on their own upload; a 429
is honoured with its Retry-After). It starts `serve` (embedded) and/or `api` + `worker`
(PostgreSQL, Redis and S3 from `tests.backends`), first measures an idle run (two
uploading users alone), and prints per mode: status counts, p50/p99 of the uploading
and operating users' requests, the ratio of their p99 under load to idle, any 5xx, and
whether every accepted task ended. Bounded in clients, time and waits; loopback only.

    uv run python -m bench.load [--clients 50] [--seconds 120] [--mode serve|production|both]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np
from PIL import Image

ROLES = ("wrong_login", "stalled_upload", "uploader", "operator")
TASK_END_TIMEOUT = 180.0


@dataclass
class Report:
    statuses: Counter[int] = field(default_factory=Counter)
    latencies: dict[str, list[float]] = field(default_factory=dict)
    accepted: list[tuple[int, str]] = field(default_factory=list)
    unfinished: list[str] = field(default_factory=list)
    server_errors: list[str] = field(default_factory=list)

    def record(self, kind: str, started: float, response: httpx.Response) -> None:
        self.statuses[response.status_code] += 1
        self.latencies.setdefault(kind, []).append(time.monotonic() - started)
        if response.status_code >= 500:
            self.server_errors.append(f"{kind} {response.status_code} {response.text[:200]}")

    def p(self, kinds: tuple[str, ...], fraction: float) -> float:
        values = sorted(v for kind in kinds for v in self.latencies.get(kind, []))
        if not values:
            return float("nan")
        return values[min(len(values) - 1, int(fraction * len(values)))]


def png(width: int, height: int, seed: int) -> bytes:
    noise = np.random.default_rng(seed).integers(0, 255, (height, width, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(noise).save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


async def _signup(client: httpx.AsyncClient) -> dict[str, str]:
    email = f"load-{uuid.uuid4().hex[:12]}@example.com"
    password = "a long load-test password"  # noqa: S105  (a throwaway account)
    await client.post("/api/v1/auth/signup", json={"email": email, "password": password})
    login = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    client.cookies.clear()
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


async def _stall(host: str, port: int, headers: dict[str, str], until: float) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    head = (
        "POST /api/v1/images HTTP/1.1\r\n"
        f"Host: {host}\r\nAuthorization: {headers['Authorization']}\r\n"
        "Content-Type: multipart/form-data; boundary=x\r\nContent-Length: 1000000\r\n\r\n"
    )
    writer.write(head.encode() + b"--x\r\n" + b"a" * 100)
    await writer.drain()
    await asyncio.sleep(max(0.0, min(10.0, until - time.monotonic())))
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    del reader


async def _actor(
    number: int, role: str, base: str, until: float, report: Report, tokens: dict[int, Any]
) -> None:
    rng = random.Random(number)
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        headers = await _signup(client)
        tokens[number] = headers
        photo = png(1000, 1000, number)
        image_id = None
        while time.monotonic() < until:
            started = time.monotonic()
            try:
                if role == "wrong_login":
                    body = {"email": f"victim{rng.randint(0, 3)}@example.com", "password": "guess"}
                    report.record(role, started, await client.post("/api/v1/auth/login", json=body))
                elif role == "stalled_upload":
                    host, port = base.removeprefix("http://").split(":")
                    await _stall(host, int(port), headers, until)
                elif role == "uploader":
                    files = {"file": ("photo.png", photo)}
                    up = await client.post("/api/v1/images", headers=headers, files=files)
                    report.record("upload", started, up)
                    if up.status_code == 201:
                        started = time.monotonic()
                        url = f"/api/v1/images/{up.json()['id']}/exif"
                        report.record("exif", started, await client.get(url, headers=headers))
                else:
                    if image_id is None:
                        files = {"file": ("photo.png", photo)}
                        up = await client.post("/api/v1/images", headers=headers, files=files)
                        report.record("upload", started, up)
                        image_id = up.json().get("id") if up.status_code == 201 else None
                        continue
                    rects = [[rng.randint(0, 900), rng.randint(0, 900), 40, 30] for _ in range(40)]
                    operation = rng.choice(
                        [{"type": "grayscale"}, {"type": "erase", "rects": rects}]
                    )
                    url = f"/api/v1/images/{image_id}/operations"
                    sent = await client.post(url, headers=headers, json={"operation": operation})
                    report.record("submit", started, sent)
                    if sent.status_code == 202:
                        report.accepted.append((number, sent.json()["task_id"]))
                    elif sent.status_code == 429:
                        await asyncio.sleep(float(sent.headers.get("retry-after", "1")))
                    await asyncio.sleep(0.2)
            except httpx.TransportError as exc:
                report.server_errors.append(f"{role} transport {exc!r}")
                await asyncio.sleep(0.5)


async def wait_tasks(base: str, report: Report, tokens: dict[int, Any]) -> None:
    """Every accepted task must end (succeeded or failed), within a bound."""
    deadline = time.monotonic() + TASK_END_TIMEOUT
    pending = list(report.accepted)
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        while pending and time.monotonic() < deadline:
            still = []
            for number, task_id in pending:
                task = await client.get(f"/api/v1/tasks/{task_id}", headers=tokens[number])
                if task.status_code >= 500 or task.json()["status"] in ("queued", "running"):
                    still.append((number, task_id))
            pending = still
            if pending:
                await asyncio.sleep(0.5)
    report.unfinished = [task_id for _, task_id in pending]


async def run_load(
    base: str, clients: int, seconds: float, roles: tuple[str, ...] = ROLES
) -> Report:
    report = Report()
    tokens: dict[int, Any] = {}
    until = time.monotonic() + seconds
    actors = [_actor(n, roles[n % len(roles)], base, until, report, tokens) for n in range(clients)]
    await asyncio.gather(*actors)
    await wait_tasks(base, report, tokens)
    return report


OTHERS = ("upload", "exif", "submit")


def summary(name: str, idle: Report, loaded: Report) -> str:
    idle_p99, loaded_p99 = idle.p(OTHERS, 0.99), loaded.p(OTHERS, 0.99)
    lines = [
        f"## {name}",
        f"statuses: {dict(sorted(loaded.statuses.items()))}",
        f"other users' p50 {loaded.p(OTHERS, 0.5) * 1000:.0f} ms, p99 {loaded_p99 * 1000:.0f} ms;"
        f" idle p99 {idle_p99 * 1000:.0f} ms; ratio {loaded_p99 / idle_p99:.1f}",
        f"5xx or transport errors: {len(loaded.server_errors)} {loaded.server_errors[:5]}",
        f"accepted tasks: {len(loaded.accepted)}, unfinished: {len(loaded.unfinished)}",
    ]
    return "\n".join(lines)


def main() -> None:
    from bench.load_targets import targets

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--mode", choices=["serve", "production", "both"], default="both")
    args = parser.parse_args()
    for name, base, stop in targets(args.mode):
        try:
            idle = asyncio.run(run_load(base, 2, min(20.0, args.seconds), ("uploader",)))
            loaded = asyncio.run(run_load(base, min(args.clients, 50), min(args.seconds, 300)))
            print(summary(name, idle, loaded), flush=True)
        finally:
            stop()


if __name__ == "__main__":
    main()
