"""read_exif: tags by name, JSON-safe values."""

from __future__ import annotations

import json

import pytest
from PIL import ExifTags, Image, TiffImagePlugin

from pix_erase.processing import ImageError, read_exif

from .samples import encode, exif_with, marked


def camera_exif() -> Image.Exif:
    exif = exif_with(orientation=6, make="PixCam")
    exif[ExifTags.Base.Model] = "Model 7\x00"
    exif[ExifTags.Base.XResolution] = TiffImagePlugin.IFDRational(72, 1)
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    sub[ExifTags.Base.DateTimeOriginal] = "2024:05:01 12:30:00"
    sub[ExifTags.Base.ExposureTime] = TiffImagePlugin.IFDRational(1, 250)
    sub[ExifTags.Base.UserComment] = b"ASCII\x00\x00\x00hello there"
    sub[ExifTags.Base.ExifVersion] = b"0232"
    sub[ExifTags.Base.ComponentsConfiguration] = b"\x01\x02\x03\x00"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (
        TiffImagePlugin.IFDRational(48, 1),
        TiffImagePlugin.IFDRational(51, 1),
        TiffImagePlugin.IFDRational(2931, 100),
    )
    return exif


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_tags_are_named_and_json_safe(fmt: str) -> None:
    data = encode(marked(), fmt, exif=camera_exif())

    tags = read_exif(data)

    assert json.loads(json.dumps(tags)) == tags
    assert tags["Make"] == "PixCam"
    assert tags["Model"] == "Model 7"
    assert tags["Orientation"] == 6
    assert tags["XResolution"] == 72.0
    assert tags["DateTimeOriginal"] == "2024:05:01 12:30:00"
    assert tags["ExposureTime"] == pytest.approx(0.004)
    assert tags["UserComment"] == "hello there"
    assert tags["ExifVersion"] == "0232"
    assert tags["ComponentsConfiguration"] == "01020300"
    assert tags["GPSLatitudeRef"] == "N"
    assert tags["GPSLatitude"] == [48.0, 51.0, 29.31]
    assert "ExifOffset" not in tags  # pointers to sub-IFDs are not data


def test_image_without_exif_gives_an_empty_object() -> None:
    assert read_exif(encode(marked(), "JPEG")) == {}
    assert read_exif(encode(marked(), "PNG")) == {}


def test_tiff_structure_tags_are_left_out() -> None:
    tags = read_exif(encode(marked(), "TIFF", exif=exif_with(make="TiffCam")))

    assert tags["Make"] == "TiffCam"
    assert "StripOffsets" not in tags
    assert "ImageWidth" not in tags


def test_non_image_is_refused() -> None:
    with pytest.raises(ImageError) as caught:
        read_exif(b"plain text")
    assert caught.value.code == "unsupported_format"
