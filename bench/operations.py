"""PixErase's ``run_steps`` / ``compare_images`` against the fastest direct library call.

Every job is bytes in, bytes out, the way a user would run it: a 12 MP photo-like JPEG
(q90, with EXIF and an sRGB profile) is decoded, changed and encoded. For each operation
the same job is written directly with Pillow, OpenCV and pyvips; the fastest of those,
measured in the same run, is the denominator of the ratio. The naive Pillow one-liner is
printed for context. Runs are interleaved (A, B, C, A, B, C...) and the medians of
``--repeat`` runs are reported, with one thread and with each library's default.

    uv run python -m bench.operations [--repeat 3] [--only rotate]
"""

from __future__ import annotations

import argparse
import io
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import imagehash
import numpy as np
import pyvips
from cv2.typing import MatLike
from PIL import Image
from skimage.metrics import structural_similarity

from bench.common import (
    THREAD_MODES,
    Samples,
    encode_jpeg,
    fmt_ms,
    interleaved,
    load_average,
    markdown_table,
    run_peak_rss_mb,
    sample_jpeg,
    sample_pixels,
    set_threads,
    versions,
)
from pix_erase.processing import Convert, Grayscale, Resize, Rotate, Step, compare_images, run_steps

MAX_PIXELS = 100_000_000
Job = Callable[[], object]
WHITE = (255, 255, 255)


@dataclass(frozen=True)
class Case:
    name: str
    pixerase: Job
    direct: dict[str, Job]  # library (and trick) -> job; the naive one competes too
    naive: Job | None


# --- direct building blocks, written the way the libraries' docs show them -----------


def cv2_decode(data: bytes, flag: int = cv2.IMREAD_COLOR) -> MatLike:
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), flag)
    assert image is not None
    return image


def cv2_encode(ext: str, image: MatLike, params: list[int]) -> bytes:
    ok, buffer = cv2.imencode(ext, image, params)
    assert ok
    return buffer.tobytes()


def cv2_jpeg(image: MatLike) -> bytes:
    return cv2_encode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])


def cv2_rotate_expand(image: MatLike, angle: float) -> MatLike:
    """The usual OpenCV recipe: rotation matrix, grow the canvas, shift the centre."""
    height, width = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
    cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
    new_w, new_h = int(height * sin + width * cos + 0.5), int(height * cos + width * sin + 0.5)
    matrix[0, 2] += new_w / 2 - width / 2
    matrix[1, 2] += new_h / 2 - height / 2
    return cv2.warpAffine(image, matrix, (new_w, new_h), flags=cv2.INTER_LINEAR, borderValue=WHITE)


def pil_open(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


def pil_save(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def pil_draft(data: bytes, mode: str, size: tuple[int, int]) -> Image.Image:
    """Pillow's shrink-on-load (and gray-only decode for mode "L") for JPEG."""
    image = pil_open(data)
    image.draft(mode, size)
    return image


def vips_open(data: bytes, access: str = "sequential") -> pyvips.Image:
    # Sequential access streams the decode through the pipeline; rotations need random.
    return pyvips.Image.new_from_buffer(data, "", access=access)


def vips_jpeg(image: pyvips.Image) -> bytes:
    # libvips turns chroma subsampling off at Q >= 90; the others keep 4:2:0 (same size)
    return bytes(image.jpegsave_buffer(Q=90, subsample_mode="on"))


def run(data: bytes, *steps: Step) -> Job:
    return lambda: run_steps(data, list(steps), max_pixels=MAX_PIXELS).data


# --- the cases ------------------------------------------------------------------------


def build_cases(photo: bytes, other: bytes, small: bytes) -> list[Case]:
    """All cases for a photo (and a second version of it) and a ~1 MP image to enlarge."""
    width, height = pil_open(photo).size
    half = (width // 2, height // 2)  # 1/4 of the area
    sw, sh = pil_open(small).size
    double = (sw * 2, sh * 2)
    bilinear = pyvips.Interpolate.new("bilinear")
    return [
        Case(
            # No step: what every 12 MP JPEG-to-JPEG job pays at least (decode + encode).
            "no step, JPEG → JPEG (codec floor)",
            run(photo),
            {
                "cv2": lambda: cv2_jpeg(cv2_decode(photo)),
                "pyvips": lambda: vips_jpeg(vips_open(photo)),
            },
            lambda: pil_save(pil_open(photo), "JPEG", quality=90),
        ),
        Case(
            "rotate 17° expand → JPEG",
            run(photo, Rotate(type="rotate", angle=17)),
            {
                "cv2": lambda: cv2_jpeg(cv2_rotate_expand(cv2_decode(photo), 17)),
                # libvips turns clockwise
                "pyvips": lambda: vips_jpeg(
                    vips_open(photo, "random").rotate(
                        -17, interpolate=bilinear, background=list(WHITE)
                    )
                ),
            },
            lambda: pil_save(
                pil_open(photo).rotate(17, Image.Resampling.BILINEAR, True, fillcolor=WHITE),
                "JPEG",
                quality=90,
            ),
        ),
        Case(
            "rotate 90 → JPEG",
            run(photo, Rotate(type="rotate", angle=90)),
            {
                "cv2": lambda: cv2_jpeg(
                    cv2.rotate(cv2_decode(photo), cv2.ROTATE_90_COUNTERCLOCKWISE)
                ),
                "pyvips": lambda: vips_jpeg(vips_open(photo, "random").rot270()),
            },
            lambda: pil_save(pil_open(photo).rotate(90, expand=True), "JPEG", quality=90),
        ),
        Case(
            "grayscale → JPEG",
            run(photo, Grayscale(type="grayscale")),
            {
                # libjpeg decodes only the luma plane: no chroma upsampling, no colour math
                "cv2 IMREAD_GRAYSCALE": lambda: cv2_jpeg(cv2_decode(photo, cv2.IMREAD_GRAYSCALE)),
                "Pillow draft('L')": lambda: pil_save(
                    pil_draft(photo, "L", (width, height)), "JPEG", quality=90
                ),
                "pyvips": lambda: vips_jpeg(vips_open(photo).colourspace("b-w")),
            },
            lambda: pil_save(pil_open(photo).convert("L"), "JPEG", quality=90),
        ),
        Case(
            f"resize to {half[0]}x{half[1]} → JPEG",
            run(photo, Resize(type="resize", width=half[0], height=half[1])),
            {
                "cv2 IMREAD_REDUCED_COLOR_2": lambda: cv2_jpeg(
                    cv2.resize(
                        cv2_decode(photo, cv2.IMREAD_REDUCED_COLOR_2),
                        half,
                        interpolation=cv2.INTER_AREA,
                    )
                ),
                "Pillow draft": lambda: pil_save(
                    pil_draft(photo, "RGB", half).resize(half, Image.Resampling.LANCZOS),
                    "JPEG",
                    quality=90,
                ),
                "pyvips thumbnail": lambda: vips_jpeg(
                    pyvips.Image.thumbnail_buffer(photo, half[0], height=half[1])
                ),
            },
            lambda: pil_save(
                pil_open(photo).resize(half, Image.Resampling.LANCZOS), "JPEG", quality=90
            ),
        ),
        Case(
            f"resize x2 ({sw}x{sh} → {double[0]}x{double[1]}) → JPEG",
            run(small, Resize(type="resize", scale=2)),
            {
                "cv2": lambda: cv2_jpeg(
                    cv2.resize(cv2_decode(small), double, interpolation=cv2.INTER_LANCZOS4)
                ),
                "pyvips": lambda: vips_jpeg(vips_open(small).resize(2, kernel="lanczos3")),
            },
            lambda: pil_save(
                pil_open(small).resize(double, Image.Resampling.LANCZOS), "JPEG", quality=90
            ),
        ),
        Case(
            "convert → PNG",
            run(photo, Convert(type="convert", format="png")),
            {
                "cv2": lambda: cv2_encode(".png", cv2_decode(photo), []),
                # filter="all" is what makes libvips' files as small as Pillow's
                "pyvips": lambda: bytes(vips_open(photo).pngsave_buffer(filter="all")),
            },
            lambda: pil_save(pil_open(photo), "PNG"),
        ),
        Case(
            "convert → WebP q80",
            run(photo, Convert(type="convert", format="webp", quality=80)),
            {
                "cv2": lambda: cv2_encode(
                    ".webp", cv2_decode(photo), [cv2.IMWRITE_WEBP_QUALITY, 80]
                ),
                "pyvips": lambda: bytes(vips_open(photo).webpsave_buffer(Q=80)),
            },
            lambda: pil_save(pil_open(photo), "WEBP", quality=80),
        ),
        Case(
            "convert → AVIF q60",
            run(photo, Convert(type="convert", format="avif", quality=60)),
            {
                "cv2 speed 10": lambda: cv2_encode(
                    ".avif",
                    cv2_decode(photo),
                    [cv2.IMWRITE_AVIF_QUALITY, 60, cv2.IMWRITE_AVIF_SPEED, 10],
                ),
                "Pillow speed 10": lambda: pil_save(pil_open(photo), "AVIF", quality=60, speed=10),
                "pyvips effort 0": lambda: bytes(
                    vips_open(photo).heifsave_buffer(compression="av1", Q=60, effort=0)
                ),
            },
            lambda: pil_save(pil_open(photo), "AVIF", quality=60),
        ),
        Case(
            "compare (PSNR + SSIM + pHash)",
            lambda: compare_images(photo, other, max_pixels=MAX_PIXELS),
            {"cv2 + skimage": lambda: direct_compare(photo, other)},
            None,  # the naive way is the same skimage SSIM, which is nearly all of the time
        ),
    ]


def direct_compare(first: bytes, second: bytes) -> tuple[float, float, int]:
    """cv2 decode and PSNR, scikit-image SSIM with the parameters PixErase reproduces."""
    a, b = cv2_decode(first), cv2_decode(second)
    psnr = float(cv2.PSNR(a, b))
    ssim = float(
        structural_similarity(  # type: ignore[no-untyped-call]
            a,
            b,
            channel_axis=2,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
            data_range=255,
        )
    )
    hashes = [imagehash.phash(Image.fromarray(cv2.cvtColor(x, cv2.COLOR_BGR2RGB))) for x in (a, b)]
    return psnr, ssim, int(hashes[0] - hashes[1])


def describe(result: object) -> str:
    """Output size and dimensions, so that unequal outputs are visible next to the times."""
    if isinstance(result, bytes):
        width, height = pil_open(result).size
        return f"{len(result) / 1e6:.2f} MB {width}x{height}"
    if isinstance(result, tuple):
        return f"psnr {result[0]:.2f} ssim {result[1]:.4f} phash Δ {result[2]}"
    psnr, ssim, dist = (getattr(result, n) for n in ("psnr", "ssim", "phash_distance"))
    return f"psnr {psnr:.2f} ssim {ssim:.4f} phash Δ {dist}"


def bench_case(case: Case, repeat: int) -> tuple[list[str], str]:
    labels = ["PixErase", *case.direct, *(["Pillow naive"] if case.naive else [])]
    jobs = [case.pixerase, *case.direct.values(), *([case.naive] if case.naive else [])]
    samples = dict(zip(labels, interleaved(jobs, repeat), strict=True))
    best = min(labels[1:], key=lambda label: samples[label].median())
    ours, theirs = samples["PixErase"], samples[best]
    naive = samples.get("Pillow naive")
    row = [
        case.name,
        fmt_ms(ours.median()),
        f"{fmt_ms(theirs.median())} ({best})",
        f"{ours.median() / theirs.median():.2f}",
        fmt_ms(naive.median() if naive else None),
        f"{_mb(ours)} / {_mb(theirs)}",
    ]
    details = "; ".join(f"{label} {_detail(samples[label])}" for label in labels)
    return row, f"  {case.name}: {details}"


def _mb(samples: Samples) -> str:
    peak = samples.peak()
    return "—" if peak is None else f"{peak:.0f}"


def _detail(samples: Samples) -> str:
    # The fastest run beside the median: on a shared machine, a median far above its
    # minimum means another process took the core during some runs.
    low = fmt_ms(min(samples.ms))
    return f"{fmt_ms(samples.median())} ms (min {low}) [{describe(samples.result)}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per job (median)")
    parser.add_argument("--only", default="", help="run only cases whose name contains this")
    args = parser.parse_args()

    # libvips caches operation results; a one-off job from a user never benefits from it.
    pyvips.cache_set_max(0)
    print(f"{versions()}; {load_average()} at start")
    pixels = sample_pixels(4000, 3000)
    photo, other = encode_jpeg(pixels, 90), encode_jpeg(pixels, 70)
    small = sample_jpeg(1152, 864, seed=7)
    print(f"sample: 4000x3000 JPEG q90 {len(photo) / 1e6:.2f} MB; second version q70")

    # Warm-up on thumbnails: first calls load codecs and start thread pools.
    for case in build_cases(*(sample_jpeg(64, 48, seed=s) for s in (1, 2, 3))):
        for job in (case.pixerase, *case.direct.values(), case.naive):
            if job is not None:
                job()

    cases = [c for c in build_cases(photo, other, small) if args.only in c.name]
    headers = ["operation", "PixErase ms", "best direct ms", "ratio", "naive Pillow ms"]
    headers.append("peak MB PixErase / direct")
    for mode in THREAD_MODES:
        set_threads(mode)
        rows, details = [], []
        for case in cases:
            row, detail = bench_case(case, args.repeat)
            rows.append(row)
            details.append(detail)
        print(f"\n### {mode.label}, median of {args.repeat} interleaved runs\n")
        print(markdown_table(headers, rows))
        print("\nall candidates (median ms, fastest run, output):")
        print("\n".join(details))
    print(f"\npeak RSS of the whole run (getrusage): {run_peak_rss_mb():.0f} MB")
    print(f"{load_average()} at the end")


if __name__ == "__main__":
    main()
