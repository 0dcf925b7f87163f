"""The administrator's controls over users, and `pix-erase create-admin`."""

import asyncio
import uuid

import httpx
import pytest

from pix_erase.setup.config import Settings
from tests.backends import create_admin
from tests.conftest import UserClient, settings_env, signup_and_login


@pytest.fixture
async def admin(client: httpx.AsyncClient, settings: Settings) -> UserClient:
    """An administrator made the way an operator makes one: the CLI, password on stdin."""
    email = f"admin-{uuid.uuid4().hex[:8]}@example.com"
    env = settings_env(settings)
    done = await asyncio.to_thread(create_admin, email, "admin password 1", env)
    assert done.returncode == 0, done.stderr
    response = await client.post(
        "/api/v1/auth/login", json={"email": email, "password": "admin password 1"}
    )
    assert response.status_code == 200, response.text
    client.cookies.clear()
    return UserClient(client, email, response.json()["access_token"], response.json()["user"])


async def test_create_admin_refuses_an_existing_email_and_a_short_password(
    settings: Settings,
) -> None:
    env = settings_env(settings)
    email = f"root-{uuid.uuid4().hex[:8]}@example.com"
    short = await asyncio.to_thread(create_admin, email, "short", env)
    assert short.returncode != 0
    created = await asyncio.to_thread(create_admin, email, "long enough pw", env)
    assert created.returncode == 0, created.stderr
    again = await asyncio.to_thread(create_admin, email, "long enough pw", env)
    assert again.returncode != 0
    assert "already exists" in again.stderr


async def test_admin_lists_and_reads_users(admin: UserClient, client: httpx.AsyncClient) -> None:
    other = await signup_and_login(client)
    listing = await admin.get("/api/v1/users", params={"limit": 100})
    assert listing.status_code == 200
    body = listing.json()
    assert body["total"] >= 2
    assert len(body["items"]) <= 100
    one = await admin.get(f"/api/v1/users/{other.user['id']}")
    assert one.status_code == 200
    assert one.json()["email"] == other.email
    missing = await admin.get(f"/api/v1/users/{uuid.uuid4()}")
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"


async def test_pagination_limits_are_enforced(admin: UserClient) -> None:
    page = await admin.get("/api/v1/users", params={"limit": 1, "offset": 0})
    assert len(page.json()["items"]) == 1
    for params in ({"limit": 0}, {"limit": 101}, {"offset": -1}):
        response = await admin.get("/api/v1/users", params=params)
        assert response.status_code == 422, params


async def test_a_plain_user_cannot_use_admin_routes(user: UserClient) -> None:
    for response in (
        await user.get("/api/v1/users"),
        await user.get(f"/api/v1/users/{user.user['id']}"),
        await user.post(f"/api/v1/users/{user.user['id']}/deactivate"),
        await user.put(f"/api/v1/users/{user.user['id']}/admin"),
    ):
        assert response.status_code == 403
        assert response.json()["code"] == "forbidden"


async def test_deactivation_ends_sessions_at_once(
    admin: UserClient, client: httpx.AsyncClient
) -> None:
    victim = await signup_and_login(client, password="victim password")
    assert (await victim.get("/api/v1/auth/me")).status_code == 200
    response = await admin.post(f"/api/v1/users/{victim.user['id']}/deactivate")
    assert response.status_code == 200
    assert response.json()["is_active"] is False
    assert (await victim.get("/api/v1/auth/me")).status_code == 401
    login = await client.post(
        "/api/v1/auth/login", json={"email": victim.email, "password": "victim password"}
    )
    assert login.status_code == 401

    assert (await admin.post(f"/api/v1/users/{victim.user['id']}/activate")).status_code == 200
    login = await client.post(
        "/api/v1/auth/login", json={"email": victim.email, "password": "victim password"}
    )
    assert login.status_code == 200


async def test_grant_and_revoke_admin(admin: UserClient, client: httpx.AsyncClient) -> None:
    other = await signup_and_login(client)
    assert (await other.get("/api/v1/users")).status_code == 403
    granted = await admin.put(f"/api/v1/users/{other.user['id']}/admin")
    assert granted.json()["is_admin"] is True
    assert (await other.get("/api/v1/users")).status_code == 200
    revoked = await admin.delete(f"/api/v1/users/{other.user['id']}/admin")
    assert revoked.json()["is_admin"] is False
    assert (await other.get("/api/v1/users")).status_code == 403


async def test_an_admin_cannot_lock_themselves_out(admin: UserClient) -> None:
    own = admin.user["id"]
    for response in (
        await admin.post(f"/api/v1/users/{own}/deactivate"),
        await admin.delete(f"/api/v1/users/{own}/admin"),
    ):
        assert response.status_code == 409
        assert response.json()["code"] == "cannot_change_self"
