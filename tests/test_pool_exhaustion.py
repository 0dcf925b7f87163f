"""A database pool with no free connection answers 503, and readiness says so; plus the
small contract checks of the same issue (bounded offsets, documented answers)."""

import uuid

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from pix_erase.setup.config import Settings
from tests.conftest import app_with, make_client, services_of, signup_and_login

TINY_POOL = {"db_pool_size": 1, "db_max_overflow": 0, "db_pool_timeout_seconds": 0.5}


async def test_an_exhausted_pool_is_a_503_and_not_ready(settings: Settings) -> None:
    async with app_with(settings, **TINY_POOL) as app, make_client(app) as http:
        user = await signup_and_login(http)
        async with services_of(app).engine.connect() as held:  # the pool's only connection
            await held.execute(text("SELECT 1"))
            me = await user.get("/api/v1/auth/me")
            ready = await http.get("/health/ready")
        me_after = await user.get("/api/v1/auth/me")
        ready_after = await http.get("/health/ready")
    assert me.status_code == 503
    assert me.json()["code"] == "service_unavailable"
    assert me.headers["Retry-After"]
    assert ready.status_code == 503
    assert ready.json()["details"]["database"] == "unavailable"
    assert me_after.status_code == ready_after.status_code == 200


async def test_an_offset_past_any_database_integer_is_a_422(app: FastAPI) -> None:
    async with make_client(app) as http:
        user = await signup_and_login(http)
        response = await user.get("/api/v1/images", params={"offset": 2**63})
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"


async def test_the_openapi_document_names_the_refusals_routes_give(
    client: httpx.AsyncClient,
) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    deactivate = paths["/api/v1/users/{user_id}/deactivate"]["post"]["responses"]
    assert {"403", "409"} <= set(deactivate)
    assert "409" in paths["/api/v1/auth/signup"]["post"]["responses"]
    upload = paths["/api/v1/images"]["post"]["responses"]
    assert {"403", "408", "413", "503"} <= set(upload)
    assert "429" in paths["/api/v1/auth/login"]["post"]["responses"]


async def test_method_not_allowed_names_every_method_of_the_path(client: httpx.AsyncClient) -> None:
    """PUT and DELETE .../admin are two routes; a 405 there must name both (found by
    schemathesis: Starlette named only the first route that matched the path)."""
    response = await client.request("OPTIONS", f"/api/v1/users/{uuid.uuid4()}/admin")
    assert response.status_code == 405
    assert response.headers["Allow"] == "DELETE, PUT"
