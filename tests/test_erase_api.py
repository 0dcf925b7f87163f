"""The erase family through HTTP: erase, remove_watermark, remove_background and the batch."""

import uuid
from typing import Any

import httpx
import pytest

from tests.conftest import UserClient, encode, sample_rgb, signup_and_login


async def submit(user: UserClient, image_id: str, operation: dict[str, Any]) -> httpx.Response:
    return await user.post(f"/api/v1/images/{image_id}/operations", json={"operation": operation})


async def test_a_mask_of_another_size_is_refused_at_once(user: UserClient) -> None:
    image = await user.upload_ok(encode(sample_rgb(64, 48), "PNG"))
    mask = await user.upload_ok(encode(sample_rgb(32, 32), "PNG"))
    response = await submit(user, image["id"], {"type": "erase", "mask_image_id": mask["id"]})
    assert response.status_code == 422
    assert response.json()["code"] == "mask_size_mismatch"
    assert "32x32" in response.json()["message"]
    assert "64x48" in response.json()["message"]


async def test_another_users_mask_is_404(client: httpx.AsyncClient) -> None:
    owner = await signup_and_login(client)
    stranger = await signup_and_login(client)
    theirs = await owner.upload_ok(encode(sample_rgb(), "PNG"))
    mine = await stranger.upload_ok(encode(sample_rgb(), "PNG"))
    for operation in (
        {"type": "erase", "mask_image_id": theirs["id"]},
        {"type": "remove_background", "hint_mask_image_id": theirs["id"]},
    ):
        response = await submit(stranger, mine["id"], operation)
        assert response.status_code == 404, operation


@pytest.mark.parametrize(
    "operation",
    [
        {"type": "erase"},
        {"type": "erase", "rects": [[0, 0, 4, 4]], "strokes": [{"points": [[1, 1]], "radius": 2}]},
        {"type": "erase", "rects": [[0, 0, 0, 4]]},
        {"type": "erase", "rects": [[-1, 0, 4, 4]]},
        {"type": "erase", "rects": [[0, 0, 4, 4]], "method": "magic"},
        {"type": "erase", "strokes": [{"points": [], "radius": 2}]},
        {"type": "erase", "strokes": [{"points": [[1, 1]], "radius": 0}]},
        {"type": "remove_watermark", "mode": "manual"},
        {"type": "remove_background", "format": "jpeg"},
        {"type": "remove_background", "background": "red"},
        {"type": "remove_background", "method": "magic"},
    ],
)
async def test_bad_erase_params_are_422(user: UserClient, operation: dict[str, Any]) -> None:
    image = await user.upload_ok(encode(sample_rgb(), "PNG"))
    response = await submit(user, image["id"], operation)
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"


async def test_the_model_method_without_a_model_is_a_clear_422(user: UserClient) -> None:
    image = await user.upload_ok(encode(sample_rgb(), "PNG"))
    response = await submit(user, image["id"], {"type": "remove_background", "method": "model"})
    assert response.status_code == 422
    assert response.json()["code"] == "model_not_configured"
    assert "PIX_ERASE_BG_MODEL_PATH" in response.json()["message"]


@pytest.mark.parametrize("count", [0, 1, 51])
async def test_a_batch_needs_2_to_50_images(user: UserClient, count: int) -> None:
    ids = [str(uuid.uuid4()) for _ in range(count)]
    response = await user.post("/api/v1/watermarks/remove-batch", json={"image_ids": ids})
    assert response.status_code == 422


async def test_a_batch_refuses_repeats_and_foreign_images(client: httpx.AsyncClient) -> None:
    owner = await signup_and_login(client)
    stranger = await signup_and_login(client)
    mine = await owner.upload_ok(encode(sample_rgb(), "PNG"))
    theirs = await stranger.upload_ok(encode(sample_rgb(), "PNG"))
    repeated = await owner.post(
        "/api/v1/watermarks/remove-batch", json={"image_ids": [mine["id"], mine["id"]]}
    )
    assert repeated.status_code == 422
    foreign = await owner.post(
        "/api/v1/watermarks/remove-batch", json={"image_ids": [mine["id"], theirs["id"]]}
    )
    assert foreign.status_code == 404
