"""The ASGI application: `create_app(settings)` wires routes, errors, observability and
the lifespan."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi_offline import FastAPIOffline

from pix_erase import health
from pix_erase.container import Services, build_services
from pix_erase.errors import install_error_handlers, reject_body
from pix_erase.images.router import MULTIPART_OVERHEAD, watermarks_router
from pix_erase.images.router import router as images_router
from pix_erase.images.sweep import sweep_periodically
from pix_erase.platform.body_limits import BodyLimits
from pix_erase.platform.observability.http import RequestObserver, RouteTable
from pix_erase.platform.observability.metrics import APP_INFO, exposition
from pix_erase.platform.observability.tracing import (
    HTTP_SCOPE,
    UNTRACED_PATHS,
    setup_tracing,
    shutdown_tracing,
)
from pix_erase.platform.startup import (
    SERVER_HEAP_KEPT,
    freeze_startup_objects,
    keep_freed_memory,
)
from pix_erase.setup.config import Settings
from pix_erase.tasks.router import router as tasks_router
from pix_erase.users.auth import SESSION_COOKIE
from pix_erase.users.router import auth_router, users_router
from pix_erase.web import mount_page
from pix_erase.web.csrf import CsrfMiddleware
from pix_erase.web.security_headers import SecurityHeaders
from pix_erase.worker import start_in_process_worker, stop_in_process_worker


def create_app(settings: Settings, *, in_process_worker: bool = True) -> FastAPI:
    """Build the API. With `in_process_worker` (the `serve` mode) it also runs the tasks."""
    app_name = settings.observability.app_name
    tracing = setup_tracing(settings.observability, role="serve" if in_process_worker else "api")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services: Services = build_services(settings)
        app.state.services = services
        APP_INFO.labels(app_name).set(1)
        await services.task_events.start()
        sweeper = None
        try:
            if in_process_worker:
                await start_in_process_worker(services)
                sweeper = asyncio.create_task(sweep_periodically(services))
            else:
                await services.broker.startup()
            freeze_startup_objects()
            keep_freed_memory(SERVER_HEAP_KEPT)
            yield
        finally:
            if sweeper is not None:
                sweeper.cancel()
            if in_process_worker:
                await stop_in_process_worker(services)
            else:
                await services.broker.shutdown()
            await services.close()
            shutdown_tracing()

    # Swagger UI's assets ship in fastapi-offline: /docs works with no network.
    app = FastAPIOffline(
        redoc_url=None,
        title="PixErase",
        version="0.1.0",
        description="Self-hosted image cleaning: erase, rotate, resize, convert, compare.",
        lifespan=lifespan,
        # PixErase instruments itself (below), with route-template span names and the
        # metric names of docs/observability.md; FastAPI's own telemetry would add a second set.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    install_error_handlers(app)
    routers = (health.router, auth_router, users_router, images_router, watermarks_router)
    for router in (*routers, tasks_router):
        app.include_router(router)
    mount_page(app)

    @app.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        body, content_type = exposition(request.headers.get("accept"))
        return Response(body, media_type=content_type)

    # Order matters: added last is outermost. The request observer opens the request's
    # span (tracing on), so the span is current in every middleware and route below it.
    routes = RouteTable(app.routes)
    limits = settings.app
    app.add_middleware(
        BodyLimits,
        reject=reject_body,
        max_bytes=limits.max_json_bytes,
        # Uploads stream to a staging file as they arrive, up to the upload limit.
        streamed={("POST", "/api/v1/images"): limits.max_upload_bytes + MULTIPART_OVERHEAD},
        timeout=limits.body_timeout_seconds,
        min_rate=limits.body_min_bytes_per_second,
    )
    app.add_middleware(CsrfMiddleware, cookie_name=SESSION_COOKIE)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(
        RequestObserver,
        app_name=app_name,
        routes=routes,
        tracer=tracing.get_tracer(HTTP_SCOPE) if tracing is not None else None,
        untraced=UNTRACED_PATHS,
    )
    return app
