"""run_steps as a whole: formats, orientation, metadata, limits, pipelines, progress."""

from __future__ import annotations

import io
import pickle
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pillow_heif
import pytest
from PIL import Image, ImageOps

from pix_erase.processing import (
    Convert,
    Grayscale,
    ImageError,
    Resize,
    Rotate,
    Step,
    compare_images,
    formats,
    inspect_image,
    probe_encoded,
    run_steps,
)
from pix_erase.processing.decoding import decode, open_source

from .samples import (
    BLUE,
    ORIENTATION,
    RED,
    WHITE,
    encode,
    exif_with,
    is_close,
    marked,
    noisy,
    opened,
    png_header_only,
    rgb_array,
    rgba_array,
    srgb_profile,
    transparent_square,
)

MAX = 50_000_000
OUTPUT_FORMATS = [
    ("jpeg", "JPEG", "image/jpeg"),
    ("png", "PNG", "image/png"),
    ("webp", "WEBP", "image/webp"),
    ("avif", "AVIF", "image/avif"),
    ("heic", "HEIF", "image/heic"),
]


@pytest.fixture(autouse=True)
def _heif_reader() -> None:
    pillow_heif.register_heif_opener()  # lets the tests read HEIC


def convert(fmt: str, **params: object) -> Convert:
    return Convert.model_validate({"type": "convert", "format": fmt, **params})


def resize(**params: object) -> Resize:
    return Resize.model_validate({"type": "resize", **params})


def rotate(angle: float, **params: object) -> Rotate:
    return Rotate.model_validate({"type": "rotate", "angle": angle, **params})


@pytest.mark.parametrize(("fmt", "pillow_format", "content_type"), OUTPUT_FORMATS)
def test_every_output_format_round_trips_with_red_kept_red(
    fmt: str, pillow_format: str, content_type: str
) -> None:
    source = encode(marked(64, 48, patch=16), "PNG")

    result = run_steps(source, [convert(fmt, quality=90)], max_pixels=MAX)

    image = opened(result.data)
    assert (result.format, result.content_type) == (fmt, content_type)
    assert image.format == pillow_format
    assert (result.width, result.height) == image.size == (64, 48)
    pixels = np.asarray(image.convert("RGB"))
    assert is_close(pixels[6, 6], RED, 30)
    assert is_close(pixels[-6, -6], BLUE, 30)
    assert is_close(pixels[24, 32], WHITE, 30)


@pytest.mark.parametrize("fmt", ["png", "webp", "avif", "heic"])
def test_transparent_pixels_stay_transparent_where_the_format_has_alpha(fmt: str) -> None:
    result = run_steps(encode(transparent_square(), "PNG"), [convert(fmt)], max_pixels=MAX)

    pixels = rgba_array(result.data)
    assert pixels[0, 0, 3] == 0
    assert pixels[24, 32, 3] == 255
    assert is_close(pixels[24, 32, :3], RED, 30)


def test_jpeg_output_composites_transparency_over_white() -> None:
    result = run_steps(encode(transparent_square(), "PNG"), [convert("jpeg")], max_pixels=MAX)

    image = opened(result.data)
    assert image.mode == "RGB"
    assert is_close(image.getpixel((0, 0)), WHITE, 3)
    assert is_close(image.getpixel((32, 24)), RED, 30)


@pytest.mark.parametrize(
    ("source_format", "expected"),
    [
        ("JPEG", "jpeg"),
        ("PNG", "png"),
        ("WEBP", "webp"),
        ("AVIF", "avif"),
        ("HEIF", "heic"),
        ("GIF", "png"),
        ("TIFF", "png"),
        ("BMP", "png"),
    ],
)
def test_without_convert_the_format_follows_the_source(source_format: str, expected: str) -> None:
    data = encode(marked(64, 48), source_format)

    result = run_steps(data, [Grayscale(type="grayscale")], max_pixels=MAX)

    assert result.format == expected
    assert probe_encoded(result.data).format == expected
    assert opened(result.data).size == (64, 48)


def test_palette_png_with_transparency_keeps_it() -> None:
    palette_image = transparent_square().convert("P")  # Pillow keeps alpha as a tRNS chunk
    data = encode(palette_image, "PNG")

    result = run_steps(data, [rotate(90)], max_pixels=MAX)

    pixels = rgba_array(result.data)
    assert pixels.shape == (64, 48, 4)
    assert pixels[0, 0, 3] == 0
    assert tuple(pixels[32, 24]) == (*RED, 255)


def test_sixteen_bit_png_becomes_eight_bit() -> None:
    gray16 = Image.fromarray(np.full((12, 16), 65535 // 2, dtype=np.uint16))
    result = run_steps(encode(gray16, "PNG"), [rotate(180)], max_pixels=MAX)

    image = opened(result.data)
    assert image.mode == "L"
    assert image.getpixel((0, 0)) in (127, 128)


def test_cmyk_jpeg_becomes_rgb() -> None:
    data = encode(marked(32, 24).convert("CMYK"), "JPEG", quality=95)

    result = run_steps(data, [convert("png")], max_pixels=MAX)

    assert is_close(opened(result.data).convert("RGB").getpixel((2, 2)), RED, 30)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied_once(orientation: int) -> None:
    data = encode(marked(64, 48), "JPEG", quality=95, exif=exif_with(orientation))
    expected = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB"))

    result = run_steps(data, [convert("png")], max_pixels=MAX)

    pixels = rgb_array(result.data)
    assert pixels.shape == expected.shape
    assert np.abs(pixels.astype(int) - expected.astype(int)).max() <= 12
    assert opened(result.data).getexif().get(ORIENTATION, 1) == 1


def test_orientation_6_puts_the_top_left_mark_at_the_top_right() -> None:
    data = encode(marked(64, 48), "JPEG", quality=95, exif=exif_with(6))

    result = run_steps(data, [rotate(0)], max_pixels=MAX)

    pixels = rgb_array(result.data)
    assert (result.width, result.height) == (48, 64)
    assert is_close(pixels[2, -3], RED)
    assert is_close(pixels[-3, 2], BLUE)


# Not HEIC: HEIF readers follow the container's irot/imir boxes and ignore EXIF
# orientation (libheif applies them while decoding), and Pillow writes no such box.
@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "TIFF", "AVIF"])
def test_orientation_6_is_honoured_in_every_source_format(fmt: str, tmp_path: Path) -> None:
    data = encode(marked(64, 48, patch=16), fmt, exif=exif_with(6), quality=95)
    path = tmp_path / "upload"
    path.write_bytes(data)

    info = inspect_image(path, max_pixels=MAX, max_frames=1)
    result = run_steps(data, [convert("png")], max_pixels=MAX)

    assert (info.width, info.height) == (result.width, result.height) == (48, 64)
    pixels = rgb_array(result.data)
    assert is_close(pixels[4, -5], RED)
    assert is_close(pixels[-5, 4], BLUE)


@pytest.fixture(scope="module")
def large_jpeg() -> bytes:
    """1600x1200 stored, Orientation 6 (displayed 1200x1600), red 200px top-left mark."""
    image = noisy(1600, 1200)
    image.paste(RED, (0, 0, 200, 200))
    image.paste(BLUE, (1400, 1000, 1600, 1200))
    return encode(image, "JPEG", quality=90, exif=exif_with(6))


def test_shrink_on_load_decodes_at_reduced_scale(large_jpeg: bytes) -> None:
    source = open_source(large_jpeg, max_pixels=MAX)
    assert source.size == (1200, 1600)

    pixels = decode(source, at_least=(300, 400))

    assert pixels.shape[:2] == (400, 300)  # 1/4 scale, oriented as displayed


@pytest.mark.parametrize("width", [300, 250, 599, 1000])
def test_shrink_on_load_keeps_orientation_and_colours(large_jpeg: bytes, width: int) -> None:
    result = run_steps(large_jpeg, [resize(width=width)], max_pixels=MAX)

    height = round(1600 * width / 1200)
    assert (result.width, result.height) == (width, height)
    pixels = rgb_array(result.data)
    assert pixels.shape[:2] == (height, width)
    mark = max(2, width // 30)
    assert is_close(pixels[mark, -mark - 1], RED)  # stored top-left is displayed top-right
    assert is_close(pixels[-mark - 1, mark], BLUE)
    assert opened(result.data).getexif().get(ORIENTATION) == 1


def test_shrink_on_load_gives_the_same_picture_as_a_full_decode(large_jpeg: bytes) -> None:
    reduced = rgb_array(run_steps(large_jpeg, [resize(width=300)], max_pixels=MAX).data)
    full = rgb_array(
        run_steps(large_jpeg, [rotate(0), resize(width=300)], max_pixels=MAX).data
    ).astype(int)

    assert reduced.shape == full.shape
    assert np.abs(reduced.astype(int) - full).mean() < 4


def test_icc_profile_and_exif_are_kept() -> None:
    profile = srgb_profile()
    data = encode(marked(), "JPEG", icc_profile=profile, exif=exif_with(6, make="KeepCam"))

    for fmt in ("jpeg", "png", "webp", "avif", "heic"):
        result = run_steps(data, [rotate(90), convert(fmt)], max_pixels=MAX)
        image = opened(result.data)
        assert image.info.get("icc_profile") == profile, fmt
        exif = image.getexif()
        assert exif.get(0x010F) == "KeepCam", fmt
        assert exif.get(ORIENTATION, 1) == 1, fmt


def test_strip_metadata_removes_icc_and_exif() -> None:
    data = encode(marked(), "JPEG", icc_profile=srgb_profile(), exif=exif_with(6))

    for fmt in ("jpeg", "png", "webp"):
        result = run_steps(data, [convert(fmt, strip_metadata=True)], max_pixels=MAX)
        image = opened(result.data)
        assert "icc_profile" not in image.info, fmt
        assert 0x010F not in image.getexif(), fmt
        assert image.size == (48, 64), fmt  # orientation still applied to the pixels


def test_large_icc_profile_survives_jpeg_output() -> None:
    # Over 64 KB: a JPEG needs several APP2 segments for it.
    profile = srgb_profile()
    large = profile + b"\x00" * 70_000
    large = len(large).to_bytes(4, "big") + large[4:]
    data = encode(marked(), "PNG", icc_profile=large)

    result = run_steps(data, [convert("jpeg")], max_pixels=MAX)

    assert opened(result.data).info.get("icc_profile") == large


def test_rgb_profile_is_dropped_when_the_result_is_gray() -> None:
    data = encode(marked(), "JPEG", icc_profile=srgb_profile())

    result = run_steps(data, [Grayscale(type="grayscale")], max_pixels=MAX)

    image = opened(result.data)
    assert image.mode == "L"
    assert "icc_profile" not in image.info


def test_result_over_the_pixel_limit_is_refused() -> None:
    data = encode(marked(64, 48), "PNG")

    with pytest.raises(ImageError) as caught:
        run_steps(data, [resize(scale=4)], max_pixels=64 * 48 * 4)

    assert caught.value.code == "result_too_large"


def test_intermediate_over_the_pixel_limit_is_refused() -> None:
    data = encode(marked(64, 48), "PNG")
    steps = [resize(scale=4), resize(width=64)]  # the end is small, the middle is not

    with pytest.raises(ImageError) as caught:
        run_steps(data, steps, max_pixels=64 * 48 * 4)

    assert caught.value.code == "result_too_large"


def test_webp_side_limit_is_refused_before_work() -> None:
    data = encode(marked(4200, 10), "PNG")

    with pytest.raises(ImageError) as caught:
        run_steps(data, [resize(scale=4), convert("webp")], max_pixels=MAX)

    assert caught.value.code == "result_too_large"


def test_source_over_the_pixel_limit_is_refused_without_decoding() -> None:
    with pytest.raises(ImageError) as caught:
        run_steps(png_header_only(50_000, 50_000), [convert("png")], max_pixels=MAX)

    assert caught.value.code == "too_many_pixels"


def test_garbage_is_unsupported_and_the_error_pickles() -> None:
    with pytest.raises(ImageError) as caught:
        run_steps(b"not an image at all", [convert("png")], max_pixels=MAX)

    copy = pickle.loads(pickle.dumps(caught.value))  # noqa: S301 (our own bytes)
    assert (copy.code, copy.message) == ("unsupported_format", caught.value.message)


def test_pipeline_of_several_steps() -> None:
    data = encode(marked(64, 48, patch=16), "JPEG", quality=95, exif=exif_with(6))
    steps: list[Step] = [
        rotate(90),  # displayed 48x64 -> 64x48, red mark now top-left again
        resize(width=32),
        Grayscale(type="grayscale"),
        rotate(10, fill="#000000"),
        convert("webp", quality=90),
    ]

    result = run_steps(data, steps, max_pixels=MAX)

    image = opened(result.data)
    assert (result.format, image.format) == ("webp", "WEBP")
    assert image.size == (result.width, result.height) == (36, 30)
    assert is_close(image.convert("RGB").getpixel((0, 0)), (0, 0, 0), 10)


def test_progress_rises_to_one() -> None:
    reports: list[float] = []
    steps: list[Step] = [rotate(30), Grayscale(type="grayscale"), resize(scale=0.5)]

    run_steps(encode(noisy(), "PNG"), steps, max_pixels=MAX, progress=reports.append)

    assert reports == sorted(reports)
    assert len(set(reports)) == len(reports)
    assert reports[-1] == 1.0
    assert 0 < reports[0] < 1


def test_heic_source_decodes() -> None:
    data = encode(marked(64, 48, patch=16), "HEIF", quality=90)

    result = run_steps(data, [convert("png")], max_pixels=MAX)

    assert is_close(rgb_array(result.data)[6, 6], RED, 30)


# TIFF is missing: Pillow's TIFF plugin checks its own limit again when it loads pixels
# (it warns above 89 MP), and WebP's refuses above twice that; both become too_many_pixels.
@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "GIF", "WEBP", "BMP", "AVIF", "HEIF"])
def test_only_our_pixel_limit_applies(fmt: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Pillow's built-in bomb limit (89 MP) must not override a larger configured limit.
    data = encode(marked(64, 48), fmt)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1_600)  # WebP refuses above 2x this

    result = run_steps(data, [rotate(30), convert("avif")], max_pixels=80 * 74)
    compared = compare_images(data, data, max_pixels=64 * 48)

    assert (result.width, result.height) == (80, 74)
    assert compared.psnr is None


def test_animated_gif_uses_the_first_frame() -> None:
    frames = [Image.new("RGB", (16, 12), colour) for colour in (RED, BLUE, WHITE)]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:])

    result = run_steps(data, [resize(scale=2)], max_pixels=MAX)

    assert result.format == "png"
    assert is_close(rgb_array(result.data)[12, 16], RED, 2)


@pytest.fixture
def heic_without_library(monkeypatch: pytest.MonkeyPatch) -> Iterator[bytes]:
    """A HEIC file, then pillow-heif made unimportable (as on a server without it)."""
    data = encode(marked(), "HEIF")
    monkeypatch.setitem(sys.modules, "pillow_heif", None)  # import now raises ImportError
    formats.heif_module.cache_clear()
    formats.heic_encoder_available.cache_clear()
    yield data
    monkeypatch.undo()
    formats.heif_module.cache_clear()
    formats.heic_encoder_available.cache_clear()


def test_heic_is_reported_unavailable_without_pillow_heif(
    heic_without_library: bytes, tmp_path: Path
) -> None:
    heic = tmp_path / "photo.heic"
    heic.write_bytes(heic_without_library)

    with pytest.raises(ImageError) as reading:
        inspect_image(heic, max_pixels=MAX, max_frames=1)
    with pytest.raises(ImageError) as writing:
        run_steps(encode(marked(), "PNG"), [convert("heic")], max_pixels=MAX)

    assert reading.value.code == writing.value.code == "heic_unavailable"


def test_grayscale_of_a_colour_jpeg_decodes_only_the_luma_and_matches_cvtcolor() -> None:
    import cv2
    import numpy as np

    from pix_erase.processing import run_steps
    from pix_erase.processing.steps import Grayscale

    rng = np.random.default_rng(3)
    colour = cv2.GaussianBlur(rng.integers(0, 255, (120, 160, 3), dtype=np.uint8), (7, 7), 0)
    data = cv2.imencode(".jpg", colour, [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes()
    result = run_steps(data, [Grayscale(type="grayscale")], max_pixels=10**8)
    gray = cv2.imdecode(np.frombuffer(result.data, np.uint8), cv2.IMREAD_UNCHANGED)
    full = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert gray is not None
    assert full is not None
    expected = cv2.cvtColor(full, cv2.COLOR_BGR2GRAY)
    assert gray.ndim == 2
    assert gray.shape == expected.shape
    assert float(np.abs(gray.astype(int) - expected.astype(int)).mean()) < 1.5
