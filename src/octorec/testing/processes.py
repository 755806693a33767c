"""Helpers for tests that start a real server process (the Dagster webserver, say) and talk to it.

`free_port` picks a loopback port to start it on; `wait_for_http` blocks until it answers, and
when it never does, fails with the end of what the process printed, which is where the reason is;
`running_server` does both and stops the process afterwards.
"""

from __future__ import annotations

import contextlib
import os
import signal
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
    process_group: bool = False,
) -> Iterator[subprocess.Popen[bytes]]:
    """Start a server process writing to `log`, wait until `ready_url` answers, stop it on exit.

    The process is terminated (killed after `stop_timeout` seconds) whatever happens in the
    block; a process that never answers fails with the end of its output. With
    `process_group`, it starts in a session of its own and the whole group is stopped: what it
    started (`make dev` starts `dagster dev`, which starts the webserver, the daemon and a
    code server) goes with it.
    """
    with log.open("wb") as output:
        process = subprocess.Popen(
            list(command),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=process_group,
        )
    try:
        wait_for_http(ready_url, process, timeout, output=log)
        yield process
    finally:
        _stop(process, stop_timeout, process_group)


def _stop(process: subprocess.Popen[bytes], timeout: float, group: bool) -> None:
    """SIGTERM, then SIGKILL after `timeout` seconds: to the process, or its whole group."""

    def send(sig: signal.Signals) -> None:
        if not group:
            process.send_signal(sig)
            return
        with contextlib.suppress(ProcessLookupError):  # the group is gone already
            os.killpg(process.pid, sig)

    send(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        send(signal.SIGKILL)
        process.wait()
    if group:
        # The leader may exit before its children: give them the same time, then kill them.
        deadline = time.monotonic() + timeout
        while _group_alive(process.pid) and time.monotonic() < deadline:
            time.sleep(POLL_INTERVAL_SECONDS)
        if _group_alive(process.pid):
            send(signal.SIGKILL)


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
