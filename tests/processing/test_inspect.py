"""inspect_image: the gate every upload passes, and probe_encoded."""

from __future__ import annotations

import io
from pathlib import Path

import pillow_heif
import pytest
from PIL import GifImagePlugin, Image

from pix_erase.processing import ImageError, ImageInfo, inspect_image, probe_encoded

from .samples import (
    animated_gif,
    encode,
    exif_with,
    marked,
    png_header_only,
    transparent_square,
)

LIMITS = {"max_pixels": 10_000_000, "max_frames": 10}


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def inspect_bytes(
    tmp_path: Path, data: bytes, name: str = "upload.bin", **limits: int
) -> ImageInfo:
    return inspect_image(write(tmp_path, name, data), **{**LIMITS, **limits})


@pytest.mark.parametrize(
    ("fmt", "params", "expected_format", "content_type"),
    [
        ("JPEG", {"quality": 90}, "jpeg", "image/jpeg"),
        ("PNG", {}, "png", "image/png"),
        ("WEBP", {"quality": 80}, "webp", "image/webp"),
        ("GIF", {}, "gif", "image/gif"),
        ("TIFF", {}, "tiff", "image/tiff"),
        ("BMP", {}, "bmp", "image/bmp"),
        ("AVIF", {"quality": 60}, "avif", "image/avif"),
        ("HEIF", {"quality": 60}, "heic", "image/heic"),
    ],
)
def test_each_accepted_format_is_recognised(
    tmp_path: Path, fmt: str, params: dict[str, object], expected_format: str, content_type: str
) -> None:
    if fmt == "HEIF":
        pillow_heif.register_heif_opener()
    data = encode(marked(64, 48), fmt, **params)

    # The name says nothing true: only the content decides.
    info = inspect_bytes(tmp_path, data, name="picture.txt")

    assert info == ImageInfo(expected_format, content_type, 64, 48, 1)


def test_size_is_reported_as_displayed_after_exif_orientation(tmp_path: Path) -> None:
    data = encode(marked(64, 48), "JPEG", exif=exif_with(orientation=6))

    info = inspect_bytes(tmp_path, data)

    assert (info.width, info.height) == (48, 64)


def test_rgba_png_is_accepted(tmp_path: Path) -> None:
    info = inspect_bytes(tmp_path, encode(transparent_square(), "PNG"))
    assert (info.format, info.width, info.height) == ("png", 64, 48)


def test_truncated_jpeg_is_corrupt(tmp_path: Path) -> None:
    data = encode(marked(640, 480), "JPEG", quality=95)

    with pytest.raises(ImageError) as caught:
        inspect_bytes(tmp_path, data[: len(data) // 2], name="photo.jpg")

    assert caught.value.code == "corrupt_image"


def test_truncated_png_is_corrupt(tmp_path: Path) -> None:
    data = encode(marked(640, 480), "PNG")

    with pytest.raises(ImageError) as caught:
        inspect_bytes(tmp_path, data[: len(data) - 40])

    assert caught.value.code == "corrupt_image"


@pytest.mark.parametrize("data", [b"hello, this is not a picture\n" * 10, b"", b"BM is short"])
def test_non_images_are_unsupported_whatever_their_name(tmp_path: Path, data: bytes) -> None:
    with pytest.raises(ImageError) as caught:
        inspect_bytes(tmp_path, data, name="innocent.png")

    assert caught.value.code == "unsupported_format"


def test_unaccepted_image_format_is_unsupported(tmp_path: Path) -> None:
    with pytest.raises(ImageError) as caught:
        inspect_bytes(tmp_path, encode(marked(), "PPM"))

    assert caught.value.code == "unsupported_format"


def test_png_declaring_50000_squared_is_refused_before_decoding(tmp_path: Path) -> None:
    data = png_header_only(50_000, 50_000)
    assert len(data) < 500

    with pytest.raises(ImageError) as caught:
        inspect_bytes(tmp_path, data, max_pixels=100_000_000)

    assert caught.value.code == "too_many_pixels"


def test_our_pixel_limit_replaces_pillows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # An operator may allow more than Pillow's built-in bomb limit; Pillow must not object.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1_000)
    info = inspect_bytes(tmp_path, encode(marked(64, 48), "PNG"), max_pixels=5_000)
    assert (info.width, info.height) == (64, 48)


def test_pixel_limit_applies_to_the_header_size(tmp_path: Path) -> None:
    with pytest.raises(ImageError) as caught:
        inspect_bytes(tmp_path, encode(marked(64, 48), "PNG"), max_pixels=64 * 48 - 1)
    assert caught.value.code == "too_many_pixels"


def test_animated_gif_frames_are_counted(tmp_path: Path) -> None:
    info = inspect_bytes(tmp_path, animated_gif(5), max_frames=5)
    assert (info.format, info.frames, info.width, info.height) == ("gif", 5, 16, 12)


def test_gif_frame_count_agrees_with_pillow_with_local_palettes(tmp_path: Path) -> None:
    frames = []
    for i in range(7):  # every frame differs in content and palette: local colour tables
        frame = marked(20, 10)
        frame.paste((i * 30, 255 - i * 30, 90), (10, 0, 20, 10))
        frames.append(frame.quantize(colors=4 + i))
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], comment=b"hi")
    with GifImagePlugin.GifImageFile(io.BytesIO(data)) as image:
        expected = image.n_frames

    assert inspect_bytes(tmp_path, data).frames == expected == 7


def test_gif_with_more_frames_than_allowed_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ImageError) as caught:
        inspect_bytes(tmp_path, animated_gif(6), max_frames=5)
    assert caught.value.code == "too_many_frames"


def test_animated_webp_with_more_frames_than_allowed_is_refused(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (16, 12), (i * 40, 0, 0)) for i in range(4)]
    data = encode(frames[0], "WEBP", save_all=True, append_images=frames[1:], lossless=True)

    with pytest.raises(ImageError) as caught:
        inspect_bytes(tmp_path, data, max_frames=3)

    assert caught.value.code == "too_many_frames"


def test_multipage_tiff_counts_pages(tmp_path: Path) -> None:
    pages = [marked(32, 24), marked(32, 24), marked(32, 24)]
    data = encode(pages[0], "TIFF", save_all=True, append_images=pages[1:])

    assert inspect_bytes(tmp_path, data).frames == 3
    with pytest.raises(ImageError) as caught:
        inspect_bytes(tmp_path, data, max_frames=2)
    assert caught.value.code == "too_many_frames"


def test_probe_encoded_reads_the_header() -> None:
    info = probe_encoded(encode(marked(30, 20), "WEBP"))
    assert info == ImageInfo("webp", "image/webp", 30, 20, 1)


def test_probe_encoded_refuses_non_images() -> None:
    with pytest.raises(ImageError) as caught:
        probe_encoded(b"<html></html>")
    assert caught.value.code == "unsupported_format"


def _photo_jpeg(**params: object) -> bytes:
    from skimage import data as skdata

    photo = Image.fromarray(skdata.astronaut())  # type: ignore[no-untyped-call]
    buffer = io.BytesIO()
    photo.save(buffer, "JPEG", quality=90, **params)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "params",
    [{}, {"progressive": True}, {"restart_marker_blocks": 4}, {"exif": b"Exif\x00\x00II*\x00"}],
    ids=["baseline", "progressive", "restart-markers", "exif"],
)
def test_a_jpeg_cut_anywhere_is_refused_and_a_whole_one_accepted(
    tmp_path: Path, params: dict[str, object]
) -> None:
    data = _photo_jpeg(**params)
    assert inspect_bytes(tmp_path, data, name="photo.jpg").format == "jpeg"
    assert inspect_bytes(tmp_path, data + b"camera trailer \xff\xd8", name="photo.jpg")
    for fraction in (0.05, 0.2, 0.45, 0.7, 0.9, 0.99):
        with pytest.raises(ImageError) as caught:
            inspect_bytes(tmp_path, data[: int(len(data) * fraction)], name="photo.jpg")
        assert caught.value.code == "corrupt_image"
    with pytest.raises(ImageError):
        inspect_bytes(tmp_path, data[:-2], name="photo.jpg")  # all but its end marker
