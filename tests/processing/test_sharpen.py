"""The sharpen step: an unsharp mask like Pillow's, on real photos, keeping alpha."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageFilter
from skimage import data as skdata

from pix_erase.processing import run_steps
from pix_erase.processing.steps.sharpen import Sharpen

MAX = 50_000_000


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def sharpened(image: Image.Image, **params: float) -> Image.Image:
    step = Sharpen.model_validate({"type": "sharpen", **params})
    result = Image.open(io.BytesIO(run_steps(png(image), [step], max_pixels=MAX).data))
    result.load()
    return result


def camera() -> Image.Image:
    return Image.fromarray(skdata.camera()).convert("RGB")  # type: ignore[no-untyped-call]


@pytest.mark.parametrize(("amount", "radius", "threshold"), [(1.0, 1.0, 0), (2.0, 3.0, 4)])
def test_matches_pillows_unsharp_mask_on_a_photo(
    amount: float, radius: float, threshold: int
) -> None:
    photo = camera()
    ours = np.asarray(sharpened(photo, amount=amount, radius=radius, threshold=threshold))
    pillow = np.asarray(
        photo.filter(ImageFilter.UnsharpMask(radius, round(amount * 100), threshold))
    )
    original = np.asarray(photo)
    difference = np.abs(ours.astype(int) - pillow.astype(int))
    assert difference.mean() < 1.0  # Pillow approximates the Gaussian with box blurs
    assert np.abs(ours.astype(int) - original.astype(int)).mean() > 3 * difference.mean()


def test_a_soft_edge_gets_steeper_and_flat_areas_stay() -> None:
    # 60 up to 200 over x = 90..110: a blurred edge between two flat areas
    ramp = 60 + np.clip((np.arange(200) - 90) * 7, 0, 140)
    image = Image.fromarray(np.dstack([np.tile(ramp, (60, 1)).astype(np.uint8)] * 3))
    out = np.asarray(sharpened(image, amount=1.5, radius=2.0))[:, :, 0].astype(int)
    before = np.asarray(image)[:, :, 0].astype(int)
    assert (out[:, :70] == before[:, :70]).all()  # flat far from the edge
    assert (out[:, 130:] == before[:, 130:]).all()
    assert out[:, 80:92].min() < 60  # the halo on both sides
    assert out[:, 108:120].max() > 200
    assert np.abs(np.diff(out, axis=1)).max() > np.abs(np.diff(before, axis=1)).max()


def test_threshold_leaves_fine_noise_and_sharpens_edges() -> None:
    rng = np.random.default_rng(7)
    flat = np.full((80, 160), 128, dtype=np.int16) + rng.integers(-2, 3, (80, 160))
    flat[:, 80:] += 60  # one strong edge
    image = Image.fromarray(np.dstack([flat.astype(np.uint8)] * 3))
    out = np.asarray(sharpened(image, amount=2.0, radius=1.0, threshold=6))[:, :, 0]
    before = np.asarray(image)[:, :, 0]
    assert (out[:, :70] == before[:, :70]).all()  # noise below the threshold is untouched
    assert (out[:, 75:85] != before[:, 75:85]).any()  # the edge is sharpened


def test_alpha_is_kept_and_colour_stays_colour() -> None:
    rgba = np.zeros((64, 64, 4), dtype=np.uint8)
    rgba[:, :32] = (220, 30, 30, 255)  # red, opaque
    rgba[:, 32:] = (30, 30, 220, 90)  # blue, translucent
    out = np.asarray(sharpened(Image.fromarray(rgba, "RGBA"), amount=3.0, radius=2.0))
    assert out.shape == (64, 64, 4)
    assert (out[:, :, 3] == rgba[:, :, 3]).all()
    assert (out[:, :28, 0] > out[:, :28, 2]).all()  # red stays red
    assert (out[:, 36:, 2] > out[:, 36:, 0]).all()  # blue stays blue
