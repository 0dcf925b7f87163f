"""remove_background: a cut-out with alpha, by GrabCut or by an ONNX segmentation model.

Both methods segment a reduced copy (GrabCut at most ``GRABCUT_PIXELS``, the model at its
input size) and bring the matte back to full resolution with a fast guided filter (He &
Sun, 2015): the filter's linear coefficients are fitted at the reduced size against the
reduced image and applied, bilinearly upsampled, to the full-resolution image, so edges
follow the real edges (hair, fur) instead of the blocky upsampled mask. The full-size work
runs in strips of rows, so a 24 MP photo needs no full-size float array.

Hint masks (``hint_mask_png``, the image's size): white = surely foreground, black =
surely background, other grays = probably foreground; transparent pixels (alpha < 128)
are left to GrabCut (probably foreground inside ``rect``, probably background outside).

The model (``method="model"``) is an ONNX file of rembg's families (u2net, u2netp,
silueta, isnet-general-use, BiRefNet): one input, NCHW float RGB; the first output is the
saliency map (or its logits). The input size comes from the model's input shape and the
normalisation from its metadata or, without one, from a one-off test on a synthetic scene
(``_normalisation``); nothing is guessed from the file name. Its session is created once
per process and path (re-created when the file's mtime changes), with one intra-op thread.
"""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Callable
from typing import Any, Final, Literal

import cv2
import numpy as np
from numpy.typing import NDArray

from .encoding import Encoded
from .erase_support import Progress, encode_like_source, open_and_decode, scaled, visible_bgr
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

Method = Literal["grabcut", "model"]
BackgroundFormat = Literal["png", "webp", "jpeg"]
Box = tuple[int, int, int, int]
Floats = NDArray[np.float32]

GRABCUT_PIXELS: Final = 150_000
GRABCUT_ITERATIONS: Final = 5
DEFAULT_MARGIN: Final = 0.05  # the default rect leaves this share of each side out
_HOLE_SHARE: Final = 0.1  # enclosed background smaller than this share of the subject
_GUIDE_RADIUS: Final = 4  # at the reduced size
_GUIDE_EPS: Final = 1e-3  # on 0..1 intensities
_STRIP_ROWS: Final = 256
Norm = tuple[tuple[float, float, float], tuple[float, float, float]]  # (mean, std), RGB
# ImageNet statistics (u2net, u2netp, silueta, BiRefNet); isnet: mean 0.5, std 1.
_U2NET_NORM: Final[Norm] = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
_ISNET_NORM: Final[Norm] = ((0.5, 0.5, 0.5), (1.0, 1.0, 1.0))
_DEFAULT_INPUT: Final = 320


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
    session = _session(model_path) if method == "model" else None
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
    if rect is None:
        mx, my = max(1, round(width * DEFAULT_MARGIN)), max(1, round(height * DEFAULT_MARGIN))
        rect = (mx, my, width - 2 * mx, height - 2 * my)
    x, y, w, h = rect
    x0, y0 = min(max(0, round(x * scale)), sw - 1), min(max(0, round(y * scale)), sh - 1)
    x1 = min(sw, max(x0 + 1, round((x + w) * scale)))
    y1 = min(sh, max(y0 + 1, round((y + h) * scale)))
    labels = np.full((sh, sw), cv2.GC_BGD, dtype=np.uint8)
    labels[y0:y1, x0:x1] = cv2.GC_PR_FGD
    if hint is not None:
        _apply_hint(labels, hint, (sw, sh))
    declared_background = (labels == cv2.GC_BGD) & (hint is not None)
    background_model = np.zeros((1, 65), dtype=np.float64)
    foreground_model = np.zeros((1, 65), dtype=np.float64)
    if not ((labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)).any() or (
        not ((labels == cv2.GC_BGD) | (labels == cv2.GC_PR_BGD)).any()
    ):
        soft = (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)
    else:
        for iteration in range(GRABCUT_ITERATIONS):
            mode = cv2.GC_INIT_WITH_MASK if iteration == 0 else cv2.GC_EVAL
            cv2.grabCut(small, labels, (0, 0, 0, 0), background_model, foreground_model, 1, mode)
            if progress is not None:
                progress((iteration + 1) / (GRABCUT_ITERATIONS + 1))
        soft = (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)
        soft = _fill_enclosed(soft, declared_background)
    matte = soft.astype(np.float32)
    return guided_upsample(matte, small, bgr)


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

_sessions: dict[tuple[str, float], Any] = {}
_sessions_lock = threading.Lock()


def _session(model_path: str | None) -> Any:
    """The cached onnxruntime session for ``model_path`` (per process, path and mtime)."""
    if not model_path:
        raise ImageError(
            "model_not_configured",
            "No background model is configured on this server; the operator must set "
            "PIX_ERASE_BG_MODEL_PATH to an ONNX segmentation model (u2net / isnet), or "
            "use method grabcut.",
        )
    try:
        mtime = os.stat(model_path).st_mtime
    except OSError as exc:
        raise ImageError(
            "model_unavailable", "The configured background model file cannot be read."
        ) from exc
    key = (model_path, mtime)
    with _sessions_lock:
        session = _sessions.get(key)
        if session is None:
            session = _load(model_path)
            for old in [k for k in _sessions if k[0] == model_path]:
                _norms.pop(id(_sessions.pop(old)), None)
            _sessions[key] = session
        return session


def _load(model_path: str) -> Any:
    ort = importlib.import_module("onnxruntime")  # untyped; imported only when used

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    # No arena: the memory of one run is given back, not kept for the next one.
    options.enable_cpu_mem_arena = False
    try:
        session = ort.InferenceSession(
            model_path, sess_options=options, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # onnxruntime raises its own types for unusable files
        raise ImageError(
            "model_unavailable",
            "The configured background model is not a usable ONNX model.",
        ) from exc
    inputs = session.get_inputs()
    shape = inputs[0].shape if len(inputs) == 1 else []
    if len(shape) != 4:
        raise ImageError(
            "model_unavailable",
            "The configured background model does not take one NCHW image input.",
        )
    return session


def model_matte(pixels: Pixels, session: Any) -> Pixels:
    """Alpha (uint8) from the segmentation model, guided up to full resolution."""
    bgr = visible_bgr(pixels)
    side_w, side_h = _input_size(session)
    small = as_pixels(cv2.resize(bgr, (side_w, side_h), interpolation=cv2.INTER_AREA))
    matte = _predict(session, small, _normalisation(session))
    return guided_upsample(matte, small, bgr)


def _input_size(session: Any) -> tuple[int, int]:
    """(width, height) the model takes, from its input shape (NCHW); a dynamic side is
    ``_DEFAULT_INPUT``."""
    shape = session.get_inputs()[0].shape
    side_h = shape[2] if isinstance(shape[2], int) else _DEFAULT_INPUT
    side_w = shape[3] if isinstance(shape[3], int) else _DEFAULT_INPUT
    return side_w, side_h


def _predict(session: Any, small: Pixels, norm: Norm) -> Floats:
    """The model's saliency map (0..1) for ``small`` (BGR at its input size)."""
    mean, std = norm
    rgb = cv2.cvtColor(small, cv2.COLOR_BGR2RGB).astype(np.float32)
    rgb /= max(float(rgb.max()), 1.0)
    centred = np.subtract(rgb, np.array(mean, dtype=np.float32))
    normalised = np.divide(centred, np.array(std, dtype=np.float32))
    tensor = np.ascontiguousarray(normalised.transpose(2, 0, 1)[None], dtype=np.float32)
    try:
        outputs = session.run(None, {session.get_inputs()[0].name: tensor})
    except Exception as exc:
        raise ImageError(
            "model_unavailable", "The configured background model failed to run."
        ) from exc
    prediction = np.asarray(outputs[0], dtype=np.float32).reshape(-1, *outputs[0].shape[-2:])[0]
    if float(prediction.min()) < 0.0 or float(prediction.max()) > 1.0:
        # Logits (BiRefNet's output): the sigmoid rembg applies.
        prediction = 1.0 / (1.0 + np.exp(-np.clip(prediction, -30.0, 30.0)))
    low, high = float(prediction.min()), float(prediction.max())
    matte = (prediction - low) / (high - low) if high > low else np.zeros_like(prediction)
    side_h, side_w = small.shape[:2]
    if matte.shape != (side_h, side_w):
        matte = cv2.resize(matte, (side_w, side_h), interpolation=cv2.INTER_LINEAR)
    return np.asarray(matte, dtype=np.float32)


_norms: dict[int, Norm] = {}


def _normalisation(session: Any) -> Norm:
    """The input normalisation of the model: "mean" and "std" from its metadata when it
    has them (three comma-separated numbers each); otherwise the one of the two in use in
    rembg's models (ImageNet statistics: u2net, u2netp, silueta, BiRefNet; mean 0.5 and
    std 1: isnet) under which the model separates a fixed test scene more decisively.
    Measured once per session, on a synthetic scene, so it never depends on the images
    a process happens to see first."""
    key = id(session)
    with _sessions_lock:
        known = _norms.get(key)
    if known is not None:
        return known
    chosen = _declared_normalisation(session)
    if chosen is None:
        scene = _test_scene(_input_size(session))
        undecided = []
        for candidate in (_U2NET_NORM, _ISNET_NORM):
            matte = _predict(session, scene, candidate)
            undecided.append(float(np.minimum(matte, 1.0 - matte).mean()))
        chosen = _U2NET_NORM if undecided[0] <= undecided[1] else _ISNET_NORM
    with _sessions_lock:
        _norms[key] = chosen
    return chosen


def _declared_normalisation(session: Any) -> Norm | None:
    try:
        metadata = session.get_modelmeta().custom_metadata_map or {}
        mean = tuple(float(v) for v in str(metadata["mean"]).split(","))
        std = tuple(float(v) for v in str(metadata["std"]).split(","))
    except (KeyError, ValueError, AttributeError):
        return None
    if len(mean) != 3 or len(std) != 3 or min(std) <= 0:
        return None
    return (mean[0], mean[1], mean[2]), (std[0], std[1], std[2])


def _test_scene(size: tuple[int, int]) -> Pixels:
    """A textured warm object in the middle of a plain cool, slightly noisy background."""
    width, height = size
    rng = np.random.default_rng(5)
    scene = np.empty((height, width, 3), dtype=np.float32)
    scene[:] = (200, 170, 140)
    texture = rng.normal(0, 25, (height, width, 3)).astype(np.float32)
    blob = np.zeros((height, width), dtype=np.uint8)
    cv2.ellipse(blob, (width // 2, height // 2), (width // 4, height // 3), 0, 0, 360, 255, -1)
    inside = blob > 0
    scene[inside] = np.array((40, 90, 190), dtype=np.float32) + texture[inside]
    scene += rng.normal(0, 3, scene.shape).astype(np.float32)
    return as_pixels(np.clip(scene, 0, 255).astype(np.uint8))


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
