"""remove_watermark / detect_watermark: recall floors on clear text in several fonts,
sizes, colours and places, hint rectangles (and a logo found through one), the mask it
returns, the quality gain, and a detector that never downloads anything."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import cv2
import numpy as np
import pytest
from bench.quality_set import family_case, overlay

from pix_erase.processing import text_detector
from pix_erase.processing.errors import ImageError
from pix_erase.processing.watermark import (
    detect_watermark,
    remove_watermark,
    remove_watermark_detailed,
)

from .erase_samples import (
    blend,
    code,
    decoded,
    jpeg,
    mask_of,
    photo,
    png,
    precision,
    psnr,
    recall,
    ring_alpha,
    watermarked,
)

CLEAR_TEXT = [
    # photo, text, position, font size, colour, opacity, DejaVu
    ("astronaut", "SAMPLE 2026", (30, 160), 34, (255, 255, 255), 1.0, False),
    ("coffee", "(c) PixErase", (20, 195), 30, (255, 255, 255), 0.8, True),
    ("chelsea", "watermark", (90, 190), 28, (0, 0, 0), 1.0, False),
    ("rocket", "STOCK PHOTO", (15, 100), 36, (255, 255, 255), 0.6, True),
    ("hubble_deep_field", "Demo Copy", (140, 20), 32, (255, 230, 0), 1.0, False),
]


@pytest.mark.parametrize(
    ("name", "text", "position", "size", "colour", "opacity", "dejavu"), CLEAR_TEXT
)
def test_mask_recall_on_clear_text_is_at_least_08(
    name: str,
    text: str,
    position: tuple[int, int],
    size: int,
    colour: tuple[int, int, int],
    opacity: float,
    dejavu: bool,
) -> None:
    case = watermarked(
        name, text, position=position, font_size=size, colour=colour, opacity=opacity, dejavu=dejavu
    )
    found = detect_watermark(case.marked) > 0
    assert recall(found, case.truth) >= 0.8
    # It hugs the strokes: far less than the text's bounding box with a margin.
    ys, xs = np.nonzero(case.truth)
    box_area = (ys.max() - ys.min() + 20) * (xs.max() - xs.min() + 20)
    assert found.sum() < 0.8 * box_area


def test_remove_watermark_restores_the_region_and_returns_its_mask() -> None:
    case = watermarked("astronaut", "SAMPLE 2026", position=(30, 160), font_size=34)
    fractions: list[float] = []
    result, mask = remove_watermark(jpeg(case.marked), max_pixels=10**8, progress=fractions.append)
    assert result.format == "jpeg"
    assert (result.width, result.height) == (320, 240)
    assert (mask.format, mask.width, mask.height) == ("png", 320, 240)
    used = mask_of(mask.data)
    assert recall(used, case.truth) >= 0.8
    out = decoded(result.data, cv2.IMREAD_COLOR)
    assert psnr(out, case.clean, case.truth) > psnr(case.marked, case.clean, case.truth) + 6
    assert fractions == sorted(fractions)
    assert fractions[-1] == 1.0
    # Outside the mask only JPEG re-encoding differs.
    assert psnr(out, case.clean, ~used) > 30


def test_hint_rects_narrow_the_search() -> None:
    first = watermarked("coffee", "LEFT MARK", position=(10, 20), font_size=28)
    second = watermarked("coffee", "RIGHT", position=(200, 190), font_size=28)
    marked = first.marked.copy()  # both marks on one photo
    marked[second.truth] = second.marked[second.truth]
    found = detect_watermark(marked, hint_rects=[(180, 170, 140, 70)]) > 0
    assert recall(found, second.truth) >= 0.8
    assert not found[:100].any()  # nothing outside the hint


def test_a_semi_transparent_logo_is_found_through_a_hint() -> None:
    clean = photo("chelsea")
    coverage = ring_alpha((320, 240), (230, 20, 300, 90), 8)
    marked = blend(clean, coverage, (255, 255, 255), 0.5)
    truth = coverage > 0.5
    found = detect_watermark(marked, hint_rects=[(220, 10, 90, 90)]) > 0
    assert recall(found, truth) >= 0.8
    result, _ = remove_watermark(png(marked), hint_rects=[(220, 10, 90, 90)], max_pixels=10**8)
    out = decoded(result.data, cv2.IMREAD_COLOR)
    assert psnr(out, clean, truth) > psnr(marked, clean, truth) + 3


def test_large_images_are_detected_on_a_reduced_copy_and_mapped_back() -> None:
    case = watermarked("rocket", "BIG MARK", size=(3200, 2400), position=(300, 1500), font_size=260)
    found = detect_watermark(case.marked) > 0
    assert recall(found, case.truth) >= 0.8
    # Mapped back to the right place at full resolution: the mask is around the text.
    ys, xs = np.nonzero(case.truth)
    near = np.zeros_like(found)
    near[ys.min() - 100 : ys.max() + 100, xs.min() - 100 : xs.max() + 100] = True
    assert (found & near).sum() >= 0.8 * found.sum()


def test_no_watermark_is_a_clear_error() -> None:
    plain = np.full((120, 160, 3), 128, dtype=np.uint8)
    plain[:, :80] = 90  # one soft edge, no text
    with pytest.raises(ImageError) as error:
        remove_watermark(png(plain), max_pixels=10**8)
    assert code(error) == "no_watermark_found"


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Any socket connection or rapidocr download fails the test."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the text detector tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    from rapidocr.utils.download_file import DownloadFile

    monkeypatch.setattr(DownloadFile, "run", staticmethod(refuse))
    text_detector.reset_engine()
    yield
    text_detector.reset_engine()


@pytest.mark.usefixtures("no_network")
def test_the_detector_loads_from_the_package_and_never_downloads() -> None:
    assert text_detector.model_path().is_file()
    case = watermarked()
    assert text_detector.detect_text(case.marked)  # a fresh engine, built offline


SMALL = (480, 360)


@pytest.mark.parametrize(("name", "variant"), [("chelsea", 2), ("rocket", 3)])
def test_the_drop_shadow_belongs_to_the_mask(name: str, variant: int) -> None:
    case = family_case("shadowed", name, variant, SMALL)
    letters = overlay("shadowed", SMALL, variant).colour.min(axis=2) > 128  # white part
    shadow = case.truth & ~letters
    outcome = remove_watermark_detailed(png(case.marked), max_pixels=10**8)
    used = mask_of(outcome.mask.data)
    # The letters alone cover about half of the mark: the shadow must be found too.
    assert recall(used, shadow) >= 0.8
    assert recall(used, case.truth) >= 0.85
    assert precision(used, case.truth) >= 0.6
    out = decoded(outcome.result.data, cv2.IMREAD_COLOR)
    assert psnr(out, case.clean, case.truth) > psnr(case.marked, case.clean, case.truth) + 10
    assert 0.5 <= outcome.confidence <= 1.0
    assert outcome.marked_fraction == pytest.approx(used.mean(), abs=1e-6)


@pytest.mark.parametrize("name", ["astronaut", "coffee", "chelsea", "rocket", "horse"])
def test_a_clean_photo_is_refused_or_left_pixel_identical(name: str) -> None:
    clean = family_case("clean", name, 0, SMALL).marked
    try:
        result, _ = remove_watermark(png(clean), max_pixels=10**8)
    except ImageError as error:
        refused: str = error.code
    else:
        refused = "no"
        assert np.array_equal(decoded(result.data, cv2.IMREAD_COLOR), clean)
    assert refused in ("no_watermark_found", "no")
