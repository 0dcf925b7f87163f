"""remove_background: a cut-out with alpha, by GrabCut or by an ONNX segmentation model.

Both methods segment a reduced copy (GrabCut at most ``GRABCUT_PIXELS``, the model at its
input size) and bring the matte back to full resolution with a fast guided filter (He &
Sun, 2015): the filter's linear coefficients are fitted at the reduced size against the
reduced image and applied, bilinearly upsampled, to the full-resolution image, so edges
follow the real edges (hair, fur) instead of the blocky upsampled mask. The full-size work
runs in strips of rows, so a 24 MP photo needs no full-size float array.

Without a ``rect`` GrabCut starts from ``background_seeds.margin_labels`` (the margin is
background only where it looks like one), and the cut's edge is softened by
``background_edge.edge_matte`` before the guided upsampling. A ``rect`` from the user is
taken as said: everything outside it is background.

Hint masks (``hint_mask_png``, the image's size): white = surely foreground, black =
surely background, other grays = probably foreground; transparent pixels (alpha < 128)
are left to GrabCut (probably foreground inside ``rect``, probably background outside).

The model (``method="model"``) is an ONNX file of rembg's families, run by
``background_model``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, Literal

import cv2
import numpy as np
from numpy.typing import NDArray

from .background_edge import edge_matte
from .background_model import input_size, normalisation, predict, session_for
from .background_seeds import margin_labels
from .encoding import Encoded
from .erase_support import encode_like_source, open_and_decode, scaled, visible_bgr
from .errors import ImageError
from .masks import read_mask_image
from .phases import phase
from .pixels import (
    Pixels,
    as_pixels,
    flatten,
    has_alpha,
    is_gray,
    parse_colour,
)
from .progress import Progress

Method = Literal["grabcut", "model"]
BackgroundFormat = Literal["png", "webp", "jpeg"]
Box = tuple[int, int, int, int]
Floats = NDArray[np.float32]

GRABCUT_PIXELS: Final = 150_000
GRABCUT_ITERATIONS: Final = 5
ROUGH_PIXELS: Final = 20_000  # the first cut, which tells whether the subject is detailed
ROUGH_ITERATIONS: Final = 2
DEFAULT_MARGIN: Final = 0.05  # the default rect leaves this share of each side out
_HOLE_SHARE: Final = 0.1  # enclosed background smaller than this share of the subject
_GRABCUT_SEED: Final = 0
_SCRAP_SHARE: Final = 0.1  # parts at the frame smaller than this share of the subject
_GUIDE_RADIUS: Final = 4  # at the reduced size
_GUIDE_EPS: Final = 1e-3  # on 0..1 intensities
_STRIP_ROWS: Final = 256


def remove_background(
    data: bytes,
    *,
    method: Method = "grabcut",
    rect: Box | None = None,
    hint_mask_png: bytes | None = None,
    model_path: str | None = None,
    output_format: BackgroundFormat | None = None,
    background: str | None = None,
    max_pixels: int,
    progress: Callable[[float], None] | None = None,
) -> Encoded:
    """The image with its background made transparent (or ``background``-coloured).

    ``rect`` (x, y, width, height) encloses the subject (default: the image less a 5%
    margin); ``background`` is "#rrggbb" (composited under the cut-out, so the result is
    opaque). Output: ``output_format``, else WebP for a WebP source and PNG otherwise; a
    JPEG needs ``background``.

    Raises ImageError: model_not_configured, model_unavailable, background_required,
    mask_size_mismatch (hint), and the decoding errors.
    """
    fmt: BackgroundFormat = output_format or "png"
    if fmt == "jpeg" and background is None:
        raise ImageError(
            "background_required",
            "JPEG cannot store transparency; give a background colour such as #ffffff, "
            "or ask for PNG or WebP.",
        )
    session = session_for(model_path) if method == "model" else None
    report = Progress(progress)
    source, pixels = open_and_decode(data, max_pixels)
    if output_format is None and source.format == "webp":
        fmt = "webp"
    report(0.1)
    with phase("segment"):
        if session is not None:
            alpha = model_matte(pixels, session)
        else:
            hint = None
            if hint_mask_png is not None:
                size = (int(pixels.shape[1]), int(pixels.shape[0]))
                hint = read_mask_image(hint_mask_png, size)
            alpha = grabcut_matte(pixels, rect, hint, progress=report.span(0.1, 0.85))
    report(0.85)
    with phase("compose"):
        result = cut_out(pixels, alpha, background)
    encoded = encode_like_source(source, result, fmt)
    report.finish()
    return encoded


def cut_out(pixels: Pixels, alpha: Pixels, background: str | None) -> Pixels:
    """``pixels`` with ``alpha`` as (or multiplied into) their alpha channel, optionally
    composited over a ``background`` colour."""
    if has_alpha(pixels):
        alpha = as_pixels(cv2.multiply(pixels[:, :, -1], alpha, scale=1 / 255))
        colour = pixels[:, :, :-1]
    else:
        colour = pixels if pixels.ndim == 3 else pixels[:, :, None]
    out = np.ascontiguousarray(np.dstack([colour, alpha]))
    if background is not None:
        return flatten(out, parse_colour(background))
    return out


# --- GrabCut ------------------------------------------------------------------------


def grabcut_matte(
    pixels: Pixels,
    rect: Box | None,
    hint: Pixels | None,
    *,
    progress: Callable[[float], None] | None = None,
) -> Pixels:
    """Alpha (uint8) of the foreground found by GrabCut on a reduced copy, guided back up."""
    bgr = visible_bgr(pixels)
    height, width = bgr.shape[:2]
    scale = min(1.0, float(np.sqrt(GRABCUT_PIXELS / (width * height))))
    small = scaled(bgr, scale)
    sh, sw = small.shape[:2]
    seeded = rect is None
    if rect is None:
        mx, my = max(1, round(width * DEFAULT_MARGIN)), max(1, round(height * DEFAULT_MARGIN))
        rect = (mx, my, width - 2 * mx, height - 2 * my)
    x, y, w, h = rect
    x0, y0 = min(max(0, round(x * scale)), sw - 1), min(max(0, round(y * scale)), sh - 1)
    x1 = min(sw, max(x0 + 1, round((x + w) * scale)))
    y1 = min(sh, max(y0 + 1, round((y + h) * scale)))
    if seeded:
        # No rect from the user: the margin is background only where it looks like one.
        inner = (x0, y0, x1, y1)
        labels = margin_labels(small, inner, _rough_subject(small, inner))
    else:
        labels = np.full((sh, sw), cv2.GC_BGD, dtype=np.uint8)
        labels[y0:y1, x0:x1] = cv2.GC_PR_FGD
    if hint is not None:
        _apply_hint(labels, hint, (sw, sh))
    declared_background = (labels == cv2.GC_BGD) & (hint is not None)
    soft = _grabcut(small, labels, GRABCUT_ITERATIONS, progress)
    if soft.any() and not soft.all():
        soft = _fill_enclosed(soft, declared_background)
        if seeded and hint is None:  # a hint's parts are the user's word
            soft = _drop_frame_scraps(soft)
    return guided_upsample(edge_matte(soft, small), small, bgr)


def _grabcut(
    image: Pixels,
    labels: NDArray[np.uint8],
    iterations: int,
    progress: Callable[[float], None] | None = None,
) -> NDArray[np.bool_]:
    """The foreground GrabCut finds from ``labels`` (changed in place); the labels as
    they are when one of the two sides has no pixel to learn from."""
    foreground: NDArray[np.bool_] = (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)
    if foreground.all() or not foreground.any():
        return foreground
    background_model = np.zeros((1, 65), dtype=np.float64)
    foreground_model = np.zeros((1, 65), dtype=np.float64)
    # GrabCut starts its colour models with k-means from OpenCV's random generator: seeded,
    # the same picture gives the same cut whatever the worker ran before it.
    cv2.setRNGSeed(_GRABCUT_SEED)
    for iteration in range(iterations):
        mode = cv2.GC_INIT_WITH_MASK if iteration == 0 else cv2.GC_EVAL
        cv2.grabCut(image, labels, (0, 0, 0, 0), background_model, foreground_model, 1, mode)
        if progress is not None:
            progress((iteration + 1) / (iterations + 1))
    found: NDArray[np.bool_] = (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)
    return found


def _rough_subject(small: Pixels, inner: Box) -> NDArray[np.bool_]:
    """A first, quick cut of ``small`` (at most ``ROUGH_PIXELS``, ``ROUGH_ITERATIONS``)
    from the margin with only its dark part released: it tells whether the subject is the
    detailed part of the picture (fur before a blurred room) or the plain one (a cup on
    wood grain), which decides whether the margin's detail is released."""
    sh, sw = small.shape[:2]
    factor = min(1.0, float(np.sqrt(ROUGH_PIXELS / (sw * sh))))
    rough = scaled(small, factor)
    rh, rw = rough.shape[:2]
    x0, y0, x1, y1 = inner
    shrunk = (
        min(rw - 1, round(x0 * rw / sw)),
        min(rh - 1, round(y0 * rh / sh)),
        max(1, round(x1 * rw / sw)),
        max(1, round(y1 * rh / sh)),
    )
    found = _grabcut(rough, margin_labels(rough, shrunk), ROUGH_ITERATIONS)
    grown = cv2.resize(found.astype(np.uint8), (sw, sh), interpolation=cv2.INTER_NEAREST)
    subject: NDArray[np.bool_] = grown > 0
    return subject


def _fill_enclosed(
    foreground: NDArray[np.bool_], declared_background: NDArray[np.bool_]
) -> NDArray[np.bool_]:
    """``foreground`` with its small enclosed holes filled: background parts that touch
    no side of the picture and are smaller than ``_HOLE_SHARE`` of the subject. GrabCut
    cuts the dark parts of a subject (a collar, a shadowed ear) that look like a dark
    background; an island of background inside the subject rarely is one. Parts the
    user's hint declares background stay background."""
    area = int(foreground.sum())
    if area == 0:
        return foreground
    holes = (~foreground).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(holes, connectivity=4)
    height, width = foreground.shape
    filled = foreground.copy()
    for label in range(1, count):
        x, y, w, h, size = (int(v) for v in stats[label])
        touches = x == 0 or y == 0 or x + w == width or y + h == height
        if touches or size > _HOLE_SHARE * area:
            continue
        part = labels == label
        if (part & declared_background).any():
            continue
        filled |= part
    return filled


def _drop_frame_scraps(foreground: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """``foreground`` without its small parts that touch the frame apart from the subject
    (the largest part): with the margin's dark parts released, a dark corner of a flag or
    a dark object cut by the frame would otherwise stay. Small parts inside the frame are
    kept (a second object)."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(
        foreground.astype(np.uint8), connectivity=8
    )
    if count <= 2:
        return foreground
    height, width = foreground.shape
    largest = int(stats[1:, cv2.CC_STAT_AREA].max())
    kept = foreground.copy()
    for label in range(1, count):
        x, y, w, h, size = (int(v) for v in stats[label])
        touches = x == 0 or y == 0 or x + w == width or y + h == height
        if touches and size < _SCRAP_SHARE * largest:
            kept[labels == label] = False
    return kept


def _apply_hint(labels: NDArray[np.uint8], hint: Pixels, size: tuple[int, int]) -> None:
    """Write the hint's sure/probable labels into ``labels`` (at the reduced size)."""
    if has_alpha(hint):
        known = hint[:, :, -1] >= 128
        value = hint[:, :, 0] if is_gray(hint) else cv2.cvtColor(hint[:, :, :3], cv2.COLOR_BGR2GRAY)
    else:
        known = np.ones(hint.shape[:2], dtype=bool)
        value = hint if hint.ndim == 2 else cv2.cvtColor(hint, cv2.COLOR_BGR2GRAY)
    code = np.full(value.shape, 255, dtype=np.uint8)  # 255: no hint
    code[known & (value < 64)] = cv2.GC_BGD
    code[known & (value >= 192)] = cv2.GC_FGD
    code[known & (value >= 64) & (value < 192)] = cv2.GC_PR_FGD
    small = cv2.resize(code, size, interpolation=cv2.INTER_NEAREST)
    hinted = small != 255
    labels[hinted] = small[hinted]


# --- the ONNX model -------------------------------------------------------------------


def model_matte(pixels: Pixels, session: Any) -> Pixels:
    """Alpha (uint8) from the segmentation model, guided up to full resolution."""
    bgr = visible_bgr(pixels)
    side_w, side_h = input_size(session)
    small = as_pixels(cv2.resize(bgr, (side_w, side_h), interpolation=cv2.INTER_AREA))
    matte = predict(session, small, normalisation(session))
    return guided_upsample(matte, small, bgr)


# --- shared ---------------------------------------------------------------------------


def guided_upsample(matte: Floats, small: Pixels, full: Pixels) -> Pixels:
    """Fast guided filter: fit q = a * I + b on the reduced image ``small`` (gray guide),
    upsample a and b bilinearly and apply them to ``full``'s gray, strip by strip."""
    guide: Floats = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY).astype(np.float32) / np.float32(255)
    size = (2 * _GUIDE_RADIUS + 1,) * 2

    def box(values: NDArray[np.floating[Any]]) -> Floats:
        filtered = cv2.boxFilter(values, -1, size, borderType=cv2.BORDER_REFLECT)
        return np.asarray(filtered, dtype=np.float32)

    mean_i, mean_p = box(guide), box(matte)
    cov = box(guide * matte) - mean_i * mean_p
    var = box(guide * guide) - mean_i * mean_i
    slope: Floats = (cov / (var + np.float32(_GUIDE_EPS))).astype(np.float32)
    a, b = box(slope), box(mean_p - slope * mean_i)
    height, width = full.shape[:2]
    sh, sw = guide.shape
    # Pixel-centre alignment, as cv2.resize does it.
    map_x = ((np.arange(width, dtype=np.float32) + 0.5) * (sw / width) - 0.5).reshape(1, -1)
    alpha = np.empty((height, width), dtype=np.uint8)
    for top in range(0, height, _STRIP_ROWS):
        bottom = min(height, top + _STRIP_ROWS)
        rows = np.arange(top, bottom, dtype=np.float32)
        map_y = ((rows + 0.5) * (sh / height) - 0.5).reshape(-1, 1)
        mx = np.broadcast_to(map_x, (bottom - top, width)).astype(np.float32)
        my = np.broadcast_to(map_y, (bottom - top, width)).astype(np.float32)
        strip_a = cv2.remap(a, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        strip_b = cv2.remap(b, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        gray = cv2.cvtColor(full[top:bottom], cv2.COLOR_BGR2GRAY).astype(np.float32) / 255
        q = strip_a * gray + strip_b
        alpha[top:bottom] = np.clip(q * 255 + 0.5, 0, 255).astype(np.uint8)
    return alpha
