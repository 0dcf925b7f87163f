"""What the page relies on, over plain HTTP against `pix-erase serve` (no browser):
its security headers, CSRF refusal of cross-site cookie requests, previews, names."""

import io
from collections.abc import Iterator

import httpx
import pytest
from PIL import Image

from tests.web.conftest import PASSWORD, new_email, photo_with_mark, png


@pytest.fixture
def cookie_client(served: str) -> Iterator[tuple[httpx.Client, str]]:
    """A logged-in client that authenticates by the session cookie only."""
    with httpx.Client(base_url=served, timeout=30) as client:
        email = new_email()
        creds = {"email": email, "password": PASSWORD}
        assert client.post("/api/v1/auth/signup", json=creds).status_code == 201
        response = client.post("/api/v1/auth/login", json=creds)
        assert response.status_code == 200
        yield client, response.json()["access_token"]


def test_page_is_served_with_a_strict_policy(served: str) -> None:
    response = httpx.get(served + "/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert httpx.head(served + "/").status_code == 200  # `curl -I` and uptime checks
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp
    assert "img-src 'self' blob: data:" in csp
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    script = httpx.get(served + "/web/js/main.js")
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
    assert httpx.get(served + "/docs").status_code == 200  # Swagger UI, assets served locally
    assert httpx.get(served + "/static-offline-docs/swagger-ui-bundle.js").status_code == 200
    assert httpx.get(served + "/openapi.json").status_code == 200


def test_cross_site_cookie_post_is_refused(cookie_client: tuple[httpx.Client, str]) -> None:
    client, token = cookie_client
    for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        refused = client.post("/api/v1/auth/logout", headers=headers)
        assert refused.status_code == 403
        assert refused.json()["code"] == "csrf_failed"
        assert set(refused.json()) == {"code", "message", "details"}
    assert client.get("/api/v1/auth/me").status_code == 200  # still logged in

    # A bearer client is not a browser's ambient authority: unaffected.
    bearer = client.get(
        "/api/v1/auth/me",
        headers={"Authorization": f"Bearer {token}", "Origin": "https://x.example"},
    )
    assert bearer.status_code == 200
    upload = client.post(
        "/api/v1/images",
        headers={"Authorization": f"Bearer {token}", "Origin": "https://evil.example"},
        files={"file": ("a.png", png(Image.new("RGB", (8, 8))))},
    )
    assert upload.status_code == 201

    # The page's own requests: same origin.
    same = client.post("/api/v1/auth/logout", headers={"Sec-Fetch-Site": "same-origin"})
    assert same.status_code == 204


def test_thumbnail_is_small_cached_and_revalidates(cookie_client: tuple[httpx.Client, str]) -> None:
    client, _ = cookie_client
    upload = client.post(
        "/api/v1/images",
        headers={"Sec-Fetch-Site": "same-origin"},
        files={"file": ("holiday photo.png", photo_with_mark())},
    )
    assert upload.status_code == 201
    image = upload.json()
    assert image["filename"] == "holiday photo.png"
    thumbnail: dict[str, str | int] = {"w": 64, "h": 64, "format": "webp", "q": 80}  # as the page
    preview = client.get(f"/api/v1/images/{image['id']}/render", params=thumbnail)
    assert preview.status_code == 200
    assert preview.headers["content-type"] == "image/webp"
    assert "max-age" in preview.headers["cache-control"]
    assert Image.open(io.BytesIO(preview.content)).size == (64, 64)
    again = client.get(
        f"/api/v1/images/{image['id']}/render",
        params=thumbnail,
        headers={"If-None-Match": preview.headers["etag"]},
    )
    assert again.status_code == 304
    assert not again.content
    for size in (0, 8193):
        bad = client.get(f"/api/v1/images/{image['id']}/render", params={"w": size})
        assert bad.status_code == 422
        assert bad.json()["code"]

    download = client.get(f"/api/v1/images/{image['id']}/content", params={"download": True})
    assert download.headers["content-disposition"].startswith("attachment;")
    assert "filename*=UTF-8''holiday%20photo.png" in download.headers["content-disposition"]
    assert download.content == photo_with_mark()
