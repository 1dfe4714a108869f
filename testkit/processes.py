"""Real server processes for tests: `python -m uvicorn` on a free port of 127.0.0.1.

For what only a real server shows: several processes sharing one database and one Redis, a
client that hangs up mid-stream, clients (MCP, a browser) that need a socket to talk to.

    with running_server({"DATABASE_URL": url, "AGENT": "rules"}) as base_url:
        httpx.get(f"{base_url}/health")

    with running_servers([env, env]) as (first_url, second_url):  # started side by side
        ...
"""

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import IO

import httpx

from backend.app.config import Settings

ROOT = Path(__file__).resolve().parents[1]
APP = "backend.app.main:app"
READY_PATH = "/health/ready"
STARTUP_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 5.0
# Another process may take the free port between our probe and uvicorn's bind: try again.
PORT_ATTEMPTS = 3


class ServerStartError(RuntimeError):
    """The server exited or was not ready in time; the message carries what it printed."""


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_environment(env: Mapping[str, str]) -> dict[str, str]:
    """This process's environment without the app's own settings (a developer's DATABASE_URL
    or AGENT must not leak into a test server), plus `env`."""
    inherited = {
        name: value
        for name, value in os.environ.items()
        if name.lower() not in Settings.model_fields
    }
    return {**inherited, "PYTHONUNBUFFERED": "1", **env}


@contextmanager
def running_server(env: Mapping[str, str], **options: object) -> Iterator[str]:
    """Run the app under uvicorn on a free port until the block ends; yield its base URL.
    Options and behaviour as for server_process."""
    with server_process(env, **options) as (_process, base_url):
        yield base_url


@contextmanager
def server_process(
    env: Mapping[str, str],
    *,
    cwd: Path = ROOT,
    app: str = APP,
    ready_path: str = READY_PATH,
    timeout_s: float = STARTUP_TIMEOUT_S,
    uvicorn_args: Sequence[str] = (),
) -> Iterator[tuple[subprocess.Popen, str]]:
    """Run `app` under uvicorn on a free port until the block ends; yield the process (to kill
    it, or read its memory) and its base URL.

    `env` holds the app's settings (DATABASE_URL, AGENT, ...); the app's settings variables of
    this process are not inherited (a `.env` in `cwd` is still read, as in production). Returns
    once `ready_path` answers 200; raises ServerStartError, with the server's output, if it
    exits or is not ready within `timeout_s`. The server is stopped (SIGTERM, then SIGKILL)
    when the block ends, and its output is printed if the block raised, so a failing test
    shows what the server said.
    """
    environment = server_environment(env)
    for attempt in range(PORT_ATTEMPTS):
        port = free_port()
        with tempfile.NamedTemporaryFile(prefix="uvicorn-", suffix=".log") as log:
            process = subprocess.Popen(
                [
                    *(sys.executable, "-m", "uvicorn", app),
                    *("--host", "127.0.0.1", "--port", str(port), *uvicorn_args),
                ],
                cwd=cwd,
                env=environment,
                stdin=subprocess.DEVNULL,
                # A file, not a pipe: a pipe nobody reads fills up and blocks the server.
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            base_url = f"http://127.0.0.1:{port}"
            try:
                _wait_until_ready(process, base_url + ready_path, timeout_s, log)
            except ServerStartError as exc:
                _stop(process)
                if "address already in use" in str(exc) and attempt + 1 < PORT_ATTEMPTS:
                    continue
                raise
            except BaseException:
                _stop(process)
                raise
            try:
                yield process, base_url
            except BaseException:
                _stop(process)
                print(f"--- output of the server at {base_url} ---\n{_read(log)}", file=sys.stderr)
                raise
            _stop(process)
            return


@contextmanager
def running_servers(envs: Sequence[Mapping[str, str]], **options: object) -> Iterator[list[str]]:
    """Several servers, one per environment in `envs`, started side by side (start-up is most
    of their cost); yield their base URLs in the same order. Options as for running_server."""
    managers = [running_server(env, **options) for env in envs]
    with ExitStack() as stack:
        with ThreadPoolExecutor(max_workers=len(managers) or 1) as pool:
            starts = [pool.submit(manager.__enter__) for manager in managers]
        urls: list[str] = []
        failure: BaseException | None = None
        for manager, start in zip(managers, starts, strict=True):
            try:
                urls.append(start.result())
            except BaseException as exc:
                failure = failure or exc
            else:
                stack.push(manager.__exit__)  # stopped even if another one failed to start
        if failure is not None:
            raise failure
        yield urls


def _wait_until_ready(
    process: subprocess.Popen, url: str, timeout_s: float, log: IO[bytes]
) -> None:
    deadline = time.monotonic() + timeout_s
    last = "no answer"
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise ServerStartError(
                    f"the server exited with status {process.returncode} before it was ready:\n"
                    + _read(log)
                )
            try:
                response = client.get(url)
            except httpx.TransportError as exc:
                last = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code == 200:
                    return
                last = f"{response.status_code} {response.text}"
            time.sleep(0.05)
    raise ServerStartError(
        f"the server was not ready within {timeout_s:g} s ({url}: {last}):\n" + _read(log)
    )


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _read(log: IO[bytes]) -> str:
    # Read through a file of our own: the server shares `log`'s offset, and moving it would
    # make the server write over its earlier output.
    return Path(log.name).read_bytes().decode(errors="replace")
