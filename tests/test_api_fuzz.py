"""Schemathesis against a real `pix-erase serve`: every route, as a user and as an admin.

Requests are generated from /openapi.json, sent over HTTP, and every answer is checked
by schemathesis's default checks: no 5xx, a documented status, the documented body
schema and content type. A stateful run follows the links schemathesis infers between
routes (an uploaded image's id into its other routes, a task's id into GET /tasks).
A few hundred requests in all, so it stays within CI's patience.
"""

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis import Case
from schemathesis.specs.openapi.checks import positive_data_acceptance
from schemathesis.specs.openapi.schemas import OpenApiSchema

from pix_erase.main import create_app
from pix_erase.setup.config import Settings
from tests.backends import serve_env, serving
from tests.conftest import encode, sample_rgb

EXAMPLES = 8  # per route and role: about 22 routes x 2 roles, plus the stateful runs
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,  # the same requests every run: a failure reproduces
    suppress_health_check=list(HealthCheck),
)
PASSWORD = "fuzzing password 1"


class Api:
    def __init__(self, base: str, data_dir: Path) -> None:
        self.base = base
        self.data_dir = data_dir
        self.tokens: dict[str, str] = {}
        self.emails: dict[str, str] = {}

    def login(self, http: httpx.Client, email: str) -> str:
        response = http.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token

    def new_user(self, http: httpx.Client) -> tuple[str, str]:
        """A signed-up, logged-in user with one image (so image routes find something)."""
        email = f"fuzz-{uuid.uuid4().hex[:12]}@example.com"
        body = {"email": email, "password": PASSWORD}
        assert http.post("/api/v1/auth/signup", json=body).status_code == 201
        token = self.login(http, email)
        files = {"file": ("a.png", encode(sample_rgb(), "PNG"))}
        auth = {"Authorization": f"Bearer {token}"}
        assert http.post("/api/v1/images", headers=auth, files=files).status_code == 201
        return email, token

    def headers(self, case: Case[Any], role: str) -> dict[str, str]:
        # Logging out revokes the token it is sent with: that call gets a fresh one.
        if case.operation.path == "/api/v1/auth/logout":
            with httpx.Client(base_url=self.base, timeout=30) as http:
                return {"Authorization": f"Bearer {self.login(http, self.emails[role])}"}
        return {"Authorization": f"Bearer {self.tokens[role]}"}


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    data_dir = tmp_path_factory.mktemp("fuzz")
    # The fuzzer's wrong logins all come from 127.0.0.1 and repeat addresses: give it room,
    # so that valid logins of the test itself still pass (429s are documented and checked
    # as such).
    env = serve_env(
        data_dir,
        LOGIN_MAX_FAILURES_PER_CLIENT="100000",
        LOGIN_MAX_FAILURES="100000",
        MAX_UPLOAD_BYTES=str(4 * 1024 * 1024),
    )
    with serving(env) as base:
        fuzz = Api(base, data_dir)
        with httpx.Client(base_url=base, timeout=30) as http:
            for role in ("user", "admin"):
                fuzz.emails[role], fuzz.tokens[role] = fuzz.new_user(http)
            make_admin(env, fuzz.emails["admin"])
            fuzz.tokens["admin"] = fuzz.login(http, fuzz.emails["admin"])
        yield fuzz


def make_admin(env: dict[str, str], email: str) -> None:
    """Promote a signed-up user the way an operator can: SQL on the embedded database."""
    import sqlite3

    with sqlite3.connect(Path(env["PIX_ERASE_DATA_DIR"]) / "pix_erase.db") as db:
        db.execute("UPDATE users SET is_admin = 1 WHERE email = ?", (email,))


def openapi_document() -> dict[str, Any]:
    """The document `serve` answers at /openapi.json, built without starting anything
    (the schema must exist when pytest collects the tests it parametrizes)."""
    document: dict[str, Any] = create_app(Settings(), in_process_worker=False).openapi()
    return document


schema: OpenApiSchema = schemathesis.openapi.from_dict(openapi_document())
# The coverage phase sends every boundary value of every parameter, hundreds per route:
# more than CI's time allows. Explicit examples and `EXAMPLES` generated cases remain.
schema.config.phases.coverage.enabled = False


# A schema cannot say "these bytes must be an image", nor (yet) the rules between an
# operation's parameters that its validators enforce (e.g. resize: `scale` or
# `width`/`height`, not both). On these routes a 422 for schema-valid input is therefore
# not a failure; every other check (no 5xx, documented statuses and bodies) still runs.
SEMANTIC_422 = {
    "/api/v1/images",
    "/api/v1/images/{image_id}/operations",
    "/api/v1/watermarks/remove-batch",
}


def excluded_checks(case: Case[Any]) -> list[Any]:
    return [positive_data_acceptance] if case.operation.path in SEMANTIC_422 else []


def call(case: Case[Any], api: Api, role: str) -> None:
    headers = api.headers(case, role)
    excluded = excluded_checks(case)
    case.call_and_validate(base_url=api.base, headers=headers, excluded_checks=excluded)


@schema.parametrize()
@FUZZ
def test_every_route_as_a_user(case: Case[Any], api: Api) -> None:
    call(case, api, "user")


@schema.parametrize()
@FUZZ
def test_every_route_as_an_admin(case: Case[Any], api: Api) -> None:
    call(case, api, "admin")


def test_linked_calls_as_a_new_user(api: Api) -> None:
    """Sequences of calls that feed one answer into the next (an upload's id into its
    operations, an operation's task id into GET /tasks...). Each scenario is a new
    user with one image: Hypothesis replays scenarios and needs each to meet the same
    state, which a shared account (or the admin's view of every user) would not give."""

    # A scenario must meet the same answers when Hypothesis runs its choices again: a
    # signup of a generated address succeeds once and is a 409 from then on, so it stays
    # out of the machine (the per-route tests above call it).
    linked = schema.exclude(path="/api/v1/auth/signup")

    class Machine(linked.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            with httpx.Client(base_url=api.base, timeout=30) as http:
                self.email, self.token = api.new_user(http)

        def before_call(self, case: Case[Any]) -> None:
            # With `wait` an operation answers 200 or 202 depending on how fast its task
            # ran; the machine's next steps follow that status, and Hypothesis needs the
            # same choices to lead to the same states. Without it the answer is always 202.
            if case.query:
                case.query.pop("wait", None)

        def get_call_kwargs(self, case: Case[Any]) -> dict[str, Any]:
            token = self.token
            if case.operation.path == "/api/v1/auth/logout":  # keep self.token valid
                with httpx.Client(base_url=api.base, timeout=30) as http:
                    token = api.login(http, self.email)
            return {"base_url": api.base, "headers": {"Authorization": f"Bearer {token}"}}

        def validate_response(
            self,
            response: Any,
            case: Case[Any],
            additional_checks: Any = None,
            **kwargs: Any,
        ) -> None:
            case.validate_response(
                response,
                additional_checks=additional_checks,
                excluded_checks=excluded_checks(case),
                transport_kwargs=kwargs,
            )

    Machine.run(
        settings=settings(
            max_examples=12,
            stateful_step_count=6,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
            # Generate only: a replay (shrinking, the example database) meets a server whose
            # state moved on (throttles, caps), which Hypothesis reports as flaky data.
            phases=[Phase.generate],
            database=None,
        )
    )
