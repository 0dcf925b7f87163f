"""Real PostgreSQL, Redis and S3 (moto) servers for the tests, on free loopback ports.

Each runs from a temporary directory and is stopped at the end (SIGKILL if it will not
stop). PostgreSQL runs as the `postgres` user when the tests run as root, as `initdb`
refuses root. moto speaks the real S3 protocol but checks no credentials; nothing here
relies on credentials being checked.

Run `python -m tests.backends` to start all three by hand and print their URLs.
"""

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx


def create_admin(
    email: str, password: str, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """`pix-erase create-admin EMAIL` as an operator runs it: the password on stdin."""
    return subprocess.run(
        [sys.executable, "-m", "pix_erase", "create-admin", email],
        input=password + "\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, process: subprocess.Popen[bytes] | None, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with {process.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {timeout} s")


def stop_process(process: subprocess.Popen[bytes], timeout: float = 10) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _pg_bin(name: str) -> str:
    found = shutil.which(name, path="/usr/lib/postgresql/15/bin") or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None
    )
    if found is None:
        raise RuntimeError(f"PostgreSQL's {name} is missing: install postgresql (see .ci/run)")
    return found


class Postgres:
    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="pix-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            shutil.chown(self.root, "postgres")
        self._run(_pg_bin("initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres")
        self.start()
        self._run(
            _pg_bin("createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "pix"
        )

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/pix"

    def _run(self, *args: str) -> None:
        command = ["runuser", "-u", "postgres", "--", *args] if self.as_postgres else list(args)
        # No pipes: the server that `pg_ctl start` leaves running would hold them open.
        subprocess.run(
            command,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=120,
            cwd=self.root,
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} "
            "-c fsync=off -c max_connections=200"
        )
        log = str(self.root / "postgres.log")
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-o", options, "-l", log, "-w", "start")

    def stop(self) -> None:
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def close(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


class RedisServer:
    """Redis with an append-only file fsynced on every write: a restart loses nothing."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="pix-redis-"))
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is missing: apt-get install redis-server")
        self.process = subprocess.Popen(
            [
                binary,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--dir", str(self.dir),
                "--appendonly", "yes",
                "--appendfsync", "always",
                "--save", "",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for_port(self.port, self.process)

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class MotoS3:
    def __init__(self) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port, self.process)
        httpx.get(f"{self.url}/moto-api/", timeout=10)  # first request warms the server

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        stop_process(self.process)


class PixProcess:
    """A `pix-erase` command (worker, api, serve) in its own process group, logging to a file."""

    def __init__(self, args: list[str], env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self._log = log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pix_erase", *args],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # so a SIGKILL reaches the pool processes too
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, base_url: str, timeout: float = 60) -> None:
        """Until `GET /health/ready` answers 200; fails with the log if the process dies."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base_url}/health/ready", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.process.poll() is not None:
                raise AssertionError(f"exited with {self.process.returncode}:\n{self.log()}")
            time.sleep(0.1)
        raise AssertionError(f"not ready after {timeout} s:\n{self.log()}")

    def kill(self) -> None:
        """SIGKILL the command and everything it started, as a crash or OOM kill would."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self._log.close()

    def stop(self) -> None:
        """End it whatever its state (teardown): SIGTERM, then SIGKILL after 30 s."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.terminate(timeout=30)
        self._log.close()

    def terminate(self, timeout: float = 60) -> int:
        """SIGTERM and wait; SIGKILL the group if it does not stop in `timeout` seconds."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)  # leftovers of the group, if any
        self._log.close()
        return self.process.returncode


class ProductionBackends:
    def __init__(self) -> None:
        self.postgres = Postgres()
        self.redis = RedisServer()
        self.s3 = MotoS3()

    def env(self) -> dict[str, str]:
        return {
            "DATABASE_URL": self.postgres.url,
            "REDIS_URL": self.redis.url,
            "S3_ENDPOINT_URL": self.s3.url,
            "S3_BUCKET": "pix-erase-test",
            "S3_ACCESS_KEY_ID": "test",
            "S3_SECRET_ACCESS_KEY": "test-secret",
            "S3_REGION": "us-east-1",
        }

    def close(self) -> None:
        for backend in (self.s3, self.redis, self.postgres):
            backend.close()


if __name__ == "__main__":
    backends = ProductionBackends()
    for key, value in backends.env().items():
        print(f"export {key}={value}")
    print("# Ctrl-C stops them", flush=True)
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        backends.close()


def serve_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a `pix-erase serve` on its embedded defaults in `data_dir` and a
    free port (whatever DATABASE_URL or REDIS_URL the shell has)."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    return env | {"PIX_ERASE_DATA_DIR": str(data_dir), "UVICORN_PORT": str(free_port()), **extra}


@contextlib.contextmanager
def serving(env: dict[str, str]) -> Iterator[str]:
    """`pix-erase serve` with `env` (see `serve_env`), ready; its base URL. Stopped at the end."""
    data_dir = Path(env["PIX_ERASE_DATA_DIR"])
    serve = PixProcess(["serve"], env, data_dir / "serve.log")
    base = f"http://127.0.0.1:{env['UVICORN_PORT']}"
    try:
        serve.wait_ready(base)
        yield base
    finally:
        serve.stop()
