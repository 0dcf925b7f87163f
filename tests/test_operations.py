"""Every operation through HTTP and the in-process worker, checked by decoding the result."""

from typing import Any

import numpy as np
import pytest
from PIL import Image

from tests.conftest import UserClient, decode, encode, sample_rgb, sample_rgba


async def run_ok(user: UserClient, image_id: str, body: dict[str, Any]) -> dict[str, Any]:
    task = await user.run(image_id, body)
    assert task["status"] == "succeeded", task
    assert task["progress"] == 1.0
    assert task["error"] is None
    assert task["started_at"]
    assert task["finished_at"]
    return task


async def result_of(user: UserClient, task: dict[str, Any]) -> tuple[dict[str, Any], Image.Image]:
    image_id = task["result"]["image_id"]
    meta = (await user.get(f"/api/v1/images/{image_id}")).json()
    data = await user.content(image_id)
    pixels = decode(data)
    # What the API says about the result is what the bytes are.
    assert (meta["width"], meta["height"]) == pixels.size
    assert meta["bytes"] == len(data)
    assert meta["content_type"] == Image.MIME[pixels.format or ""]
    return meta, pixels


def px(image: Image.Image, xy: tuple[int, int]) -> tuple[int, ...]:
    value = image.getpixel(xy)
    assert isinstance(value, tuple)
    return value


def near(actual: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 40) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


async def test_rotate_expands_the_canvas_with_transparent_corners(user: UserClient) -> None:
    source = await user.upload_ok(encode(sample_rgba(64, 48), "PNG"))
    task = await run_ok(user, source["id"], {"operation": {"type": "rotate", "angle": 30}})
    meta, pixels = await result_of(user, task)
    assert meta["parent_id"] == source["id"]
    assert meta["operation"] == "rotate"
    assert pixels.mode == "RGBA"
    assert pixels.width > 64
    assert pixels.height > 48
    assert px(pixels, (0, 0))[3] == 0  # a corner that was outside the picture
    centre_left = px(pixels, (pixels.width // 2 - 6, pixels.height // 2))
    assert near(centre_left, (255, 0, 0, 255), 10)  # red stayed red


async def test_rotate_90_on_a_jpeg_swaps_sides_and_keeps_colours(user: UserClient) -> None:
    source = await user.upload_ok(encode(sample_rgb(64, 48), "JPEG", quality=95), "a.jpg")
    task = await run_ok(user, source["id"], {"operation": {"type": "rotate", "angle": 90}})
    meta, pixels = await result_of(user, task)
    assert meta["format"] == "jpeg"
    assert pixels.size == (48, 64)
    # Counter-clockwise: the red top-left quadrant is now bottom-left.
    assert near(px(pixels.convert("RGB"), (5, 58)), (255, 0, 0))


async def test_grayscale_keeps_alpha(user: UserClient) -> None:
    source = await user.upload_ok(encode(sample_rgba(), "PNG"))
    task = await run_ok(user, source["id"], {"operation": {"type": "grayscale"}})
    _, pixels = await result_of(user, task)
    assert pixels.mode == "LA"
    gray, alpha = px(pixels, (5, 5))
    assert alpha == 255
    assert near((gray,), (76,), 3)
    assert px(pixels, (60, 5))[1] == 0


@pytest.mark.parametrize(
    ("params", "size"),
    [
        ({"scale": 0.5}, (32, 24)),
        ({"scale": 4}, (256, 192)),
        ({"width": 32}, (32, 24)),
        ({"width": 40, "height": 40, "fit": "contain"}, (40, 30)),
        ({"width": 40, "height": 40, "fit": "cover"}, (40, 40)),
        ({"width": 40, "height": 40, "fit": "fill", "sharpen": 1.0}, (40, 40)),
    ],
)
async def test_resize(user: UserClient, params: dict[str, Any], size: tuple[int, int]) -> None:
    source = await user.upload_ok(encode(sample_rgb(64, 48), "PNG"))
    task = await run_ok(user, source["id"], {"operation": {"type": "resize", **params}})
    _, pixels = await result_of(user, task)
    assert pixels.size == size
    assert near(px(pixels.convert("RGB"), (2, 2)), (255, 0, 0))


@pytest.mark.parametrize(
    ("fmt", "content_type", "alpha"),
    [
        ("jpeg", "image/jpeg", False),
        ("png", "image/png", True),
        ("webp", "image/webp", True),
        ("avif", "image/avif", True),
    ],
)
async def test_convert(user: UserClient, fmt: str, content_type: str, alpha: bool) -> None:
    source = await user.upload_ok(encode(sample_rgba(), "PNG"))
    task = await run_ok(
        user, source["id"], {"operation": {"type": "convert", "format": fmt, "quality": 90}}
    )
    meta, pixels = await result_of(user, task)
    assert meta["format"] == fmt
    assert meta["content_type"] == content_type
    rgba = pixels.convert("RGBA")
    assert near(px(rgba, (5, 5)), (255, 0, 0, 255))
    if alpha:
        assert px(rgba, (60, 5))[3] < 10  # transparent stayed transparent
    else:
        assert px(rgba, (60, 5))[3] == 255


async def test_convert_quality_changes_the_size(user: UserClient) -> None:
    noise = np.random.default_rng(1).integers(0, 255, (96, 128, 3), dtype=np.uint8)
    source = await user.upload_ok(encode(Image.fromarray(noise), "PNG"))
    sizes = []
    for quality in (10, 95):
        body = {"operation": {"type": "convert", "format": "jpeg", "quality": quality}}
        task = await run_ok(user, source["id"], body)
        sizes.append((await result_of(user, task))[0]["bytes"])
    assert sizes[0] < sizes[1]


async def test_convert_can_strip_metadata(user: UserClient) -> None:
    exif = Image.Exif()
    exif[0x010F] = "PixCam"
    source = await user.upload_ok(encode(sample_rgb(), "JPEG", exif=exif.tobytes()), "a.jpg")
    kept = await run_ok(user, source["id"], {"operation": {"type": "convert", "format": "jpeg"}})
    stripped = await run_ok(
        user,
        source["id"],
        {"operation": {"type": "convert", "format": "jpeg", "strip_metadata": True}},
    )
    kept_tags = (await user.get(f"/api/v1/images/{kept['result']['image_id']}/exif")).json()
    gone = (await user.get(f"/api/v1/images/{stripped['result']['image_id']}/exif")).json()
    assert kept_tags.get("Make") == "PixCam"
    assert gone == {}


async def test_pipeline_gives_one_result_and_leaves_the_source_alone(user: UserClient) -> None:
    data = encode(sample_rgb(64, 48), "PNG")
    source = await user.upload_ok(data)
    steps = [
        {"type": "rotate", "angle": 90},
        {"type": "resize", "scale": 0.5},
        {"type": "grayscale"},
        {"type": "convert", "format": "webp", "quality": 80},
    ]
    before = (await user.get("/api/v1/images")).json()["total"]
    task = await run_ok(user, source["id"], {"steps": steps})
    meta, pixels = await result_of(user, task)
    assert meta["operation"] == "rotate+resize+grayscale+convert"
    assert meta["format"] == "webp"
    assert pixels.size == (24, 32)
    assert (await user.get("/api/v1/images")).json()["total"] == before + 1
    assert await user.content(source["id"]) == data


async def test_compare_reports_psnr_ssim_phash_and_a_heatmap(user: UserClient) -> None:
    base = sample_rgb(64, 48)
    changed = base.copy()
    changed.paste((255, 255, 255), (40, 30, 60, 44))
    first = await user.upload_ok(encode(base, "PNG"))
    twin = await user.upload_ok(encode(base, "PNG"))
    other = await user.upload_ok(encode(changed, "PNG"))

    same = await run_ok(
        user, first["id"], {"operation": {"type": "compare", "other_image_id": twin["id"]}}
    )
    diff = await run_ok(
        user, first["id"], {"operation": {"type": "compare", "other_image_id": other["id"]}}
    )
    assert same["result"]["psnr"] is None  # identical: infinite PSNR
    assert same["result"]["ssim"] == pytest.approx(1.0)
    assert same["result"]["phash_distance"] == 0
    assert 0 < diff["result"]["psnr"] < 60
    assert diff["result"]["ssim"] < 1.0
    assert diff["result"]["heatmap_image_id"] == diff["result"]["image_id"]
    meta, heatmap = await result_of(user, diff)
    assert heatmap.size == (64, 48)
    assert meta["parent_id"] == first["id"]
    # The heat-map is hotter (brighter on its black-to-yellow scale) where the images differ,
    # and dark where they are the same.
    luma = np.asarray(heatmap.convert("L"), dtype=float)
    inside, outside = luma[32:42, 42:58].mean(), luma[2:12, 2:18].mean()
    assert outside < 30
    assert inside > outside + 100


async def test_compare_with_a_strangers_image_is_404(user: UserClient) -> None:
    from uuid import uuid4

    source = await user.upload_ok(encode(sample_rgb(), "PNG"))
    response = await user.post(
        f"/api/v1/images/{source['id']}/operations",
        json={"operation": {"type": "compare", "other_image_id": str(uuid4())}},
    )
    assert response.status_code == 404


async def test_an_oversized_result_is_refused_at_submission(user: UserClient) -> None:
    # 4000 x 3000 x 4 x 4 = 192 MP: over the test limit of 40 MP; known from the header.
    source = await user.upload_ok(encode(Image.new("RGB", (4000, 3000), (9, 9, 9)), "PNG"))
    response = await user.post(
        f"/api/v1/images/{source['id']}/operations",
        json={"operation": {"type": "resize", "scale": 4}},
    )
    assert response.status_code == 422
    assert response.json()["code"] == "result_too_large"


async def test_a_failed_task_says_why(user: UserClient) -> None:
    # A plain picture has no watermark: known only once the task has looked.
    source = await user.upload_ok(encode(Image.new("RGB", (400, 300), (9, 9, 9)), "PNG"))
    task = await user.run(source["id"], {"operation": {"type": "remove_watermark"}})
    assert task["status"] == "failed"
    assert task["error"]["code"] == "no_watermark_found"
    assert task["error"]["message"]
    assert task["result"] is None
