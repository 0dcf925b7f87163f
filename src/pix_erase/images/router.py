"""HTTP routes of images and their operations."""

import time
import uuid
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status
from fastapi.responses import JSONResponse, StreamingResponse

from pix_erase.dependencies import ServicesDep, UoW
from pix_erase.errors import ERROR_RESPONSES, AppError, ErrorBody
from pix_erase.images.operations.watermark_batch import BatchWatermarkRequest
from pix_erase.images.renders import (
    RenderParams,
    check_signature,
    render,
    render_etag,
    sign,
)
from pix_erase.images.schemas import (
    ImageOut,
    OperationRequest,
    RenderQuery,
    RenderUrl,
    RenderUrlRequest,
    TaskAccepted,
)
from pix_erase.images.service import ImageService
from pix_erase.images.uploads import receive_file, too_large
from pix_erase.pagination import Page, PageQuery
from pix_erase.tasks.models import FINISHED
from pix_erase.tasks.schemas import TaskOut, WaitSeconds
from pix_erase.tasks.service import TaskService
from pix_erase.users.auth import CurrentUser, OptionalUser

router = APIRouter(prefix="/api/v1/images", tags=["images"], responses=ERROR_RESPONSES)
watermarks_router = APIRouter(
    prefix="/api/v1/watermarks", tags=["images"], responses=ERROR_RESPONSES
)

# Multipart framing around the file: boundaries and part headers.
MULTIPART_OVERHEAD = 64 * 1024


async def _service(uow: UoW, services: ServicesDep) -> ImageService:
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
    request: Request, user: CurrentUser, images: Images, uow: UoW, services: ServicesDep
) -> ImageOut:
    """Upload one image as multipart field `file`. The content decides the format, not the name."""
    limit = services.settings.app.max_upload_bytes
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit + MULTIPART_OVERHEAD:
        raise too_large(limit)
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        raise AppError(
            "unsupported_media_type", "Send the image as multipart/form-data, field `file`.", 415
        )
    await uow.release()  # no connection held while the body arrives
    staged = services.upload_dir / uuid.uuid4().hex
    received = await receive_file(content_type, request.stream(), staged, limit=limit)
    image = await images.upload(user, received)
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


RENDER_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"image/*": {}}, "description": "The rendered image"},
    304: {"description": "Not modified (If-None-Match matched the ETag)"},
    403: {"model": ErrorBody, "description": "A signed URL that is invalid or expired"},
}


@router.get("/{image_id}/render", response_class=Response, responses=RENDER_RESPONSES)
async def render_image(
    image_id: uuid.UUID,
    query: Annotated[RenderQuery, Query()],
    user: OptionalUser,
    images: Images,
    services: ServicesDep,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """The image fitted into `w` x `h`, rotated, gray, re-encoded: made at once, cached.

    Authorised by the session, or without one by a signed URL from `render-url`.
    Thumbnails of the page use it; `<img>` tags on other sites use signed URLs.
    """
    params = RenderParams.model_validate(query.model_dump(exclude={"exp", "sig"}))
    exp, sig = query.exp, query.sig
    if sig is not None or exp is not None:
        check_signature(services.signing_secret, image_id, params, exp or 0, sig or "")
        image = await images.get(image_id)
        cache = f"public, max-age={max(0, min(86400, (exp or 0) - int(time.time())))}"
    elif user is not None:
        image = await images.get_owned(user, image_id)
        cache = "private, max-age=86400"
    else:
        raise AppError("not_authenticated", "Log in first, or use a signed render URL.", 401)
    headers = {"ETag": f'"{render_etag(image, params)}"', "Cache-Control": cache}
    if if_none_match and headers["ETag"] in {tag.strip() for tag in if_none_match.split(",")}:
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    data, content_type = await render(services, image, params)
    return Response(data, media_type=content_type, headers=headers)


@router.post("/{image_id}/render-url")
async def render_url(
    image_id: uuid.UUID,
    body: RenderUrlRequest,
    user: CurrentUser,
    images: Images,
    services: ServicesDep,
) -> RenderUrl:
    """A signed URL for one render of your image, to embed where there is no session."""
    await images.get_owned(user, image_id)
    params = RenderParams.model_validate(body.model_dump(exclude={"expires_in"}))
    expires = int(time.time()) + body.expires_in
    query = dict(params.model_dump(exclude_defaults=True))
    query |= {"exp": expires, "sig": sign(services.signing_secret, image_id, params, expires)}
    return RenderUrl(url=f"/api/v1/images/{image_id}/render?{urlencode(query)}", expires_at=expires)


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
        200: {"model": TaskOut, "description": "The task, finished within `wait`"},
        429: {"model": ErrorBody, "description": "Too many of your tasks are queued or running"},
        503: {"model": ErrorBody, "description": "The task queue is unavailable"},
    },
)
async def submit_operation(
    image_id: uuid.UUID,
    body: OperationRequest,
    user: CurrentUser,
    images: Images,
    uow: UoW,
    services: ServicesDep,
    wait: WaitSeconds = 0,
) -> Response:
    """Queue one operation or a pipeline of steps: 202 with its `task_id` to follow at
    `GET /api/v1/tasks/{task_id}`; with `wait`, 200 and the task itself if it ends in time."""
    image = await images.get_owned(user, image_id)
    task = await images.submit(user, image, body)
    if wait > 0:
        await uow.commit()  # the task is sent to the queue once its row is committed
        done = await TaskService(uow, services).wait(task.id, user.id, wait)
        if done is not None and done.status in FINISHED:
            return JSONResponse(TaskOut.of(done).model_dump(mode="json"))
    accepted = TaskAccepted(task_id=task.id)
    return JSONResponse(accepted.model_dump(mode="json"), status_code=status.HTTP_202_ACCEPTED)


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
