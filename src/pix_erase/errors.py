"""The one error envelope: `{"code", "message", "details"}` for every error the API answers.

Expected errors are `AppError`s with a 4xx (or 503) status; anything else is logged and
answered as a bare 500 envelope, never a stack trace.
"""

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from pix_erase.platform.body_limits import BodyRejected
from pix_erase.platform.faults import BACKEND_DOWN
from pix_erase.platform.observability.http import EXCEPTION_SCOPE_KEY

log = structlog.get_logger(__name__)


class ErrorBody(BaseModel):
    """What every error response carries (documented in OpenAPI)."""

    code: str
    message: str
    details: Any = None


class AppError(Exception):
    """An error a user can act on: a stable `code`, a sentence, an HTTP status."""

    def __init__(
        self,
        code: str,
        message: str,
        status: int = 400,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message
        self.status = status
        self.details = details
        self.headers = headers


class NotFound(AppError):
    def __init__(self, what: str) -> None:
        super().__init__("not_found", f"{what} not found.", 404)


def error_response(
    status: int,
    code: str,
    message: str,
    details: Any = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = ErrorBody(code=code, message=message, details=jsonable_encoder(details))
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


_HTTP_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    408: "request_timeout",
    413: "request_too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
}


async def _app_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)


async def _body_rejected(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, BodyRejected)
    return error_response(exc.status, exc.code, exc.message, exc.details)


def reject_body(status: int, code: str, message: str, details: dict[str, Any]) -> JSONResponse:
    """The envelope for a body that `BodyLimits` refused before the app ran."""
    return error_response(status, code, message, details)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    if exc.status_code == 404 and message == "Not Found":
        message = "No such route."
    headers = dict(exc.headers) if exc.headers else None
    if exc.status_code == 405:
        headers = {**(headers or {}), "Allow": _allowed_methods(request)}
    return error_response(exc.status_code, code, message, headers=headers)


_METHODS = ("DELETE", "GET", "HEAD", "PATCH", "POST", "PUT")


def _allowed_methods(request: Request) -> str:
    """Every method some route serves at this path. Starlette names only the first route
    that matched the path, but e.g. PUT and DELETE .../admin are two routes; so each
    method is tried against the app's routes (included routers nest theirs)."""
    routes = request.app.router.routes

    def serves(method: str) -> bool:
        scope = {**request.scope, "method": method}
        return any(route.matches(scope)[0] is Match.FULL for route in routes)

    return ", ".join(method for method in _METHODS if serves(method))


def _clean_validation_errors(errors: Any) -> list[dict[str, Any]]:
    """Keep what a client can act on; drop the echoed input (it may be large or secret)."""
    cleaned = []
    for err in errors:
        item = {"loc": list(err.get("loc", ())), "msg": err.get("msg"), "type": err.get("type")}
        cleaned.append(item)
    return cleaned


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = _clean_validation_errors(exc.errors())
    types = {d["type"] for d in details}
    if "json_invalid" in types:
        return error_response(422, "malformed_json", "The request body is not valid JSON.", details)
    if "union_tag_invalid" in types:
        return error_response(422, "unknown_operation", "Unknown operation type.", details)
    return error_response(422, "validation_error", "The request is not valid.", details)


def _note_exception(request: Request, exc: Exception) -> None:
    """Tell the request observer which exception made this a 5xx (it counts them).

    The observer puts a dict in the scope before the request runs; routing may copy the
    scope, but the copy holds the same dict.
    """
    noted = request.scope.get(EXCEPTION_SCOPE_KEY)
    if isinstance(noted, dict):
        noted["type"] = type(exc).__name__


async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
    _note_exception(request, exc)
    log.warning("backend_unavailable", path=request.url.path, error=type(exc).__name__)
    return error_response(
        503,
        "service_unavailable",
        "A backend (database, broker or storage) is unreachable; try again shortly.",
        headers={"Retry-After": "5"},
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    _note_exception(request, exc)
    log.exception("unhandled_error", path=request.url.path, exception_type=type(exc).__name__)
    return error_response(500, "internal_error", "Something went wrong on our side.")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(BodyRejected, _body_rejected)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    # A pool with no free connection is as unavailable as a database that is down: the
    # client should come back shortly, and nothing is wrong with its request.
    for backend_down in (*BACKEND_DOWN, PoolTimeout):
        app.add_exception_handler(backend_down, _unavailable)
    app.add_exception_handler(Exception, _unexpected)


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for these error statuses, each with the envelope's schema."""
    return {code: {"model": ErrorBody, "description": DESCRIPTIONS[code]} for code in statuses}


DESCRIPTIONS = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Forbidden: not an administrator, or a cookie request from another site (CSRF)",
    404: "Not found",
    408: "The request body arrived too slowly",
    409: "Conflict with the current state",
    413: "The request body is larger than the limit",
    415: "Unsupported media type",
    422: "Validation error",
    429: "Too many requests",
    503: "A backend (database, broker or storage) is unavailable; retry shortly",
}

# What any API route may answer: CSRF refusals reach every unsafe route, body limits
# every route that takes a body, and an exhausted database pool any route at all.
ERROR_RESPONSES = error_responses(400, 401, 403, 404, 408, 413, 422, 503)
