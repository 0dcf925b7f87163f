"""A short run of `bench.load` against a real `serve` on loopback: a mixed load of wrong
logins, stalled uploads, uploads and operations. Nothing may answer 5xx and every task
that was accepted must end. No timing is asserted (the bench prints the ratios)."""

import asyncio
from pathlib import Path

from bench.load import run_load
from bench.load_targets import serve_target


async def test_a_short_mixed_load_gets_no_5xx_and_every_task_ends(tmp_path: Path) -> None:
    _, base, stop = await asyncio.to_thread(serve_target, tmp_path)
    try:
        report = await run_load(base, clients=8, seconds=20)
    finally:
        await asyncio.to_thread(stop)
    assert report.server_errors == []
    assert report.accepted  # the operating users got work in
    assert report.unfinished == []
