"""The page in a real browser: headless Debian chromium (Playwright's sync API with
`executable_path`, never a downloaded browser) against a real `pix-erase serve`.

Every test gets a fresh browser context (no cookies) and a list of every request the
page made, so a test can check nothing left 127.0.0.1.
"""

import io
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import Browser, Page, Playwright, Request, expect, sync_playwright

from tests.backends import serve_env, serving

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# How long `expect` waits for the page to show what a test expects: image work on a busy
# 2-core machine can take a while; a ceiling for waiting, not a speed requirement.
expect.set_options(timeout=90_000)
SCREENSHOTS = Path(__file__).parent / "screenshots"
PASSWORD = "a long password"


@pytest.fixture(scope="package")
def served_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of the `serve` the page tests use (for the command line, too)."""
    return serve_env(tmp_path_factory.mktemp("web-serve"), PIX_ERASE_PROCESSES="2")


@pytest.fixture(scope="package")
def served(served_env: dict[str, str]) -> Iterator[str]:
    with serving(served_env) as base:
        yield base


# Package scope: Playwright's sync API runs an event loop of its own while it is open;
# it must be closed before any asyncio test that runs after this package.
@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    if not Path(CHROMIUM).exists():
        raise RuntimeError("chromium is missing: scripts/install-test-deps installs it")
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
    yield browser
    browser.close()


@dataclass
class Visit:
    """A page and everything it asked the network for."""

    page: Page
    base: str
    downloads: Path
    requests: list[str] = field(default_factory=list)

    def shot(self, name: str, *, full_page: bool = True) -> None:
        SCREENSHOTS.mkdir(exist_ok=True)
        self.page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=full_page)


@pytest.fixture
def visit(browser: Browser, served: str, tmp_path: Path) -> Iterator[Visit]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    visit = Visit(page, served, tmp_path)
    page.on("request", lambda request: visit.requests.append(request_url(request)))
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("dialog", lambda dialog: dialog.accept())
    yield visit
    context.close()
    assert not errors, errors  # an uncaught exception in the page's JavaScript


def request_url(request: Request) -> str:
    return request.url


def new_email() -> str:
    return f"web-{uuid.uuid4().hex[:10]}@example.com"


@contextmanager
def api_login(base: str, email: str) -> Iterator[httpx.Client]:
    """A bearer client of the same account, to check through the API what the page did."""
    with httpx.Client(base_url=base, timeout=30) as client:
        response = client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
        assert response.status_code == 200, response.text
        client.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
        client.cookies.clear()
        yield client


def sign_up(visit: Visit, email: str) -> None:
    page = visit.page
    page.goto(visit.base + "/")
    form = page.get_by_role("form", name="Sign up")
    form.get_by_label("Email").fill(email)
    form.get_by_label("Password").fill(PASSWORD)
    form.get_by_role("button", name="Sign up").click()
    expect(page.get_by_text(f"Logged in as {email}")).to_be_visible()


# A photo with a known mark: a white bar with a black outline across the astronaut.
MARK = (140, 430, 380, 470)  # x0, y0, x1, y1 in the 512x512 picture


def photo_with_mark() -> bytes:
    from skimage import data

    image = Image.fromarray(data.astronaut())  # type: ignore[no-untyped-call]
    ImageDraw.Draw(image).rectangle(MARK, fill=(255, 255, 255), outline=(0, 0, 0), width=3)
    return png(image)


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def pixels(data: bytes) -> np.ndarray[Any, np.dtype[np.int16]]:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.int16)
