"""HTTP routes of images and their operations."""

import uuid
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status
from fastapi.responses import StreamingResponse
from starlette.datastructures import UploadFile

from pix_erase.dependencies import ServicesDep, UoW
from pix_erase.errors import ERROR_RESPONSES, AppError, ErrorBody
from pix_erase.images.operations.watermark_batch import BatchWatermarkRequest
from pix_erase.images.schemas import ImageOut, OperationRequest, TaskAccepted
from pix_erase.images.service import ImageService
from pix_erase.pagination import Page, PageQuery
from pix_erase.users.auth import CurrentUser

router = APIRouter(prefix="/api/v1/images", tags=["images"], responses=ERROR_RESPONSES)
watermarks_router = APIRouter(
    prefix="/api/v1/watermarks", tags=["images"], responses=ERROR_RESPONSES
)

# Multipart framing around the file: boundaries and part headers.
MULTIPART_OVERHEAD = 64 * 1024


def _service(uow: UoW, services: ServicesDep) -> ImageService:
    return ImageService(uow, services)


Images = Annotated[ImageService, Depends(_service)]

UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            }
        },
    }
}


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    openapi_extra=UPLOAD_BODY,
    responses={
        413: {"model": ErrorBody, "description": "Over the byte, pixel or frame limit"},
        415: {"model": ErrorBody, "description": "Not a multipart upload"},
    },
)
async def upload_image(
    request: Request, user: CurrentUser, images: Images, services: ServicesDep
) -> ImageOut:
    """Upload one image as multipart field `file`. The content decides the format, not the name."""
    limit = services.settings.app.max_upload_bytes
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit + MULTIPART_OVERHEAD:
        raise AppError(
            "upload_too_large",
            f"The file is larger than the limit of {limit} bytes.",
            413,
            details={"max_bytes": limit},
        )
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise AppError(
            "unsupported_media_type", "Send the image as multipart/form-data, field `file`.", 415
        )
    async with request.form(max_files=1, max_fields=5) as form:
        file = form.get("file")
        if not isinstance(file, UploadFile):
            raise AppError("missing_file", "The multipart field `file` is missing.", 422)
        image = await images.upload(user, file.file, file.filename)
    return ImageOut.model_validate(image)


@router.get("")
async def list_images(user: CurrentUser, page: PageQuery, images: Images) -> Page[ImageOut]:
    items, total = await images.list(user, page.limit, page.offset)
    return Page(items=[ImageOut.model_validate(i) for i in items], total=total)


@router.get("/{image_id}")
async def get_image(image_id: uuid.UUID, user: CurrentUser, images: Images) -> ImageOut:
    return ImageOut.model_validate(await images.get_owned(user, image_id))


@router.get(
    "/{image_id}/content",
    response_class=StreamingResponse,
    responses={200: {"content": {"image/*": {}}, "description": "The image bytes"}},
)
async def get_image_content(
    image_id: uuid.UUID,
    user: CurrentUser,
    images: Images,
    if_none_match: Annotated[str | None, Header()] = None,
    download: Annotated[
        bool,
        Query(description="Answer as an attachment named after the image's file name."),
    ] = False,
) -> Response:
    image = await images.get_owned(user, image_id)
    etag = f'"{image.sha256}"'
    headers = {"ETag": etag, "Cache-Control": "private, max-age=0, must-revalidate"}
    if if_none_match and etag in {tag.strip() for tag in if_none_match.split(",")}:
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    headers["Content-Length"] = str(image.bytes)
    headers["Content-Disposition"] = (
        attachment(image.original_filename or f"{image.id}.{image.format}")
        if download
        else f'inline; filename="{image.id}.{image.format}"'
    )
    return StreamingResponse(images.content(image), media_type=image.content_type, headers=headers)


def attachment(filename: str) -> str:
    """`Content-Disposition` that saves under `filename` (RFC 6266, non-ASCII via RFC 5987)."""
    fallback = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename
    )
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


PREVIEW_SIZES = (32, 1024)


@router.get(
    "/{image_id}/preview",
    response_class=Response,
    responses={
        200: {"content": {"image/webp": {}}, "description": "A WebP thumbnail"},
        304: {"description": "Not modified (If-None-Match matched the ETag)"},
    },
)
async def get_image_preview(
    image_id: uuid.UUID,
    user: CurrentUser,
    images: Images,
    size: Annotated[
        int,
        Query(
            ge=PREVIEW_SIZES[0],
            le=PREVIEW_SIZES[1],
            description="Longest side in pixels; smaller images are not enlarged.",
        ),
    ] = 256,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """A small WebP of the image for thumbnails, so a gallery never downloads originals.

    An image never changes once stored, so its preview is cached by the browser
    (`ETag`, `Cache-Control`) and revalidates with a 304.
    """
    image = await images.get_owned(user, image_id)
    etag = f'"{image.sha256}-{size}"'
    headers = {"ETag": etag, "Cache-Control": "private, max-age=86400"}
    if if_none_match and etag in {tag.strip() for tag in if_none_match.split(",")}:
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    data = await images.preview(image, size)
    return Response(data, media_type="image/webp", headers=headers)


@router.get("/{image_id}/exif")
async def get_image_exif(image_id: uuid.UUID, user: CurrentUser, images: Images) -> dict[str, Any]:
    """EXIF tags by name (base, Exif and GPS directories); `{}` when the image has none."""
    return await images.exif(await images.get_owned(user, image_id))


@router.delete("/{image_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_image(image_id: uuid.UUID, user: CurrentUser, images: Images) -> Response:
    await images.delete(await images.get_owned(user, image_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{image_id}/operations",
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        429: {"model": ErrorBody, "description": "Too many of your tasks are queued or running"},
        503: {"model": ErrorBody, "description": "The task queue is unavailable"},
    },
)
async def submit_operation(
    image_id: uuid.UUID, body: OperationRequest, user: CurrentUser, images: Images
) -> TaskAccepted:
    """Queue one operation or a pipeline of steps; poll `GET /api/v1/tasks/{task_id}`."""
    image = await images.get_owned(user, image_id)
    task = await images.submit(user, image, body)
    return TaskAccepted(task_id=task.id)


@watermarks_router.post(
    "/remove-batch",
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        429: {"model": ErrorBody, "description": "Too many of your tasks are queued or running"},
        503: {"model": ErrorBody, "description": "The task queue is unavailable"},
    },
)
async def remove_watermark_batch(
    body: BatchWatermarkRequest, user: CurrentUser, images: Images
) -> TaskAccepted:
    """Learn the watermark 2 to 50 of your images share and remove it from each (one task).

    The task's `result.items` has one entry per image, `result.mask_image_id` the mask.
    """
    task = await images.submit_batch(user, body)
    return TaskAccepted(task_id=task.id)
