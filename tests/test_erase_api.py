"""The erase family through HTTP: erase, remove_watermark, remove_background and the batch."""

import uuid
from typing import Any

import cv2
import httpx
import numpy as np
import pytest
from PIL import Image

from tests.conftest import UserClient, decode, encode, sample_rgb, signup_and_login
from tests.processing.erase_samples import (
    composite,
    decoded,
    iou,
    mask_of,
    png,
    psnr,
    recall,
    watermarked,
)


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


async def _erased(user: UserClient, operation: dict[str, Any]) -> tuple[Any, Any]:
    """A gray image with a black bar; erase the bar; (source pixels, result pixels)."""
    base = np.full((48, 64, 3), 128, np.uint8)
    base[20:26, 10:50] = 0
    image = await user.upload_ok(encode(Image.fromarray(base), "PNG"))
    operation = dict(operation)
    if operation.get("mask_image_id") == "upload":
        mask = np.zeros((48, 64), np.uint8)
        mask[18:28, 8:52] = 255
        operation["mask_image_id"] = (await user.upload_ok(encode(Image.fromarray(mask), "PNG")))[
            "id"
        ]
    task = await user.run(image["id"], {"operation": operation})
    assert task["status"] == "succeeded", task
    meta = (await user.get(f"/api/v1/images/{task['result']['image_id']}")).json()
    assert meta["parent_id"] == image["id"]
    assert meta["operation"] == "erase"
    result = np.asarray(decode(await user.content(task["result"]["image_id"])).convert("RGB"))
    return base, result


@pytest.mark.parametrize(
    "operation",
    [
        {"type": "erase", "rects": [[8, 18, 44, 10]], "method": "telea"},
        {"type": "erase", "rects": [[8, 18, 44, 10]], "method": "ns"},
        {"type": "erase", "rects": [[8, 18, 44, 10]], "method": "best"},
        {"type": "erase", "strokes": [{"points": [[8, 23], [52, 23]], "radius": 5}]},
        {"type": "erase", "mask_image_id": "upload"},
    ],
)
async def test_erase_fills_the_mask_and_leaves_the_rest(
    user: UserClient, operation: dict[str, Any]
) -> None:
    source, result = await _erased(user, operation)
    bar = result[20:26, 10:50].astype(int)
    assert abs(bar.mean() - 128) < 20  # the black bar is gone, filled with the gray around
    outside = np.ones(source.shape[:2], bool)
    outside[17:29, 2:58] = False  # the mask, with the strokes' round ends
    assert (result[outside] == source[outside]).all()


def bgr_of(data: bytes) -> Any:
    return decoded(data, cv2.IMREAD_COLOR)


async def test_remove_watermark_finds_the_text_and_gives_back_its_mask(user: UserClient) -> None:
    sample = watermarked()
    image = await user.upload_ok(png(sample.marked), "marked.png")
    task = await user.run(image["id"], {"operation": {"type": "remove_watermark"}})
    assert task["status"] == "succeeded", task
    result = bgr_of(await user.content(task["result"]["image_id"]))
    mask = mask_of(await user.content(task["result"]["mask_image_id"]))
    assert mask.shape == sample.truth.shape
    assert recall(mask, sample.truth) >= 0.8
    assert psnr(result, sample.clean, sample.truth) > psnr(
        sample.marked, sample.clean, sample.truth
    )
    assert (result[~mask] == sample.marked[~mask]).all()  # nothing outside the mask moved
    meta = (await user.get(f"/api/v1/images/{task['result']['mask_image_id']}")).json()
    assert meta["parent_id"] == image["id"]
    assert meta["operation"] == "watermark_mask"


async def test_the_mask_can_be_corrected_and_used_with_erase(user: UserClient) -> None:
    sample = watermarked()
    image = await user.upload_ok(png(sample.marked), "marked.png")
    found = await user.run(image["id"], {"operation": {"type": "remove_watermark"}})
    again = await user.run(
        image["id"],
        {"operation": {"type": "erase", "mask_image_id": found["result"]["mask_image_id"]}},
    )
    assert again["status"] == "succeeded", again


async def test_remove_background_with_grabcut_makes_the_background_transparent(
    user: UserClient,
) -> None:
    pixels, alpha = composite()
    image = await user.upload_ok(png(pixels), "subject.png")
    task = await user.run(image["id"], {"operation": {"type": "remove_background"}})
    assert task["status"] == "succeeded", task
    cut = decode(await user.content(task["result"]["image_id"]))
    assert cut.format == "PNG"
    assert cut.mode == "RGBA"
    found = np.asarray(cut)[:, :, 3] > 127
    assert iou(found, alpha > 0.5) > 0.8
    assert np.asarray(cut)[:8, :8, 3].max() < 10  # a plain corner is see-through


async def test_remove_background_onto_a_colour_as_jpeg(user: UserClient) -> None:
    pixels, _ = composite()
    image = await user.upload_ok(png(pixels), "subject.png")
    task = await user.run(
        image["id"],
        {"operation": {"type": "remove_background", "format": "jpeg", "background": "#ff0000"}},
    )
    assert task["status"] == "succeeded", task
    result = decode(await user.content(task["result"]["image_id"]))
    assert result.format == "JPEG"
    corner = np.asarray(result.convert("RGB"))[3, 3].astype(int)
    assert corner[0] > 200
    assert corner[1] < 60
    assert corner[2] < 60


async def test_batch_learns_the_shared_watermark_and_cleans_each_image(user: UserClient) -> None:
    names = ["astronaut", "coffee", "chelsea"]
    samples = [watermarked(name, opacity=0.6) for name in names]
    ids = [
        (await user.upload_ok(png(s.marked), f"{n}.png"))["id"]
        for n, s in zip(names, samples, strict=True)
    ]
    response = await user.post("/api/v1/watermarks/remove-batch", json={"image_ids": ids})
    assert response.status_code == 202
    task = await user.wait(response.json()["task_id"])
    assert task["status"] == "succeeded", task
    items = task["result"]["items"]
    assert [item["source_image_id"] for item in items] == ids
    mask = mask_of(await user.content(task["result"]["mask_image_id"]))
    assert recall(mask, samples[0].truth) >= 0.8
    for item, sample in zip(items, samples, strict=True):
        cleaned = bgr_of(await user.content(item["image_id"]))
        before = psnr(sample.marked, sample.clean, sample.truth)
        assert psnr(cleaned, sample.clean, sample.truth) > before
