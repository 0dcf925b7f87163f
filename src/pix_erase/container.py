"""The composition root: every long-lived resource a process needs, built from Settings.

The API (`create_app`) and the worker both build one `Services` at start-up and close it
at shutdown; request and task code receives it through dependencies.
"""

import asyncio
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine
from taskiq import AsyncBroker

from pix_erase.platform.broker import create_broker
from pix_erase.platform.db import SessionMaker, create_engine, create_sessionmaker
from pix_erase.platform.observability.taskiq_middleware import ObservabilityMiddleware
from pix_erase.platform.observability.tracing import instrument_engine
from pix_erase.platform.pool import ProcessPool
from pix_erase.platform.security import load_or_create_secret
from pix_erase.platform.storage import LocalStorage, Storage
from pix_erase.platform.task_events import TaskEvents, create_task_events
from pix_erase.setup.config import Settings


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: SessionMaker
    storage: Storage
    pool: ProcessPool
    broker: AsyncBroker
    task_events: TaskEvents
    # Interactive work (upload checks, EXIF, renders) has a process of its own, so it
    # never waits behind a long task in `pool`.
    quick_pool: ProcessPool
    # Set when the process is stopping: work cancelled from then on is re-queued, not
    # failed (see `tasks.runner`); `running_tasks` is what must be stopped.
    stopping: bool = False
    running_tasks: "set[asyncio.Task[object]]" = field(default_factory=set)

    @property
    def upload_dir(self) -> Path:
        """Where uploads are staged while they are checked (same filesystem as local storage)."""
        path = self.settings.app.data_dir / "uploads"
        path.mkdir(parents=True, exist_ok=True)
        return path

    @cached_property
    def signing_secret(self) -> bytes:
        """RENDER_URL_SECRET, or one made once for this data directory."""
        configured = self.settings.app.render_url_secret
        if configured is not None:
            return configured.get_secret_value().encode()
        return load_or_create_secret(self.settings.app.data_dir / "render-url-secret")

    async def close(self) -> None:
        await self.task_events.close()
        await self.storage.close()
        await self.engine.dispose()
        self.pool.close()
        self.quick_pool.close()


def build_storage(settings: Settings) -> Storage:
    if settings.storage.endpoint_url:
        from pix_erase.platform.s3_storage import S3Storage

        return S3Storage(settings.storage)
    return LocalStorage(settings.app.data_dir / "objects")


def build_services(settings: Settings, processes: int | None = None) -> Services:
    settings.app.data_dir.mkdir(parents=True, exist_ok=True)
    app = settings.app
    engine = create_engine(
        app.resolved_database_url,
        pool_size=app.db_pool_size,
        max_overflow=app.db_max_overflow,
        pool_timeout=app.db_pool_timeout_seconds,
    )
    instrument_engine(engine)
    broker = create_broker(settings)
    broker.add_middlewares(ObservabilityMiddleware(settings.observability.app_name))
    return Services(
        settings=settings,
        engine=engine,
        sessionmaker=create_sessionmaker(engine),
        storage=build_storage(settings),
        pool=ProcessPool(processes or settings.app.processes),
        broker=broker,
        task_events=create_task_events(settings.app.redis_url),
        quick_pool=ProcessPool(settings.tasks.quick_processes, name="quick"),
    )
