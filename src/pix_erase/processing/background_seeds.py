"""GrabCut's starting labels when the user gives no hint: which pixels of the margin are
surely background, and which are only probably so.

A margin rectangle declared surely background is wrong wherever the subject crosses the
frame (a cat's ears cut by the top edge, a helmet cut by the bottom one): GrabCut learns
the subject's colours as background there and then cuts the same colours out of the
subject's middle (a dark collar, a dark helmet). So the margin stays surely background
only where it looks like a background, and elsewhere becomes probably foreground, left to
GrabCut's colour models and edges:

- **dark pixels** (Lab lightness under ``DARK_LIGHTNESS``) carry almost no colour, so a
  colour model cannot tell a black collar from a black table; they are not evidence of
  background. When most of the margin is dark the picture's background is dark, and the
  dark margin stays background.
- **detailed pixels**: in a picture whose subject is the detailed part (fur before a
  lens-blurred room, a face before a backdrop), margin pixels whose local detail (the
  smoothed absolute Laplacian) is several times the margin's plain level (its 20th
  percentile) are released. Whether the subject is the detailed part is read from a first,
  quick cut (``rough``, made with only the dark margin released): its median detail must
  be ``SUBJECT_DETAIL`` times the background's. A cup on wood or a man on grass has the
  detail in the background, and there this cue stays off. Sensor noise raises the whole
  margin alike, so a noisy plain background releases nothing.
- **coloured like the released**: a colour-model prior in the margin. Margin pixels whose
  colour is more frequent among the released pixels than among the rest of the margin
  (Lab histograms, smoothed, and the ratio smoothed in the picture) are released too: the
  plain white chest of a cat whose fur the frame cuts, the pale inside of its ear.

At least ``_KEPT_SHARE`` of the margin stays surely background, or the margin is left as
it was: GrabCut needs background samples.

Hand-written because OpenCV's saliency module (contrib) is not in our build, and the
classic saliency maps (frequency-tuned, spectral residual, minimum barrier, border
contrast) all take the frame's border as background, which is exactly the assumption that
fails here.
"""

from __future__ import annotations

from typing import Final

import cv2
import numpy as np
from numpy.typing import NDArray

from .pixels import Pixels

DARK_LIGHTNESS: Final = 0.2  # of Lab's L range
DETAIL_FACTOR: Final = 2.0  # times the margin's plain level
SUBJECT_DETAIL: Final = 1.0  # the rough subject's median detail over the background's
_DETAIL_SIGMA: Final = 3.0  # at the reduced size
_PLAIN_PERCENTILE: Final = 20
_DARK_BACKGROUND: Final = 0.5  # a margin darker than this share has a dark background
_KEPT_SHARE: Final = 0.1
_BINS: Final = 16  # per Lab channel
_PRIOR_SIGMA: Final = 2.0  # smoothing of the colour prior in the picture, reduced size

Mask = NDArray[np.bool_]


def margin_labels(
    small: Pixels, inner: tuple[int, int, int, int], rough: Mask | None = None
) -> NDArray[np.uint8]:
    """GrabCut labels for BGR ``small``: probably foreground inside ``inner`` (x0, y0, x1,
    y1), and in the margin around it surely background where it looks like background,
    probably foreground where it does not. ``rough`` is a first cut made with these labels
    without it (only the dark margin released); it says whether detail marks the subject."""
    height, width = small.shape[:2]
    x0, y0, x1, y1 = inner
    margin = np.ones((height, width), dtype=bool)
    margin[y0:y1, x0:x1] = False
    labels = np.where(margin, np.uint8(cv2.GC_BGD), np.uint8(cv2.GC_PR_FGD))
    total = int(margin.sum())
    if total == 0:
        return labels
    released = margin & _dark(small, margin)
    if rough is not None and rough.any() and not rough.all():
        detail = _detail(small)
        # Detail tells the subject only in a picture whose subject is the detailed part
        # (fur before a lens-blurred room), not the plain one (a cup on wood, a man on grass).
        if np.median(detail[rough]) >= SUBJECT_DETAIL * np.median(detail[~rough]):
            plain = float(np.percentile(detail[margin], _PLAIN_PERCENTILE))
            released |= margin & (detail > DETAIL_FACTOR * max(plain, 1e-3))
    if released.any():
        released |= margin & _coloured_like(small, released, margin & ~released)
    if int(released.sum()) <= (1 - _KEPT_SHARE) * total:
        labels[released] = cv2.GC_PR_FGD
    return labels


def _dark(small: Pixels, margin: Mask) -> Mask:
    lightness = cv2.cvtColor(small, cv2.COLOR_BGR2Lab)[:, :, 0]
    dark: Mask = lightness < round(DARK_LIGHTNESS * 255)
    if int((dark & margin).sum()) > _DARK_BACKGROUND * int(margin.sum()):
        return np.zeros_like(dark)
    return dark


def _detail(small: Pixels) -> NDArray[np.float32]:
    """Local detail: the absolute Laplacian of the gray, Gaussian-averaged."""
    gray = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY).astype(np.float32)
    laplacian = np.abs(cv2.Laplacian(gray, cv2.CV_32F))
    detail: NDArray[np.float32] = np.asarray(
        cv2.GaussianBlur(laplacian, (0, 0), _DETAIL_SIGMA), dtype=np.float32
    )
    return detail


def _coloured_like(small: Pixels, these: Mask, those: Mask) -> Mask:
    """Pixels whose colour is more frequent (as a share) among ``these`` than ``those``."""
    lab = cv2.cvtColor(small, cv2.COLOR_BGR2Lab)
    q = (lab // (256 // _BINS)).astype(np.intp)
    bins = (q[:, :, 0] * _BINS + q[:, :, 1]) * _BINS + q[:, :, 2]
    ours, theirs = _histogram(bins, these), _histogram(bins, those)
    prior = (ours / (ours + theirs + np.float32(1e-6)))[bins].astype(np.float32)
    smoothed = cv2.GaussianBlur(prior, (0, 0), _PRIOR_SIGMA)
    like: Mask = smoothed > 0.5
    return like


def _histogram(bins: NDArray[np.intp], where: Mask) -> NDArray[np.float32]:
    """The share of ``where``'s pixels in each Lab bin, smoothed by [1 2 1] / 4 along
    each channel (a colour one bin off is nearly the same colour)."""
    counts = np.bincount(bins[where], minlength=_BINS**3).astype(np.float32)
    cube = counts.reshape((_BINS,) * 3)
    for axis in range(3):
        padded = np.pad(cube, [(1, 1) if a == axis else (0, 0) for a in range(3)])
        ahead = np.take(padded, range(2, _BINS + 2), axis=axis)
        behind = np.take(padded, range(_BINS), axis=axis)
        cube = 0.5 * cube + 0.25 * (ahead + behind)
    share: NDArray[np.float32] = (cube.ravel() / max(1, int(where.sum()))).astype(np.float32)
    return share
