"""run_steps, one step at a time: rotate, grayscale, resize (checked on the decoded bytes)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from pix_erase.processing import Convert, Grayscale, Resize, Rotate, run_steps

from .samples import (
    BLUE,
    RED,
    WHITE,
    encode,
    is_close,
    marked,
    noisy,
    opened,
    rgb_array,
    rgba_array,
    transparent_square,
)

MAX = 50_000_000


def rotate(angle: float, **params: object) -> Rotate:
    return Rotate.model_validate({"type": "rotate", "angle": angle, **params})


def resize(**params: object) -> Resize:
    return Resize.model_validate({"type": "resize", **params})


def convert(fmt: str, **params: object) -> Convert:
    return Convert.model_validate({"type": "convert", "format": fmt, **params})


GRAY = Grayscale(type="grayscale")


@pytest.mark.parametrize(("angle", "turns"), [(90, 1), (180, 2), (270, 3), (-90, 3), (450, 1)])
def test_quarter_turns_are_exact_and_lossless_on_png(angle: float, turns: int) -> None:
    source = noisy(64, 48)

    result = run_steps(encode(source, "PNG"), [rotate(angle)], max_pixels=MAX)

    expected = np.rot90(np.asarray(source), k=turns)  # counter-clockwise, like Rotate
    assert np.array_equal(rgb_array(result.data), expected)
    assert (result.width, result.height) == (expected.shape[1], expected.shape[0])


def test_rotate_90_counter_clockwise_moves_top_left_to_bottom_left() -> None:
    result = run_steps(encode(marked(64, 48), "PNG"), [rotate(90)], max_pixels=MAX)

    pixels = rgb_array(result.data)
    assert pixels.shape == (64, 48, 3)
    assert tuple(pixels[-1, 0]) == RED
    assert tuple(pixels[0, -1]) == BLUE


@pytest.mark.parametrize("fmt", ["png", "webp"])
def test_rotate_30_on_png_leaves_transparent_corners(fmt: str) -> None:
    data = encode(marked(64, 48), "PNG")

    result = run_steps(data, [rotate(30), convert(fmt)], max_pixels=MAX)

    pixels = rgba_array(result.data)
    height, width = pixels.shape[:2]
    assert (result.width, result.height) == (width, height)
    assert (width, height) == (80, 74)  # 64cos30 + 48sin30 by 64sin30 + 48cos30, rounded up
    for y, x in [(0, 0), (0, -1), (-1, 0), (-1, -1)]:
        assert pixels[y, x, 3] == 0
    centre = pixels[height // 2, width // 2]
    assert centre[3] == 255
    assert is_close(centre[:3], WHITE, 10)


def test_rotate_keeps_existing_transparency_and_the_opaque_colour() -> None:
    result = run_steps(encode(transparent_square(), "PNG"), [rotate(45)], max_pixels=MAX)

    pixels = rgba_array(result.data)
    height, width = pixels.shape[:2]
    assert tuple(pixels[height // 2, width // 2]) == (*RED, 255)
    assert pixels[0, 0, 3] == 0
    # No dark fringe: semi-transparent edge pixels keep the red colour.
    edge = pixels[(pixels[:, :, 3] > 20) & (pixels[:, :, 3] < 235)]
    assert len(edge) > 0
    assert np.all(edge[:, 0] > 200)


def test_rotate_jpeg_fills_corners_white_by_default() -> None:
    result = run_steps(encode(marked(64, 48), "JPEG", quality=95), [rotate(30)], max_pixels=MAX)

    image = opened(result.data)
    assert (image.format, image.mode) == ("JPEG", "RGB")
    assert is_close(image.getpixel((0, 0)), WHITE, 8)


def test_rotate_fill_colour_is_used_in_rgb_order() -> None:
    data = encode(marked(64, 48), "JPEG", quality=95)

    result = run_steps(data, [rotate(30, fill="#00c000")], max_pixels=MAX)

    assert is_close(opened(result.data).getpixel((0, 0)), (0, 192, 0), 12)


def test_rotate_semi_transparent_fill_on_png() -> None:
    data = encode(marked(64, 48), "PNG")

    result = run_steps(data, [rotate(30, fill="#0000ff80")], max_pixels=MAX)

    assert tuple(rgba_array(result.data)[0, 0]) == (0, 0, 255, 128)


def test_rotate_without_expand_keeps_the_size() -> None:
    result = run_steps(encode(marked(64, 48), "PNG"), [rotate(30, expand=False)], max_pixels=MAX)
    assert (result.width, result.height) == (64, 48)
    assert rgba_array(result.data)[0, 0, 3] == 0


def test_rotate_90_without_expand_keeps_the_size_of_a_non_square_image() -> None:
    result = run_steps(encode(marked(64, 48), "PNG"), [rotate(90, expand=False)], max_pixels=MAX)
    assert (result.width, result.height) == (64, 48)


def test_grayscale_of_rgba_png_keeps_alpha() -> None:
    result = run_steps(encode(transparent_square(), "PNG"), [GRAY], max_pixels=MAX)

    image = opened(result.data)
    assert image.mode == "LA"
    pixels = np.asarray(image)
    assert pixels[0, 0, 1] == 0
    assert tuple(pixels[24, 32]) == (76, 255)  # Rec. 601 luma of pure red


def test_grayscale_jpeg_stays_a_one_channel_jpeg() -> None:
    result = run_steps(encode(marked(), "JPEG", quality=95), [GRAY], max_pixels=MAX)

    image = opened(result.data)
    assert (image.format, image.mode, image.size) == ("JPEG", "L", (64, 48))
    assert abs(int(np.asarray(image)[2, 2]) - 76) <= 6


@pytest.mark.parametrize(
    ("params", "size"),
    [
        ({"width": 32}, (32, 24)),
        ({"height": 12}, (16, 12)),
        ({"scale": 0.5}, (32, 24)),
        ({"scale": 2.5}, (160, 120)),
        ({"width": 40, "height": 40}, (40, 30)),
        ({"width": 40, "height": 40, "fit": "contain"}, (40, 30)),
        ({"width": 40, "height": 40, "fit": "cover"}, (40, 40)),
        ({"width": 40, "height": 40, "fit": "fill"}, (40, 40)),
        ({"width": 100, "height": 20, "fit": "fill"}, (100, 20)),
        ({"width": 200, "height": 300}, (200, 150)),
    ],
)
def test_resize_sizes(params: dict[str, object], size: tuple[int, int]) -> None:
    result = run_steps(encode(marked(64, 48), "PNG"), [resize(**params)], max_pixels=MAX)

    assert (result.width, result.height) == size
    assert opened(result.data).size == size


def test_cover_crops_the_centre() -> None:
    # Left third red, middle white, right third blue; a square cover keeps the middle.
    pixels = np.full((40, 120, 3), 255, dtype=np.uint8)
    pixels[:, :40] = RED
    pixels[:, 80:] = BLUE
    data = encode(Image.fromarray(pixels), "PNG")

    result = run_steps(data, [resize(width=20, height=20, fit="cover")], max_pixels=MAX)

    out = rgb_array(result.data)
    assert out.shape == (20, 20, 3)
    assert is_close(out[10, 10], WHITE, 5)


def test_downscale_keeps_colours() -> None:
    result = run_steps(
        encode(marked(640, 480, patch=80), "PNG"), [resize(width=64)], max_pixels=MAX
    )

    pixels = rgb_array(result.data)
    assert is_close(pixels[3, 3], RED, 3)
    assert is_close(pixels[-3, -3], BLUE, 3)
    assert is_close(pixels[24, 32], WHITE, 3)


def test_upscale_of_transparent_png_keeps_alpha_and_colour() -> None:
    result = run_steps(encode(transparent_square(), "PNG"), [resize(scale=3)], max_pixels=MAX)

    pixels = rgba_array(result.data)
    assert pixels.shape == (144, 192, 4)
    assert pixels[0, 0, 3] == 0
    assert tuple(pixels[72, 96]) == (*RED, 255)
    opaque_enough = pixels[pixels[:, :, 3] > 30]
    assert np.all(opaque_enough[:, 0] > 200)  # premultiplied: no dark halo


def test_sharpen_increases_local_contrast() -> None:
    data = encode(noisy(128, 96), "PNG")

    plain = rgb_array(run_steps(data, [resize(width=64)], max_pixels=MAX).data)
    sharp = rgb_array(run_steps(data, [resize(width=64, sharpen=2)], max_pixels=MAX).data)

    assert plain.shape == sharp.shape
    assert np.std(np.diff(sharp.astype(int), axis=1)) > np.std(np.diff(plain.astype(int), axis=1))
