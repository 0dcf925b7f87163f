"""compare_images: PSNR, SSIM, pHash distance and the heat-map."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image

from pix_erase.processing import compare_images
from pix_erase.processing.compare import structural_similarity

from .samples import encode, marked, noisy, opened

MAX = 10_000_000


def with_noise(image: Image.Image, amount: int, seed: int = 1) -> Image.Image:
    rng = np.random.default_rng(seed)
    pixels = np.asarray(image).astype(int) + rng.integers(
        -amount, amount + 1, (*image.size[::-1], 3)
    )
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def test_identical_images() -> None:
    data = encode(noisy(), "PNG")

    result = compare_images(data, data, max_pixels=MAX)

    assert result.psnr is None
    assert result.ssim == 1.0
    assert result.phash_distance == 0
    heatmap = opened(result.heatmap.data)
    assert (result.heatmap.format, result.heatmap.content_type) == ("png", "image/png")
    assert heatmap.size == (result.heatmap.width, result.heatmap.height) == (64, 48)
    assert np.asarray(heatmap.convert("L")).max() < 10  # no difference anywhere: dark


def test_same_pixels_in_different_formats_are_identical() -> None:
    image = noisy()
    result = compare_images(encode(image, "PNG"), encode(image, "BMP"), max_pixels=MAX)
    assert (result.psnr, result.ssim, result.phash_distance) == (None, 1.0, 0)


def test_more_noise_scores_lower() -> None:
    base = noisy(128, 96)
    original = encode(base, "PNG")
    slight = compare_images(original, encode(with_noise(base, 5), "PNG"), max_pixels=MAX)
    heavy = compare_images(original, encode(with_noise(base, 60), "PNG"), max_pixels=MAX)

    assert slight.psnr is not None
    assert heavy.psnr is not None
    assert 30 < slight.psnr < 100
    assert heavy.psnr < slight.psnr
    assert heavy.ssim < slight.ssim < 1.0
    assert slight.phash_distance <= heavy.phash_distance


def test_unrelated_images_are_far_apart() -> None:
    stripes = np.zeros((96, 128, 3), dtype=np.uint8)
    stripes[:, ::16] = 255
    stripes[::12, :] = 255
    result = compare_images(
        encode(noisy(128, 96), "PNG"), encode(Image.fromarray(stripes), "PNG"), max_pixels=MAX
    )

    assert result.phash_distance >= 16
    assert result.ssim < 0.5


def test_the_heatmap_shows_where_images_differ() -> None:
    first = marked(64, 48)
    second = first.copy()
    second.paste((0, 0, 0), (40, 20, 50, 30))

    result = compare_images(encode(first, "PNG"), encode(second, "PNG"), max_pixels=MAX)

    heat = np.asarray(opened(result.heatmap.data).convert("L"))
    assert heat[25, 45] > 100
    assert heat[5, 30] < 10


def test_second_image_of_another_size_is_resized_to_the_first() -> None:
    big = noisy(128, 96)
    small = big.resize((64, 48), Image.Resampling.LANCZOS)

    result = compare_images(encode(big, "PNG"), encode(small, "PNG"), max_pixels=MAX)

    assert (result.heatmap.width, result.heatmap.height) == (128, 96)
    assert result.ssim > 0.3
    assert result.phash_distance <= 10


def test_alpha_is_compared_as_seen_over_white() -> None:
    transparent = Image.new("RGBA", (32, 24), (0, 0, 0, 0))
    white = Image.new("RGB", (32, 24), (255, 255, 255))

    result = compare_images(encode(transparent, "PNG"), encode(white, "PNG"), max_pixels=MAX)

    assert result.psnr is None


def reference_ssim(first: NDArray[np.uint8], second: NDArray[np.uint8]) -> float:
    """scikit-image's structural_similarity(gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False, data_range=255, channel_axis=-1), in plain numpy."""
    radius = int(3.5 * 1.5 + 0.5)
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / 1.5) ** 2)
    taps /= taps.sum()

    def gaussian(values: NDArray[np.float64]) -> NDArray[np.float64]:
        # scipy.ndimage "reflect" = numpy "symmetric" padding.
        padded = np.pad(values, radius, mode="symmetric")
        rows = sum(taps[i] * padded[i : i + values.shape[0], :] for i in range(2 * radius + 1))
        return np.asarray(
            sum(taps[i] * rows[:, i : i + values.shape[1]] for i in range(2 * radius + 1))
        )

    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    scores = []
    for channel in range(first.shape[2]):
        x = first[..., channel].astype(np.float64)
        y = second[..., channel].astype(np.float64)
        ux, uy = gaussian(x), gaussian(y)
        vx, vy, vxy = gaussian(x * x) - ux**2, gaussian(y * y) - uy**2, gaussian(x * y) - ux * uy
        ssim_map = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux**2 + uy**2 + c1) * (vx + vy + c2))
        scores.append(ssim_map[radius:-radius, radius:-radius].mean())
    return float(np.mean(scores))


@pytest.mark.parametrize(("width", "height"), [(64, 48), (40, 150), (300, 23)])
def test_ssim_matches_scikit_image_definition(width: int, height: int) -> None:
    first = np.asarray(noisy(width, height, seed=3))
    second = np.asarray(with_noise(noisy(width, height, seed=3), 25, seed=4))

    expected = reference_ssim(first, second)

    assert structural_similarity(first, second) == pytest.approx(expected, abs=1e-6)


def test_ssim_matches_scikit_image() -> None:
    from skimage import metrics  # a dev dependency: the library a user would otherwise call

    first = np.asarray(noisy(80, 60, seed=5))
    second = np.asarray(with_noise(noisy(80, 60, seed=5), 30, seed=6))

    expected = metrics.structural_similarity(  # type: ignore[no-untyped-call]
        first,
        second,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        data_range=255,
        channel_axis=-1,
    )

    assert structural_similarity(first, second) == pytest.approx(expected, abs=1e-3)
