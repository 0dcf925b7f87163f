"""The one error envelope everywhere, and OpenAPI that documents it."""

import httpx


async def test_unknown_route_is_a_404_envelope(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "message": "No such route.", "details": None}


async def test_wrong_method_is_a_405_envelope(client: httpx.AsyncClient) -> None:
    response = await client.put("/api/v1/auth/login")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


async def test_health(client: httpx.AsyncClient) -> None:
    assert (await client.get("/health/live")).json() == {"status": "ok"}
    ready = await client.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "database": "ok", "broker": "ok", "storage": "ok"}


async def test_openapi_documents_every_route_and_the_error_envelope(
    client: httpx.AsyncClient,
) -> None:
    spec = (await client.get("/openapi.json")).json()
    paths = spec["paths"]
    for path in (
        "/api/v1/auth/signup",
        "/api/v1/auth/login",
        "/api/v1/auth/logout",
        "/api/v1/auth/me",
        "/api/v1/users",
        "/api/v1/users/{user_id}",
        "/api/v1/users/{user_id}/deactivate",
        "/api/v1/users/{user_id}/activate",
        "/api/v1/users/{user_id}/admin",
        "/api/v1/images",
        "/api/v1/images/{image_id}",
        "/api/v1/images/{image_id}/content",
        "/api/v1/images/{image_id}/exif",
        "/api/v1/images/{image_id}/operations",
        "/api/v1/tasks/{task_id}",
        "/api/v1/watermarks/remove-batch",
        "/health/live",
        "/health/ready",
    ):
        assert path in paths, path
    upload = paths["/api/v1/images"]["post"]
    assert "multipart/form-data" in upload["requestBody"]["content"]
    assert upload["responses"]["413"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/ErrorBody"
    )
    op_schema = spec["components"]["schemas"]["OperationRequest"]
    assert "operation" in op_schema["properties"]
    assert "steps" in op_schema["properties"]
