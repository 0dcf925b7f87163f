"""The ONNX segmentation model of ``remove_background``'s ``method="model"``.

An ONNX file of rembg's families (u2net, u2netp, silueta, isnet-general-use, BiRefNet):
one input, NCHW float RGB; the first output is the saliency map (or its logits). The input
size comes from the model's input shape and the normalisation from its metadata or,
without one, from a one-off test on a synthetic scene (``normalisation``); nothing is
guessed from the file name. A session is created once per process and path (re-created
when the file's mtime changes), with one intra-op thread.
"""

from __future__ import annotations

import importlib
import os
import threading
from typing import Any, Final

import cv2
import numpy as np
from numpy.typing import NDArray

from .errors import ImageError
from .pixels import Pixels, as_pixels

Floats = NDArray[np.float32]
Norm = tuple[tuple[float, float, float], tuple[float, float, float]]  # (mean, std), RGB
# ImageNet statistics (u2net, u2netp, silueta, BiRefNet); isnet: mean 0.5, std 1.
_U2NET_NORM: Final[Norm] = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
_ISNET_NORM: Final[Norm] = ((0.5, 0.5, 0.5), (1.0, 1.0, 1.0))
_DEFAULT_INPUT: Final = 320

_sessions: dict[tuple[str, float], Any] = {}
_sessions_lock = threading.Lock()


def session_for(model_path: str | None) -> Any:
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


def input_size(session: Any) -> tuple[int, int]:
    """(width, height) the model takes, from its input shape (NCHW); a dynamic side is
    ``_DEFAULT_INPUT``."""
    shape = session.get_inputs()[0].shape
    side_h = shape[2] if isinstance(shape[2], int) else _DEFAULT_INPUT
    side_w = shape[3] if isinstance(shape[3], int) else _DEFAULT_INPUT
    return side_w, side_h


def predict(session: Any, small: Pixels, norm: Norm) -> Floats:
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


def normalisation(session: Any) -> Norm:
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
        scene = _test_scene(input_size(session))
        undecided = []
        for candidate in (_U2NET_NORM, _ISNET_NORM):
            matte = predict(session, scene, candidate)
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
