"""erase and inpaint: masks from rects, strokes and images; crops that follow the mask;
quality floors of telea / ns / best; format, metadata, errors and progress."""

from __future__ import annotations

import io
import pickle

import cv2
import numpy as np
import pytest
from PIL import Image

from pix_erase.processing.errors import ImageError
from pix_erase.processing.inpaint import Method, erase, inpaint, mask_groups
from pix_erase.processing.masks import mask_from_png, mask_from_rects, mask_from_strokes

from .erase_samples import code, decoded, jpeg, photo, png, psnr, watermarked
from .samples import exif_with, srgb_profile


def test_rects_are_clipped_and_filled() -> None:
    mask = mask_from_rects((40, 30), [(5, 5, 10, 4), (35, 25, 20, 20), (-3, -3, 2, 2)])
    assert mask.shape == (30, 40)
    assert mask.dtype == np.uint8
    assert set(np.unique(mask).tolist()) == {0, 255}
    assert (mask[5:9, 5:15] == 255).all()
    assert (mask[25:, 35:] == 255).all()
    assert int(np.count_nonzero(mask)) == 40 + 25


def test_strokes_have_round_caps_and_the_given_width() -> None:
    mask = mask_from_strokes((100, 60), [([(20.0, 30.0), (80.0, 30.0)], 5.0)])
    # Round cap: the disc reaches radius 5 beyond the end point, but not the corners.
    assert mask[30, 15] == 255
    assert mask[30, 14] == 0
    assert mask[25, 16] == 0
    # Width 2 * radius across the segment.
    column = mask[:, 50] > 0
    assert 10 <= int(column.sum()) <= 12
    dot = mask_from_strokes((20, 20), [([(10.0, 10.0)], 3.0)])
    assert dot[10, 10] == 255
    assert dot[10, 13] == 255
    assert dot[10, 14] == 0


def test_mask_image_white_on_black_or_painted_alpha() -> None:
    black = np.zeros((20, 30), dtype=np.uint8)
    black[5:10, 5:10] = 255
    assert (mask_from_png(png(black), (30, 20)) == black).all()
    layer = np.zeros((20, 30, 4), dtype=np.uint8)  # a red brush on a clear layer
    layer[2:4, 3:8] = (0, 0, 255, 200)
    found = mask_from_png(png(layer), (30, 20))
    assert int(np.count_nonzero(found)) == 10
    assert found[2, 3] == 255


def test_mask_of_another_size_is_refused_with_both_sizes() -> None:
    with pytest.raises(ImageError) as error:
        mask_from_png(png(np.full((10, 12), 255, dtype=np.uint8)), (30, 20))
    assert code(error) == "mask_size_mismatch"
    assert "12x10" in error.value.message
    assert "30x20" in error.value.message
    copy = pickle.loads(pickle.dumps(error.value))  # noqa: S301 (our own bytes)
    assert copy.code == "mask_size_mismatch"
    assert copy.message == error.value.message


def test_empty_mask_is_refused() -> None:
    with pytest.raises(ImageError) as error:
        mask_from_png(png(np.zeros((20, 30), dtype=np.uint8)), (30, 20))
    assert code(error) == "empty_mask"
    with pytest.raises(ImageError) as again:
        erase(png(photo()), rects=[(500, 500, 5, 5)], max_pixels=10**8)
    assert code(again) == "empty_mask"


@pytest.mark.parametrize("method", ["telea", "ns"])
def test_crops_give_the_whole_image_result_pixel_for_pixel(method: str) -> None:
    case = watermarked()
    mask = np.where(case.truth, np.uint8(255), np.uint8(0))
    mask[10:20, 280:300] = 255  # a second, distant part: its own crop
    flag = cv2.INPAINT_TELEA if method == "telea" else cv2.INPAINT_NS
    whole = cv2.inpaint(case.marked, mask, 3, flag)
    assert np.array_equal(inpaint(case.marked, mask, method), whole)  # type: ignore[arg-type]


def test_parts_are_grouped_into_padded_crops() -> None:
    mask = np.zeros((200, 300), dtype=np.uint8)
    mask[10:20, 10:20] = 255
    mask[10:20, 24:30] = 255  # 4 px away: same group at pad 4
    mask[150:160, 250:260] = 255
    groups = list(mask_groups(mask, 4))
    assert len(groups) == 2
    first = min(groups, key=lambda g: g.y0)
    assert (first.y0, first.x0) == (6, 6)
    assert (first.y1, first.x1) == (24, 34)
    assert int(np.count_nonzero(first.hole(mask))) == 160


def test_grouping_a_large_mask_on_a_reduced_copy_keeps_every_pixel() -> None:
    mask = np.zeros((2600, 2600), dtype=np.uint8)  # bounding box above the grouping area
    mask[5:9, 5:2595] = 255
    mask[2590:2595, 100:110] = 255
    groups = list(mask_groups(mask, 4))
    assert len(groups) == 2
    total = sum(int(np.count_nonzero(group.hole(mask))) for group in groups)
    assert total == int(np.count_nonzero(mask))
    for group in groups:
        hole = group.hole(mask)
        ys, xs = np.nonzero(hole)
        # the crop pads the group's pixels by at least 4 px (where the image allows)
        assert ys.min() >= 4 or group.y0 == 0
        assert hole.shape[0] - 1 - ys.max() >= 4 or group.y1 == 2600
        assert xs.min() >= 4 or group.x0 == 0


@pytest.mark.parametrize("layout", ["bgr", "gray", "gray_alpha", "bgra"])
def test_every_unmarked_pixel_is_unchanged_for_every_method(layout: str) -> None:
    base = photo("coffee", (160, 120))
    pixels = {
        "bgr": base,
        "gray": cv2.cvtColor(base, cv2.COLOR_BGR2GRAY),
        "gray_alpha": np.dstack(
            [cv2.cvtColor(base, cv2.COLOR_BGR2GRAY), np.full((120, 160), 200, np.uint8)]
        ),
        "bgra": cv2.cvtColor(base, cv2.COLOR_BGR2BGRA),
    }[layout]
    pixels = np.ascontiguousarray(pixels)
    mask = mask_from_strokes((160, 120), [([(20.0, 20.0), (140.0, 100.0)], 4.0)])
    methods: tuple[Method, ...] = ("telea", "ns", "best")
    for method in methods:
        out = inpaint(pixels, mask, method)
        assert out.shape == pixels.shape
        assert out.dtype == np.uint8
        assert np.array_equal(out[mask == 0], pixels[mask == 0])
        assert not np.array_equal(out[mask > 0], pixels[mask > 0])


def test_best_beats_telea_inside_the_watermark() -> None:
    """The floor: on real photos with text masks, ``best`` is closer to the clean
    original than ``telea`` in the masked region, on average and in most cases."""
    gains = []
    for name, position, size in (
        ("astronaut", (20, 120), 30),
        ("coffee", (15, 90), 40),
        ("rocket", (25, 140), 34),
        ("chelsea", (10, 60), 28),
    ):
        case = watermarked(name, position=position, font_size=size)
        mask = np.where(cv2.dilate(case.truth.astype(np.uint8), np.ones((3, 3))) > 0, 255, 0)
        mask = mask.astype(np.uint8)
        where = mask > 0
        telea = psnr(inpaint(case.marked, mask, "telea"), case.clean, where)
        best = psnr(inpaint(case.marked, mask, "best"), case.clean, where)
        gains.append(best - telea)
    assert float(np.mean(gains)) > 0.2
    assert sum(gain > 0 for gain in gains) >= 3


def test_erase_restores_the_region_and_keeps_format_and_metadata() -> None:
    case = watermarked("coffee", position=(15, 90), font_size=40)
    exif = exif_with(orientation=1).tobytes()
    buffer = io.BytesIO()
    rgb = cv2.cvtColor(case.marked, cv2.COLOR_BGR2RGB)
    Image.fromarray(rgb).save(buffer, "JPEG", quality=95, exif=exif, icc_profile=srgb_profile())
    grown = np.asarray(cv2.dilate(case.truth.astype(np.uint8), np.ones((5, 5), np.uint8)))
    mask = np.where(grown > 0, np.uint8(255), np.uint8(0))
    fractions: list[float] = []
    result = erase(
        buffer.getvalue(),
        mask_png=png(mask.astype(np.uint8)),
        method="telea",
        max_pixels=10**8,
        progress=fractions.append,
    )
    assert (result.format, result.content_type) == ("jpeg", "image/jpeg")
    assert (result.width, result.height) == (320, 240)
    opened = Image.open(io.BytesIO(result.data))
    assert opened.info.get("icc_profile") == srgb_profile()
    assert opened.getexif().get(0x010F) == "PixCam"
    out = decoded(result.data, cv2.IMREAD_COLOR)
    where = mask > 0
    assert psnr(out, case.clean, where) > psnr(case.marked, case.clean, where) + 5
    assert fractions == sorted(fractions)
    assert fractions[-1] == 1.0
    assert len(fractions) >= 3


def test_erase_with_rects_and_strokes_together_keeps_png_alpha() -> None:
    pixels = np.asarray(cv2.cvtColor(photo("astronaut", (120, 90)), cv2.COLOR_BGR2BGRA), np.uint8)
    pixels[:, :60, 3] = 0  # left half transparent
    result = erase(
        png(pixels),
        rects=[(70, 10, 10, 10)],
        strokes=[([(90.0, 60.0), (110.0, 70.0)], 3.0)],
        method="ns",
        max_pixels=10**8,
    )
    assert result.format == "png"
    out = decoded(result.data)
    assert out.shape == (90, 120, 4)
    assert (out[:, :60, 3] == 0).all()
    assert (out[:, 60:, 3] == 255).all()
    marked = mask_from_rects((120, 90), [(70, 10, 10, 10)]) | mask_from_strokes(
        (120, 90), [([(90.0, 60.0), (110.0, 70.0)], 3.0)]
    )
    assert np.array_equal(out[marked == 0], pixels[marked == 0])


def test_erase_refuses_a_mask_of_the_wrong_size_before_work() -> None:
    with pytest.raises(ImageError) as error:
        erase(
            jpeg(photo()),
            mask_png=png(np.full((10, 10), 255, dtype=np.uint8)),
            max_pixels=10**8,
        )
    assert code(error) == "mask_size_mismatch"


def test_erase_honours_the_pixel_limit() -> None:
    with pytest.raises(ImageError) as error:
        erase(jpeg(photo()), rects=[(1, 1, 5, 5)], max_pixels=1000)
    assert code(error) == "too_many_pixels"
