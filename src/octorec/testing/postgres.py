"""A throwaway PostgreSQL server (initdb + pg_ctl on a free loopback port) for tests and bench."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

USER = "octorec"
PASSWORD = "pg-test-password"
DATABASE = "octorec"


def _bindir() -> Path:
    """Where initdb and pg_ctl live: `pg_config --bindir`, else Debian's versioned folder."""
    if shutil.which("pg_config"):
        found = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
        candidate = Path(found.stdout.strip())
        if (candidate / "initdb").exists():
            return candidate
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").exists():
            return candidate
    raise RuntimeError("PostgreSQL server binaries not found (apt-get install postgresql-15)")


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class PostgresServer:
    """A running throwaway server that a test may stop (as `pg_ctl stop -m immediate`, a crash)
    and start again on the same port."""

    url: str
    port: int
    stop: Callable[[], None]
    start: Callable[[], None]


@contextmanager
def postgres_server() -> Iterator[tuple[str, int]]:
    """Start a server with password authentication; yield (url, port); stop and delete it."""
    with controlled_postgres_server() as server:
        yield server.url, server.port


@contextmanager
def controlled_postgres_server() -> Iterator[PostgresServer]:
    """Start a server with password authentication; yield it with its stop and start; stop and
    delete it at the end."""
    bindir = _bindir()
    root = Path(tempfile.mkdtemp(prefix="octorec-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        shutil.chown(root, "postgres", "postgres")
        run_as = ["runuser", "-u", "postgres", "--"]
    password_file = root / "password"
    password_file.write_text(PASSWORD)
    if run_as:
        shutil.chown(password_file, "postgres", "postgres")
    data = root / "data"
    port = free_port()

    def run(*command: str) -> None:
        subprocess.run([*run_as, *command], check=True, capture_output=True)

    run(
        str(bindir / "initdb"),
        "-D",
        str(data),
        "-U",
        USER,
        f"--pwfile={password_file}",
        "--auth=scram-sha-256",
        "--encoding=UTF8",
        "--locale=C",
        "--no-sync",
    )
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"

    def start() -> None:
        run(
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            options,
            "-l",
            str(root / "log"),
            "-w",
            "start",
        )

    def stop() -> None:
        subprocess.run(
            [*run_as, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
        )

    start()
    try:
        url = f"postgresql://{USER}:{PASSWORD}@127.0.0.1:{port}/postgres"
        import psycopg

        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute(f"CREATE DATABASE {DATABASE}")
        yield PostgresServer(
            f"postgresql://{USER}:{PASSWORD}@127.0.0.1:{port}/{DATABASE}", port, stop, start
        )
    finally:
        stop()
        shutil.rmtree(root, ignore_errors=True)
