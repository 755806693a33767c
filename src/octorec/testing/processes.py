"""Helpers for tests that start a real server process (the Dagster webserver, say) and talk to it.

`free_port` picks a loopback port to start it on; `wait_for_http` blocks until it answers, and
when it never does, fails with the end of what the process printed, which is where the reason is;
`running_server` does both and stops the process afterwards.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

POLL_INTERVAL_SECONDS = 0.5
OUTPUT_TAIL_CHARACTERS = 4000


def free_port() -> int:
    """A loopback port nothing listens on right now (the kernel's pick for port 0)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def output_tail(output: Path | None, characters: int = OUTPUT_TAIL_CHARACTERS) -> str:
    """The last characters of a process's captured output file, or a note that there is none."""
    if output is None:
        return "(output not captured)"
    try:
        text = output.read_bytes().decode("utf-8", errors="replace")
    except OSError as error:
        return f"(output file {output} unreadable: {error})"
    return text[-characters:] if text else "(no output)"


def wait_for_http(
    url: str,
    process: subprocess.Popen[Any],
    timeout: float,
    *,
    output: Path | None = None,
) -> None:
    """Poll `url` until it answers with a status below 500.

    Args:
        url: what to GET; any answer below 500 (a 404 included) means the server is serving.
        process: the server; if it exits before answering there is no point waiting on.
        timeout: seconds to wait in all before giving up.
        output: the file the process writes its stdout and stderr to, quoted when it fails.

    Raises:
        RuntimeError: the process exited, or `timeout` passed, before the URL answered.
    """
    deadline = time.monotonic() + timeout
    last_problem = "no request made"
    while True:
        code = process.poll()
        if code is not None:
            raise RuntimeError(
                f"{process.args!r} exited with code {code} before {url} answered; "
                f"its output ended with:\n{output_tail(output)}"
            )
        try:
            response = httpx.get(url, timeout=5.0)
        except httpx.TransportError as error:
            last_problem = f"{type(error).__name__}: {error}"
        else:
            if response.status_code < 500:
                return
            last_problem = f"HTTP {response.status_code}"
        if time.monotonic() >= deadline:
            raise RuntimeError(
                f"{url} did not answer within {timeout:.0f} s (last: {last_problem}); "
                f"the output of {process.args!r} ended with:\n{output_tail(output)}"
            )
        time.sleep(POLL_INTERVAL_SECONDS)


@contextmanager
def running_server(
    command: Sequence[str],
    ready_url: str,
    log: Path,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 60.0,
    stop_timeout: float = 10.0,
) -> Iterator[subprocess.Popen[bytes]]:
    """Start a server process writing to `log`, wait until `ready_url` answers, stop it on exit.

    The process is terminated (killed after `stop_timeout` seconds) whatever happens in the
    block; a process that never answers fails with the end of its output.
    """
    with log.open("wb") as output:
        process = subprocess.Popen(
            list(command),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_http(ready_url, process, timeout, output=log)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=stop_timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
