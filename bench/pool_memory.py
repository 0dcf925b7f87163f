"""What an image process gains by keeping the memory its last job freed.

Two image processes, started alike (``spawn``: fresh interpreters, glibc's malloc at its
defaults), take the same jobs in turn, job by job: one calls
``platform.startup.keep_freed_memory(POOL_HEAP_KEPT)`` first, as every PixErase image
process does, the other leaves glibc's malloc as it is (unmapping each freed block above
its mmap threshold, trimming the heap's top). Each job is ``run_steps`` on a stored 12 MP
photo-like JPEG (read from its file, as the pool reads it): the thumbor benchmark's render,
``serve_overhead``'s resize to 2000x1500, and a full-size rotate. Printed per job: CPU
(user + system) and system time in ms, and page faults, medians, and the ratio of CPU.

    uv run python -m bench.pool_memory [--n 10]
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import statistics
import tempfile
from multiprocessing.connection import Connection
from pathlib import Path

from bench.common import load_average, markdown_table, sample_jpeg, versions
from pix_erase.platform.startup import POOL_HEAP_KEPT, keep_freed_memory
from pix_erase.processing import Convert, PixelStep, Resize, Rotate, run_steps

JOBS: dict[str, list[PixelStep]] = {
    "render into 508x508, JPEG q80": [
        Resize(type="resize", width=508, height=508),
        Convert(type="convert", format="jpeg", quality=80, strip_metadata=True),
    ],
    "resize to 2000x1500, JPEG": [Resize(type="resize", width=2000, height=1500)],
    "rotate 90, JPEG": [Rotate(type="rotate", angle=90)],
}
MAX_PIXELS = 100_000_000


def _process(connection: Connection, keep: bool) -> None:
    """An image process: runs the named job on the file it is sent, answers its cost."""
    if keep:
        keep_freed_memory(POOL_HEAP_KEPT)
    while (request := connection.recv()) is not None:
        name, path = request
        before = resource.getrusage(resource.RUSAGE_SELF)
        run_steps(Path(path), JOBS[name], max_pixels=MAX_PIXELS)
        after = resource.getrusage(resource.RUSAGE_SELF)
        connection.send(
            (
                (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) * 1e3,
                (after.ru_stime - before.ru_stime) * 1e3,
                after.ru_minflt - before.ru_minflt,
            )
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=10, help="jobs of each kind per process")
    args = parser.parse_args()
    print(f"{versions()}; {load_average()} at start")
    context = multiprocessing.get_context("spawn")
    sides = {"kept (as shipped)": True, "glibc's defaults": False}
    with tempfile.TemporaryDirectory() as tmp:
        photo = Path(tmp) / "photo.jpg"
        photo.write_bytes(sample_jpeg(4000, 3000))
        pipes: dict[str, Connection] = {}
        processes = []
        for side, keep in sides.items():
            pipes[side], child = context.Pipe()
            process = context.Process(target=_process, args=(child, keep))
            process.start()
            processes.append(process)
        results: dict[tuple[str, str], list[tuple[float, float, int]]] = {}
        for name in JOBS:
            for round_ in range(args.n + 1):  # the first round warms each process up
                for side in sorted(sides, reverse=round_ % 2 == 1):  # who goes first alternates
                    pipes[side].send((name, str(photo)))
                    cost = pipes[side].recv()
                    if round_:
                        results.setdefault((name, side), []).append(cost)
        for pipe in pipes.values():
            pipe.send(None)
        for process in processes:
            process.join()
    rows = []
    for name in JOBS:
        medians = {}
        for side in sides:
            costs = results[name, side]
            medians[side] = [statistics.median(c[i] for c in costs) for i in range(3)]
            cpu, system, faults = medians[side]
            rows.append([name, side, f"{cpu:.1f}", f"{system:.1f}", f"{faults:.0f}"])
        kept, default = (medians[side][0] for side in sides)
        rows.append([name, "**kept / defaults**", f"{kept / default:.2f}", "", ""])
    print(f"\n### {args.n} jobs of each kind per process, alternating\n")
    headers = ["job", "image process", "CPU ms", "of it system ms", "page faults"]
    print(markdown_table(headers, rows))
    print(f"\n{load_average()} at the end")


if __name__ == "__main__":
    main()
