"""HTTP routes of the users feature: /auth and the admin's /users."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status

from pix_erase.dependencies import ServicesDep, UoW
from pix_erase.errors import ERROR_RESPONSES, ErrorBody, error_responses
from pix_erase.pagination import Page, PageQuery
from pix_erase.users.auth import SESSION_COOKIE, AdminUser, CurrentUser, session_token
from pix_erase.users.schemas import LoginIn, LoginOut, SignupIn, UserOut
from pix_erase.users.service import AuthService, UserAdminService, create_user

auth_router = APIRouter(prefix="/api/v1/auth", tags=["auth"], responses=ERROR_RESPONSES)
users_router = APIRouter(prefix="/api/v1/users", tags=["users"], responses=ERROR_RESPONSES)


async def _auth_service(services: ServicesDep) -> AuthService:
    return AuthService(services.sessionmaker, services.settings.app)


Auth = Annotated[AuthService, Depends(_auth_service)]


@auth_router.post(
    "/signup",
    status_code=status.HTTP_201_CREATED,
    responses={409: {"model": ErrorBody, "description": "Email already registered"}},
)
async def signup(body: SignupIn, uow: UoW) -> UserOut:
    user = await create_user(uow.session, body.email, body.password, body.name)
    return UserOut.model_validate(user)


@auth_router.post(
    "/login",
    responses={429: {"model": ErrorBody, "description": "Too many failed logins"}},
)
async def login(body: LoginIn, request: Request, response: Response, auth: Auth) -> LoginOut:
    client = request.client.host if request.client else "unknown"
    result = await auth.login(body.email, body.password, client)
    response.set_cookie(
        SESSION_COOKIE,
        result.token,
        expires=result.expires_at,
        httponly=True,
        samesite="strict",
        secure=auth.settings.cookie_secure or request.url.scheme == "https",
        path="/",
    )
    return LoginOut(
        access_token=result.token,
        expires_at=result.expires_at,
        user=UserOut.model_validate(result.user),
    )


@auth_router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(
    _: CurrentUser, token: Annotated[str | None, Depends(session_token)], auth: Auth, uow: UoW
) -> Response:
    if token:
        await auth.logout(uow.session, token)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


@auth_router.get("/me")
async def me(user: CurrentUser) -> UserOut:
    return UserOut.model_validate(user)


async def _admin_service(uow: UoW) -> UserAdminService:
    return UserAdminService(uow.session)


Admin = Annotated[UserAdminService, Depends(_admin_service)]
CANNOT_CHANGE_SELF = error_responses(409)  # an administrator acting on themselves


@users_router.get("")
async def list_users(_: AdminUser, page: PageQuery, admin: Admin) -> Page[UserOut]:
    users, total = await admin.list(page.limit, page.offset)
    return Page(items=[UserOut.model_validate(u) for u in users], total=total)


@users_router.get("/{user_id}")
async def get_user(user_id: uuid.UUID, _: AdminUser, admin: Admin) -> UserOut:
    return UserOut.model_validate(await admin.get(user_id))


@users_router.post("/{user_id}/deactivate", responses=CANNOT_CHANGE_SELF)
async def deactivate_user(user_id: uuid.UUID, me: AdminUser, admin: Admin) -> UserOut:
    return UserOut.model_validate(await admin.set_active(me, user_id, active=False))


@users_router.post("/{user_id}/activate", responses=CANNOT_CHANGE_SELF)
async def activate_user(user_id: uuid.UUID, me: AdminUser, admin: Admin) -> UserOut:
    return UserOut.model_validate(await admin.set_active(me, user_id, active=True))


@users_router.put("/{user_id}/admin", responses=CANNOT_CHANGE_SELF)
async def grant_admin(user_id: uuid.UUID, me: AdminUser, admin: Admin) -> UserOut:
    return UserOut.model_validate(await admin.set_admin(me, user_id, is_admin=True))


@users_router.delete("/{user_id}/admin", responses=CANNOT_CHANGE_SELF)
async def revoke_admin(user_id: uuid.UUID, me: AdminUser, admin: Admin) -> UserOut:
    return UserOut.model_validate(await admin.set_admin(me, user_id, is_admin=False))
