"""Upload, list, read, download, EXIF and delete, and that users see only their own images."""

import hashlib
import uuid

import httpx
from fastapi import FastAPI
from PIL import Image

from pix_erase.setup.config import Settings
from tests.conftest import (
    UserClient,
    encode,
    sample_rgb,
    sample_rgba,
    signup_and_login,
    stored_keys,
)


async def test_upload_stores_the_image_and_reports_its_metadata(user: UserClient) -> None:
    data = encode(sample_rgba(64, 48), "PNG")
    body = await user.upload_ok(data, "anything.jpg")  # the content decides, not the name
    assert body["format"] == "png"
    assert body["content_type"] == "image/png"
    assert (body["width"], body["height"], body["bytes"]) == (64, 48, len(data))
    assert body["parent_id"] is None
    assert body["operation"] is None

    meta = await user.get(f"/api/v1/images/{body['id']}")
    assert meta.json() == body


async def test_content_is_the_uploaded_bytes_with_type_and_etag(user: UserClient) -> None:
    data = encode(sample_rgb(), "JPEG", quality=90)
    image = await user.upload_ok(data, "photo.jpg")
    response = await user.get(f"/api/v1/images/{image['id']}/content")
    assert response.status_code == 200
    assert response.content == data
    assert response.headers["content-type"] == "image/jpeg"
    assert response.headers["etag"] == f'"{hashlib.sha256(data).hexdigest()}"'

    cached = await user.get(
        f"/api/v1/images/{image['id']}/content",
        headers={"If-None-Match": response.headers["etag"]},
    )
    assert cached.status_code == 304
    assert cached.content == b""


async def test_a_stored_upload_leaves_no_staging_file(user: UserClient, settings: Settings) -> None:
    await user.upload_ok(encode(sample_rgb(), "JPEG"), "photo.jpg")
    assert not list((settings.app.data_dir / "uploads").iterdir())


async def test_exif_as_json_and_empty_when_none(user: UserClient) -> None:
    exif = Image.Exif()
    exif[0x010F] = "PixCam"  # Make
    exif[0x0110] = "Model 7"  # Model
    tagged = await user.upload_ok(encode(sample_rgb(), "JPEG", exif=exif.tobytes()), "a.jpg")
    plain = await user.upload_ok(encode(sample_rgb(), "PNG"))

    tags = (await user.get(f"/api/v1/images/{tagged['id']}/exif")).json()
    assert tags["Make"] == "PixCam"
    assert tags["Model"] == "Model 7"
    assert (await user.get(f"/api/v1/images/{plain['id']}/exif")).json() == {}


async def test_exif_orientation_is_applied_on_upload(user: UserClient) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    image = await user.upload_ok(encode(sample_rgb(64, 48), "JPEG", exif=exif.tobytes()), "o.jpg")
    assert (image["width"], image["height"]) == (48, 64)  # what the user saw


async def test_list_is_paginated_newest_first(client: httpx.AsyncClient) -> None:
    user = await signup_and_login(client)
    ids = [(await user.upload_ok(encode(sample_rgb(), "PNG")))["id"] for _ in range(3)]
    page = (await user.get("/api/v1/images", params={"limit": 2})).json()
    assert page["total"] == 3
    assert [i["id"] for i in page["items"]] == ids[::-1][:2]
    rest = (await user.get("/api/v1/images", params={"limit": 2, "offset": 2})).json()
    assert [i["id"] for i in rest["items"]] == ids[:1]


async def test_another_users_image_is_a_404_like_a_missing_one(
    client: httpx.AsyncClient,
) -> None:
    owner = await signup_and_login(client)
    stranger = await signup_and_login(client)
    image = await owner.upload_ok(encode(sample_rgb(), "PNG"))
    missing = await stranger.get(f"/api/v1/images/{uuid.uuid4()}")
    for path in ("", "/content", "/exif"):
        response = await stranger.get(f"/api/v1/images/{image['id']}{path}")
        assert response.status_code == 404
        assert response.json() == missing.json()
    assert (await stranger.delete(f"/api/v1/images/{image['id']}")).status_code == 404
    submit = await stranger.post(
        f"/api/v1/images/{image['id']}/operations", json={"operation": {"type": "grayscale"}}
    )
    assert submit.status_code == 404
    assert (await stranger.get("/api/v1/images")).json()["total"] == 0
    # And the owner still has it.
    assert (await owner.get(f"/api/v1/images/{image['id']}")).status_code == 200


async def test_delete_removes_row_and_object(user: UserClient, app: FastAPI) -> None:
    before = await stored_keys(app)
    image = await user.upload_ok(encode(sample_rgb(), "PNG"))
    added = await stored_keys(app) - before
    assert len(added) == 1
    assert (await user.delete(f"/api/v1/images/{image['id']}")).status_code == 204
    assert (await user.get(f"/api/v1/images/{image['id']}")).status_code == 404
    assert not added & await stored_keys(app)


async def test_another_users_task_is_a_404(client: httpx.AsyncClient) -> None:
    owner = await signup_and_login(client)
    stranger = await signup_and_login(client)
    image = await owner.upload_ok(encode(sample_rgb(), "PNG"))
    task = await owner.run(image["id"], {"operation": {"type": "grayscale"}})
    response = await stranger.get(f"/api/v1/tasks/{task['id']}")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
