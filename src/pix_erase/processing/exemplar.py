"""The ``best`` inpainting method: multi-scale exemplar inpainting, blended with diffusion.

Exemplar part (Wexler, Shechtman & Irani 2007, with Barnes et al.'s PatchMatch for the
nearest-neighbour search): every 13x13 patch that touches the hole is matched to a fully
known patch nearby, and each hole pixel becomes the similarity-weighted vote of all the
matched patches that cover it; matching and voting alternate a few times. Holes thicker
than a patch are first solved on a half-size (quarter, ...) copy and refined upwards, so
structure comes from the coarse levels and detail from the fine one.

Two things keep it fast in numpy: patches are compared as 16 principal components (the
projections are computed for the whole crop with ``cv2.filter2D``, so a comparison is a
16-float distance, not 507), and PatchMatch runs on all patches at once ("jump flooding"
style propagation at strides 8, 4, 2, 1 plus a shrinking random search).

The exemplar fill keeps texture and edges; a diffusion fill (Telea) is the best smooth
estimate. Their errors are largely independent, so the average of the two beats either
alone on PSNR and SSIM (docs/erase-quality.md has the figures).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, cast

import cv2
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import NDArray

from .pixels import Pixels

Floats = NDArray[np.float32]
Indices = NDArray[np.intp]
Bools = NDArray[np.bool_]

PATCH_RADIUS: Final = 6
COMPONENTS: Final = 16
SEARCH_RADIUS: Final = 32  # how far from the hole source patches are looked for, per level
EM_ITERATIONS: Final = 3
PATCHMATCH_ITERATIONS: Final = 3
MAX_LEVELS: Final = 6
DIFFUSION_RADIUS: Final = 3
# Context a crop needs around the hole at the finest level: the search band plus patches.
CONTEXT: Final = SEARCH_RADIUS + 2 * PATCH_RADIUS + 2
MAX_CONTEXT: Final = 256
MAX_CROP_PIXELS: Final = 600_000

_BASIS_SAMPLES: Final = 2000
_WEIGHT_PERCENTILE: Final = 90
_MIN_SOURCES: Final = 16
_JUMPS: Final = (8, 4, 2, 1)
_DIRECTIONS: Final = ((0, 1), (1, 0), (0, -1), (-1, 0))


def levels_for(hole: Bools) -> int:
    """Pyramid levels so the hole is at most a patch radius thick at the coarsest one."""
    distance = cv2.distanceTransform(hole.astype(np.uint8), cv2.DIST_L2, 3)
    thickness = float(distance.max())
    levels = 1
    while thickness > PATCH_RADIUS and levels < MAX_LEVELS:
        thickness /= 2
        levels += 1
    return levels


def context_for(hole: Bools) -> int:
    """Pixels of known context to keep around ``hole`` at full resolution: the search
    band of the coarsest level, capped (a thick hole is not worth a whole-image crop)."""
    return min(CONTEXT << (levels_for(hole) - 1), MAX_CONTEXT)


def diffusion_fill(pixels: Pixels, hole: Pixels, radius: int = DIFFUSION_RADIUS) -> Pixels:
    """cv2.inpaint (Telea) on any layout: it takes 1 or 3 channels, so alpha goes alone."""
    if pixels.ndim == 2 or pixels.shape[2] in (1, 3):
        filled = cv2.inpaint(pixels, hole, radius, cv2.INPAINT_TELEA)
        return cast(Pixels, filled.reshape(pixels.shape))
    groups = [[0], [1]] if pixels.shape[2] == 2 else [[0, 1, 2], [3]]
    planes = [
        cv2.inpaint(np.ascontiguousarray(pixels[:, :, group]), hole, radius, cv2.INPAINT_TELEA)
        for group in groups
    ]
    return np.ascontiguousarray(np.dstack(planes))


def inpaint_best(pixels: Pixels, hole: Pixels, *, seed: int = 0) -> Pixels:
    """Fill the ``hole`` (non-zero) of ``pixels`` (any layout); other pixels are kept.

    A crop larger than ``MAX_CROP_PIXELS`` gets its exemplar fill from a reduced copy
    (upsampled; the diffusion half stays at full resolution), which bounds time and
    memory for big marks on big photos.
    """
    holes = hole > 0
    out = diffusion_fill(pixels, hole)
    height, width = holes.shape
    scale = min(1.0, float(np.sqrt(MAX_CROP_PIXELS / (height * width))))
    rng = np.random.default_rng(seed)
    if scale < 1.0:
        size = (max(8, round(width * scale)), max(8, round(height * scale)))
        small = np.asarray(cv2.resize(pixels, size, interpolation=cv2.INTER_AREA), np.uint8)
        coarse = cv2.resize(holes.astype(np.float32), size, interpolation=cv2.INTER_AREA)
        exemplar = _exemplar(small, np.asarray(coarse) > 0, rng)
        reduced = np.clip(exemplar + 0.5, 0, 255).astype(np.uint8).reshape(small.shape)
        full = np.asarray(cv2.resize(reduced, (width, height), interpolation=cv2.INTER_LINEAR))
    else:
        full = np.clip(_exemplar(pixels, holes, rng) + 0.5, 0, 255).astype(np.uint8)
    diffused = out[holes].astype(np.uint16)
    found = full.reshape(out.shape)[holes].astype(np.uint16)
    out[holes] = ((diffused + found + 1) // 2).astype(np.uint8)
    return out


def _exemplar(pixels: Pixels, hole: Bools, rng: np.random.Generator) -> Floats:
    image = pixels.astype(np.float32)
    if image.ndim == 2:
        image = image[:, :, None]
    pyramid = [(image, hole)]
    for _ in range(levels_for(hole) - 1):
        finer, finer_hole = pyramid[-1]
        height, width = finer_hole.shape
        size = ((width + 1) // 2, (height + 1) // 2)
        coarser = _planes(cv2.resize(finer, size, interpolation=cv2.INTER_AREA))
        # A coarse pixel is in the hole if any of the pixels it covers is.
        coarse = cv2.resize(finer_hole.astype(np.float32), size, interpolation=cv2.INTER_AREA)
        coarse_hole = np.asarray(coarse) > 0
        pyramid.append((coarser, coarse_hole))

    estimate: Floats | None = None
    previous: _Field | None = None
    for level_image, level_hole in reversed(pyramid):
        if estimate is None:
            fill = diffusion_fill(
                np.clip(level_image + 0.5, 0, 255).astype(np.uint8), _u8(level_hole)
            ).astype(np.float32)
        else:
            width, height = level_hole.shape[1], level_hole.shape[0]
            fill = _planes(cv2.resize(estimate, (width, height), interpolation=cv2.INTER_LINEAR))
        estimate = level_image.copy()
        estimate[level_hole] = _planes(fill)[level_hole]
        estimate, previous = _Level(level_image, level_hole, rng).solve(estimate, previous)
    assert estimate is not None
    return estimate


def _planes(values: NDArray[np.float32] | cv2.typing.MatLike) -> Floats:
    array = np.asarray(values, dtype=np.float32)
    return array[:, :, None] if array.ndim == 2 else array


def _u8(mask: Bools) -> Pixels:
    return mask.astype(np.uint8) * np.uint8(255)


def _square(radius: int) -> NDArray[np.uint8]:
    element = cv2.getStructuringElement(cv2.MORPH_RECT, (2 * radius + 1, 2 * radius + 1))
    return np.asarray(element, dtype=np.uint8)


@dataclass
class _Field:
    """A nearest-neighbour field: for target pixel i (ty[i], tx[i]) the source centre."""

    target_index: NDArray[np.int32]  # (H, W): index of the target pixel, or -1
    sy: Indices
    sx: Indices

    def upsampled(self, ty: Indices, tx: Indices) -> tuple[Indices, Indices]:
        """Initial sources for the next finer level's targets (-1 where unknown)."""
        height, width = self.target_index.shape
        index = self.target_index[np.minimum(ty // 2, height - 1), np.minimum(tx // 2, width - 1)]
        known = index >= 0
        sy = np.where(known, self.sy[index] * 2 + ty % 2, -1)
        sx = np.where(known, self.sx[index] * 2 + tx % 2, -1)
        return sy, sx


class _Level:
    """One pyramid level: which patches are targets, which are sources, and the EM loop."""

    def __init__(self, image: Floats, hole: Bools, rng: np.random.Generator) -> None:
        self.image = image
        self.hole = hole
        self.rng = rng
        height, width = hole.shape
        self.shape = (height, width)
        radius = PATCH_RADIUS
        hole8 = hole.astype(np.uint8)
        target = cv2.dilate(hole8, _square(radius)) > 0  # patches that touch the hole
        band = cv2.dilate(hole8, _square(SEARCH_RADIUS + 2 * radius)) > 0
        inside = np.zeros((height, width), dtype=bool)
        inside[radius : height - radius, radius : width - radius] = True
        source = band & ~target & inside  # patches fully known and fully in the crop
        self.ty, self.tx = np.nonzero(target)
        self.sy_all, self.sx_all = np.nonzero(source)
        self.target_index = np.full((height, width), -1, dtype=np.int32)
        self.target_index[self.ty, self.tx] = np.arange(self.ty.size, dtype=np.int32)
        self.source_index = np.full((height, width), -1, dtype=np.int32)
        self.source_index[self.sy_all, self.sx_all] = np.arange(self.sy_all.size, dtype=np.int32)

    def solve(self, estimate: Floats, previous: _Field | None) -> tuple[Floats, _Field | None]:
        if self.sy_all.size < _MIN_SOURCES or self.ty.size == 0:
            return estimate, None
        kernels = self._basis()
        self.source_desc = _descriptors(self.image, kernels)[self.sy_all, self.sx_all]
        sy, sx = self._initial(previous)
        for iteration in range(EM_ITERATIONS):
            self.target_desc = _descriptors(estimate, kernels)[self.ty, self.tx]
            rounds = PATCHMATCH_ITERATIONS + (2 if iteration == 0 and previous is None else 0)
            sy, sx, cost = self._patchmatch(sy, sx, rounds)
            estimate = self._vote(estimate, sy, sx, cost)
        return estimate, _Field(self.target_index, sy, sx)

    def _basis(self) -> Floats:
        """The principal components of the known patches, as filter kernels (K, C, k, k)."""
        count = self.sy_all.size
        pick = self.rng.choice(count, min(count, _BASIS_SAMPLES), replace=False)
        size = 2 * PATCH_RADIUS + 1
        windows = sliding_window_view(self.image, (size, size), axis=(0, 1))
        top, left = self.sy_all[pick] - PATCH_RADIUS, self.sx_all[pick] - PATCH_RADIUS
        patches = windows[top, left].reshape(pick.size, -1).astype(np.float64)
        patches -= patches.mean(axis=0)
        _, vectors = np.linalg.eigh(patches.T @ patches)
        channels = self.image.shape[2]
        strongest = vectors[:, ::-1][:, :COMPONENTS].T
        return strongest.reshape(-1, channels, size, size).astype(np.float32)

    def _initial(self, previous: _Field | None) -> tuple[Indices, Indices]:
        pick = self.rng.integers(0, self.sy_all.size, self.ty.size)
        random_y, random_x = self.sy_all[pick], self.sx_all[pick]
        if previous is None:
            return random_y, random_x
        sy, sx = previous.upsampled(self.ty, self.tx)
        usable = self._source_of(sy, sx) >= 0
        return np.where(usable, sy, random_y), np.where(usable, sx, random_x)

    def _source_of(self, sy: Indices, sx: Indices) -> NDArray[np.int32]:
        height, width = self.shape
        inside = (sy >= 0) & (sy < height) & (sx >= 0) & (sx < width)
        index = self.source_index[np.clip(sy, 0, height - 1), np.clip(sx, 0, width - 1)]
        return np.where(inside, index, np.int32(-1))

    def _cost(self, sy: Indices, sx: Indices) -> Floats:
        index = self._source_of(sy, sx)
        cost = np.full(sy.shape, np.inf, dtype=np.float32)
        valid = np.nonzero(index >= 0)[0]
        difference = self.target_desc[valid] - self.source_desc[index[valid]]
        cost[valid] = np.einsum("ij,ij->i", difference, difference)
        return cost

    def _patchmatch(self, sy: Indices, sx: Indices, rounds: int) -> tuple[Indices, Indices, Floats]:
        height, width = self.shape
        ty, tx = self.ty, self.tx
        cost = self._cost(sy, sx)

        def consider(cy: Indices, cx: Indices) -> None:
            nonlocal sy, sx, cost
            candidate = self._cost(cy, cx)
            better = candidate < cost
            sy, sx = np.where(better, cy, sy), np.where(better, cx, sx)
            cost = np.where(better, candidate, cost)

        for _ in range(rounds):
            for jump in _JUMPS:
                for dy, dx in _DIRECTIONS:
                    ny, nx = ty - dy * jump, tx - dx * jump
                    inside = (ny >= 0) & (ny < height) & (nx >= 0) & (nx < width)
                    neighbour = self.target_index[
                        np.clip(ny, 0, height - 1), np.clip(nx, 0, width - 1)
                    ]
                    neighbour = np.where(inside, neighbour, -1)
                    has = neighbour >= 0
                    consider(
                        np.where(has, sy[neighbour] + dy * jump, -1),
                        np.where(has, sx[neighbour] + dx * jump, -1),
                    )
            radius = SEARCH_RADIUS
            while radius >= 1:
                consider(
                    sy + self.rng.integers(-radius, radius + 1, sy.shape),
                    sx + self.rng.integers(-radius, radius + 1, sx.shape),
                )
                radius //= 2
        return sy, sx, cost

    def _vote(self, estimate: Floats, sy: Indices, sx: Indices, cost: Floats) -> Floats:
        height, width = self.shape
        hy, hx = np.nonzero(self.hole)
        finite = np.isfinite(cost)
        if not finite.any():
            return estimate
        scale = 2 * max(float(np.percentile(cost[finite], _WEIGHT_PERCENTILE)), 1e-6)
        weight = np.where(finite, np.exp(-np.where(finite, cost, 0) / scale), 0).astype(np.float32)
        total = np.zeros((hy.size, estimate.shape[2]), dtype=np.float32)
        weights = np.zeros(hy.size, dtype=np.float32)
        for oy in range(-PATCH_RADIUS, PATCH_RADIUS + 1):
            for ox in range(-PATCH_RADIUS, PATCH_RADIUS + 1):
                # The patch centred at (hy - oy, hx - ox) covers the hole pixel at offset o.
                py, px = hy - oy, hx - ox
                inside = (py >= 0) & (py < height) & (px >= 0) & (px < width)
                index = self.target_index[np.clip(py, 0, height - 1), np.clip(px, 0, width - 1)]
                usable = inside & (index >= 0)
                w = np.where(usable, weight[index], 0)
                vy = np.clip(sy[index] + oy, 0, height - 1)
                vx = np.clip(sx[index] + ox, 0, width - 1)
                total += w[:, None] * self.image[vy, vx]
                weights += w
        voted = weights > 0
        out = estimate.copy()
        out[hy[voted], hx[voted]] = total[voted] / weights[voted, None]
        return out


def _descriptors(image: Floats, kernels: Floats) -> Floats:
    """Each pixel's patch projected on the components: sum over channels of filter2D."""
    height, width, channels = image.shape
    out = np.empty((height, width, kernels.shape[0]), dtype=np.float32)
    planes = [np.ascontiguousarray(image[:, :, c]) for c in range(channels)]
    for k in range(kernels.shape[0]):
        total = np.zeros((height, width), dtype=np.float32)
        for c, plane in enumerate(planes):
            total += cv2.filter2D(plane, cv2.CV_32F, kernels[k, c], borderType=cv2.BORDER_REFLECT)
        out[:, :, k] = total
    return out
