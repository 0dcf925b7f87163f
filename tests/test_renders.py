"""Renders: one GET makes a cheap transform, cached; signed URLs work without a session."""

from __future__ import annotations

import time
import uuid
from urllib.parse import parse_qsl, urlsplit

import httpx
import numpy as np
import pytest
from fastapi import FastAPI

from pix_erase.images.renders import RenderParams, sign
from tests.conftest import UserClient, decode, encode, sample_rgb, services_of, signup_and_login


async def photo(user: UserClient, size: tuple[int, int] = (640, 480), fmt: str = "JPEG") -> str:
    image = sample_rgb(*size)
    uploaded = await user.upload_ok(encode(image, fmt), f"photo.{fmt.lower()}")
    return str(uploaded["id"])


async def render(user: UserClient, image_id: str, **params: object) -> httpx.Response:
    return await user.get(f"/api/v1/images/{image_id}/render", params=params)


async def test_fits_into_the_box_in_the_asked_format_and_revalidates(user: UserClient) -> None:
    image_id = await photo(user)
    response = await render(user, image_id, w=200, h=200, format="webp", q=70)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/webp"
    out = decode(response.content)
    assert (out.format, out.size) == ("WEBP", (200, 150))
    top_left = np.asarray(out.convert("RGB"))[10, 10]
    assert top_left[0] > 200 > top_left[2]  # red stays red: colour order kept

    again = await user.get(
        f"/api/v1/images/{image_id}/render",
        params={"w": 200, "h": 200, "format": "webp", "q": 70},
        headers={"If-None-Match": response.headers["etag"]},
    )
    assert again.status_code == 304
    other = await render(user, image_id, w=200, h=200, format="webp", q=71)
    assert other.headers["etag"] != response.headers["etag"]


async def test_defaults_keep_the_source_format_and_never_enlarge(user: UserClient) -> None:
    image_id = await photo(user, (120, 90), "PNG")
    response = await render(user, image_id, w=1000, h=1000)
    assert response.headers["content-type"] == "image/png"
    assert decode(response.content).size == (120, 90)


async def test_cover_crops_rotate_turns_grayscale_grays(user: UserClient) -> None:
    image_id = await photo(user)
    cover = decode((await render(user, image_id, w=100, h=100, fit="cover")).content)
    assert cover.size == (100, 100)
    turned = decode((await render(user, image_id, rotate=90, format="png")).content)
    assert turned.size == (480, 640)
    gray = decode((await render(user, image_id, grayscale="true", format="png")).content)
    rgb = np.asarray(gray.convert("RGB"), dtype=int)
    assert (rgb[:, :, 0] == rgb[:, :, 2]).all()


async def test_a_render_is_made_once_and_cached_in_storage(user: UserClient, app: FastAPI) -> None:
    image_id = await photo(user)
    first = await render(user, image_id, w=64)
    storage = services_of(app).storage
    owner = user.user["id"]
    cached = await storage.list_keys(f"renders/{owner}/{image_id}/")
    assert len(cached) == 1
    assert await storage.get_bytes(cached[0]) == first.content
    second = await render(user, image_id, w=64)
    assert second.content == first.content
    assert await storage.list_keys(f"renders/{owner}/{image_id}/") == cached


async def test_deleting_the_image_deletes_its_renders(user: UserClient, app: FastAPI) -> None:
    image_id = await photo(user)
    await render(user, image_id, w=64)
    await render(user, image_id, w=32, format="png")
    assert (await user.delete(f"/api/v1/images/{image_id}")).status_code == 204
    assert await services_of(app).storage.list_keys(f"renders/{user.user['id']}/{image_id}/") == []


async def test_signed_url_works_without_a_session_and_only_as_signed(
    user: UserClient, client: httpx.AsyncClient, app: FastAPI
) -> None:
    image_id = await photo(user)
    made = await user.post(
        f"/api/v1/images/{image_id}/render-url", json={"w": 100, "format": "jpeg"}
    )
    assert made.status_code == 200, made.text
    url = made.json()["url"]
    anonymous = await client.get(url)  # no bearer token, no cookie
    assert anonymous.status_code == 200, anonymous.text
    assert decode(anonymous.content).size == (100, 75)
    assert anonymous.headers["cache-control"].startswith("public")

    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    tampered = await client.get(parts.path, params=query | {"w": "600"})
    assert tampered.status_code == 403
    assert tampered.json()["code"] == "render_url_invalid"
    elsewhere = await client.get(parts.path.replace(image_id, str(uuid.uuid4())), params=query)
    assert elsewhere.status_code == 403
    garbled = await client.get(parts.path, params=query | {"sig": "\u00e42\U0001f3ff"})
    assert garbled.status_code == 403  # a fuzzer's signature is refused, never a 500

    past = int(time.time()) - 10
    params = RenderParams(w=100, format="jpeg")
    signature = sign(services_of(app).signing_secret, uuid.UUID(image_id), params, past)
    expired = await client.get(parts.path, params=query | {"exp": past, "sig": signature})
    assert expired.status_code == 403
    assert expired.json()["code"] == "render_url_expired"


async def test_others_images_and_no_credentials_are_refused(
    user: UserClient, client: httpx.AsyncClient
) -> None:
    image_id = await photo(user)
    stranger = await signup_and_login(client)
    assert (await render(stranger, image_id, w=10)).status_code == 404
    url_for_it = await stranger.post(f"/api/v1/images/{image_id}/render-url", json={"w": 10})
    assert url_for_it.status_code == 404
    anonymous = await client.get(f"/api/v1/images/{image_id}/render", params={"w": 10})
    assert anonymous.status_code == 401


@pytest.mark.parametrize(
    "params", [{"w": 0}, {"h": 9000}, {"q": 101}, {"format": "gif"}, {"rotate": "nan"}, {"x": 1}]
)
async def test_bad_parameters_are_a_422(user: UserClient, params: dict[str, object]) -> None:
    image_id = await photo(user, (32, 24))
    response = await render(user, image_id, **params)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "validation_error"
