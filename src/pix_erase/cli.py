"""The `pix-erase` command: serve, api, worker, migrate, sweep, create-admin."""

import asyncio
import getpass
import sys
from typing import Annotated

import typer
import uvicorn

from pix_erase.platform.db import create_engine, create_sessionmaker, transaction
from pix_erase.platform.http_server import uvicorn_options
from pix_erase.platform.migrate import upgrade_head
from pix_erase.platform.observability.logging import configure_logging
from pix_erase.setup.config import Settings, load_settings

app = typer.Typer(help="PixErase: a self-hosted image-cleaning API.", no_args_is_help=True)


def _settings() -> Settings:
    settings = load_settings()
    configure_logging(settings.observability.log_level)
    settings.app.data_dir.mkdir(parents=True, exist_ok=True)
    return settings


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default UVICORN_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default UVICORN_PORT).")] = None,
) -> None:
    """All in one: migrate, then run the API with an in-process worker on embedded defaults."""
    from pix_erase.main import create_app

    settings = _settings()
    upgrade_head(settings.app.resolved_database_url)
    uvicorn.run(
        create_app(settings, in_process_worker=True),
        host=host or settings.server.host,
        port=port or settings.server.port,
        log_config=None,
        timeout_graceful_shutdown=int(settings.app.shutdown_grace_seconds) + 5,
        **uvicorn_options(settings.server),
    )


@app.command()
def api(
    host: Annotated[str | None, typer.Option(help="Bind address (default UVICORN_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default UVICORN_PORT).")] = None,
) -> None:
    """The API alone (production): tasks go to Redis for `pix-erase worker` to run."""
    from pix_erase.main import create_app

    settings = _settings()
    if not settings.app.redis_url:
        raise typer.BadParameter("pix-erase api needs REDIS_URL; on one box use `serve`")
    uvicorn.run(
        create_app(settings, in_process_worker=False),
        host=host or settings.server.host,
        port=port or settings.server.port,
        log_config=None,
        timeout_graceful_shutdown=int(settings.app.shutdown_grace_seconds),
        **uvicorn_options(settings.server),
    )


@app.command()
def worker(
    processes: Annotated[
        int, typer.Option("--processes", "-p", min=1, help="Image-work processes.")
    ] = 2,
) -> None:
    """The task worker (production): one receiver process, image work in a process pool."""
    from pix_erase.worker import run_worker

    settings = _settings()
    asyncio.run(run_worker(settings, processes))


@app.command()
def migrate() -> None:
    """Bring the database schema to the newest version (alembic upgrade head)."""
    settings = _settings()
    upgrade_head(settings.app.resolved_database_url)
    typer.echo("database is at the newest schema")


@app.command()
def sweep(
    grace: Annotated[
        float | None,
        typer.Option(
            help="Keep objects younger than this many seconds (default SWEEP_GRACE_SECONDS)."
        ),
    ] = None,
) -> None:
    """Delete stored objects that no image references (older than the grace period)."""
    from pix_erase.container import build_services
    from pix_erase.images.sweep import sweep_orphans

    settings = _settings()

    async def run() -> list[str]:
        services = build_services(settings, processes=1)
        try:
            return await sweep_orphans(services, grace)
        finally:
            await services.close()

    deleted = asyncio.run(run())
    typer.echo(f"deleted {len(deleted)} unreferenced objects")


def _read_password() -> str:
    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Repeat password: "):
            raise typer.BadParameter("the passwords differ")
        return password
    return sys.stdin.readline().rstrip("\r\n")


@app.command("create-admin")
def create_admin(email: str) -> None:
    """Create an administrator; the password comes from a prompt, or from stdin when piped."""
    from pix_erase.errors import AppError
    from pix_erase.users.schemas import SignupIn
    from pix_erase.users.service import create_user

    settings = _settings()
    password = _read_password()
    try:
        body = SignupIn(email=email, password=password)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    upgrade_head(settings.app.resolved_database_url)

    async def create() -> None:
        engine = create_engine(settings.app.resolved_database_url)
        try:
            async with transaction(create_sessionmaker(engine)) as session:
                await create_user(session, body.email, body.password, None, is_admin=True)
        finally:
            await engine.dispose()

    try:
        asyncio.run(create())
    except AppError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"administrator {body.email} created")


def main() -> None:
    app()
