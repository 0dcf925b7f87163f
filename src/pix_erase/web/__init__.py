"""The browser page: static HTML, CSS and ES modules shipped in this package, served at
`/` (the page) and `/web/...` (its assets). No build step, nothing from another origin;
the page talks only to the public `/api/v1` API."""

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"


def mount_page(app: FastAPI) -> None:
    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    app.mount("/web", StaticFiles(directory=STATIC), name="web")
