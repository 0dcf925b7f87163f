"""A soft alpha at the edge of a hard cut: the matte in a narrow band around the
boundary GrabCut found.

Every pixel of the band is taken as a mix of the subject's colour F and the background's
colour B next to it, I = a F + (1 - a) B, and a is the projection of I - B on F - B. F and
B are the local means of the sure subject and the sure background around the band
(normalised Gaussian averaging), which is the colour-line assumption of closed-form
matting (Levin et al., 2008) solved per pixel instead of as one sparse system. Where F and
B are too alike to say (a dark subject on a dark background) the hard label stays.

Hand-written: pymatting solves the full system, but brings numba, whose compile on first
use costs seconds in every fresh worker process, and a band a few pixels wide needs no
global solve. The full-resolution matte then follows the image's own edges through the
guided filter in ``background.guided_upsample``.
"""

from __future__ import annotations

from typing import Final

import cv2
import numpy as np
from numpy.typing import NDArray

from .pixels import Pixels

BAND: Final = 2  # pixels on each side of the cut, at the reduced size
_SIGMA: Final = 4.0  # reach of the local colour means, at the reduced size
_MIN_CONTRAST: Final = 12.0  # |F - B| (0..255 per channel) below which the cut stays hard

Floats = NDArray[np.float32]


def edge_matte(foreground: NDArray[np.bool_], small: Pixels) -> Floats:
    """Alpha (0..1) of BGR ``small``: ``foreground``'s hard labels, softened in a band of
    ``BAND`` pixels around its boundary by local colour unmixing."""
    hard = foreground.astype(np.float32)
    if not foreground.any() or foreground.all():
        return hard
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * BAND + 1, 2 * BAND + 1))
    mask = foreground.astype(np.uint8)
    sure_fg = cv2.erode(mask, kernel).astype(np.float32)
    sure_bg = 1 - cv2.dilate(mask, kernel).astype(np.float32)
    band = (sure_fg == 0) & (sure_bg == 0)
    colours = small.astype(np.float32)
    f, b = _local_mean(colours, sure_fg), _local_mean(colours, sure_bg)
    diff = f - b
    contrast = np.einsum("ijk,ijk->ij", diff, diff)
    mix = np.einsum("ijk,ijk->ij", colours - b, diff) / np.maximum(contrast, 1e-6)
    usable = band & (contrast >= _MIN_CONTRAST**2)
    matte = hard.copy()
    matte[usable] = np.clip(mix[usable], 0.0, 1.0)
    return matte


def _local_mean(colours: Floats, weight: Floats) -> Floats:
    """The ``weight``-ed Gaussian mean colour around each pixel."""
    total = cv2.GaussianBlur(weight, (0, 0), _SIGMA)
    summed = cv2.GaussianBlur(colours * weight[:, :, None], (0, 0), _SIGMA)
    mean: Floats = np.asarray(summed / np.maximum(total, 1e-6)[:, :, None], dtype=np.float32)
    return mean
