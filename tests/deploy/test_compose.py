"""docker-compose.prod.yaml, .env.dist, the justfile and the Dockerfile.

`docker-compose config` (Compose 1.29, which needs no Docker engine) resolves the file
with an env file of our own, in an environment holding nothing else."""

import os
import re
import subprocess
from pathlib import Path
from typing import Any, cast

import pytest
import yaml

from tests.deploy.tools import COMPOSE_FILE, REPO, tool

SECRETS = ("POSTGRES_PASSWORD", "MINIO_ROOT_PASSWORD", "S3_SECRET_ACCESS_KEY", "RENDER_URL_SECRET")
# The documented table: variable -> default.
SEED_VARIABLES = {
    "GRAFANA_PORT": "3000",
    "GRAFANA_USER": "admin",
    "GRAFANA_PASSWORD": "admin",
    "LOKI_PORT": "3100",
    "VECTOR_PORT": "8383",
    "TEMPO_HOST": "localhost",
    "TEMPO_PORT": "3200",
    "TEMPO_GRPC_PORT": "4317",
    "PROMETHEUS_PORT": "9090",
}
# Published ports: service -> the port mappings, with the documented variables and defaults.
PUBLISHED = {
    "api": ["127.0.0.1:${API_PORT:-8080}:8080"],
    "grafana": ["127.0.0.1:${GRAFANA_PORT:-3000}:3000"],
    "prometheus": ["127.0.0.1:${PROMETHEUS_PORT:-9090}:9090"],
    "loki": ["127.0.0.1:${LOKI_PORT:-3100}:3100"],
    "tempo": ["127.0.0.1:${TEMPO_PORT:-3200}:3200", "127.0.0.1:${TEMPO_GRPC_PORT:-4317}:4317"],
    "vector": ["127.0.0.1:${VECTOR_PORT:-8383}:8383"],
}
OBSERVABILITY = {"prometheus", "grafana", "loki", "tempo", "vector"}
APP_AND_BACKENDS = {"api", "worker", "migrate", "postgres", "redis", "minio"}


def compose_file() -> dict[str, Any]:
    return cast(dict[str, Any], yaml.safe_load(COMPOSE_FILE.read_text()))


def env_dist() -> dict[str, str]:
    values: dict[str, str] = {}
    for line in (REPO / ".env.dist").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, sep, value = line.partition("=")
            assert sep, f"not KEY=value: {line!r}"
            values[key.strip()] = value
    return values


def compose_config(tmp_path: Path, env: dict[str, str]) -> tuple[int, str]:
    """`docker-compose --profile grafana config` with `env` as its only variables."""
    env_file = tmp_path / "compose.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    args = [tool("docker-compose"), "--env-file", str(env_file), "-f", str(COMPOSE_FILE)]
    args += ["--profile", "grafana", "config"]
    result = subprocess.run(
        args,
        cwd=tmp_path,
        env={"PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return result.returncode, result.stdout + result.stderr


def filled_env() -> dict[str, str]:
    env = env_dist()
    env.update({name: f"test-{name.lower().replace('_', '-')}" for name in SECRETS})
    return env


@pytest.fixture(scope="module")
def resolved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    code, output = compose_config(tmp_path_factory.mktemp("compose"), filled_env())
    assert code == 0, output
    return cast(dict[str, Any], yaml.safe_load(output))


def test_resolves_with_the_secrets_set(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    assert set(services) >= APP_AND_BACKENDS | OBSERVABILITY
    api_env = services["api"]["environment"]
    assert api_env["DATABASE_URL"] == (
        "postgresql+asyncpg://pix_erase:test-postgres-password@postgres:5432/pix_erase"
    )
    assert api_env["S3_SECRET_ACCESS_KEY"] == "test-s3-secret-access-key"
    assert services["minio"]["environment"]["MINIO_ROOT_PASSWORD"] == "test-minio-root-password"


@pytest.mark.parametrize("secret", SECRETS)
def test_refuses_to_start_without_each_secret(tmp_path: Path, secret: str) -> None:
    env = filled_env()
    env[secret] = ""
    code, output = compose_config(tmp_path, env)
    assert code != 0
    assert f"set {secret} in .env" in output


def test_refuses_env_dist_as_shipped(tmp_path: Path) -> None:
    code, output = compose_config(tmp_path, env_dist())
    assert code != 0
    assert "in .env" in output


def test_every_published_port_binds_loopback(resolved: dict[str, Any]) -> None:
    raw = compose_file()["services"]
    published = {name: svc["ports"] for name, svc in raw.items() if "ports" in svc}
    assert published == PUBLISHED
    for name, service in resolved["services"].items():
        for port in service.get("ports", []):
            text = port if isinstance(port, str) else f"{port['host_ip']}:{port['published']}"
            assert text.startswith("127.0.0.1:"), f"{name} publishes {port}"


def test_app_containers_and_commands(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    assert services["api"]["container_name"] == "pix_erase.api"
    assert services["worker"]["container_name"] == "pix_erase.worker"
    assert services["api"]["command"] == ["api"]
    assert services["worker"]["command"] == ["worker", "--processes", "2"]
    assert services["migrate"]["command"] == ["migrate"]
    for name in ("api", "worker"):
        migrate = services[name]["depends_on"]["migrate"]
        assert migrate["condition"] == "service_completed_successfully"
        env = services[name]["environment"]
        assert env["REDIS_URL"] == "redis://redis:6379/0"
        assert env["S3_ENDPOINT_URL"] == "http://minio:9000"
        assert env["TEMPO_HOST"] == "tempo"
        assert env["TEMPO_GRPC_PORT"] == "4317"
        assert env["OTEL_TRACES_ENABLED"] == "true"
        assert env["APP_NAME"] == "PixErase"
        for variable in ("S3_BUCKET", "S3_ACCESS_KEY_ID", "S3_REGION", "MAX_UPLOAD_BYTES"):
            assert variable in env
        assert {"MAX_IMAGE_PIXELS", "PIX_ERASE_BG_MODEL_PATH"} <= set(env)
    # Inside its container, so that the published 127.0.0.1 port reaches it.
    assert services["api"]["environment"]["UVICORN_HOST"] == "0.0.0.0"  # noqa: S104
    assert services["worker"]["environment"]["WORKER_METRICS_PORT"] == "8081"


def test_profiles(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    grafana_profile = {
        name for name, svc in services.items() if "grafana" in svc.get("profiles", [])
    }
    assert grafana_profile >= OBSERVABILITY
    assert not grafana_profile & APP_AND_BACKENDS
    for name in APP_AND_BACKENDS:
        assert "profiles" not in services[name], name


def test_images_are_pinned_releases() -> None:
    for name, service in compose_file()["services"].items():
        image = service["image"]
        if "build" in service:
            continue
        repository, _, tag = image.rpartition(":")
        assert repository, f"{name}: {image} has no tag"
        assert "/" not in tag, f"{name}: {image} has no tag"
        assert tag != "latest", image
        assert not re.search(r"nightly|dev|main|master", tag), image
        assert re.search(r"\d", tag), f"{name}: {image} is not a version"


def test_redis_persists_every_write() -> None:
    command = compose_file()["services"]["redis"]["command"]
    assert command == ["redis-server", "--appendonly", "yes", "--appendfsync", "always"]


def test_prometheus_stores_exemplars_and_receives_remote_writes() -> None:
    command = compose_file()["services"]["prometheus"]["command"]
    assert "--enable-feature=exemplar-storage" in command
    assert "--web.enable-remote-write-receiver" in command
    assert "--config.file=/etc/prometheus/prometheus.yml" in command


def test_no_password_works_unchanged_except_grafanas_first_login() -> None:
    text = COMPOSE_FILE.read_text()
    # `$${...}` is a literal `$` for the container's shell, not compose interpolation.
    uses = re.findall(r"(?<!\$)\$\{(\w*(?:PASSWORD|SECRET)\w*)(:?[-?])?([^}]*)\}", text)
    assert uses
    for name, operator, default in uses:
        if name == "GRAFANA_PASSWORD":
            assert (operator, default) == (":-", "admin")
        else:
            assert operator == ":?", f"${{{name}}} must be required, not defaulted"
    grafana = compose_file()["services"]["grafana"]["environment"]
    assert grafana["GF_SECURITY_ADMIN_PASSWORD"] == "${GRAFANA_PASSWORD:-admin}"
    assert grafana["GF_SECURITY_ADMIN_USER"] == "${GRAFANA_USER:-admin}"
    # The strong password policy removes the "skip" of the first-login password change.
    assert grafana["GF_AUTH_BASIC_PASSWORD_POLICY"] == "true"
    # Literal passwords in environments: only interpolations are allowed.
    for name, service in compose_file()["services"].items():
        environment = service.get("environment", {})
        for key, value in environment.items():
            if re.search(r"PASSWORD$|SECRET", key):
                assert str(value).startswith("${"), f"{name}: {key} is a literal"


def test_images_bucket_is_never_made_public() -> None:
    text = COMPOSE_FILE.read_text()
    assert "anonymous" not in text
    assert "policy set" not in text


def test_env_dist_has_the_seed_table_with_its_defaults() -> None:
    env = env_dist()
    for name, default in SEED_VARIABLES.items():
        assert env.get(name) == default, name


def test_env_dist_lists_the_secrets_empty() -> None:
    env = env_dist()
    for name in SECRETS:
        assert env[name] == "", name


def test_env_dist_lists_every_variable_the_compose_file_reads() -> None:
    used = set(re.findall(r"(?<!\$)\$\{(\w+)", COMPOSE_FILE.read_text()))
    listed = set(env_dist())
    assert used <= listed, used - listed
    # TEMPO_HOST is documented, for pix-erase run outside compose.
    assert listed - used == {"TEMPO_HOST"}


def test_just_up_starts_everything() -> None:
    recipes = (REPO / "justfile").read_text()
    up = re.search(r"^up:.*\n((?:    .*\n)+)", recipes, re.MULTILINE)
    assert up is not None
    compose = re.search(r'^compose := "(.*)"', recipes, re.MULTILINE)
    assert compose is not None
    command = up.group(1).replace("{{compose}}", compose.group(1))
    assert "docker compose -f docker-compose.prod.yaml --profile grafana up -d --build" in command


def test_dockerfile_builds_the_locked_app_as_a_non_root_user() -> None:
    text = (REPO / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim$", text, re.MULTILINE)
    assert re.search(r"pip install --no-cache-dir uv==[\d.]+", text)
    assert "uv sync --locked --no-dev" in text
    assert re.search(r"^USER (?!root)\w+$", text, re.MULTILINE)
    assert 'ENTRYPOINT ["pix-erase"]' in text
