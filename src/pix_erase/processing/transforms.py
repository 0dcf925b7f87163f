"""Pixel transforms (rotate, grayscale, resize + sharpen) and the sizes they will produce.

Engines follow the measurements in docs/performance.md: cv2 for rotation and grayscale,
pyvips Lanczos-3 for any shrink (cv2's Lanczos aliases when shrinking), cv2 Lanczos-4 for
pure enlargement. Sizes are computed by the same functions that the pipeline uses to plan
a job, so a size limit can be checked before any large array is allocated.

Transparent pixels carry no meaningful colour, so filters that mix neighbours (resize,
rotation edges) work in premultiplied alpha or keep the colour next to the edge; otherwise
edges grow dark fringes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, cast

import cv2
import numpy as np
from cv2.typing import MatLike
from numpy.typing import NDArray

from .operations import Resize
from .pixels import (
    RGBA,
    Pixels,
    as_pixels,
    channels,
    colour_for,
    has_alpha,
    has_translucency,
    is_gray,
    premultiply,
    size_of,
    to_colour,
    unpremultiply,
    with_alpha,
)

Size = tuple[int, int]

_QUARTER_TURNS = {1: cv2.ROTATE_90_COUNTERCLOCKWISE, 2: cv2.ROTATE_180, 3: cv2.ROTATE_90_CLOCKWISE}
_SHARPEN_SIGMA = 1.0


def quarter_turns(angle: float) -> int | None:
    """0..3 when ``angle`` is a whole number of counter-clockwise quarter turns."""
    turns = angle / 90
    nearest = round(turns)
    return nearest % 4 if abs(turns - nearest) < 1e-9 else None


def rotated_size(size: Size, angle: float, expand: bool) -> Size:
    """The canvas a rotation produces: the rotated bounding box, or the same size."""
    width, height = size
    if not expand:
        return size
    turns = quarter_turns(angle)
    if turns is not None:
        return (height, width) if turns % 2 else (width, height)
    cos, sin = abs(math.cos(math.radians(angle))), abs(math.sin(math.radians(angle)))
    # The small epsilon keeps float noise from adding a whole pixel column.
    return (
        max(1, math.ceil(width * cos + height * sin - 1e-6)),
        max(1, math.ceil(width * sin + height * cos - 1e-6)),
    )


def rotate(pixels: Pixels, angle: float, *, expand: bool, fill: RGBA) -> Pixels:
    """Rotate counter-clockwise; uncovered corners get ``fill`` (alpha added if needed)."""
    width, height = size_of(pixels)
    turns = quarter_turns(angle)
    if turns == 0:
        return pixels
    if turns is not None and (expand or turns == 2 or width == height):
        return as_pixels(cv2.rotate(pixels, _QUARTER_TURNS[turns]))  # exact, no resampling
    if fill[3] < 255:
        pixels = with_alpha(pixels)
    if is_gray(pixels) and not fill[0] == fill[1] == fill[2]:
        pixels = to_colour(pixels)
    new_width, new_height = rotated_size((width, height), angle, expand)
    matrix: MatLike = cv2.getRotationMatrix2D(((width - 1) / 2, (height - 1) / 2), angle, 1.0)
    matrix[0, 2] += (new_width - width) / 2
    matrix[1, 2] += (new_height - height) / 2
    new_size = (new_width, new_height)
    fill_values = colour_for(channels(pixels), fill)
    if not has_alpha(pixels):
        return as_pixels(_warp(pixels, matrix, new_size, cv2.BORDER_CONSTANT, fill_values))
    if has_translucency(pixels) or 0 < fill[3] < 255:
        # Blend in premultiplied alpha, so invisible colour never leaks into the edges.
        *colour, alpha = fill_values
        border = (*(value * alpha for value in colour), alpha * 255)
        warped = _warp(premultiply(pixels), matrix, new_size, cv2.BORDER_CONSTANT, border)
        return unpremultiply(cast(NDArray[np.uint16], warped))
    if fill[3] == 0:
        # Opaque image, transparent fill (the common case, cheaper than premultiplying):
        # extend the edge colour under zero alpha, so the border fades out, not darkens.
        colour_part = _warp(_colour_part(pixels), matrix, new_size, cv2.BORDER_REPLICATE, (0,))
        alpha_part = _warp(pixels[:, :, -1], matrix, new_size, cv2.BORDER_CONSTANT, (0,))
        return np.ascontiguousarray(np.dstack([colour_part, alpha_part]))
    return as_pixels(_warp(pixels, matrix, new_size, cv2.BORDER_CONSTANT, fill_values))


def _warp(
    values: NDArray[Any], matrix: MatLike, size: Size, border: int, value: tuple[int, ...]
) -> MatLike:
    padded = (*value, *(0,) * (4 - len(value)))  # cv2 wants a 4-value Scalar
    return cv2.warpAffine(
        np.ascontiguousarray(values),
        matrix,
        size,
        flags=cv2.INTER_LINEAR,
        borderMode=border,
        borderValue=padded,
    )


def _colour_part(pixels: Pixels) -> Pixels:
    """The colour channels of a pixel array with alpha (2-D for gray + alpha)."""
    colour = pixels[:, :, 0] if channels(pixels) == 2 else pixels[:, :, :-1]
    return np.ascontiguousarray(colour)


def grayscale(pixels: Pixels) -> Pixels:
    """Rec. 601 luma, keeping alpha: BGR -> gray, BGRA -> gray + alpha."""
    count = channels(pixels)
    if count == 3:
        return as_pixels(cv2.cvtColor(pixels, cv2.COLOR_BGR2GRAY))
    if count == 4:
        gray = as_pixels(cv2.cvtColor(pixels, cv2.COLOR_BGRA2GRAY))
        return np.ascontiguousarray(np.dstack([gray, pixels[:, :, 3]]))
    return pixels


@dataclass(frozen=True)
class ResizePlan:
    """Resample to ``scaled``, then (for fit=cover) crop the centred ``crop`` box."""

    scaled: Size
    crop: tuple[int, int, int, int] | None = None  # x, y, width, height

    @property
    def size(self) -> Size:
        return (self.crop[2], self.crop[3]) if self.crop else self.scaled


def plan_resize(size: Size, step: Resize) -> ResizePlan:
    """The sizes a Resize step produces from an image of ``size``."""
    width, height = size

    def scaled(factor: float) -> Size:
        return max(1, round(width * factor)), max(1, round(height * factor))

    if step.scale is not None:
        return ResizePlan(scaled(step.scale))
    if step.height is None:
        assert step.width is not None  # the model guarantees one of them
        return ResizePlan((step.width, scaled(step.width / width)[1]))
    if step.width is None:
        return ResizePlan((scaled(step.height / height)[0], step.height))
    box_w, box_h = step.width, step.height
    if step.fit == "fill":
        return ResizePlan((box_w, box_h))
    if step.fit == "contain":
        new_w, new_h = scaled(min(box_w / width, box_h / height))
        return ResizePlan((min(new_w, box_w), min(new_h, box_h)))
    new_w, new_h = scaled(max(box_w / width, box_h / height))
    new_w, new_h = max(new_w, box_w), max(new_h, box_h)
    return ResizePlan((new_w, new_h), ((new_w - box_w) // 2, (new_h - box_h) // 2, box_w, box_h))


def resize(pixels: Pixels, plan: ResizePlan, *, sharpen: float = 0.0) -> Pixels:
    """Apply a ResizePlan (Lanczos), then an optional unsharp mask."""
    out = resample(pixels, plan.scaled)
    if plan.crop is not None:
        x, y, w, h = plan.crop
        out = np.ascontiguousarray(out[y : y + h, x : x + w])
    if sharpen > 0:
        out = unsharp(out, sharpen)
    return out


def resample(pixels: Pixels, size: Size) -> Pixels:
    """Lanczos resampling to exactly ``size``; alpha is premultiplied when not opaque."""
    width, height = size_of(pixels)
    if (width, height) == size:
        return pixels
    translucent = has_translucency(pixels)
    if size[0] >= width and size[1] >= height:
        return _enlarge(pixels, size, translucent)
    return _shrink(pixels, size, translucent)


def _shrink(pixels: Pixels, size: Size, translucent: bool) -> Pixels:
    if not translucent:
        return _vips_resize(pixels, size)
    shrunk = _vips_resize(premultiply(pixels), size)
    return unpremultiply(cast(NDArray[np.uint16], shrunk))


def _vips_resize(values: NDArray[Any], size: Size) -> NDArray[Any]:
    """Lanczos-3 in libvips, for uint8 or uint16 arrays of any channel count."""
    import pyvips  # imported on first use: libvips starts threads, keep them out of parents

    height, width = int(values.shape[0]), int(values.shape[1])
    bands = 1 if values.ndim == 2 else int(values.shape[2])
    source = np.ascontiguousarray(values)
    band_format = "ushort" if source.dtype == np.uint16 else "uchar"
    image = pyvips.Image.new_from_memory(source.data, width, height, bands, band_format)
    image = image.resize(size[0] / width, vscale=size[1] / height, kernel="lanczos3")
    if (image.width, image.height) != size:
        # libvips rounds the output size; never seen off by one, but never trust it.
        image = image.gravity("centre", size[0], size[1], extend="copy")
    out = np.frombuffer(image.write_to_memory(), dtype=source.dtype)
    return out.reshape((size[1], size[0]) if bands == 1 else (size[1], size[0], bands))


def _enlarge(pixels: Pixels, size: Size, translucent: bool) -> Pixels:
    if not translucent:
        return as_pixels(cv2.resize(pixels, size, interpolation=cv2.INTER_LANCZOS4))
    enlarged = cv2.resize(premultiply(pixels), size, interpolation=cv2.INTER_LANCZOS4)
    return unpremultiply(cast(NDArray[np.uint16], enlarged))


def unsharp(pixels: Pixels, amount: float) -> Pixels:
    """Unsharp mask on the colour channels: out = in + amount * (in - blurred)."""
    if not has_alpha(pixels):
        blurred = cv2.GaussianBlur(pixels, (0, 0), _SHARPEN_SIGMA)
        return as_pixels(cv2.addWeighted(pixels, 1 + amount, blurred, -amount, 0))
    sharpened = unsharp(_colour_part(pixels), amount)
    return np.ascontiguousarray(np.dstack([sharpened, pixels[:, :, -1]]))
