"""remove_background: GrabCut and a real u2netp ONNX model on synthetic composites and
on real photos cut by the frame (scikit-image's astronaut and cat), hint masks, output
formats and colours, and the model configuration errors."""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import cv2
import numpy as np
import pytest
from bench.quality_set import CUTOUTS, Cutout
from PIL import Image

from pix_erase.processing import background_model as background_module
from pix_erase.processing.background import remove_background
from pix_erase.processing.errors import ImageError

from .erase_samples import code, composite, decoded, iou, jpeg, photo, png, u2netp_model


@pytest.fixture(scope="session")
def u2netp() -> Path:
    return u2netp_model()


def cut(data: bytes, **params: object) -> tuple[np.ndarray, str]:
    options: dict[str, object] = {
        "method": "grabcut",
        "rect": None,
        "hint_mask_png": None,
        "model_path": None,
        "output_format": None,
        "background": None,
        "max_pixels": 10**8,
    }
    options.update(params)
    result = remove_background(data, **options)  # type: ignore[arg-type]
    image = Image.open(io.BytesIO(result.data))
    assert (image.width, image.height) == (result.width, result.height)
    return np.asarray(image.convert("RGBA")), result.format


def test_grabcut_cuts_the_subject_out_of_a_plain_background() -> None:
    image, truth = composite()
    fractions: list[float] = []
    rgba, fmt = cut(jpeg(image), progress=fractions.append)
    assert fmt == "png"
    alpha = rgba[:, :, 3]
    assert iou(alpha > 127, truth > 0.5) >= 0.9
    assert float(alpha[truth < 0.01].mean()) < 10  # the plain background is transparent
    assert float(alpha[truth > 0.99].mean()) > 240  # the subject is opaque
    # Colours are kept where the subject is.
    subject = truth > 0.99
    expected = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)[subject].astype(int)
    assert np.abs(rgba[:, :, :3][subject].astype(int) - expected).mean() < 4
    assert fractions == sorted(fractions)
    assert fractions[-1] == 1.0


def test_grabcut_at_reduced_scale_for_a_large_image_keeps_edges() -> None:
    image, truth = composite((1600, 1200))
    rgba, _ = cut(png(image))
    alpha = rgba[:, :, 3]
    assert iou(alpha > 127, truth > 0.5) >= 0.92
    # Edges follow the real edge at full resolution (guided upsampling), not blocks.
    edge = (truth > 0.05) & (truth < 0.95)
    assert float(np.abs(alpha[edge] / 255 - truth[edge]).mean()) < 0.35


def test_a_rect_seeds_grabcut() -> None:
    image, truth = composite()
    rgba, _ = cut(png(image), rect=(70, 30, 180, 180))
    assert iou(rgba[:, :, 3] > 127, truth > 0.5) >= 0.9


def test_a_hint_mask_marks_background_and_foreground() -> None:
    image, truth = composite()
    hint = np.full(truth.shape, 128, dtype=np.uint8)  # probably foreground
    hint[truth < 0.01] = 0  # surely background
    hint[truth > 0.99] = 255
    hint[:, :100] = 0  # and a strip of the subject declared background
    rgba, _ = cut(png(image), hint_mask_png=png(hint))
    alpha = rgba[:, :, 3]
    # (the matte is smoothed along the image's own edges; this cut has none, so allow
    # the filter's few pixels of reach)
    assert (alpha[:, :94] < 128).all()
    assert iou(alpha > 127, (truth > 0.5) & (np.arange(320) >= 100)[None, :]) >= 0.85


def test_jpeg_output_needs_a_background_colour() -> None:
    image, truth = composite()
    with pytest.raises(ImageError) as error:
        cut(png(image), output_format="jpeg")
    assert code(error) == "background_required"
    # The error crosses the worker's process boundary: it must survive pickling whole.
    copied = pickle.loads(pickle.dumps(error.value))  # noqa: S301 (our own bytes)
    assert (copied.code, copied.message) == ("background_required", error.value.message)
    rgba, fmt = cut(png(image), output_format="jpeg", background="#ff0000")
    assert fmt == "jpeg"
    away = truth < 0.01
    assert rgba[:, :, 0][away].mean() > 240  # the background is the red asked for
    assert rgba[:, :, 1][away].mean() < 15
    assert rgba[:, :, 2][away].mean() < 15


def test_webp_keeps_alpha() -> None:
    image, truth = composite()
    rgba, fmt = cut(png(image), output_format="webp")
    assert fmt == "webp"
    assert float(rgba[:, :, 3][truth < 0.01].mean()) < 10


def test_a_transparent_source_stays_transparent() -> None:
    image, _ = composite()
    bgra = np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2BGRA), dtype=np.uint8)
    bgra[:, :40, 3] = 0
    rgba, _ = cut(png(bgra))
    assert (rgba[:, :40, 3] == 0).all()


def test_model_without_a_path_is_a_clear_error() -> None:
    image, _ = composite()
    with pytest.raises(ImageError) as error:
        cut(png(image), method="model", model_path=None)
    assert code(error) == "model_not_configured"
    assert "PIX_ERASE_BG_MODEL_PATH" in error.value.message


def test_a_missing_or_broken_model_is_unavailable(tmp_path: Path) -> None:
    image, _ = composite()
    with pytest.raises(ImageError) as missing:
        cut(png(image), method="model", model_path=str(tmp_path / "nope.onnx"))
    assert code(missing) == "model_unavailable"
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not an onnx model")
    with pytest.raises(ImageError) as bad:
        cut(png(image), method="model", model_path=str(broken))
    assert code(bad) == "model_unavailable"


def test_the_u2netp_model_cuts_the_subject_out(u2netp: Path) -> None:
    image, truth = composite()
    rgba, fmt = cut(jpeg(image), method="model", model_path=str(u2netp))
    assert fmt == "png"
    alpha = rgba[:, :, 3]
    assert iou(alpha > 127, truth > 0.5) >= 0.85
    assert float(alpha[truth < 0.01].mean()) < 20


def test_the_model_session_is_loaded_once_per_process(u2netp: Path) -> None:
    background_module._sessions.clear()
    image, _ = composite((160, 120))
    cut(png(image), method="model", model_path=str(u2netp))
    first = dict(background_module._sessions)
    cut(png(image), method="model", model_path=str(u2netp))
    assert len(first) == 1
    assert background_module._sessions == first
    session = next(iter(first.values()))
    assert session.get_session_options().intra_op_num_threads == 1


def test_result_bytes_decode_to_the_source_size() -> None:
    image, _ = composite((200, 150))
    data = png(image)
    result = remove_background(
        data,
        method="grabcut",
        rect=None,
        hint_mask_png=None,
        model_path=None,
        output_format="png",
        background=None,
        max_pixels=10**8,
    )
    assert decoded(result.data).shape == (150, 200, 4)


@pytest.mark.parametrize("background_rgb", [(35, 30, 30), (70, 150, 220)])
def test_a_dark_part_inside_the_subject_the_background_colour_is_kept(
    background_rgb: tuple[int, int, int],
) -> None:
    image, truth = composite(background_rgb=background_rgb)
    collar = np.zeros(truth.shape, dtype=np.uint8)
    cv2.ellipse(collar, (160, 150), (40, 14), 0, 0, 360, 255, -1)
    inside = collar > 0
    image[inside] = background_rgb[::-1]  # a part of the subject as dark as the background
    rgba, _ = cut(png(image))
    alpha = rgba[:, :, 3]
    assert float(alpha[inside].mean()) > 200
    assert iou(alpha > 127, truth > 0.5) >= 0.95
    assert float(alpha[truth < 0.01].mean()) < 10


def named(name: str) -> Cutout:
    return next(cutout for cutout in CUTOUTS if cutout.name == name)


def cutout_alpha(cutout: Cutout) -> np.ndarray:
    rgba, _ = cut(png(photo(cutout.name, cutout.size)))
    return rgba[:, :, 3]


def box_mean(alpha: np.ndarray, box: tuple[int, int, int, int]) -> float:
    x0, y0, x1, y1 = box
    return float(alpha[y0:y1, x0:x1].mean())


def assert_parts(alpha: np.ndarray, cutout: Cutout) -> None:
    """The subject's parts kept (box mean alpha > 200), the background's dropped (< 30)."""
    for part, box in cutout.keep.items():
        assert box_mean(alpha, box) > 200, part
    for part, box in cutout.drop.items():
        assert box_mean(alpha, box) < 30, part


def test_grabcut_keeps_the_astronauts_dark_collar_helmet_and_patches() -> None:
    astronaut = named("astronaut")
    alpha = cutout_alpha(astronaut)
    assert_parts(alpha, astronaut)


def test_grabcut_keeps_the_cats_ears_that_the_frame_cuts(u2netp: Path) -> None:
    chelsea = named("chelsea")
    alpha = cutout_alpha(chelsea)
    assert_parts(alpha, chelsea)
    # The cat fills the frame on the left and at the bottom; the u2netp model's cut is the
    # reference for the whole subject (a margin taken as background gives 0.52).
    photo_png = png(photo(chelsea.name, chelsea.size))
    reference, _ = cut(photo_png, method="model", model_path=str(u2netp))
    assert iou(alpha > 127, reference[:, :, 3] > 127) >= 0.8


@pytest.mark.parametrize("name", ["coffee", "camera"])
def test_grabcut_leaves_a_detailed_background_out(name: str, u2netp: Path) -> None:
    # Wood grain and grass are more detailed than the cup or the coat: the margin's detail
    # must not pull them in.
    cutout = named(name)
    alpha = cutout_alpha(cutout)
    assert_parts(alpha, cutout)
    photo_png = png(photo(cutout.name, cutout.size))
    reference, _ = cut(photo_png, method="model", model_path=str(u2netp))
    assert iou(alpha > 127, reference[:, :, 3] > 127) >= 0.85


def test_grabcut_gives_the_same_cut_whatever_ran_before() -> None:
    data = png(photo("astronaut", (256, 256)))
    first, _ = cut(data)
    noise = np.zeros((64, 64), dtype=np.float32)
    cv2.randu(noise, np.zeros(1), np.ones(1))  # moves OpenCV's generator
    second, _ = cut(data)
    assert np.array_equal(first, second)


def test_grabcut_edge_is_a_soft_matte_that_follows_the_true_alpha() -> None:
    image, truth = composite()
    rgba, _ = cut(png(image))
    alpha = rgba[:, :, 3].astype(np.float64) / 255
    edge = (truth > 0.05) & (truth < 0.95)
    assert float(np.abs(alpha[edge] - truth[edge]).mean()) < 0.16
    # intermediate values where the true alpha is intermediate, not a hard step
    assert float(((alpha[edge] > 0.1) & (alpha[edge] < 0.9)).mean()) > 0.5
