"""Erase quality: PixErase's erase / remove_watermark / batch / remove_background against
ground truth, and against the baseline a user would write (``cv2.inpaint`` on the whole
image with a perfect mask).

PSNR and SSIM are measured inside the true watermark region (the pixels the mark
touches), against the clean original; mask IoU and recall compare a mask a method found
itself with the true one; ms/MP is wall time per megapixel of the image (pixels in,
pixels out for the inpainting rows; bytes in, bytes out for the others). Background rows
give the IoU of alpha > 0.5 with the true alpha on synthetic composites, and the mean
alpha left on the background; photo rows (the astronaut, the cat, cut by the frame) count
the parts of the subject kept and compare with the u2netp model's cut. The set is built by
``bench.quality_set``.

    uv run python -m bench.erase_quality [--quick]
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TypeVar

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image

from bench.common import THREAD_MODES, load_average, markdown_table, set_threads, versions
from bench.quality_set import (
    CUTOUTS,
    FAMILIES,
    FAMILY_PHOTOS,
    SIZE,
    Case,
    batch_sets,
    blend,
    composites,
    decoded,
    family_batch,
    family_cases,
    logo_cases,
    overlay,
    photo,
    png,
    precision,
    psnr,
    text_cases,
    text_coverage,
    u2netp_model,
)
from pix_erase.processing.background import Method as CutMethod
from pix_erase.processing.background import remove_background
from pix_erase.processing.batch_watermark import remove_shared_watermark
from pix_erase.processing.errors import ImageError
from pix_erase.processing.inpaint import Method, inpaint
from pix_erase.processing.watermark import remove_watermark

U8 = NDArray[np.uint8]
T = TypeVar("T")
MAX_PIXELS = 100_000_000


@dataclass
class Scores:
    psnr: list[float] = field(default_factory=list)
    ssim: list[float] = field(default_factory=list)
    iou: list[float] = field(default_factory=list)
    recall: list[float] = field(default_factory=list)
    ms_per_mp: list[float] = field(default_factory=list)

    def add(
        self, out: U8, case: Case, seconds: float, found: NDArray[np.bool_] | None = None
    ) -> None:
        self.psnr.append(psnr(out, case.clean, case.truth))
        self.ssim.append(ssim(out, case.clean, case.truth))
        megapixels = case.clean.shape[0] * case.clean.shape[1] / 1e6
        self.ms_per_mp.append(seconds * 1000 / megapixels)
        if found is not None:
            self.iou.append(float((found & case.truth).sum() / max(1, (found | case.truth).sum())))
            self.recall.append(float((found & case.truth).sum() / max(1, case.truth.sum())))

    def row(self, label: str, mask: str) -> list[str]:
        def mean(values: list[float], digits: int) -> str:
            return f"{statistics.fmean(values):.{digits}f}" if values else "—"

        return [
            label,
            mask,
            mean(self.psnr, 2),
            mean(self.ssim, 3),
            mean(self.iou, 3),
            mean(self.recall, 3),
            mean(self.ms_per_mp, 0) if self.ms_per_mp else "—",
        ]


def ssim(a: U8, b: U8, where: NDArray[np.bool_]) -> float:
    """SSIM (Gaussian window, sigma 1.5, as scikit-image) averaged over the region."""
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    values = []
    for channel in range(a.shape[2]):
        x = a[:, :, channel].astype(np.float64)
        y = b[:, :, channel].astype(np.float64)

        def blur(v: NDArray[np.float64]) -> NDArray[np.float64]:
            return np.asarray(cv2.GaussianBlur(v, (11, 11), 1.5), dtype=np.float64)

        mx, my = blur(x), blur(y)
        vx, vy, cxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
        s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
        values.append(float(s[where].mean()))
    return float(np.mean(values))


def timed(fn: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def inpainting_rows(cases: Sequence[Case]) -> list[list[str]]:
    rows = []
    untouched, baseline = Scores(), Scores()
    methods: dict[Method, Scores] = {"telea": Scores(), "ns": Scores(), "best": Scores()}
    for case in cases:
        untouched.add(case.marked, case, 0.0)
        out, seconds = timed(partial(cv2.inpaint, case.marked, case.mask, 3, cv2.INPAINT_TELEA))
        baseline.add(np.asarray(out, np.uint8), case, seconds)
        for method, scores in methods.items():
            result, seconds = timed(partial(inpaint, case.marked, case.mask, method))
            scores.add(np.asarray(result, np.uint8), case, seconds)
    rows.append([*untouched.row("watermarked input (no removal)", "—")[:6], "—"])
    rows.append(baseline.row("baseline: cv2.inpaint Telea, whole image", "perfect"))
    rows.append(methods["telea"].row("erase telea (padded crops)", "perfect"))
    rows.append(methods["ns"].row("erase ns (padded crops)", "perfect"))
    rows.append(methods["best"].row("erase best (exemplar + diffusion)", "perfect"))
    return rows


def auto_rows(cases: Sequence[Case], label: str) -> list[str]:
    scores = Scores()
    misses = 0
    for case in cases:
        data = png(case.marked)
        try:
            (result, mask), seconds = timed(partial(remove_watermark, data, max_pixels=MAX_PIXELS))
        except Exception:  # no_watermark_found: counts as nothing removed
            misses += 1
            scores.add(case.marked, case, 0.0, np.zeros_like(case.truth))
            continue
        found = np.asarray(Image.open(io.BytesIO(mask.data))) > 0
        scores.add(decoded(result.data)[:, :, :3], case, seconds, found)
    suffix = f" ({misses} not found)" if misses else ""
    return scores.row(label + suffix, "own")


def batch_rows(count: int) -> list[list[str]]:
    rows = []
    for title, cases in batch_sets(count):
        scores, baseline = Scores(), Scores()
        data = [png(case.marked) for case in cases]
        (results, mask), seconds = timed(
            partial(remove_shared_watermark, data, max_pixels=MAX_PIXELS)
        )
        found = np.asarray(Image.open(io.BytesIO(mask.data))) > 0
        for case, result in zip(cases, results, strict=True):
            scores.add(decoded(result.data)[:, :, :3], case, seconds / len(cases), found)
            out, took = timed(partial(cv2.inpaint, case.marked, case.mask, 3, cv2.INPAINT_TELEA))
            baseline.add(np.asarray(out, np.uint8), case, took)
        rows.append(scores.row(f"batch of {count}, shared mark, {title}", "own (joint)"))
        rows.append(baseline.row(f"  baseline: cv2.inpaint per image, {title}", "perfect"))
    return rows


def unblend_true(case: Case, colour: NDArray[np.float32]) -> U8:
    """What a perfect estimate of the overlay gives: un-blend where alpha < 0.9 with the
    true alpha and colour, inpaint (Telea) where the mark is opaque."""
    alpha = case.coverage[:, :, None]
    keep = np.maximum(1 - alpha, 0.1)
    restored = (case.marked.astype(np.float32) - alpha * colour) / keep
    out = np.clip(restored + 0.5, 0, 255).astype(np.uint8)
    opaque = np.where(case.coverage >= 0.9, np.uint8(255), np.uint8(0))
    out = np.where(case.truth[:, :, None], out, case.marked)
    if opaque.any():
        out = np.asarray(cv2.inpaint(out, opaque, 3, cv2.INPAINT_TELEA), np.uint8)
    return out


@dataclass
class Family:
    """Scores of one family, one Scores per column group."""

    rows: dict[str, Scores] = field(default_factory=dict)
    misses: dict[str, int] = field(default_factory=dict)
    changed: list[float] = field(default_factory=list)  # clean photos, auto: changed pixels
    changed_batch: list[float] = field(default_factory=list)  # clean photos, in batches
    precision: list[float] = field(default_factory=list)

    def scores(self, key: str) -> Scores:
        return self.rows.setdefault(key, Scores())


def auto_once(case: Case) -> tuple[U8, NDArray[np.bool_], float] | None:
    """remove_watermark on ``case``: (result, its mask, seconds), or None (not found)."""
    data = png(case.marked)
    try:
        (result, mask), seconds = timed(partial(remove_watermark, data, max_pixels=MAX_PIXELS))
    except ImageError as error:
        if error.code != "no_watermark_found":
            raise
        return None
    found = np.asarray(Image.open(io.BytesIO(mask.data))) > 0
    return decoded(result.data)[:, :, :3], found, seconds


def family_scores(family: str, count: int, batches: Sequence[int]) -> Family:
    scores = Family()
    # Every photo of the set for the false-positive count: it is cheap (mostly refusals).
    for case in family_cases(family, len(FAMILY_PHOTOS) if family == "clean" else count):
        if family == "clean":
            outcome = auto_once(case)
            changed = 0 if outcome is None else int((outcome[0] != case.marked).any(axis=2).sum())
            scores.changed.append(changed)
            continue
        scores.scores("input").add(case.marked, case, 0.0)
        outcome = auto_once(case)
        if outcome is None:
            scores.misses["auto"] = scores.misses.get("auto", 0) + 1
            scores.scores("auto").add(case.marked, case, 0.0, np.zeros_like(case.truth))
            scores.precision.append(1.0)
        else:
            out, found, seconds = outcome
            scores.scores("auto").add(out, case, seconds, found)
            scores.precision.append(precision(found, case.truth))
        result, seconds = timed(partial(inpaint, case.marked, case.mask, "best"))
        scores.scores("best").add(np.asarray(result, np.uint8), case, seconds)
        variant = int(case.name.rsplit(family, 1)[1])
        colour = overlay(family, SIZE, variant).colour
        scores.scores("unblend").add(unblend_true(case, colour), case, 0.0)
    for size in batches:
        for first in range(0, 10, size) if family == "clean" else (0,):
            cases = family_batch(family, size, variant=1, first=first)
            key = f"batch{size}"
            for case in cases:
                if family != "clean":
                    scores.scores(f"input{size}").add(case.marked, case, 0.0)
            data = [png(case.marked) for case in cases]
            try:
                (results, mask), seconds = timed(
                    partial(remove_shared_watermark, data, max_pixels=MAX_PIXELS)
                )
            except ImageError as error:
                if error.code != "images_too_different":
                    raise
                scores.misses[key] = scores.misses.get(key, 0) + 1
                for case in cases:
                    if family == "clean":
                        scores.changed_batch.append(0)
                    else:
                        scores.scores(key).add(case.marked, case, 0.0)
                continue
            found = np.asarray(Image.open(io.BytesIO(mask.data))) > 0
            for case, encoded in zip(cases, results, strict=True):
                out = decoded(encoded.data)[:, :, :3]
                if family == "clean":
                    scores.changed_batch.append(int((out != case.marked).any(axis=2).sum()))
                else:
                    scores.scores(key).add(out, case, seconds / len(cases), found)
    return scores


def family_rows(
    count: int, batches: Sequence[int], families: Sequence[str] = FAMILIES
) -> tuple[list[list[str]], list[str]]:
    """One row per family and method; and one line per family about clean photos."""
    rows: list[list[str]] = []
    notes: list[str] = []
    labels = {
        "input": "watermarked input",
        "auto": "remove_watermark auto (own mask)",
        "best": "erase best, true mask",
        "unblend": "un-blend, true alpha and colour",
    }
    for family in families:
        scores = family_scores(family, count, batches)
        if family == "clean":
            for label, changed in (("auto", scores.changed), ("batch", scores.changed_batch)):
                if not changed:
                    continue
                notes.append(
                    f"clean photos, {label}: {sum(1 for c in changed if c)} of {len(changed)} "
                    f"results changed, {statistics.fmean(changed):.0f} changed pixels on average"
                )
            continue
        for key, score in scores.rows.items():
            if key.startswith("input") and key != "input":
                continue
            label = labels.get(key, f"remove-batch of {key[5:]}")
            if key.startswith("batch"):
                before = statistics.fmean(scores.rows[f"input{key[5:]}"].psnr)
                label += f" (its input: {before:.2f} dB)"
            missed = scores.misses.get(key, 0)
            if missed:
                label += f" ({missed} not found)"
            row = score.row(label, "")
            if key == "auto" and scores.precision:
                row[4] = f"{statistics.fmean(scores.precision):.3f}"
            elif key.startswith("batch") and score.iou:
                row[4] = "—"
            rows.append([family, *row[:1], *row[2:]])
    return rows, notes


def background_rows() -> list[list[str]]:
    model = str(u2netp_model())
    rows = []
    for method in ("grabcut", "model"):
        ious, leaks, speeds = [], [], []
        for _name, image, alpha in composites():
            data = png(image)
            found, seconds = cut_alpha(data, method, model)
            truth = alpha > 0.5
            ious.append(float(((found > 127) & truth).sum() / ((found > 127) | truth).sum()))
            leaks.append(float(found[alpha < 0.01].mean()))
            speeds.append(seconds * 1000 / (image.shape[0] * image.shape[1] / 1e6))
        label = (
            "remove_background grabcut"
            if method == "grabcut"
            else "remove_background model (u2netp)"
        )
        rows.append(
            [
                label,
                f"{statistics.fmean(ious):.3f}",
                f"{statistics.fmean(leaks):.1f}",
                f"{statistics.fmean(speeds):.0f}",
            ]
        )
    return rows


def cut_alpha(data: bytes, method: CutMethod, model: str) -> tuple[U8, float]:
    """`remove_background` with no hint: the cut's alpha, and the seconds it took."""
    result, seconds = timed(
        partial(
            remove_background,
            data,
            method=method,
            rect=None,
            hint_mask_png=None,
            model_path=model,
            output_format="png",
            background=None,
            max_pixels=MAX_PIXELS,
        )
    )
    return decoded(result.data)[:, :, 3], seconds


def cutout_rows() -> list[list[str]]:
    """Real photos cut by the frame (``CUTOUTS``): the parts of the subject kept (box mean
    alpha > 200), the alpha left on background boxes, and the IoU of alpha > 127 with the
    u2netp model's cut (the reference: the photos have no true alpha)."""
    model = str(u2netp_model())
    rows = []
    for cutout in CUTOUTS:
        data = png(photo(cutout.name, cutout.size))
        alphas: dict[str, U8] = {}
        for method in ("model", "grabcut"):  # the model's cut first: it is the reference
            alpha, seconds = cut_alpha(data, method, model)
            alphas[method] = alpha
            kept = [
                name
                for name, (x0, y0, x1, y1) in cutout.keep.items()
                if float(alpha[y0:y1, x0:x1].mean()) > 200
            ]
            left = [float(alpha[y0:y1, x0:x1].mean()) for x0, y0, x1, y1 in cutout.drop.values()]
            found, reference = alpha > 127, alphas["model"] > 127
            agreement = float((found & reference).sum() / max(1, (found | reference).sum()))
            megapixels = cutout.size[0] * cutout.size[1] / 1e6
            rows.append(
                [
                    f"{cutout.name}, {method}",
                    f"{len(kept)}/{len(cutout.keep)} ({', '.join(kept) or 'none'})",
                    f"{statistics.fmean(left):.1f}",
                    "reference" if method == "model" else f"{agreement:.3f}",
                    f"{seconds * 1000 / megapixels:.0f}",
                ]
            )
    return rows


def crop_speed_rows() -> list[list[str]]:
    """One line of text on a 12 MP photo: the whole image vs padded crops."""
    size = (4000, 3000)
    clean = photo("astronaut", size)
    coverage = text_coverage(size, "(c) PixErase 2026", (300, 2500), "dejavu-bold", 160)
    marked = blend(clean, coverage, (255, 255, 255), 0.7)
    mask = np.where(coverage > 0, np.uint8(255), np.uint8(0))
    rows = []
    runs: dict[str, list[float]] = {"whole": [], "telea": [], "best": []}
    outs: dict[str, U8] = {}
    for _ in range(3):
        out, seconds = timed(lambda: cv2.inpaint(marked, mask, 3, cv2.INPAINT_TELEA))
        runs["whole"].append(seconds)
        outs["whole"] = np.asarray(out, np.uint8)
        result, seconds = timed(lambda: inpaint(marked, mask, "telea"))
        runs["telea"].append(seconds)
        outs["telea"] = np.asarray(result, np.uint8)
    result, seconds = timed(lambda: inpaint(marked, mask, "best"))
    runs["best"].append(seconds)
    same = np.array_equal(outs["whole"], outs["telea"])
    whole = statistics.median(runs["whole"]) * 1000
    masked = np.count_nonzero(mask) / 1e6
    for key, label in (
        ("whole", "cv2.inpaint Telea, whole image (baseline)"),
        ("telea", f"erase telea, padded crops (identical pixels: {same})"),
        ("best", "erase best, padded crops"),
    ):
        ms = statistics.median(runs[key]) * 1000
        label += f"; {ms / masked:.0f} ms per masked MP ({masked:.2f} MP masked)"
        rows.append([label, f"{ms:.0f}", f"{whole / ms:.1f}x" if key != "best" else "—"])
    return rows


def auto_speed_rows() -> list[list[str]]:
    """remove_watermark on a 12 MP photo, end to end, for three kinds of mark."""
    size = (4000, 3000)
    rows = []
    for family, name in (("shadowed", "coffee"), ("tiled", "chelsea"), ("ring_logo", "coffee")):
        marked = overlay(family, size, 0).over(photo(name, size))
        data = png(marked)
        runs = []
        for _ in range(2):
            _, seconds = timed(partial(remove_watermark, data, max_pixels=MAX_PIXELS))
            runs.append(seconds)
        ms = min(runs) * 1000
        rows.append([f"remove_watermark auto, 12 MP PNG, {family} on {name}", f"{ms:.0f}", "—"])
    return rows


def side_by_side(folder: Path) -> None:
    """Small PNGs for the docs: per family, the marked input, remove_watermark, a batch
    of 5 (the same picture), and the clean original, cropped around the mark; panels at
    most 320 x 150 px."""
    folder.mkdir(parents=True, exist_ok=True)
    for family in ("shadowed", "tiled", "ring_logo", "date_stamp"):
        cases = family_batch(family, 5, variant=1)
        case = cases[0]
        outcome = auto_once(case)
        auto = case.marked if outcome is None else outcome[0]
        results, _ = remove_shared_watermark([png(c.marked) for c in cases], max_pixels=MAX_PIXELS)
        batch = decoded(results[0].data)[:, :, :3]
        ys, xs = np.nonzero(case.truth)
        y0, y1 = max(0, int(ys.min()) - 10), int(ys.max()) + 11
        x0, x1 = max(0, int(xs.min()) - 10), int(xs.max()) + 11
        scale = min(1.0, 320 / (x1 - x0), 150 / (y1 - y0))
        panel = (round((x1 - x0) * scale), round((y1 - y0) * scale))
        row = [case.marked, auto, batch, case.clean]
        small = [
            cv2.resize(image[y0:y1, x0:x1], panel, interpolation=cv2.INTER_AREA) for image in row
        ]
        gap = np.full((panel[1], 4, 3), 255, dtype=np.uint8)
        joined = np.hstack([small[0], gap, small[1], gap, small[2], gap, small[3]])
        cv2.imwrite(str(folder / f"erase-{family}.png"), joined)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer cases, batches of 3 only")
    parser.add_argument(
        "--classic", action="store_true", help="also the first set (text and logo cases)"
    )
    parser.add_argument("--families-only", action="store_true", help="skip the other sections")
    parser.add_argument(
        "--family",
        action="append",
        choices=FAMILIES,
        help="only this family (repeatable); implies --families-only",
    )
    parser.add_argument(
        "--pictures", type=Path, help="only write the side-by-side PNGs into this folder"
    )
    args = parser.parse_args(argv)
    if args.pictures is not None:
        side_by_side(args.pictures)
        return
    set_threads(THREAD_MODES[0])  # one thread: the worker runs one process per core
    began = time.perf_counter()
    print(f"# Erase quality ({versions()}; {load_average()}; one thread)\n")
    count, batches = (2, (3,)) if args.quick else (4, (3, 5, 10))
    print(
        f"Realistic families: {count} photos each at {SIZE[0]}x{SIZE[1]} (fonts, sizes, "
        "colours, opacities and places vary by photo); batches share one mark.\n"
    )
    headers = [
        "family",
        "method",
        "PSNR (mark)",
        "SSIM (mark)",
        "mask precision",
        "mask recall",
        "ms/MP",
    ]
    rows, notes = family_rows(count, batches, args.family or FAMILIES)
    print(markdown_table(headers, rows))
    print()
    for note in notes:
        print(f"- {note}")
    print()
    if args.families_only or args.family:
        print(f"\n(total {time.perf_counter() - began:.0f} s)")
        return
    if args.classic:
        texts, logos = text_cases(), logo_cases()
        if args.quick:
            texts, logos = texts[::3], logos[::3]
        print(f"First set: {len(texts)} text and {len(logos)} logo cases.\n")
        headers = [
            "method",
            "mask",
            "PSNR (region)",
            "SSIM (region)",
            "mask IoU",
            "mask recall",
            "ms/MP",
        ]
        classic = inpainting_rows([*texts, *logos])
        classic.append(auto_rows(texts, "remove_watermark auto, text"))
        classic.append(auto_rows(logos, "remove_watermark auto, logos (no hint)"))
        classic += batch_rows(5)
        classic += batch_rows(2)[2:4]  # opacity 0.6 only
        print(markdown_table(headers, classic))
        print()
    print(
        markdown_table(
            ["background", "alpha IoU", "alpha left on background (0-255)", "ms/MP"],
            background_rows(),
        )
    )
    print()
    print(
        markdown_table(
            ["photo, method", "parts kept", "alpha on background", "IoU with model", "ms/MP"],
            cutout_rows(),
        )
    )
    print()
    speed = [*crop_speed_rows(), *auto_speed_rows()]
    print(markdown_table(["12 MP photo", "ms", "vs whole image"], speed))
    print(f"\n(total {time.perf_counter() - began:.0f} s)")


if __name__ == "__main__":
    main()
