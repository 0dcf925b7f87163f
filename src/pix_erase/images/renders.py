"""Renders: cheap transforms of an image (fit into a box, rotate, gray, re-encode) made
synchronously, cached in storage by their parameters, and signed URLs that show one
render without a session (for an `<img>` on another site).

A render is what thumbor or imgproxy answer to one GET: the request names the whole job,
so the answer is cacheable by the browser (`ETag`) and by PixErase (the stored bytes).
Its work runs in the quick process pool (with upload checks, never behind a long task),
never on the event loop.
"""

import base64
import hashlib
import hmac
import time
import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from pix_erase.container import Services
from pix_erase.errors import AppError, NotFound
from pix_erase.images.keys import render_prefix
from pix_erase.images.models import Image
from pix_erase.platform.storage import written
from pix_erase.processing import (
    Convert,
    Grayscale,
    ImageError,
    PixelStep,
    Resize,
    Rotate,
    run_steps,
)
from pix_erase.processing.formats import CONTENT_TYPES, output_format_for

MAX_SIDE = 8192
MAX_URL_SECONDS = 365 * 24 * 3600


class RenderParams(BaseModel):
    """What to make of the image; every parameter is optional."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    w: int | None = Field(None, ge=1, le=MAX_SIDE, description="Box width in pixels.")
    h: int | None = Field(None, ge=1, le=MAX_SIDE, description="Box height in pixels.")
    fit: Literal["contain", "cover", "fill"] = Field(
        "contain",
        description="contain: inside the box, never enlarged; cover: fill it and crop the "
        "centre; fill: stretch to it.",
    )
    format: Literal["jpeg", "png", "webp", "avif"] | None = Field(
        None, description="Output format; default: the source's (PNG for GIF, TIFF, BMP)."
    )
    q: int = Field(80, ge=1, le=100, description="Quality of lossy formats.")
    rotate: float = Field(
        0.0, ge=-360, le=360, allow_inf_nan=False, description="Degrees counter-clockwise."
    )
    grayscale: bool = Field(False, description="Make it gray.")

    def canonical(self) -> str:
        """One spelling per render: the cache key and the signed message."""
        values = self.model_dump(exclude_defaults=True)
        return "&".join(f"{name}={values[name]}" for name in sorted(values))


def steps_for(params: RenderParams, image: Image) -> list[PixelStep]:
    steps: list[PixelStep] = []
    if params.rotate % 360:
        steps.append(Rotate(type="rotate", angle=params.rotate))
    box = (params.w, params.h)
    fits = all(
        side is None or side >= size
        for side, size in zip(box, (image.width, image.height), strict=True)
    )
    if box != (None, None) and not (params.fit == "contain" and fits):
        steps.append(Resize(type="resize", width=params.w, height=params.h, fit=params.fit))
    if params.grayscale:
        steps.append(Grayscale(type="grayscale"))
    steps.append(
        Convert(
            type="convert", format=_format(params, image), quality=params.q, strip_metadata=True
        )
    )
    return steps


def _format(params: RenderParams, image: Image) -> Literal["jpeg", "png", "webp", "avif"]:
    if params.format is not None:
        return params.format
    fmt = output_format_for(image.format)  # type: ignore[arg-type]
    return "jpeg" if fmt == "heic" else fmt


def render_etag(image: Image, params: RenderParams) -> str:
    digest = hashlib.sha256(f"{image.sha256}\n{params.canonical()}".encode()).hexdigest()
    return digest[:32]


async def render(services: Services, image: Image, params: RenderParams) -> tuple[bytes, str]:
    """The render's bytes and content type: from the cache, or made and cached."""
    fmt = _format(params, image)
    key = f"{render_prefix(image.owner_id, image.id)}{render_etag(image, params)}.{fmt}"
    data = await services.storage.find_bytes(key)
    if data is None:
        storage, pool = services.storage, services.quick_pool
        source = storage.local_path(image.storage_key) or await storage.get_bytes(image.storage_key)
        steps, max_pixels = steps_for(params, image), services.settings.app.max_image_pixels
        # In a local directory the pool process caches the render itself (no bytes to
        # hand to a thread here); elsewhere this process stores what it got back.
        file = storage.local_file(key)
        try:
            if file is None:
                encoded = await pool.run(run_steps, source, steps, max_pixels=max_pixels)
            else:
                encoded = await pool.run(
                    written, file, run_steps, source, steps, max_pixels=max_pixels
                )
        except ImageError as exc:
            raise AppError(exc.code, exc.message, 422) from exc
        except FileNotFoundError as exc:  # deleted while it was being rendered
            raise NotFound("Image") from exc
        data = encoded.data
        if file is None:
            await storage.put_bytes(key, data, encoded.content_type)
    return data, CONTENT_TYPES[fmt]


def sign(secret: bytes, image_id: uuid.UUID, params: RenderParams, expires: int) -> str:
    message = f"{image_id}\n{params.canonical()}\n{expires}".encode()
    digest = hmac.new(secret, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def check_signature(
    secret: bytes, image_id: uuid.UUID, params: RenderParams, expires: int, signature: str
) -> None:
    expected = sign(secret, image_id, params, expires).encode()
    if not hmac.compare_digest(expected, signature.encode("utf-8", "replace")):
        raise AppError("render_url_invalid", "The signature does not match this render.", 403)
    if expires < time.time():
        raise AppError("render_url_expired", "This render URL has expired.", 403)
