"""Builds the real service for tests, on each backend a user can run it on.

`embedded`: SQLite file, local storage, in-process broker (what `serve` runs).
`production`: PostgreSQL, Redis and S3 (moto) servers, the API with a Redis broker, and a
real `pix-erase worker` process running the tasks.

Every HTTP test runs on both (the `backend` parameter). One app serves each backend for
the whole session; every test signs up its own user, so tests are isolated the way users
are (a user sees only their own images and tasks).
"""

import asyncio
import io
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from PIL import Image

from pix_erase.container import Services
from pix_erase.main import create_app
from pix_erase.platform.migrate import upgrade_head
from pix_erase.setup.config import AppSettings, Settings, StorageSettings
from tests.backends import PixProcess, ProductionBackends, free_port

MAX_UPLOAD_BYTES = 2 * 1024 * 1024
LIMITS: dict[str, Any] = {
    "max_upload_bytes": MAX_UPLOAD_BYTES,
    "max_image_pixels": 40_000_000,
    "max_image_frames": 20,
    "processes": 2,
}


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that gives a `pix-erase` subprocess these settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("S3_", "PIX_ERASE_"))}
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    app, storage = settings.app, settings.storage
    env |= {
        "PIX_ERASE_DATA_DIR": str(app.data_dir),
        "MAX_UPLOAD_BYTES": str(app.max_upload_bytes),
        "MAX_IMAGE_PIXELS": str(app.max_image_pixels),
        "MAX_IMAGE_FRAMES": str(app.max_image_frames),
        "TASK_CLAIM_TIMEOUT_SECONDS": str(app.task_claim_timeout_seconds),
        "SHUTDOWN_GRACE_SECONDS": str(app.shutdown_grace_seconds),
        "WORKER_METRICS_PORT": str(free_port()),  # several workers may run side by side
    }
    tasks = settings.tasks
    env |= {
        "TASK_TIME_LIMIT_SECONDS": str(tasks.time_limit_seconds),
        "TASK_MAX_ATTEMPTS": str(tasks.max_attempts),
        "MAX_ACTIVE_TASKS_PER_USER": str(tasks.max_active_per_user),
        "TASK_MEMORY_BUDGET_BYTES": str(tasks.memory_budget_bytes),
        "SWEEP_GRACE_SECONDS": str(tasks.sweep_grace_seconds),
        "SWEEP_INTERVAL_SECONDS": str(tasks.sweep_interval_seconds),
    }
    if app.database_url:
        env["DATABASE_URL"] = app.database_url
    if app.redis_url:
        env["REDIS_URL"] = app.redis_url
    if storage.endpoint_url:
        secret = storage.secret_access_key
        env |= {
            "S3_ENDPOINT_URL": storage.endpoint_url,
            "S3_BUCKET": storage.bucket,
            "S3_ACCESS_KEY_ID": storage.access_key_id or "",
            "S3_SECRET_ACCESS_KEY": secret.get_secret_value() if secret else "",
            "S3_REGION": storage.region,
        }
    return env


def production_settings(backends: ProductionBackends, data_dir: Any, **app: Any) -> Settings:
    env = backends.env()
    return Settings(
        app=AppSettings(
            data_dir=data_dir,
            database_url=env["DATABASE_URL"],
            redis_url=env["REDIS_URL"],
            **{"task_claim_timeout_seconds": 3.0, **LIMITS, **app},
        ),
        storage=StorageSettings(
            endpoint_url=env["S3_ENDPOINT_URL"],
            bucket=env["S3_BUCKET"],
            access_key_id=env["S3_ACCESS_KEY_ID"],
            secret_access_key=env["S3_SECRET_ACCESS_KEY"],
        ),
    )


@pytest.fixture(scope="session", params=["embedded", "production"])
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture(scope="session")
def production_backends() -> Iterator[ProductionBackends]:
    backends = ProductionBackends()
    yield backends
    backends.close()


@pytest.fixture(scope="session")
def settings(
    backend: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Settings:
    data_dir = tmp_path_factory.mktemp(f"data-{backend}")
    if backend == "production":
        return production_settings(request.getfixturevalue("production_backends"), data_dir)
    return Settings(app=AppSettings(data_dir=data_dir, database_url=None, **LIMITS))


@pytest.fixture(scope="session")
async def app(backend: str, settings: Settings) -> AsyncIterator[FastAPI]:
    await asyncio.to_thread(upgrade_head, settings.app.resolved_database_url)
    embedded = backend == "embedded"
    application = create_app(settings, in_process_worker=embedded)
    worker = None
    if not embedded:
        log = settings.app.data_dir / "worker.log"
        worker = PixProcess(["worker", "--processes", "2"], settings_env(settings), log)
    try:
        async with LifespanManager(application, startup_timeout=60, shutdown_timeout=60):
            yield application
    finally:
        if worker is not None:
            worker.stop()


@asynccontextmanager
async def running_app(settings: Settings, *, in_process_worker: bool) -> AsyncIterator[FastAPI]:
    """The API on `settings`, its database migrated, between its startup and shutdown."""
    await asyncio.to_thread(upgrade_head, settings.app.resolved_database_url)
    application = create_app(settings, in_process_worker=in_process_worker)
    async with LifespanManager(application, startup_timeout=60, shutdown_timeout=60):
        yield application


@asynccontextmanager
async def app_with(settings: Settings, **app_settings: Any) -> AsyncIterator[FastAPI]:
    """A second API on the same backend with some settings changed (e.g. a tiny database
    pool). Tasks it queues go to the backend's broker; it runs no worker of its own."""
    changed = settings.model_copy(update={"app": settings.app.model_copy(update=app_settings)})
    async with running_app(changed, in_process_worker=False) as application:
        yield application


def services_of(app: FastAPI) -> Services:
    services: Services = app.state.services
    return services


async def stored_keys(app: FastAPI) -> set[str]:
    """Every object in the app's storage (a directory or an S3 bucket)."""
    return set(await services_of(app).storage.list_keys("images/"))


def make_client(app: FastAPI, client_addr: str = "127.0.0.1") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(client_addr, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://pix-erase.test")


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(app) as c:
        yield c


class UserClient:
    """A signed-up, logged-in user: an httpx client that sends its bearer token."""

    def __init__(self, client: httpx.AsyncClient, email: str, token: str, user: dict[str, Any]):
        self.http = client
        self.email = email
        self.headers = {"Authorization": f"Bearer {token}"}
        self.user = user

    async def request(self, method: str, url: str, **kw: Any) -> httpx.Response:
        headers = {**self.headers, **kw.pop("headers", {})}
        return await self.http.request(method, url, headers=headers, **kw)

    async def get(self, url: str, **kw: Any) -> httpx.Response:
        return await self.request("GET", url, **kw)

    async def post(self, url: str, **kw: Any) -> httpx.Response:
        return await self.request("POST", url, **kw)

    async def put(self, url: str, **kw: Any) -> httpx.Response:
        return await self.request("PUT", url, **kw)

    async def delete(self, url: str, **kw: Any) -> httpx.Response:
        return await self.request("DELETE", url, **kw)

    async def upload(self, data: bytes, name: str = "photo.png") -> httpx.Response:
        return await self.post("/api/v1/images", files={"file": (name, data)})

    async def upload_ok(self, data: bytes, name: str = "photo.png") -> dict[str, Any]:
        response = await self.upload(data, name)
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    async def run(self, image_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Submit an operation and wait until its task ends; return the task."""
        response = await self.post(f"/api/v1/images/{image_id}/operations", json=body)
        assert response.status_code == 202, response.text
        return await self.wait(response.json()["task_id"])

    async def wait(self, task_id: str) -> dict[str, Any]:
        for _ in range(20):  # up to 10 minutes
            response = await self.get(f"/api/v1/tasks/{task_id}", params={"wait": 30})
            assert response.status_code == 200, response.text
            task: dict[str, Any] = response.json()
            if task["status"] in ("succeeded", "failed"):
                return task
        raise AssertionError(f"task {task_id} did not finish: {task}")

    async def content(self, image_id: str) -> bytes:
        response = await self.get(f"/api/v1/images/{image_id}/content")
        assert response.status_code == 200, response.text
        return response.content


async def signup_and_login(
    client: httpx.AsyncClient, password: str = "correct horse battery"
) -> UserClient:
    email = f"user-{uuid.uuid4().hex[:12]}@example.com"
    response = await client.post(
        "/api/v1/auth/signup", json={"email": email, "password": password, "name": "Test"}
    )
    assert response.status_code == 201, response.text
    response = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    body = response.json()
    client.cookies.clear()  # tests authenticate with the bearer token unless they say otherwise
    return UserClient(client, email, body["access_token"], body["user"])


@pytest.fixture
async def user(client: httpx.AsyncClient) -> UserClient:
    return await signup_and_login(client)


def encode(pixels: Image.Image, fmt: str = "PNG", **params: Any) -> bytes:
    buffer = io.BytesIO()
    pixels.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def sample_rgba(width: int = 64, height: int = 48) -> Image.Image:
    """Left half opaque red, right half transparent."""
    image = Image.new("RGBA", (width, height), (255, 0, 0, 255))
    image.paste((0, 0, 255, 0), (width // 2, 0, width, height))
    return image


def sample_rgb(width: int = 64, height: int = 48) -> Image.Image:
    """Red top-left quadrant, green top-right, blue bottom."""
    image = Image.new("RGB", (width, height), (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, width // 2, height // 2))
    image.paste((0, 255, 0), (width // 2, 0, width, height // 2))
    return image
