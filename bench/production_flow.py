"""Production mode (api + worker on PostgreSQL, Redis, S3) against ``serve``, under load.

Starts both deployments in one run: (a) ``pix-erase migrate``, ``api`` and
``worker --processes 2`` on real PostgreSQL, Redis and S3 (moto) from
``tests.backends``, and (b) ``pix-erase serve`` on its embedded defaults (SQLite, local
files, in-process broker, ``PIX_ERASE_PROCESSES=2``). Each mode gets one account; then
``--clients`` concurrent httpx clients run ``--flows`` flows between them: upload a 3 MP
JPEG, ask for a resize to half size encoded as JPEG with ``?wait=30`` (the answer comes
when the task has ended), download the result. The modes alternate in ``--rounds`` so
that machine drift hits both. Printed per mode: throughput, whole-flow p50/p99, submit
latency (``POST .../operations?wait=30``, so it includes the task), queue and run time
from the task's own
timestamps, each process's CPU time per flow and peak RSS (VmHWM, pool children
included; the backends apart, as they are not PixErase), and the ratio production /
serve. ``--clients 1`` gives the unloaded latencies.

    uv run python -m bench.production_flow [--clients 8] [--flows 40]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
from tests.backends import MotoS3, PixProcess, Postgres, ProductionBackends, RedisServer, free_port

from bench.common import fmt_ms, load_average, markdown_table, percentile, sample_jpeg, versions

OPERATION = {"steps": [{"type": "resize", "scale": 0.5}, {"type": "convert", "format": "jpeg"}]}
SIZE = (2000, 1500)  # 3 MP: a resized phone photo, what a web client would send
WAIT = {"wait": 30}
FLOW_TIMEOUT = 120.0  # a flow that takes longer is a hang, not a data point
READY_TIMEOUT = 90.0
# Variables that would point a child at a backend or setting from the caller's shell.
_PIX_VARS = (
    "DATABASE_URL",
    "REDIS_URL",
    "S3_",
    "PIX_ERASE_",
    "UVICORN_",
    "WORKER_METRICS_PORT",
    "OTEL_",
    "TEMPO_",
    "LOG_LEVEL",
)


def clean_env(**extra: str) -> dict[str, str]:
    """This shell's environment minus every PixErase setting, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_PIX_VARS)}
    return env | extra


def wait_ready(base: str, processes: list[PixProcess], timeout: float = READY_TIMEOUT) -> None:
    """Until /health/ready answers 200 (database, broker and storage all reachable)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for pix in processes:
            if pix.process.poll() is not None:
                raise RuntimeError(f"{pix.log_path.stem} exited:\n{pix.log()[-3000:]}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{base}/health/ready", timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{base} was not ready after {timeout:.0f} s")


def _status_kb(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


@dataclass(frozen=True)
class Proc:
    ppid: int
    pgrp: int
    cpu: float  # user + system seconds


def scan() -> dict[int, Proc]:
    """Every process's parent, group and CPU time, from /proc/<pid>/stat."""
    tick = os.sysconf("SC_CLK_TCK")
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # The command name may hold spaces: the fields start after the last ')'.
            f = stat.read_text().rsplit(")", 1)[1].split()
            cpu = (int(f[11]) + int(f[12])) / tick  # utime, stime
            found[int(stat.parent.name)] = Proc(int(f[1]), int(f[2]), cpu)
        except (OSError, IndexError, ValueError):
            continue
    return found


@dataclass
class Watched:
    """A process whose CPU time and peak RSS are reported with those of its children:
    its process group for a PixProcess (each command runs in its own group: forkserver,
    pool processes, resource tracker), its descendants for a backend (PostgreSQL's)."""

    label: str
    pid: int
    group: bool
    cpu: list[float] = field(default_factory=lambda: [0.0, 0.0])  # main, children

    def children(self, procs: dict[int, Proc]) -> set[int]:
        if self.group:
            return {pid for pid, p in procs.items() if p.pgrp == self.pid} - {self.pid}
        tree = {self.pid}
        for _ in range(10):  # bounded: these trees are two or three levels deep
            found = {pid for pid, p in procs.items() if p.ppid in tree} - tree
            if not found:
                break
            tree |= found
        return tree - {self.pid}

    def add_cpu(self, before: dict[int, Proc], after: dict[int, Proc]) -> None:
        def used(pid: int) -> float:  # a process born in between started from zero
            return after[pid].cpu - (before[pid].cpu if pid in before else 0.0)

        self.cpu[0] += used(self.pid) if self.pid in after else 0.0
        self.cpu[1] += sum(used(pid) for pid in self.children(after))

    def peak_rss(self) -> tuple[float, float, int]:
        """MB: the main process's VmHWM, the sum of its children's, their count. The sum
        counts pages shared copy-on-write once per process: an upper bound."""
        kids = self.children(scan())
        child_kb = sum(_status_kb(pid, "VmHWM") for pid in kids)
        return _status_kb(self.pid, "VmHWM") / 1024, child_kb / 1024, len(kids)


def login(base: str, email: str) -> str:
    creds = {"email": email, "password": "a long bench password"}
    with httpx.Client(base_url=base, timeout=30) as http:
        http.post("/api/v1/auth/signup", json=creds).raise_for_status()
        token: str = http.post("/api/v1/auth/login", json=creds).json()["access_token"]
    return token


@dataclass
class Flow:
    """Wall times (ms). queue and run come from the task's created/started/finished
    timestamps: API and worker share this machine's clock, so they subtract."""

    total: float
    upload: float
    enqueue: float
    queue: float
    run: float
    download: float
    polls: int  # GET /tasks/{id}?wait= requests after the submit's own wait


def _stamp(text: str) -> float:
    stamp = datetime.fromisoformat(text)
    return (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).timestamp()


async def one_flow(http: httpx.AsyncClient, photo: bytes) -> Flow:
    """Upload, operate with `?wait=30` (one request until the task ends), download: the
    README's curl walk-through."""
    start = time.perf_counter()
    upload = await http.post("/api/v1/images", files={"file": ("p.jpg", photo, "image/jpeg")})
    upload.raise_for_status()
    uploaded = time.perf_counter()
    submit = await http.post(
        f"/api/v1/images/{upload.json()['id']}/operations", params=WAIT, json=OPERATION
    )
    submit.raise_for_status()
    task = submit.json()
    polls = 0  # further waits, when the task outlasts one
    while task["status"] not in ("succeeded", "failed"):
        if time.perf_counter() - start > FLOW_TIMEOUT:
            raise TimeoutError(f"task not done after {FLOW_TIMEOUT:.0f} s: {task}")
        polls += 1
        task_id = task.get("task_id") or task["id"]
        task = (await http.get(f"/api/v1/tasks/{task_id}", params=WAIT)).raise_for_status().json()
    if task["status"] == "failed":
        raise RuntimeError(f"task failed: {task}")
    enqueued = seen = time.perf_counter()
    result = await http.get(f"/api/v1/images/{task['result']['image_id']}/content")
    result.raise_for_status()
    end = time.perf_counter()
    created, started = _stamp(task["created_at"]), _stamp(task["started_at"])
    finished = _stamp(task["finished_at"])
    return Flow(
        total=(end - start) * 1e3,
        upload=(uploaded - start) * 1e3,
        enqueue=(enqueued - uploaded) * 1e3,
        queue=(started - created) * 1e3,
        run=(finished - started) * 1e3,
        download=(end - seen) * 1e3,
        polls=polls,
    )


async def load(base: str, token: str, photo: bytes, clients: int, flows: int) -> list[Flow]:
    """``clients`` concurrent clients, each with its own connection pool, take flows from
    a shared budget until ``flows`` have run; the batch is timed as a whole."""
    remaining = [flows]
    done: list[Flow] = []

    async def client() -> None:
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as http:
            while remaining[0] > 0:
                remaining[0] -= 1
                done.append(await one_flow(http, photo))

    await asyncio.wait_for(asyncio.gather(*(client() for _ in range(clients))), FLOW_TIMEOUT * 4)
    return done


@dataclass
class Mode:
    name: str
    base: str
    token: str
    watched: list[Watched]  # PixErase's processes, then the backends
    flows: list[Flow] = field(default_factory=list)
    seconds: float = 0.0
    client_cpu: float = 0.0  # this process: the load generator shares the 2 cores

    def batch(self, photo: bytes, clients: int, flows: int) -> None:
        """Run and time one batch, charging each process the CPU time it used."""
        before, client, begin = scan(), os.times(), time.perf_counter()
        self.flows += asyncio.run(load(self.base, self.token, photo, clients, flows))
        self.seconds += time.perf_counter() - begin
        after, now = scan(), os.times()
        self.client_cpu += now.user + now.system - client.user - client.system
        for watched in self.watched:
            watched.add_cpu(before, after)


def start_production(stack: contextlib.ExitStack, tmp: Path) -> Mode:
    # Built part by part, each closed by the stack (after the processes below have
    # stopped), so that a server that fails to start does not leave the others running.
    backends = object.__new__(ProductionBackends)
    backends.postgres = Postgres()
    stack.callback(backends.postgres.close)
    backends.redis = RedisServer()
    stack.callback(backends.redis.close)
    backends.s3 = MotoS3()
    stack.callback(backends.s3.close)
    port, data = free_port(), tmp / "production"
    env = clean_env(
        **backends.env(),
        PIX_ERASE_DATA_DIR=str(data),
        PIX_ERASE_PROCESSES="2",  # the API's pool, which checks uploads
        UVICORN_PORT=str(port),
        WORKER_METRICS_PORT=str(free_port()),
    )
    data.mkdir()
    migrate = PixProcess(["migrate"], env, data / "migrate.log")
    stack.callback(migrate.stop)
    if migrate.process.wait(timeout=120) != 0:
        raise RuntimeError(f"pix-erase migrate failed:\n{migrate.log()}")
    api = PixProcess(["api"], env, data / "api.log")
    stack.callback(api.stop)
    worker = PixProcess(["worker", "--processes", "2"], env, data / "worker.log")
    stack.callback(worker.stop)
    base = f"http://127.0.0.1:{port}"
    wait_ready(base, [api, worker])
    token = login(base, "production@example.com")
    postmaster = (backends.postgres.data / "postmaster.pid").read_text().split()[0]
    assert backends.redis.process is not None
    watched = [
        Watched("api", api.process.pid, group=True),
        Watched("worker", worker.process.pid, group=True),
        Watched("backend: PostgreSQL", int(postmaster), group=False),
        Watched("backend: Redis", backends.redis.process.pid, group=False),
        Watched("backend: S3 (moto)", backends.s3.process.pid, group=False),
    ]
    return Mode("production", base, token, watched)


def start_serve(stack: contextlib.ExitStack, tmp: Path) -> Mode:
    port, data = free_port(), tmp / "serve"
    data.mkdir()
    env = clean_env(PIX_ERASE_DATA_DIR=str(data), PIX_ERASE_PROCESSES="2", UVICORN_PORT=str(port))
    serve = PixProcess(["serve"], env, data / "serve.log")
    stack.callback(serve.stop)
    base = f"http://127.0.0.1:{port}"
    wait_ready(base, [serve])
    token = login(base, "serve@example.com")
    return Mode("serve", base, token, [Watched("serve", serve.process.pid, group=True)])


def _p(values: list[float]) -> list[str]:
    return [fmt_ms(percentile(values, 0.5)), fmt_ms(percentile(values, 0.99))]


def report(modes: list[Mode], args: argparse.Namespace) -> None:
    headers = ["mode", "flows/s", "flow p50", "flow p99", "submit p50", "submit p99"]
    headers += ["queue+run p50", "queue+run p99"]
    rows, figures = [], []
    for mode in modes:
        f = mode.flows
        qr = [x.queue + x.run for x in f]
        fig = [len(f) / mode.seconds]
        for values in ([x.total for x in f], [x.enqueue for x in f], qr):
            fig += [percentile(values, 0.5), percentile(values, 0.99)]
        figures.append(fig)
        rows.append([mode.name, f"{fig[0]:.2f}", *(fmt_ms(v) for v in fig[1:])])
    ratios = [a / b for a, b in zip(figures[0], figures[1], strict=True)]
    rows.append(["ratio production / serve", *(f"{r:.2f}" for r in ratios)])
    print(f"\n### {args.flows} flows per mode, {args.clients} concurrent clients (ms)\n")
    print(markdown_table(headers, rows))

    stage_rows = []
    for label, name in (
        ("upload (POST /images)", "upload"),
        ("submit and wait (POST .../operations?wait=30)", "enqueue"),
        ("queue: created_at to started_at", "queue"),
        ("run: started_at to finished_at", "run"),
        ("download (GET .../content)", "download"),
        ("whole flow", "total"),
        ("further waits per flow (count, not ms)", "polls"),
    ):
        stage_rows.append(
            [label, *(c for m in modes for c in _p([getattr(x, name) for x in m.flows]))]
        )
    print("\n### Where a flow's time goes (ms)\n")
    heads = [f"{m.name} {q}" for m in modes for q in ("p50", "p99")]
    print(markdown_table(["stage", *heads], stage_rows))


def report_processes(modes: list[Mode]) -> None:
    """CPU per flow and peak RSS, read while every process still runs (before the stop)."""
    headers = ["mode", "process", "CPU ms/flow", "children CPU ms/flow", "peak RSS MB"]
    headers.append("children peak RSS MB (count)")
    rows, totals = [], []
    for mode in modes:
        n = len(mode.flows)
        cpu = rss = 0.0
        for w in mode.watched:
            main, kids, count = w.peak_rss()
            if not w.label.startswith("backend"):  # the totals are PixErase's own
                cpu, rss = cpu + sum(w.cpu), rss + main + kids
            per_flow = [fmt_ms(c * 1e3 / n) for c in w.cpu]
            rows.append([mode.name, w.label, *per_flow, f"{main:.0f}", f"{kids:.0f} ({count})"])
        totals.append((cpu * 1e3 / n, rss))
        rows.append([mode.name, "**PixErase total**", fmt_ms(totals[-1][0]), "", f"{rss:.0f}", ""])
        rows.append([mode.name, "bench client", fmt_ms(mode.client_cpu * 1e3 / n), "", "", ""])
    (cpu_a, rss_a), (cpu_b, rss_b) = totals
    rows.append(
        ["ratio production / serve", "", f"{cpu_a / cpu_b:.2f}", "", f"{rss_a / rss_b:.2f}", ""]
    )
    print("\n### CPU time per flow and peak RSS (VmHWM) by process\n")
    print(markdown_table(headers, rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients")
    parser.add_argument("--flows", type=int, default=40, help="timed flows per mode")
    parser.add_argument("--rounds", type=int, default=4, help="alternations of the modes")
    args = parser.parse_args()

    print(f"{versions()}; {load_average()} at start")
    photo = sample_jpeg(*SIZE)
    print(f"sample: {SIZE[0]}x{SIZE[1]} JPEG q90 {len(photo) / 1e6:.2f} MB; {OPERATION}")
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        modes = [start_production(stack, Path(tmp)), start_serve(stack, Path(tmp))]
        for mode in modes:
            # The first jobs start the pool processes and fill the connection pools:
            # one flow per client, not counted.
            asyncio.run(load(mode.base, mode.token, photo, args.clients, args.clients))
        per_round = max(1, args.flows // args.rounds)
        for index in range(args.rounds):
            order = modes if index % 2 == 0 else modes[::-1]  # ABBA: no mode always first
            for mode in order:
                mode.batch(photo, args.clients, per_round)
        report(modes, args)
        report_processes(modes)
    print(f"\n{load_average()} at the end")


if __name__ == "__main__":
    main()
