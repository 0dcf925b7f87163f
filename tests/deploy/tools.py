"""Running the command-line tools the deployment tests check the files with."""

import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy" / "prod"
PROMETHEUS_DIR = DEPLOY / "prometheus"
COMPOSE_FILE = REPO / "docker-compose.prod.yaml"


def run(args: list[str], *, cwd: Path = REPO, env: dict[str, str] | None = None) -> str:
    """Run a tool; fail with its whole output unless it exits 0."""
    result = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{' '.join(args)} exited {result.returncode}:\n{output}"
    return output


def tool(name: str) -> str:
    """The path of a tool the tests need (Debian packages `prometheus`, `docker-compose`)."""
    path = shutil.which(name)
    assert path is not None, f"{name} is not installed: apt-get install prometheus docker-compose"
    return path
