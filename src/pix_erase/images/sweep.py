"""The orphan sweep: deletes stored objects that no image row references.

An object can outlive its row when a process dies between writing the object and its
row (an upload, a task's result), or when deleting an object fails after its row went.
Objects younger than the grace period are kept: their row may be about to be written.
`pix-erase sweep` runs it once; the worker (and `serve`) every `SWEEP_INTERVAL_SECONDS`.
"""

import asyncio
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import select

from pix_erase.container import Services
from pix_erase.images.keys import PREFIX
from pix_erase.images.models import Image
from pix_erase.platform.faults import UNAVAILABLE

log = structlog.get_logger(__name__)
CHUNK = 500  # keys per query


async def sweep_orphans(services: Services, grace_seconds: float | None = None) -> list[str]:
    """Delete unreferenced objects older than the grace period; the keys deleted."""
    grace = services.settings.tasks.sweep_grace_seconds if grace_seconds is None else grace_seconds
    cutoff = datetime.now(UTC) - timedelta(seconds=grace)
    # Objects first, rows second: a row written meanwhile only makes us keep more.
    candidates = [
        key for key, modified in await services.storage.list_objects(PREFIX) if modified <= cutoff
    ]
    if not candidates:
        return []
    referenced: set[str] = set()
    async with services.sessionmaker() as session:
        for start in range(0, len(candidates), CHUNK):
            chunk = candidates[start : start + CHUNK]
            rows = await session.scalars(
                select(Image.storage_key).where(Image.storage_key.in_(chunk))
            )
            referenced.update(rows.all())
    deleted = [key for key in candidates if key not in referenced]
    for key in deleted:
        await services.storage.delete(key)
        log.info("orphan_swept", storage_key=key)
    return deleted


async def sweep_periodically(services: Services) -> None:
    """Sweep every `SWEEP_INTERVAL_SECONDS` until cancelled; outages only skip a round."""
    interval = services.settings.tasks.sweep_interval_seconds
    while True:
        await asyncio.sleep(interval)
        try:
            deleted = await sweep_orphans(services)
        except UNAVAILABLE as exc:
            log.warning("sweep_skipped", error=type(exc).__name__)
        else:
            log.info("sweep_done", deleted=len(deleted))
