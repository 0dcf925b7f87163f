"""What the observability stack costs a request: the same app with it on and off.

Two ``pix-erase serve`` processes in one run, each with its own data directory, port and
log file: "on" traces every request (``OTEL_TRACES_ENABLED=true``, OTLP/gRPC to a real
receiver, ``tests.otlp.OtlpReceiver``, in this process) and writes a JSON access line
per request; "off" has ``OTEL_TRACES_ENABLED=false`` and ``LOG_LEVEL=WARNING`` (no
request line). Metrics cannot be switched off: both count and time every request, so
their cost is in neither ratio. 16 concurrent httpx clients load ``GET /health/live``
(no database, no body, no span), the authenticated ``GET /api/v1/images/{id}`` and
``GET /api/v1/images/{id}/content`` of a 1 MB JPEG, after a warm-up, the configurations
alternating in rounds. Printed: requests/s, p50, p99, the server's CPU time per request
(event-loop thread, other threads), ratios on/off.

``--profile`` names the part that costs: it calls the app in this process through ASGI
(no client, no socket) as shipped, then with the access log, the SQL spans, the
request's span or all three taken away, down to no request observer (the floor), and
with the request span made by the OpenTelemetry ASGI middleware instead (as it once was).
Each configuration is read against its own baseline (see BASELINES): the two run one
after the other in one process, and the second is slower whatever it does.

    uv run python -m bench.observability_overhead [--requests 2000]
    uv run python -m bench.observability_overhead --profile
    uv run python -m bench.observability_overhead --sampler-arg 0.1  # trace one request in ten
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import PIPE, Popen
from typing import Any

import httpx
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.instrumentation.utils import suppress_instrumentation
from starlette.middleware import Middleware
from tests.backends import PixProcess, free_port
from tests.otlp import OtlpReceiver

from bench.common import fmt_ms, load_average, markdown_table, percentile, sample_jpeg, versions
from bench.production_flow import clean_env, login, wait_ready
from pix_erase.main import create_app
from pix_erase.platform.migrate import upgrade_head
from pix_erase.platform.observability.http import RequestObserver, RouteTable
from pix_erase.platform.observability.logging import configure_logging
from pix_erase.platform.observability.tracing import UNTRACED_PATHS
from pix_erase.setup.config import AppSettings, ObservabilitySettings, Settings

CONCURRENCY = 16
WARMUP = 200  # requests per endpoint and configuration, not counted
BATCH_TIMEOUT = 300.0
IMAGE_SIZE = (2400, 1800)  # a q90 JPEG of ~1 MB


@dataclass
class Server:
    name: str
    base: str
    pix: PixProcess
    headers: dict[str, str] = field(default_factory=dict)
    image_id: str = ""


@dataclass
class Samples:
    """One endpoint on one configuration: latencies (ms), wall time, server CPU (s)."""

    ms: list[float] = field(default_factory=list)
    seconds: float = 0.0
    loop_cpu: float = 0.0
    other_cpu: float = 0.0


def thread_cpu(pid: int) -> dict[int, float]:
    """CPU seconds (user + system) of each thread of ``pid``. Python 3.11 does not name
    its threads for the kernel, so the main thread (tid == pid) is all that tells apart."""
    tick = os.sysconf("SC_CLK_TCK")
    found = {}
    for stat in Path(f"/proc/{pid}/task").glob("*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            f = stat.read_text().rsplit(")", 1)[1].split()
            found[int(stat.parent.name)] = (int(f[11]) + int(f[12])) / tick
    return found


def start(stack: contextlib.ExitStack, tmp: Path, name: str, extra: dict[str, str]) -> Server:
    port, data = free_port(), tmp / name
    data.mkdir()
    # PIX_ERASE_PROCESSES=1: two servers on 2 cores, and the pool only checks one upload.
    env = clean_env(PIX_ERASE_DATA_DIR=str(data), UVICORN_PORT=str(port), **extra)
    env["PIX_ERASE_PROCESSES"] = "1"
    pix = PixProcess(["serve"], env, data / "serve.log")  # stdout, the JSON logs, to a file
    stack.callback(pix.stop)
    base = f"http://127.0.0.1:{port}"
    wait_ready(base, [pix])
    return Server(name, base, pix)


def prepare(server: Server, photo: bytes) -> None:
    token = login(server.base, f"{server.name}@example.com")
    server.headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=server.base, headers=server.headers, timeout=60) as http:
        upload = http.post("/api/v1/images", files={"file": ("p.jpg", photo, "image/jpeg")})
        server.image_id = upload.raise_for_status().json()["id"]


async def hammer(server: Server, path: str, n: int) -> tuple[list[float], float]:
    """``n`` GETs of ``path`` from CONCURRENCY concurrent clients on kept-alive
    connections; each latency includes reading the whole body."""
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    remaining, ms = [n], []
    async with httpx.AsyncClient(
        base_url=server.base, headers=server.headers, timeout=30, limits=limits
    ) as http:

        async def client() -> None:
            while remaining[0] > 0:
                remaining[0] -= 1
                begin = time.perf_counter()
                (await http.get(path)).raise_for_status()
                ms.append((time.perf_counter() - begin) * 1e3)

        begin = time.perf_counter()
        clients = asyncio.gather(*(client() for _ in range(CONCURRENCY)))
        await asyncio.wait_for(clients, BATCH_TIMEOUT)
        return ms, time.perf_counter() - begin


def batch(server: Server, path: str, n: int, samples: Samples) -> None:
    pid = server.pix.process.pid
    before = thread_cpu(pid)
    ms, seconds = asyncio.run(hammer(server, path, n))
    after = thread_cpu(pid)
    samples.ms += ms
    samples.seconds += seconds
    for tid, cpu in after.items():  # a thread born in between started from zero
        used = cpu - before.get(tid, 0.0)
        if tid == pid:
            samples.loop_cpu += used
        else:
            samples.other_cpu += used


def endpoints(server: Server) -> dict[str, str]:
    return {
        "GET /health/live": "/health/live",
        "GET /api/v1/images/{id}": f"/api/v1/images/{server.image_id}",
        "GET /api/v1/images/{id}/content (1 MB)": f"/api/v1/images/{server.image_id}/content",
    }


def measure(servers: list[Server], requests: int, rounds: int) -> dict[tuple[str, str], Samples]:
    results: dict[tuple[str, str], Samples] = {}
    for server in servers:
        for label, path in endpoints(server).items():
            results[label, server.name] = Samples()
            asyncio.run(hammer(server, path, WARMUP))  # connections, caches, first spans
    per_round = max(1, requests // rounds)
    for index in range(rounds):
        for label in endpoints(servers[0]):
            order = servers if index % 2 == 0 else servers[::-1]  # ABBA: neither always first
            for server in order:
                batch(server, endpoints(server)[label], per_round, results[label, server.name])
    return results


def report(results: dict[tuple[str, str], Samples], requests: int) -> None:
    headers = ["request", "config", "req/s", "p50 ms", "p99 ms", "server CPU ms/req"]
    headers += ["of it: event loop", "other threads"]
    rows = []
    for label in dict.fromkeys(label for label, _ in results):
        figures = {}
        for config in ("on", "off"):
            s = results[label, config]
            n = len(s.ms)
            cpu = [c * 1e3 / n for c in (s.loop_cpu + s.other_cpu, s.loop_cpu, s.other_cpu)]
            fig = (n / s.seconds, percentile(s.ms, 0.5), percentile(s.ms, 0.99), *cpu)
            figures[config] = fig
            cells = [f"{fig[0]:.0f}", fmt_ms(fig[1]), fmt_ms(fig[2])]
            rows.append([label, config, *cells, *(f"{v:.2f}" for v in fig[3:])])
        on, off = figures["on"], figures["off"]
        ratios = [f"{a / b:.2f}" if b else "—" for a, b in zip(on, off, strict=True)]
        rows.append([label, "**on / off**", *ratios])
    print(f"\n### {requests} requests per request and configuration, {CONCURRENCY} concurrent\n")
    print(markdown_table(headers, rows))


# --- --profile: which part of "on" costs, by taking the parts away one at a time ---

PROFILE_ROUNDS = 5
# per variant and round. "image" is GET /api/v1/images/{id}: the download's session and
# image lookups (and so its three SQL spans) without streaming the file, whose thread
# hand-offs made an in-process download too noisy to tell the parts apart.
PROFILE_REQUESTS = {"live": 1000, "image": 500}


async def _asgi_get(app: Any, path: str, token: str) -> int:
    """One GET straight into the ASGI app: no client, no socket, nothing but the app."""
    done, status, first = asyncio.Event(), [0], [True]

    async def receive() -> dict[str, Any]:
        if first[0]:
            first[0] = False
            return {"type": "http.request", "body": b"", "more_body": False}
        await done.wait()  # a streaming response may listen for a disconnect
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status[0] = message["status"]
        elif not message.get("more_body", False):
            done.set()

    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), (b"authorization", f"Bearer {token}".encode())],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8080),
    }
    await app(scope, receive, send)
    return status[0]


class _NoSqlSpans:
    """Innermost middleware: suppresses instrumentation below the request's span, so the
    SQL spans go while the request observer (outside it) still traces the request."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        with suppress_instrumentation():
            await self.app(scope, receive, send)


# The parts a variant takes away (or, ASGI_SPAN, swaps): the request observer, the
# request's span (the observer without its tracer), the SQL spans (_NoSqlSpans added), and
# the request span made by the OpenTelemetry ASGI instrumentation instead of the observer
# (how PixErase traced requests before; kept to compare the two).
OBSERVER, SPAN, SQL, ASGI_SPAN = "observer", "span", "sql", "asgi span"
# name -> (parts, log level). The first of each configuration is the app as shipped.
VARIANTS: dict[str, dict[str, tuple[tuple[str, ...], str]]] = {
    "off": {
        "off, as shipped": ((), "WARNING"),
        "no request observer (the floor)": ((OBSERVER,), "WARNING"),
    },
    "on": {
        "on, as shipped": ((), "INFO"),
        "on, without the access log (WARNING)": ((), "WARNING"),
        "on, without the SQL spans": ((SQL,), "INFO"),
        "on, without the request span": ((SPAN,), "INFO"),
        "on, without all three": ((SPAN, SQL), "WARNING"),
        "on, request span by the OTel ASGI middleware": ((ASGI_SPAN,), "INFO"),
    },
}


def _middleware(shipped: list[Any], parts: tuple[str, ...]) -> list[Any]:
    """The app's middleware list (outermost first) with `parts` taken away or swapped."""
    stack = []
    observer: dict[str, Any] = next(m for m in shipped if m.cls is RequestObserver).kwargs
    for entry in shipped:
        if entry.cls is RequestObserver:
            if OBSERVER in parts:
                continue
            if SPAN in parts or ASGI_SPAN in parts:
                entry = Middleware(RequestObserver, **{**observer, "tracer": None})
        stack.append(entry)
    if ASGI_SPAN in parts:
        routes: RouteTable = observer["routes"]

        def span_details(scope: Any) -> tuple[str, dict[str, str]]:
            template = routes.template(scope["method"], scope["path"])
            return f"{scope['method']} {template}", {"http.route": template}

        asgi = Middleware(
            OpenTelemetryMiddleware,
            exclude_spans=["receive", "send"],
            excluded_urls=",".join(UNTRACED_PATHS),
            default_span_details=span_details,
        )
        stack.insert(0, asgi)
    if SQL in parts:
        stack.append(Middleware(_NoSqlSpans))
    return stack


async def _time_variants(
    settings: Settings,
    photo: bytes,
    variants: dict[str, tuple[tuple[str, ...], str]],
    rounds: int,
) -> dict[str, dict[str, list[float]]]:
    """us per request of each variant and endpoint, one figure per round (A, B, C, A...)."""
    app = create_app(settings, in_process_worker=True)
    shipped = list(app.user_middleware)
    names = ("live", "live cpu", "image", "image cpu")
    out: dict[str, dict[str, list[float]]] = {v: {n: [] for n in names} for v in variants}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
            creds = {"email": "profile@example.com", "password": "a long bench password"}
            (await http.post("/api/v1/auth/signup", json=creds)).raise_for_status()
            token = (await http.post("/api/v1/auth/login", json=creds)).json()["access_token"]
            auth = {"Authorization": f"Bearer {token}"}
            files = {"file": ("p.jpg", photo, "image/jpeg")}
            upload = await http.post("/api/v1/images", files=files, headers=auth)
            image_id = upload.raise_for_status().json()["id"]
        paths = {"live": "/health/live", "image": f"/api/v1/images/{image_id}"}
        for _ in range(rounds):
            for variant, (parts, level) in variants.items():
                app.user_middleware = _middleware(shipped, parts)
                app.middleware_stack = None  # rebuilt from user_middleware on the next call
                logging.getLogger().setLevel(level)
                for name, path in paths.items():
                    for _ in range(20):  # warm-up
                        assert await _asgi_get(app, path, token) == 200
                    n = PROFILE_REQUESTS[name]
                    begin, cpu = time.perf_counter(), time.process_time()
                    for _ in range(n):
                        await _asgi_get(app, path, token)
                    out[variant][name].append((time.perf_counter() - begin) * 1e6 / n)
                    # All threads: the event loop, SQLite's threads and the span exporter.
                    out[variant][f"{name} cpu"].append((time.process_time() - cpu) * 1e6 / n)
    return out


# The receiver is bound to a name: a gRPC server nothing refers to is collected, and
# stopped, within a second, after which every export would fail and be retried.
RECEIVER = (
    "import sys; from tests.otlp import OtlpReceiver; receiver = OtlpReceiver(); "
    "print(receiver.port, flush=True); sys.stdin.read()"
)


# Each configuration is read against a baseline of its own phase, never across phases:
# the second app built in this process is slower than the first whatever it does (with
# tracing off in both phases, "on, as shipped" measured 0.7 ms of CPU more than "off, as
# shipped" on the image request, 2026-11-30), so "on" against "off" here is mostly that.
BASELINES = {"off": "no request observer (the floor)", "on": "on, without all three"}


def profile(rounds: int) -> None:
    """Time the app in this process with parts of the stack taken away. "off" runs
    first: once a tracer provider is installed it is global, so it cannot be undone. The
    OTLP receiver runs in a child process, so its CPU is not counted as the app's; it
    exits when this process closes its stdin."""
    print(f"{versions()}; {load_average()} at start")
    sampler = os.environ.get("OTEL_TRACES_SAMPLER"), os.environ.get("OTEL_TRACES_SAMPLER_ARG")
    if sampler[1] is not None:
        print(f"'on' samples: {sampler[0]} {sampler[1]}")
    photo = sample_jpeg(*IMAGE_SIZE)
    results: dict[str, dict[str, list[float]]] = {}
    receiver = Popen([sys.executable, "-c", RECEIVER], stdin=PIPE, stdout=PIPE)
    try:
        assert receiver.stdout is not None
        port = int(receiver.stdout.readline())
        with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as logs:
            for config, variants in VARIANTS.items():
                data = Path(tmp) / config
                obs = ObservabilitySettings(
                    traces_enabled=config == "on", tempo_host="127.0.0.1", tempo_grpc_port=port
                )
                settings = Settings(app=AppSettings(data_dir=data, processes=1), observability=obs)
                data.mkdir()
                upgrade_head(settings.app.resolved_database_url)
                # The JSON logs go to a file, as serve's stdout does in the benchmark.
                log = logs.enter_context((data / "log").open("w"))
                with contextlib.redirect_stdout(log):
                    configure_logging("INFO")
                results |= asyncio.run(_time_variants(settings, photo, variants, rounds))
    finally:
        receiver.kill()
        receiver.wait()
    rows = []
    for config, variants in VARIANTS.items():
        base = {k: statistics.median(v) for k, v in results[BASELINES[config]].items()}
        for variant in variants:
            figures, cells = results[variant], []
            for name in ("live", "image"):
                wall = statistics.median(figures[name])
                cpu = statistics.median(figures[f"{name} cpu"])
                cells += [f"{wall:.0f}", f"{cpu:.0f}", f"{cpu - base[f'{name} cpu']:+.0f}"]
            rows.append([variant, *cells])
    print(f"\n### In-process, sequential: median of {rounds} rounds, us per request\n")
    headers = ["variant", "live wall", "live CPU", "CPU vs baseline"]
    print(markdown_table([*headers, "image wall", "image CPU", "CPU vs baseline"], rows))
    print("baselines: " + "; ".join(f"{c}: {v}" for c, v in BASELINES.items()))
    print(f"{load_average()} at the end")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=2000, help="timed requests per cell")
    parser.add_argument(
        "--rounds", type=int, help=f"alternations of on and off (4; --profile: {PROFILE_ROUNDS})"
    )
    parser.add_argument("--profile", action="store_true", help="which part costs (in-process)")
    parser.add_argument(
        "--sampler-arg",
        type=float,
        help="trace this share of requests in 'on' (parentbased_traceidratio); default all",
    )
    args = parser.parse_args()
    sampler = {}
    if args.sampler_arg is not None:
        sampler = {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio"}
        sampler["OTEL_TRACES_SAMPLER_ARG"] = str(args.sampler_arg)
    if args.profile:
        os.environ.update(sampler)  # read when "on" installs its tracer provider
        profile(args.rounds or PROFILE_ROUNDS)
        return

    print(f"{versions()}; {load_average()} at start")
    if sampler:
        print(f"'on' samples: {sampler}")
    photo = sample_jpeg(*IMAGE_SIZE)
    print(f"image: {IMAGE_SIZE[0]}x{IMAGE_SIZE[1]} JPEG q90 {len(photo) / 1e6:.2f} MB")
    receiver = OtlpReceiver()
    try:
        with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
            on = {"OTEL_TRACES_ENABLED": "true", "TEMPO_HOST": "127.0.0.1", "LOG_LEVEL": "INFO"}
            on |= {"TEMPO_GRPC_PORT": str(receiver.port), **sampler}
            off = {"OTEL_TRACES_ENABLED": "false", "LOG_LEVEL": "WARNING"}
            servers = [start(stack, Path(tmp), "on", on), start(stack, Path(tmp), "off", off)]
            for server in servers:
                prepare(server, photo)
            results = measure(servers, args.requests, args.rounds or 4)
            report(results, args.requests)
            # Evidence that each configuration is what it claims to be.
            lines = {s.name: s.pix.log().count('"event":"request"') for s in servers}
            time.sleep(1)  # the batch span processor exports every few seconds
            print(f"\naccess-log lines written: on {lines['on']}, off {lines['off']}")
            names = Counter(span.name for span in receiver.spans())
            common = ", ".join(f"{name} x{count}" for name, count in names.most_common(5))
            print(f"spans the OTLP receiver got so far: {names.total()}; most: {common}")
    finally:
        receiver.close()
    print(f"{load_average()} at the end")


if __name__ == "__main__":
    main()
