"""Helpers shared by the benchmarks: the sample photo, thread control, timing, tables.

Every benchmark here measures PixErase and its baseline in the same process and the same
run, interleaved, so that machine noise (other tenants, turbo clocks) hits both alike and
the printed ratio is meaningful even when the absolute milliseconds drift.
"""

from __future__ import annotations

import io
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import cv2
import numpy as np
import pyvips
from numpy.typing import NDArray
from PIL import AvifImagePlugin, Image, ImageCms
from PIL import __version__ as pillow_version

_CLEAR_REFS: Final = Path("/proc/self/clear_refs")
_STATUS: Final = Path("/proc/self/status")
# Found by trial: this much texture and noise gives a 12 MP q90 JPEG of ~2.6 MB, the size
# of a 12 MP phone photo; a plain upscaled picture
# would compress 3x better and make every codec look faster than it is on a real photo.
_TEXTURE: Final = 8.0
_NOISE: Final = 4.5


def sample_pixels(width: int, height: int, *, seed: int = 12) -> NDArray[np.uint8]:
    """A deterministic photo-like RGB array: a real photo's edges and smooth areas
    (scikit-image's astronaut, upscaled), mid-frequency texture and sensor-like noise."""
    from skimage import data  # imported here: only the sample needs scikit-image

    base = np.asarray(data.astronaut(), dtype=np.uint8)  # type: ignore[no-untyped-call]
    rng = np.random.default_rng(seed)
    side = max(width, height)  # the astronaut is square: upscale, then crop rows
    up = cv2.resize(base, (side, side), interpolation=cv2.INTER_CUBIC)
    top = (side - height) // 2
    image = up[top : top + height, :width].astype(np.float32)
    coarse = rng.standard_normal((max(1, height // 4), max(1, width // 4))).astype(np.float32)
    texture = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    image += _TEXTURE * texture[:, :, None]
    image += rng.normal(0.0, _NOISE, (height, width, 3)).astype(np.float32)
    return np.clip(image, 0, 255).astype(np.uint8)


def encode_jpeg(rgb: NDArray[np.uint8], quality: int = 90) -> bytes:
    """A JPEG as a camera writes it: EXIF (make, model, date, orientation 1) and sRGB ICC,
    so that PixErase's metadata handling is part of what is measured."""
    exif = Image.Exif()
    exif[0x010F] = "BenchCam"  # Make
    exif[0x0110] = "Model 12"  # Model
    exif[0x0132] = "2026:01:02 03:04:05"  # DateTime
    exif[0x0112] = 1  # Orientation
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", quality=quality, exif=exif.tobytes(), icc_profile=icc)
    return buffer.getvalue()


def sample_jpeg(width: int, height: int, *, seed: int = 12, quality: int = 90) -> bytes:
    return encode_jpeg(sample_pixels(width, height, seed=seed), quality)


@dataclass(frozen=True)
class ThreadMode:
    label: str
    threads: int | None  # None: each library's own default


_DEFAULTS: Final = (cv2.getNumThreads(), pyvips.concurrency_get())


def set_threads(mode: ThreadMode) -> None:
    """One thread for every engine that has a knob (cv2, libvips, Pillow's AVIF encoder),
    or back to their defaults. JPEG, PNG and WebP codecs are single-threaded anyway."""
    if mode.threads is None:
        cv2.setNumThreads(_DEFAULTS[0])
        pyvips.concurrency_set(_DEFAULTS[1])
        AvifImagePlugin.DEFAULT_MAX_THREADS = 0  # 0: one per core
    else:
        cv2.setNumThreads(mode.threads)
        pyvips.concurrency_set(mode.threads)
        AvifImagePlugin.DEFAULT_MAX_THREADS = mode.threads


THREAD_MODES: Final = (ThreadMode("1 thread", 1), ThreadMode(f"default ({_DEFAULTS[0]})", None))


def _status_kb(key: str) -> int | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def reset_peak_rss() -> int | None:
    """Reset the kernel's high-water mark to the current RSS (Linux); returns that RSS in
    kB. getrusage's ru_maxrss cannot be reset, so it only gives the whole run's peak."""
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return None
    return _status_kb("VmRSS")


def peak_rss_above(start_kb: int | None) -> float | None:
    """MB the process grew to above ``start_kb`` since the last reset."""
    peak = _status_kb("VmHWM")
    if start_kb is None or peak is None:
        return None
    return max(0, peak - start_kb) / 1024


def run_peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


@dataclass
class Samples:
    """Timings (ms) and per-call memory peaks (MB) of one implementation."""

    ms: list[float] = field(default_factory=list)
    peak_mb: list[float] = field(default_factory=list)
    result: object = None

    def median(self) -> float:
        return statistics.median(self.ms)

    def peak(self) -> float | None:
        return max(self.peak_mb) if self.peak_mb else None


def timed(fn: Callable[[], object], samples: Samples) -> None:
    """Run ``fn`` once, adding its wall time and its memory peak to ``samples``."""
    start_kb = reset_peak_rss()  # outside the timed region: a page-table walk
    begin = time.perf_counter_ns()
    result = fn()
    samples.ms.append((time.perf_counter_ns() - begin) / 1e6)
    peak = peak_rss_above(start_kb)
    if peak is not None:
        samples.peak_mb.append(peak)
    samples.result = result


def interleaved(impls: Sequence[Callable[[], object]], repeat: int) -> list[Samples]:
    """A, B, C, A, B, C...: every implementation sees the same machine conditions."""
    results = [Samples() for _ in impls]
    for _ in range(repeat):
        for fn, samples in zip(impls, results, strict=True):
            timed(fn, samples)
    return results


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile: with few samples p99 is simply the slowest one."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, int(np.ceil(fraction * len(ordered))) - 1))
    return ordered[rank]


def fmt_ms(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table, so the output pastes into docs/performance.md unchanged."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def load_average() -> str:
    """The 1-minute load: this machine is shared, so the figures say how busy it was."""
    try:
        return f"load average {os.getloadavg()[0]:.2f}"
    except OSError:
        return "load average unknown"


def versions() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} cores {cpu}; Python {platform.python_version()}, "
        f"Pillow {pillow_version}, OpenCV {cv2.__version__}, "
        f"pyvips {pyvips.__version__} (libvips {pyvips.version(0)}.{pyvips.version(1)})"
    )


def _processes() -> dict[int, tuple[int, float]]:
    """Every live process: its parent's pid and its CPU time (user + system), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    return stats


def process_and_tree_cpu_seconds(pid: int) -> tuple[float, float]:
    """CPU time of a process, and of it with every live descendant."""
    stats = _processes()
    total, frontier = 0.0, {pid}
    while frontier:
        total += sum(stats[p][1] for p in frontier if p in stats)
        frontier = {child for child, (parent, _) in stats.items() if parent in frontier}
    return stats.get(pid, (0, 0.0))[1], total


def tree_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and every live descendant, from /proc."""
    return process_and_tree_cpu_seconds(pid)[1]
