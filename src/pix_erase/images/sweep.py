"""The orphan sweep: deletes stored objects that no image row references, and cached
renders of images that are gone.

An object can outlive its row when a process dies between writing the object and its
row (an upload, a task's result), or when deleting an object fails after its row went.
Objects younger than the grace period are kept: their row may be about to be written.
`pix-erase sweep` runs it once; the worker (and `serve`) every `SWEEP_INTERVAL_SECONDS`.
"""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import select

from pix_erase.container import Services
from pix_erase.images.keys import PREFIX, RENDERS, image_id_of_render
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
    deleted += await _renders_of_missing_images(services, cutoff)
    for key in deleted:
        await services.storage.delete(key)
        log.info("orphan_swept", storage_key=key)
    return deleted


async def _renders_of_missing_images(services: Services, cutoff: datetime) -> list[str]:
    renders = [
        key for key, modified in await services.storage.list_objects(RENDERS) if modified <= cutoff
    ]
    ids = {image_id_of_render(key) for key in renders}
    existing: set[str] = set()
    async with services.sessionmaker() as session:
        for chunk in _chunks(sorted(ids)):
            valid = [uuid.UUID(value) for value in chunk if _is_uuid(value)]
            rows = await session.scalars(select(Image.id).where(Image.id.in_(valid)))
            existing.update(str(image_id) for image_id in rows.all())
    return [key for key in renders if image_id_of_render(key) not in existing]


def _chunks(values: list[str]) -> list[list[str]]:
    return [values[start : start + CHUNK] for start in range(0, len(values), CHUNK)]


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


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
