"""The process pool as its callers use it: jobs, big payloads, progress, failures, kills."""

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator

import pytest

from pix_erase.platform.pool import PoolProcessDied, ProcessPool, report_progress


def repeat(byte: bytes, count: int) -> bytes:
    return byte * count


def length(data: bytes) -> int:
    return len(data)


def counting(steps: int) -> int:
    for step in range(1, steps + 1):
        report_progress(step / steps)
    return os.getpid()


def refuse() -> None:
    raise ValueError("not this one")


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def linger() -> None:
    time.sleep(60)


def faults_of_a_12_mp_buffer() -> int:
    """Page faults taken while a 12 MP RGB image's worth of memory is filled and freed."""

    def minor_faults() -> int:
        with open("/proc/self/stat") as stat:
            return int(stat.read().rsplit(")", 1)[1].split()[7])

    before = minor_faults()
    buffer = bytearray(4000 * 3000 * 3)
    buffer[::4096] = b"\x01" * len(range(0, len(buffer), 4096))
    del buffer
    return minor_faults() - before


@pytest.fixture
async def pool() -> AsyncIterator[ProcessPool]:
    pool = ProcessPool(2)
    yield pool
    pool.close()


async def test_payloads_small_and_large_cross_both_ways(pool: ProcessPool) -> None:
    assert await pool.run(repeat, b"a", 3) == b"aaa"
    # Far over any socket buffer, and over the 16 KiB where the framing splits header and body.
    big = await pool.run(repeat, b"b", 40_000_000)
    assert len(big) == 40_000_000
    assert big[-2:] == b"bb"
    assert await pool.run(length, bytes(30_000_000)) == 30_000_000


async def test_a_pool_process_reuses_the_memory_of_its_last_job() -> None:
    # A freed 36 MB buffer used to go straight back to the kernel, and every job faulted
    # all of its pages in again: system time on every job.
    pool = ProcessPool(1)
    try:
        first = await pool.run(faults_of_a_12_mp_buffer)
        again = [await pool.run(faults_of_a_12_mp_buffer) for _ in range(3)]
    finally:
        pool.close()
    assert first > 0  # the first job maps its memory in
    assert max(again) * 10 < first  # the next ones find it still there


POOL_FAULTS = """
import asyncio
from pix_erase.platform.pool import ProcessPool
from tests.test_process_pool import faults_of_a_12_mp_buffer

async def main() -> None:
    pool = ProcessPool(1)
    try:
        print([await pool.run(faults_of_a_12_mp_buffer) for _ in range(4)])
    finally:
        pool.close()

asyncio.run(main())
"""


def test_an_operators_own_malloc_setting_wins() -> None:
    # glibc's threshold, fixed below a 12 MP buffer: every job maps it in anew again.
    env = os.environ | {"MALLOC_MMAP_THRESHOLD_": str(32 << 20)}
    run = subprocess.run(
        [sys.executable, "-c", POOL_FAULTS], env=env, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    first, *again = (int(count) for count in run.stdout.strip("[]\n").split(","))
    assert first > 0
    assert min(again) * 2 > first


async def test_concurrent_jobs_each_get_their_own_answer(pool: ProcessPool) -> None:
    counts = list(range(0, 200_000, 10_000))
    answers = await asyncio.gather(*(pool.run(repeat, b"c", count) for count in counts))
    assert [len(answer) for answer in answers] == counts


async def test_progress_reaches_the_caller_in_order(pool: ProcessPool) -> None:
    seen: list[float] = []
    pid = await pool.run_with_progress(seen.append, counting, 4)
    assert seen == [0.25, 0.5, 0.75, 1.0]
    assert pid in pool.pids()


async def test_an_exception_in_the_job_is_raised_and_the_process_stays(pool: ProcessPool) -> None:
    before = await pool.run(counting, 0)
    with pytest.raises(ValueError, match="not this one"):
        await pool.run(refuse)
    assert await pool.run(counting, 0) == before


async def test_a_process_that_dies_fails_its_job_and_is_replaced(pool: ProcessPool) -> None:
    before = await pool.run(counting, 0)
    with pytest.raises(PoolProcessDied, match="-9"):
        await pool.run(die)
    after = await pool.run(counting, 0)
    assert after != before
    assert before not in pool.pids()


async def test_cancelling_the_caller_kills_the_process_running_the_job(pool: ProcessPool) -> None:
    running = await pool.run(counting, 0)  # the one process, idle again
    job = asyncio.create_task(pool.run(linger))
    await asyncio.sleep(0.3)  # the job has reached that process
    job.cancel()
    with pytest.raises(asyncio.CancelledError):
        await job
    assert running not in pool.pids()
    assert await pool.run(repeat, b"d", 2) == b"dd"  # a fresh process serves the next job
