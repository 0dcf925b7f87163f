"""Logins under attack: many at once, guesses in parallel, look-alike addresses.

Each test logs in from an address of its own, so the per-client throttle of one test
never meets another's.
"""

import asyncio
import uuid

import httpx
from fastapi import FastAPI

from tests.conftest import make_client, signup_and_login

# Longest a test waits for answers; a deadlocked pool would answer 500 only after 30 s.
PATIENCE = 60


def fresh_address() -> str:
    octets = uuid.uuid4().bytes[:3]
    return "10." + ".".join(str(b) for b in octets)


async def test_parallel_failed_logins_leave_the_database_pool_usable(app: FastAPI) -> None:
    """25 wrong logins at once (more than the pool has connections) all get their 401,
    and another user's request is answered meanwhile: a failed login never holds two
    connections, so they cannot wait on each other."""
    async with make_client(app) as own, make_client(app, fresh_address()) as attacker:
        bystander = await signup_and_login(own)

        async def wrong_login() -> int:
            email = f"nobody-{uuid.uuid4().hex[:10]}@example.com"
            body = {"email": email, "password": "not the password"}
            return (await attacker.post("/api/v1/auth/login", json=body)).status_code

        logins = [asyncio.create_task(wrong_login()) for _ in range(25)]
        me = await asyncio.wait_for(bystander.get("/api/v1/auth/me"), PATIENCE)
        statuses = await asyncio.wait_for(asyncio.gather(*logins), PATIENCE)
    assert me.status_code == 200
    assert statuses == [401] * 25


async def test_parallel_guesses_are_all_counted_and_then_the_right_password_waits(
    app: FastAPI,
) -> None:
    async with make_client(app, fresh_address()) as http:
        user = await signup_and_login(http, password="the right one")
        body = {"email": user.email, "password": "a wrong guess"}
        guesses = [http.post("/api/v1/auth/login", json=body) for _ in range(20)]
        statuses = [r.status_code for r in await asyncio.wait_for(asyncio.gather(*guesses), 60)]
        right = await http.post(
            "/api/v1/auth/login", json={"email": user.email, "password": "the right one"}
        )
    # Only as many guesses as the limit (5) reach the password check; the rest wait.
    assert statuses.count(401) == 5
    assert statuses.count(429) == 15
    assert right.status_code == 429
    assert int(right.headers["Retry-After"]) > 0


async def test_a_successful_login_does_not_use_up_the_clients_allowance(app: FastAPI) -> None:
    """Only failures count against a client: an office logging in all day is never throttled."""
    async with make_client(app, fresh_address()) as http:
        user = await signup_and_login(http, password="the right one")
        body = {"email": user.email, "password": "the right one"}
        answers = [await http.post("/api/v1/auth/login", json=body) for _ in range(8)]
    assert {a.status_code for a in answers} == {200}


async def test_a_full_width_look_alike_is_the_same_account(client: httpx.AsyncClient) -> None:
    name = f"ann{uuid.uuid4().hex[:8]}"
    # Full-width letters and digits (U+FF01..U+FF5E) read exactly like their ASCII twins.
    look_alike = "".join(chr(ord(c) + 0xFEE0) for c in name) + "@Example.com"
    first = await client.post(
        "/api/v1/auth/signup", json={"email": look_alike, "password": "long enough pw"}
    )
    assert first.status_code == 201, first.text
    assert first.json()["email"] == f"{name}@example.com"
    twin = await client.post(
        "/api/v1/auth/signup", json={"email": f"{name}@example.com", "password": "another pw 2"}
    )
    assert twin.status_code == 409
    login = await client.post(
        "/api/v1/auth/login", json={"email": look_alike, "password": "long enough pw"}
    )
    assert login.status_code == 200
    assert login.json()["user"]["id"] == first.json()["id"]


async def test_an_address_on_a_test_domain_can_sign_up(client: httpx.AsyncClient) -> None:
    email = f"try-{uuid.uuid4().hex[:8]}@pix-erase.test"
    response = await client.post(
        "/api/v1/auth/signup", json={"email": email, "password": "long enough pw"}
    )
    assert response.status_code == 201, response.text
    assert response.json()["email"] == email
