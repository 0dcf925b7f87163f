"""Liveness and readiness: is the process up, and can it reach what it depends on."""

import asyncio
from collections.abc import Awaitable, Callable

from fastapi import APIRouter
from sqlalchemy import text

from pix_erase.container import Services
from pix_erase.dependencies import ServicesDep
from pix_erase.errors import AppError, ErrorBody
from pix_erase.platform.broker import ping_broker

router = APIRouter(prefix="/health", tags=["health"])
CHECK_TIMEOUT = 2.0


async def _database(services: Services) -> None:
    async with services.engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


async def _storage(services: Services) -> None:
    await services.storage.ping()


async def _broker(services: Services) -> None:
    await ping_broker(services.broker)


CHECKS: dict[str, Callable[[Services], Awaitable[None]]] = {
    "database": _database,
    "broker": _broker,
    "storage": _storage,
}


@router.get("/live")
async def live() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/ready",
    responses={503: {"model": ErrorBody, "description": "A dependency is unreachable"}},
)
async def ready(services: ServicesDep) -> dict[str, str]:
    async def check(name: str) -> tuple[str, str]:
        try:
            await asyncio.wait_for(CHECKS[name](services), CHECK_TIMEOUT)
        except Exception:
            return name, "unavailable"
        return name, "ok"

    results = dict(await asyncio.gather(*(check(name) for name in CHECKS)))
    failed = [name for name, state in results.items() if state != "ok"]
    if failed:
        raise AppError("not_ready", f"Unavailable: {', '.join(failed)}.", 503, details=results)
    return {"status": "ok", **results}
