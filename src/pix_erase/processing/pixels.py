"""The in-memory pixel convention every processing module shares, and its edges.

Pixels are C-contiguous ``uint8`` numpy arrays in OpenCV's channel order, because most of
the work is cv2 and this way it needs no conversion at all:

    (H, W)      gray
    (H, W, 2)   gray + alpha
    (H, W, 3)   BGR
    (H, W, 4)   BGRA

Colour order is swapped in exactly one place, ``to_pillow`` / ``from_pillow`` (Pillow is
RGB), and colours given as RGBA become channel values in ``colour_for``. pyvips treats bands
independently, so the resize code hands it the arrays as they are.
"""

from __future__ import annotations

from typing import cast

import cv2
import numpy as np
from cv2.typing import MatLike
from numpy.typing import NDArray
from PIL import Image

Pixels = NDArray[np.uint8]
RGBA = tuple[int, int, int, int]

WHITE: RGBA = (255, 255, 255, 255)
TRANSPARENT: RGBA = (0, 0, 0, 0)

_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})
_GRAY_MODES = frozenset({"1", "L"}) | _SIXTEEN_BIT_MODES | {"I", "F"}


def as_pixels(mat: MatLike) -> Pixels:
    """A cv2 result as Pixels: cv2's stubs type every Mat as int-or-float, ours are uint8."""
    return cast(Pixels, mat)


def channels(pixels: Pixels) -> int:
    """1 (gray), 2 (gray + alpha), 3 (BGR) or 4 (BGRA)."""
    return 1 if pixels.ndim == 2 else int(pixels.shape[2])


def has_alpha(pixels: Pixels) -> bool:
    return channels(pixels) in (2, 4)


def is_gray(pixels: Pixels) -> bool:
    return channels(pixels) in (1, 2)


def size_of(pixels: Pixels) -> tuple[int, int]:
    """(width, height), the order every size in this package uses."""
    return int(pixels.shape[1]), int(pixels.shape[0])


def sixteen_to_eight(values: NDArray[np.uint16]) -> Pixels:
    """Rescale 16-bit samples to 8 bits with rounding (65535 -> 255, 257 * k -> k)."""
    return ((values.astype(np.uint32) + 128) // 257).astype(np.uint8)


def from_pillow(image: Image.Image) -> Pixels:
    """Pixels from a Pillow image of any mode: palette, 16-bit, CMYK... become 8-bit."""
    transparent = "transparency" in image.info
    mode = image.mode
    if mode in _GRAY_MODES and not transparent:
        if mode in _SIXTEEN_BIT_MODES:
            return np.ascontiguousarray(sixteen_to_eight(np.asarray(image).astype(np.uint16)))
        if mode in ("I", "F"):
            # Wider-than-16-bit gray is rare (scientific TIFFs); clip into 8 bits.
            scale = 1 / 257 if mode == "I" else 255.0
            return np.clip(np.asarray(image) * scale, 0, 255).round().astype(np.uint8)
        return np.asarray(image.convert("L") if mode == "1" else image)
    if mode in _GRAY_MODES or mode in ("LA", "La"):
        target = "LA"
    elif mode in ("RGBA", "RGBa", "PA") or transparent:
        target = "RGBA"
    else:
        target = "RGB"  # RGB, CMYK, YCbCr, LAB, HSV, opaque palettes...
    if image.mode != target:
        image = image.convert(target)
    array = np.asarray(image)
    if target == "RGB":
        return as_pixels(cv2.cvtColor(array, cv2.COLOR_RGB2BGR))
    if target == "RGBA":
        return as_pixels(cv2.cvtColor(array, cv2.COLOR_RGBA2BGRA))
    return np.ascontiguousarray(array)


def to_pillow(pixels: Pixels) -> Image.Image:
    """A Pillow image (L, LA, RGB or RGBA) with the same pixels."""
    count = channels(pixels)
    if count == 3:
        pixels = as_pixels(cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB))
    elif count == 4:
        pixels = as_pixels(cv2.cvtColor(pixels, cv2.COLOR_BGRA2RGBA))
    return Image.fromarray(np.ascontiguousarray(pixels))


def apply_orientation(pixels: Pixels, orientation: int) -> Pixels:
    """Turn stored pixels into displayed pixels for an EXIF Orientation value (1..8)."""
    if orientation == 2:
        return as_pixels(cv2.flip(pixels, 1))
    if orientation == 3:
        return as_pixels(cv2.rotate(pixels, cv2.ROTATE_180))
    if orientation == 4:
        return as_pixels(cv2.flip(pixels, 0))
    if orientation == 5:
        return as_pixels(cv2.transpose(pixels))
    if orientation == 6:
        return as_pixels(cv2.rotate(pixels, cv2.ROTATE_90_CLOCKWISE))
    if orientation == 7:
        return as_pixels(cv2.rotate(cv2.transpose(pixels), cv2.ROTATE_180))
    if orientation == 8:
        return as_pixels(cv2.rotate(pixels, cv2.ROTATE_90_COUNTERCLOCKWISE))
    return pixels


def oriented_size(size: tuple[int, int], orientation: int) -> tuple[int, int]:
    """The displayed (width, height) of a stored size under an EXIF orientation."""
    return (size[1], size[0]) if orientation in (5, 6, 7, 8) else size


def to_colour(pixels: Pixels) -> Pixels:
    """Gray becomes BGR and gray + alpha becomes BGRA; colour is returned as is."""
    count = channels(pixels)
    if count == 1:
        return as_pixels(cv2.cvtColor(pixels, cv2.COLOR_GRAY2BGR))
    if count == 2:
        bgr = as_pixels(cv2.cvtColor(np.ascontiguousarray(pixels[:, :, 0]), cv2.COLOR_GRAY2BGR))
        return np.ascontiguousarray(np.dstack([bgr, pixels[:, :, 1]]))
    return pixels


def with_alpha(pixels: Pixels) -> Pixels:
    """Add an opaque alpha channel (gray -> gray + alpha, BGR -> BGRA) if there is none."""
    count = channels(pixels)
    if count == 1:
        return np.ascontiguousarray(np.dstack([pixels, np.full_like(pixels, 255)]))
    if count == 3:
        return as_pixels(cv2.cvtColor(pixels, cv2.COLOR_BGR2BGRA))
    return pixels


def flatten(pixels: Pixels, background: RGBA = WHITE) -> Pixels:
    """Composite over an opaque background, dropping the alpha channel."""
    if not has_alpha(pixels):
        return pixels
    alpha = pixels[:, :, -1:].astype(np.uint16)
    colour = pixels[:, :, :-1].astype(np.uint16)
    back = np.array(colour_for(channels(pixels) - 1, background), dtype=np.uint16)
    mixed = (colour * alpha + back * (255 - alpha) + 127) // 255
    out = mixed.astype(np.uint8)
    return np.ascontiguousarray(out[:, :, 0] if out.shape[2] == 1 else out)


def has_translucency(pixels: Pixels) -> bool:
    """Whether any pixel is less than fully opaque."""
    return has_alpha(pixels) and bool((pixels[:, :, -1] < 255).any())


def premultiply(pixels: Pixels) -> NDArray[np.uint16]:
    """16-bit premultiplied form: colour * alpha, then alpha * 255 (all 0..65025).

    Filters that mix neighbours must work on this form, or the colour of invisible
    pixels bleeds into visible ones (dark fringes around cut-outs). Sixteen bits keep it
    lossless, unlike 8-bit premultiplication at low alpha.
    """
    *colour, alpha = cv2.split(pixels)
    planes = [cv2.multiply(plane, alpha, dtype=cv2.CV_16U) for plane in colour]
    planes.append(cv2.multiply(alpha, np.full_like(alpha, 255), dtype=cv2.CV_16U))
    return cast(NDArray[np.uint16], cv2.merge(planes))


def unpremultiply(values: NDArray[np.uint16]) -> Pixels:
    """Back from ``premultiply``'s form to 8-bit straight alpha (rounded)."""
    *colour, weight = cv2.split(values)
    # cv2.divide yields 0 where the weight is 0: fully transparent pixels become black.
    planes = [cv2.divide(plane, weight, scale=255, dtype=cv2.CV_8U) for plane in colour]
    planes.append(cv2.convertScaleAbs(weight, alpha=1 / 255))
    return as_pixels(cv2.merge(planes))


def parse_colour(text: str) -> RGBA:
    """'#rrggbb' or '#rrggbbaa' as an (r, g, b, a) tuple."""
    digits = text.removeprefix("#")
    values = [int(digits[i : i + 2], 16) for i in range(0, len(digits), 2)]
    r, g, b = values[:3]
    return r, g, b, values[3] if len(values) == 4 else 255


def colour_for(count: int, colour: RGBA) -> tuple[int, ...]:
    """An RGBA colour as the values of a ``count``-channel pixel (gray uses Rec. 601 luma)."""
    r, g, b, a = colour
    if count in (1, 2):
        luma = round(0.299 * r + 0.587 * g + 0.114 * b)
        return (luma, a)[:count]
    return (b, g, r, a)[:count]
