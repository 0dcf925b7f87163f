"""Multi-image matting: the alpha and colour of an overlay that several images share.

Every image is J_i = a W + (1 - a) I_i at each pixel (alpha a and colour W shared, the
photo I_i not). Write s = 1 - a: J_i = s I_i + a W. Two neighbouring pixels x, y of a
photo are nearly always alike (natural images' gradients are sparse), so across the
images J_i(x) = k J_i(y) + d with k = s(x) / s(y) and d = a(x) W(x) - k a(y) W(y): a line
through N points, which each pixel pair fits (Dekel et al.'s gradient consensus, "On the
effectiveness of visible watermarks", CVPR 2017, taken on the blend's own parameters).
Where the line fits all the images alike and steps, the mark changes there: an edge, an
anti-aliased fringe, a shadow's or a glow's ramp. A pair where only some images fit (a
photo's own edge, or with few images a coincidence) counts little.

The pairs' k, integrated from where there is no mark (s = 1) as a sparse least-squares
problem, give s; then the pairs' d give the colour W with s known. Both are regularised
by total variation (iteratively reweighted): a mark is a few flat levels and colours with
sharp edges, so small steps that the photos' own shading suggests (and that integration
over a wide shape would compound) are dropped, while the mark's edges, which the whole
outline agrees on, stand. Each round also weights every image at every pair by how well
it follows the current model (an outlier among the images there counts less).

The photos under a semi-transparent mark are then recovered, not invented:
I = (J - a W) / (1 - a).

Memory: a few arrays of N x H x W x 3 floats (the caller caps N x H x W). Time: a few
conjugate-gradient solves over the region's bounding box, per round. The solver is
written here (matrix-free, on the grid) because the runtime dependencies, NumPy and
OpenCV, have no sparse least-squares solver.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import cv2
import numpy as np
from numpy.typing import NDArray

Floats = NDArray[np.float32]
Bools = NDArray[np.bool_]

_NOISE: Final = 3.0  # grey levels: a photo's own change between neighbours, quantisation
_INFO_CAP: Final = 1e3  # weight of one pair's measurement of k, at most
_UNANIMITY: Final = 2.0  # exponent of the images' agreement in a pair's weight
_JUMP_KEEP: Final = 0.02  # total variation: smaller steps of s are the photos' shading
_JUMP_COLOUR: Final = 2.0  # ... and of the colour (grey levels)
_PRIOR: Final = 1e-4  # pull towards "no mark" (s = 1) inside the region
_COLOUR_PRIOR: Final = 3e-3  # pull of the colour towards grey, per typical pair weight,
_COLOURED: Final = 0.05  # ... fading out up to this alpha
_ANCHOR: Final = 1e4  # outside the region: no mark
_ROUNDS: Final = 4
_CG_STEPS: Final = 120
_CG_TOLERANCE: Final = 1e-4
_GROUPING: Final = 6  # parts of the region closer than this are solved together
_CHECK_EVERY: Final = 4  # conjugate-gradient steps between convergence checks
_GREY: Final = 128.0  # the colour where nothing says otherwise (it has no alpha there)


@dataclass(frozen=True)
class Matte:
    """The overlay on the working crop: ``alpha`` (H x W, 0..1) and ``colour`` (H x W x 3,
    BGR 0..255; meaningless where alpha is 0)."""

    alpha: Floats
    colour: Floats
    support: Floats  # H x W, 0..1: how unanimously the images step here (see _agreement)

    @property
    def premultiplied(self) -> Floats:
        return np.asarray(self.alpha[..., None] * self.colour, dtype=np.float32)


def _pairs(values: NDArray[np.float32], axis: int) -> tuple[Floats, Floats]:
    """(value at x, value at y) over the pairs of one direction of a field whose spatial
    axes are (-2, -1) (``axis`` 0 and 1 below them: vertical and horizontal pairs), or
    (-3, -2) with a trailing colour axis: pass ``axis`` - 1 then."""
    if axis == 1:
        return values[..., :, 1:], values[..., :, :-1]
    return values[..., 1:, :], values[..., :-1, :]


def _colour_pairs(values: NDArray[np.float32], axis: int) -> tuple[Floats, Floats]:
    """As ``_pairs`` for a field with a trailing colour axis."""
    if axis == 1:
        return values[..., :, 1:, :], values[..., :, :-1, :]
    return values[..., 1:, :, :], values[..., :-1, :, :]


AXES: Final = (0, 1)


def matte(stack: NDArray[np.uint8], region: Bools) -> Matte:
    """The overlay the images of ``stack`` (N x H x W x 3, BGR) share inside ``region``
    (H x W); alpha is 0 outside it. Parts of the region that lie apart are solved
    apart, each in its own bounding box."""
    alpha = np.zeros(region.shape, dtype=np.float32)
    colour = np.full((*region.shape, 3), _GREY, dtype=np.float32)
    support = np.zeros(region.shape, dtype=np.float32)
    height, width = region.shape
    grouped = grow(region, _GROUPING).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(grouped, connectivity=8)
    for label in range(1, count):
        x, y, w, h = (int(v) for v in stats[label, :4])
        box = (
            slice(max(0, y - 1), min(height, y + h + 1)),
            slice(max(0, x - 1), min(width, x + w + 1)),
        )
        part = region[box] & (labels[box] == label)
        if not part.any():
            continue
        inner = _matte(stack[:, box[0], box[1]], part)
        alpha[box] = np.where(part, inner.alpha, alpha[box])
        colour[box] = np.where(part[..., None], inner.colour, colour[box])
        support[box] = np.where(part, inner.support, support[box])
    return Matte(alpha, colour, support)


def _matte(stack: NDArray[np.uint8], region: Bools) -> Matte:
    height, width = region.shape
    images = stack.astype(np.float32)
    anchor = np.where(region, _PRIOR, _ANCHOR).astype(np.float32)
    ends = {axis: _colour_pairs(images, axis) for axis in AXES}
    inside = {axis: _touching(region, axis) for axis in AXES}
    weights = {axis: _initial_weights(*ends[axis]) for axis in AXES}
    agreement = {axis: _agreement(*ends[axis]) * inside[axis] for axis in AXES}
    keep = np.ones((height, width), dtype=np.float32)
    colour = np.full((height, width, 3), _GREY, dtype=np.float32)
    flat_keep = {axis: np.ones(inside[axis].shape, np.float32) for axis in AXES}
    flat_colour = {axis: np.ones(inside[axis].shape, np.float32) for axis in AXES}
    scale_keep = scale_colour = 1.0
    for round_ in range(_ROUNDS):
        fits = {axis: _fit(*ends[axis], weights[axis]) for axis in AXES}
        data = {axis: np.minimum(fits[axis][2], _INFO_CAP) * agreement[axis] for axis in AXES}
        if round_ == 0:
            scale_keep = _median(data, inside) * 2 * _JUMP_KEEP
        keep = _solve_keep(
            {axis: fits[axis][0] for axis in AXES},
            data,
            {axis: scale_keep * flat_keep[axis] * inside[axis] for axis in AXES},
            anchor,
            keep,
        )
        colour, info = _solve_colour(ends, weights, inside, keep, flat_colour, colour)
        if round_ == 0:
            scale_colour = _median(info, inside) * 0.1 * _JUMP_COLOUR
        for axis in AXES:
            keep_x, keep_y = _pairs(keep, axis)
            flat_keep[axis] = 1 / np.maximum(np.abs(keep_x - keep_y), _JUMP_KEEP / 4)
            colour_x, colour_y = _colour_pairs(colour, axis)
            jump = np.abs(colour_x - colour_y).max(axis=-1)
            flat_colour[axis] = scale_colour / np.maximum(jump, _JUMP_COLOUR / 4)
        premultiplied = (1 - keep)[..., None] * colour
        weights = {axis: _model_weights(*ends[axis], keep, premultiplied, axis) for axis in AXES}
    alpha = np.where(region, np.clip(1 - keep, 0, 1), 0.0).astype(np.float32)
    support = np.zeros(region.shape, dtype=np.float32)
    for axis in AXES:
        s_x, s_y = _pairs(support, axis)
        np.maximum(s_x, agreement[axis], out=s_x)
        np.maximum(s_y, agreement[axis], out=s_y)
    return Matte(alpha, colour, support)


def _touching(region: Bools, axis: int) -> Floats:
    """1 for the pairs with a pixel in ``region`` (the other may be an anchor), else 0."""
    at_x, at_y = _pairs(region.astype(np.float32), axis)
    return np.asarray(np.maximum(at_x, at_y), dtype=np.float32)


def _median(values: dict[int, Floats], inside: dict[int, Floats]) -> float:
    chosen = np.concatenate([values[axis][inside[axis] > 0] for axis in AXES])
    return float(np.median(chosen)) if chosen.size else 1.0


def _agreement(at_x: Floats, at_y: Floats) -> Floats:
    """Per pair (0..1): how unanimously the images follow one line J(x) = k J(y) + d,
    fitted to all of them alike. A step of the mark fits them all; a photo's own edge,
    or a few photos' coincidence, leaves some far off (and with few images the others
    alone would fit any line)."""
    k, offset, _info = _fit(at_x, at_y, np.ones(at_x.shape[:-1], dtype=np.float32))
    residual = at_x - k[None, ..., None] * at_y - offset[None]
    error = (residual * residual).mean(axis=-1)
    fits = 1 / (1 + error / (_NOISE * _NOISE))
    return np.asarray(fits.mean(axis=0) ** _UNANIMITY, dtype=np.float32)


def _initial_weights(at_x: Floats, at_y: Floats) -> Floats:
    """Per image and pair: down-weight images whose own step there is much larger than
    the others' (an edge of that photo, not of the mark)."""
    step = np.abs(at_x - at_y).sum(axis=-1)
    typical = np.median(step, axis=0, keepdims=True)
    excess = np.maximum(step - typical, 0) / (3 * _NOISE)
    return np.asarray(1 / (1 + excess * excess), dtype=np.float32)


def _fit(at_x: Floats, at_y: Floats, weights: Floats) -> tuple[Floats, Floats, Floats]:
    """Per pair: k and d of J(x) = k J(y) + d_c over the images (orthogonal regression,
    weighted), and how well k is known (the weighted spread of J(y), per level²)."""
    w = weights[..., None]
    total = np.maximum(weights.sum(axis=0), 1e-6)[..., None]
    mean_x = (w * at_x).sum(axis=0) / total
    mean_y = (w * at_y).sum(axis=0) / total
    dy = at_y - mean_y
    dx = at_x - mean_x
    ridge = _NOISE * _NOISE
    sxx = (w * dy * dy).sum(axis=(0, -1)) + ridge
    syy = (w * dx * dx).sum(axis=(0, -1)) + ridge
    sxy = (w * dy * dx).sum(axis=(0, -1)) + ridge
    # Orthogonal, not ordinary, regression: both ends carry the photos' own differences,
    # and least squares would shrink every k towards 0, a bias integration compounds.
    k = (syy - sxx + np.sqrt((syy - sxx) ** 2 + 4 * sxy * sxy)) / (2 * np.maximum(sxy, 1e-6))
    k = np.clip(k, 0.0, 50.0)
    offset = mean_x - k[..., None] * mean_y
    return k.astype(np.float32), offset.astype(np.float32), (sxx / ridge).astype(np.float32)


def _model_weights(
    at_x: Floats, at_y: Floats, keep: Floats, premultiplied: Floats, axis: int
) -> Floats:
    """Per image and pair: how well the image follows the current model there, compared
    with the other images (a misfit they all share says the model is still wrong there,
    not that the images are)."""
    keep_x, keep_y = _pairs(keep, axis)
    b_x, b_y = _colour_pairs(premultiplied, axis)
    k = (keep_x / np.maximum(keep_y, 1e-3))[None, ..., None]
    residual = at_x - k * (at_y - b_y[None]) - b_x[None]
    scale = np.maximum(keep_x, 0.05)[None, ..., None]  # on the photo's scale
    error = ((residual / scale) ** 2).mean(axis=-1)
    typical = np.median(error, axis=0, keepdims=True)
    return np.asarray(1 / (1 + error / (_NOISE * _NOISE + typical)), dtype=np.float32)


def _solve_keep(
    k: dict[int, Floats],
    data: dict[int, Floats],
    flat: dict[int, Floats],
    anchor: Floats,
    start: Floats,
) -> Floats:
    """s from s(x) - k s(y) = 0 at every pair (weight: the pair's information) and the
    total-variation pull s(x) = s(y) (weight ``flat``), s = 1 at the anchors."""
    terms: dict[int, list[tuple[Floats, Floats, Floats]]] = {}
    for axis in AXES:
        ones = np.ones_like(k[axis])
        terms[axis] = [(ones, k[axis], data[axis]), (ones, ones, flat[axis])]
    zero: dict[int, list[Floats | None]] = {axis: [None, None] for axis in AXES}
    target = np.ones((*anchor.shape, 1), dtype=np.float32)
    solved = _System(terms, anchor).solve(zero, target, start[..., None])
    return np.clip(solved[..., 0], 0.02, 1.0).astype(np.float32)


def _solve_colour(
    ends: dict[int, tuple[Floats, Floats]],
    weights: dict[int, Floats],
    inside: dict[int, Floats],
    keep: Floats,
    flat: dict[int, Floats],
    start: Floats,
) -> tuple[Floats, dict[int, Floats]]:
    """The colour W from a(x) W(x) - k a(y) W(y) = d at every pair, k = s(x) / s(y) now
    known and d the weighted mean over the images of J(x) - k J(y), with the
    total-variation pull W(x) = W(y) (a mark's colours are few; at its edges its alpha
    changes, not its colour); also each pair's information."""
    terms: dict[int, list[tuple[Floats, Floats, Floats]]] = {}
    constants: dict[int, list[Floats | None]] = {}
    infos = {}
    for axis in AXES:
        at_x, at_y = ends[axis]
        w = weights[axis]
        keep_x, keep_y = _pairs(keep, axis)
        k = keep_x / np.maximum(keep_y, 1e-3)
        total = np.maximum(w.sum(axis=0), 1e-6)
        d = (w[..., None] * (at_x - k[None, ..., None] * at_y)).sum(axis=0) / total[..., None]
        info = np.minimum(total / (keep_x * keep_x + 1e-3), _INFO_CAP) * inside[axis]
        ones = np.ones(k.shape, dtype=np.float32)
        terms[axis] = [
            (
                np.asarray(1 - keep_x, dtype=np.float32),
                np.asarray(k * (1 - keep_y), dtype=np.float32),
                np.asarray(info, dtype=np.float32),
            ),
            (ones, ones, np.asarray(flat[axis] * inside[axis], dtype=np.float32)),
        ]
        constants[axis] = [d.astype(np.float32), None]
        infos[axis] = info.astype(np.float32)
    # A pull to grey where there is (nearly) no alpha: there the colour does not matter,
    # and without it the solver would wander there for many steps.
    typical = _median(infos, inside) if any(v.size for v in infos.values()) else 1.0
    faint = np.clip(1 - (1 - keep) / _COLOURED, 0, 1)
    prior = (_PRIOR + _COLOUR_PRIOR * typical * faint).astype(np.float32)
    target = np.full((*keep.shape, 3), _GREY, np.float32)
    colour = _System(terms, prior).solve(constants, target, start)
    return np.clip(colour, 0, 255).astype(np.float32), infos


class _System:
    """Least squares on the grid: for each direction and term, the sum over its pairs of
    w (h p(x) - k p(y) - c)², plus anchor (p - target)²; p is H x W x C; solved by
    conjugate gradients with a Jacobi preconditioner. The terms of a direction are
    summed into one quadratic form per pair: A p(x)² - 2 B p(x) p(y) + C p(y)²."""

    def __init__(
        self, terms: dict[int, list[tuple[Floats, Floats, Floats]]], anchor: Floats
    ) -> None:
        self.terms = terms
        self.anchor = anchor.astype(np.float32)
        self.forms: dict[int, tuple[Floats, Floats, Floats]] = {}
        diagonal = self.anchor.copy()
        for axis, parts in terms.items():
            a = sum((w * h * h for h, _k, w in parts), np.zeros_like(parts[0][0]))
            b = sum((w * h * k for h, k, w in parts), np.zeros_like(parts[0][0]))
            c = sum((w * k * k for _h, k, w in parts), np.zeros_like(parts[0][0]))
            self.forms[axis] = (a.astype(np.float32), b.astype(np.float32), c.astype(np.float32))
            d_x, d_y = _pairs(diagonal, axis)
            d_x += a
            d_y += c
        self.inverse = (1 / diagonal).astype(np.float32)

    def apply(self, p: Floats) -> Floats:
        """``p`` and the result: C x H x W."""
        out = self.anchor * p
        for axis, (a, b, c) in self.forms.items():
            p_x, p_y = _pairs(p, axis)
            o_x, o_y = _pairs(out, axis)
            o_x += a * p_x - b * p_y
            o_y += c * p_y - b * p_x
        return out

    def solve(
        self, constants: dict[int, list[Floats | None]], target: Floats, start: Floats
    ) -> Floats:
        """``target`` and ``start`` H x W x C, the constants pair-shaped x C."""
        rhs = self.anchor * np.moveaxis(target, -1, 0)
        for axis, parts in self.terms.items():
            r_x, r_y = _pairs(rhs, axis)
            for (h, k, w), c in zip(parts, constants[axis], strict=True):
                if c is None:
                    continue
                wc = w * np.moveaxis(c, -1, 0)
                r_x += h * wc
                r_y -= k * wc
        p = np.ascontiguousarray(np.moveaxis(start, -1, 0), dtype=np.float32)
        residual = rhs - self.apply(p)
        z = residual * self.inverse
        direction = z.copy()
        rz = _dots(residual, z)
        limit = (_CG_TOLERANCE * _CG_TOLERANCE) * float(_dots(rhs, rhs).sum()) + 1e-24
        for step_count in range(_CG_STEPS):
            q = self.apply(direction)
            step = (rz / np.maximum(_dots(direction, q), 1e-30)).astype(np.float32)
            p += step[:, None, None] * direction
            residual -= step[:, None, None] * q
            if step_count % _CHECK_EVERY == 0 and float(_dots(residual, residual).sum()) < limit:
                break
            z = residual * self.inverse
            rz_new = _dots(residual, z)
            ratio = (rz_new / np.maximum(rz, 1e-30)).astype(np.float32)
            direction = z + ratio[:, None, None] * direction
            rz = rz_new
        return np.ascontiguousarray(np.moveaxis(p, 0, -1))


def _dots(a: Floats, b: Floats) -> NDArray[np.float64]:
    """Per channel (first axis), the dot product of ``a`` and ``b``."""
    return np.array([float(np.vdot(x, y)) for x, y in zip(a, b, strict=True)])


def unblend(image: Floats, matte: Matte, opaque: float) -> Floats:
    """I = (J - a W) / (1 - a), with 1 - a at least 1 - ``opaque``."""
    keep = np.maximum(1 - matte.alpha, 1 - opaque)[..., None]
    restored = (image - matte.premultiplied) / keep
    return np.asarray(np.clip(restored, 0, 255), dtype=np.float32)


def grow(mask: Bools, radius: int) -> Bools:
    element = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    return np.asarray(cv2.dilate(mask.astype(np.uint8), element) > 0)
