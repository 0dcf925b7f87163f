"""What a process does once it has started, for the cost of everything it does after."""

import ctypes
import gc
import os

# glibc's mallopt parameters.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
HEAP_FROM = 64 << 20  # blocks up to this size come from the heap, not a mapping of their own
POOL_HEAP_KEPT = 128 << 20  # freed memory an image process keeps for its next job
SERVER_HEAP_KEPT = 32 << 20  # and the API's or the worker's process for its next requests
# Where an operator tunes glibc's malloc themselves; their setting wins.
_MALLOC_VARIABLES = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_")


def freeze_startup_objects() -> None:
    """Move what startup built (the loaded libraries, the app, the services: some 230 000
    objects that live as long as the process) out of the collector's generations.

    A full collection then walks only what requests and tasks left behind. Without it,
    every few thousand traced requests (spans wait for their export batch, so they outlive
    the young generations) one full collection walked all of them: 130 ms of CPU in the
    API, about 90 µs a request.
    """
    gc.collect()
    gc.freeze()


def keep_freed_memory(kept: int) -> None:
    """Keep up to `kept` bytes of freed memory for what comes next instead of giving it back
    to the kernel.

    glibc's malloc unmaps a freed block larger than its mmap threshold at once (32 MB at
    most, unless set) and trims the top of its heap when more than its trim threshold is
    free there (twice the largest block freed so far), so the next job or upload faults
    every page of its buffers in again. An image process runs jobs of similar sizes one
    after another, and each paid for it: a 12 MP rotate took about 11,700 page faults and
    29-66 ms of system time of its 125-157 ms of CPU; with these thresholds, none after the
    first job and 98 ms. An upload of 2.6 MB cost the API process about 1 ms less. Blocks
    above HEAP_FROM (a 24 MP RGB image and larger) are still unmapped when freed.
    `mallopt` is glibc's (no library wraps it); it is called through ctypes, and not at all
    without glibc or where the environment tunes glibc's malloc already.
    """
    tunables = os.environ.get("GLIBC_TUNABLES", "")
    if "glibc.malloc." in tunables or any(name in os.environ for name in _MALLOC_VARIABLES):
        return
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return
    mallopt(_M_MMAP_THRESHOLD, HEAP_FROM)
    mallopt(_M_TRIM_THRESHOLD, kept)
