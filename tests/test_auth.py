"""Sign up, log in (bearer and cookie), log out, and the throttle on failed logins."""

import uuid

import httpx
from fastapi import FastAPI

from pix_erase.users.auth import SESSION_COOKIE
from tests.conftest import make_client, signup_and_login


async def test_signup_returns_the_user_without_secrets(client: httpx.AsyncClient) -> None:
    email = f"New-{uuid.uuid4().hex[:8]}@Example.com"
    response = await client.post(
        "/api/v1/auth/signup", json={"email": email, "password": "long enough pw", "name": "Ann"}
    )
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "email", "name", "is_admin", "is_active", "created_at"}
    assert body["email"] == email.lower()
    assert body["is_admin"] is False
    assert body["is_active"] is True


async def test_signup_twice_with_one_email_is_a_conflict(client: httpx.AsyncClient) -> None:
    email = f"dup-{uuid.uuid4().hex[:8]}@example.com"
    body = {"email": email, "password": "long enough pw"}
    assert (await client.post("/api/v1/auth/signup", json=body)).status_code == 201
    body["email"] = email.upper()
    response = await client.post("/api/v1/auth/signup", json=body)
    assert response.status_code == 409
    assert response.json()["code"] == "email_taken"


async def test_signup_rejects_a_short_password_and_a_bad_email(client: httpx.AsyncClient) -> None:
    short = await client.post(
        "/api/v1/auth/signup", json={"email": "a@example.com", "password": "short"}
    )
    bad_email = await client.post(
        "/api/v1/auth/signup", json={"email": "not-an-email", "password": "long enough pw"}
    )
    for response in (short, bad_email):
        assert response.status_code == 422
        assert response.json()["code"] == "validation_error"


async def test_login_gives_a_bearer_token_and_an_httponly_cookie(
    client: httpx.AsyncClient,
) -> None:
    email = f"c-{uuid.uuid4().hex[:8]}@example.com"
    await client.post("/api/v1/auth/signup", json={"email": email, "password": "long enough pw"})
    response = await client.post(
        "/api/v1/auth/login", json={"email": email, "password": "long enough pw"}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["user"]["email"] == email
    cookie = response.headers["set-cookie"]
    assert f"{SESSION_COOKIE}={body['access_token']}" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie

    by_cookie = await client.get("/api/v1/auth/me")  # the client kept the cookie
    client.cookies.clear()
    by_bearer = await client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert by_cookie.json()["email"] == by_bearer.json()["email"] == email


async def test_me_without_a_session_is_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/auth/me")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    forged = await client.get("/api/v1/auth/me", headers={"Authorization": "Bearer forged"})
    assert forged.status_code == 401
    assert forged.json()["code"] == "invalid_session"


async def test_wrong_password_and_unknown_email_answer_the_same(
    client: httpx.AsyncClient,
) -> None:
    user = await signup_and_login(client)
    wrong = await client.post(
        "/api/v1/auth/login", json={"email": user.email, "password": "wrong password"}
    )
    unknown = await client.post(
        "/api/v1/auth/login",
        json={"email": f"nobody-{uuid.uuid4().hex}@example.com", "password": "wrong password"},
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


async def test_logout_revokes_the_session_on_the_server(client: httpx.AsyncClient) -> None:
    user = await signup_and_login(client)
    assert (await user.get("/api/v1/auth/me")).status_code == 200
    response = await user.post("/api/v1/auth/logout")
    assert response.status_code == 204
    # The token itself still exists on the client; the server must refuse it now.
    again = await user.get("/api/v1/auth/me")
    assert again.status_code == 401
    assert again.json()["code"] == "invalid_session"


async def test_repeated_failed_logins_are_throttled_per_email(client: httpx.AsyncClient) -> None:
    user = await signup_and_login(client, password="the right one")
    statuses = []
    for _ in range(6):
        response = await client.post(
            "/api/v1/auth/login", json={"email": user.email, "password": "not it"}
        )
        statuses.append(response.status_code)
    assert statuses == [401] * 5 + [429]
    assert int(response.headers["Retry-After"]) > 0
    assert response.json()["code"] == "too_many_login_attempts"
    # Even the right password waits until the window passes: that is what stops guessing.
    right = await client.post(
        "/api/v1/auth/login", json={"email": user.email, "password": "the right one"}
    )
    assert right.status_code == 429


async def test_one_client_guessing_many_emails_is_throttled(app: FastAPI) -> None:
    async with make_client(app, client_addr="10.20.30.40") as attacker:
        codes = set()
        for i in range(55):
            response = await attacker.post(
                "/api/v1/auth/login",
                json={"email": f"guess{i}-{uuid.uuid4().hex[:6]}@example.com", "password": "x"},
            )
            codes.add(response.status_code)
        assert response.status_code == 429
        assert codes == {401, 429}
    # Another client is not affected.
    async with make_client(app, client_addr="10.20.30.41") as other:
        user = await signup_and_login(other)
        assert (await user.get("/api/v1/auth/me")).status_code == 200
