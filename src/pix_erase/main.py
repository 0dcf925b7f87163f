"""The ASGI application: `create_app(settings)` wires routes, errors and the lifespan."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from pix_erase import health
from pix_erase.container import Services, build_services
from pix_erase.errors import install_error_handlers
from pix_erase.images.router import router as images_router
from pix_erase.setup.config import Settings
from pix_erase.tasks.router import router as tasks_router
from pix_erase.users.router import auth_router, users_router
from pix_erase.worker import start_in_process_worker, stop_in_process_worker


def create_app(settings: Settings, *, in_process_worker: bool = True) -> FastAPI:
    """Build the API. With `in_process_worker` (the `serve` mode) it also runs the tasks."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services: Services = build_services(settings)
        app.state.services = services
        try:
            if in_process_worker:
                await start_in_process_worker(services)
            else:
                await services.broker.startup()
            yield
        finally:
            if in_process_worker:
                await stop_in_process_worker(services)
            else:
                await services.broker.shutdown()
            await services.close()

    app = FastAPI(
        title="PixErase",
        version="0.1.0",
        description="Self-hosted image cleaning: erase, rotate, resize, convert, compare.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    for router in (health.router, auth_router, users_router, images_router, tasks_router):
        app.include_router(router)
    return app
