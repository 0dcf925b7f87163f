"""Text detection with rapidocr's PP-OCRv6 det small model, which ships inside its wheel.

One engine per process (module-level cache), detection only: classification and
recognition are switched off in the configuration and again at every call, because
rapidocr keeps call options on the engine instance. The model path is given explicitly
and points inside the installed package, so rapidocr never takes its download path (it
only downloads when no ``model_path`` is configured); nothing here opens a socket.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from .pixels import Pixels

Quad = NDArray[np.float32]  # (4, 2) corner points, x then y

# Lower than rapidocr's defaults (0.3 / 0.5 / 1.6): watermarks are faint and their boxes
# should reach the whole line, because the stroke refinement trims them afterwards.
_DET_PARAMS: Final[dict[str, Any]] = {
    "Det.thresh": 0.2,
    "Det.box_thresh": 0.3,
    "Det.unclip_ratio": 2.0,
}
# One thread per process: the worker runs one process per core, so more would only fight.
_THREADS: Final = 1

_lock = threading.Lock()
_engine: Any = None


def model_path() -> Path:
    """The detection model inside the installed rapidocr package."""
    import rapidocr

    return Path(rapidocr.__file__).resolve().parent / "models" / "PP-OCRv6_det_small.onnx"


def _get_engine() -> Any:
    global _engine
    with _lock:
        if _engine is None:
            from rapidocr import RapidOCR

            path = model_path()
            params: dict[str, Any] = {
                "Global.use_det": True,
                "Global.use_cls": False,
                "Global.use_rec": False,
                "Global.log_level": "error",
                "Global.model_root_dir": str(path.parent),
                # rapidocr shrinks anything larger itself; callers already pass a
                # downscaled copy, so this only keeps it from resizing a second time.
                "Global.max_side_len": 4096,
                "Det.model_path": str(path),
                "EngineConfig.onnxruntime.intra_op_num_threads": _THREADS,
                "EngineConfig.onnxruntime.inter_op_num_threads": 1,
                **_DET_PARAMS,
            }
            _engine = RapidOCR(params=params)
        return _engine


def reset_engine() -> None:
    """Forget the cached engine (tests use it to check how a fresh one is built)."""
    global _engine
    with _lock:
        _engine = None


def detect_text(bgr: Pixels) -> list[Quad]:
    """Quadrilaterals around the text lines of a BGR image, in its pixel coordinates."""
    engine = _get_engine()
    result = engine(
        np.ascontiguousarray(bgr),
        use_det=True,
        use_cls=False,
        use_rec=False,
        box_thresh=_DET_PARAMS["Det.box_thresh"],
        unclip_ratio=_DET_PARAMS["Det.unclip_ratio"],
    )
    boxes = getattr(result, "boxes", None)
    if boxes is None:
        return []
    return [np.asarray(box, dtype=np.float32).reshape(4, 2) for box in boxes]
