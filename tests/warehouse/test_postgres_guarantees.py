"""PostgreSQL-specific guarantees, against a real server: atomic swaps under a concurrent reader
and a killed writer, serialised concurrent writers, and clear connection errors."""

import logging
import signal
import subprocess
import sys
import threading
import time

import psycopg
import pyarrow as pa
import pytest

from octorec.cli import main
from octorec.testing.postgres import PASSWORD, free_port
from octorec.warehouse import WarehouseError, WarehouseUnavailableError, open_warehouse
from octorec.warehouse.scrape_state import WarehouseScrapeState


def _create(url: str, rows: int) -> None:
    with open_warehouse(url) as warehouse:
        warehouse.execute("CREATE TABLE swapped (k INTEGER PRIMARY KEY, v TEXT)")
        warehouse.replace("swapped", pa.table({"k": list(range(rows)), "v": ["x"] * rows}))


def test_a_polling_reader_sees_the_old_rows_or_the_new_never_a_mix(postgres_url: str) -> None:
    _create(postgres_url, 20_000)
    seen: set[int] = set()
    stop = threading.Event()
    polling = threading.Event()

    def poll() -> None:
        with psycopg.connect(postgres_url, autocommit=True) as reader:
            while not stop.is_set():
                seen.add(reader.execute("SELECT count(*) FROM swapped").fetchone()[0])
                polling.set()

    thread = threading.Thread(target=poll)
    thread.start()
    assert polling.wait(timeout=30)
    with open_warehouse(postgres_url) as warehouse:
        for size in (30_000, 20_000, 30_000, 20_000):
            warehouse.replace("swapped", pa.table({"k": list(range(size)), "v": ["y"] * size}))
    stop.set()
    thread.join()
    assert seen <= {20_000, 30_000}
    assert len(seen) == 2  # the reader really overlapped the swaps


def test_a_writer_killed_mid_write_leaves_the_previous_rows(postgres_url: str) -> None:
    _create(postgres_url, 1_000)
    script = f"""
import sys, time
import pyarrow as pa
from octorec.warehouse import open_warehouse
with open_warehouse({postgres_url!r}) as warehouse, warehouse.transaction():
    warehouse.execute("DELETE FROM swapped")
    warehouse.execute("INSERT INTO swapped VALUES (1, 'half')")
    print("mid-write", flush=True)
    time.sleep(60)
"""
    writer = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert writer.stdout is not None
    assert writer.stdout.readline().strip() == "mid-write"
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    with open_warehouse(postgres_url, read_only=True) as warehouse:
        assert warehouse.count("swapped") == 1_000
        assert (
            warehouse.query("SELECT count(*) AS n FROM swapped WHERE v = 'half'")
            .column("n")[0]
            .as_py()
            == 0
        )


def test_a_second_writer_waits_and_says_why(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    _create(postgres_url, 10)
    locked = threading.Event()

    def first_run() -> None:
        with open_warehouse(postgres_url) as warehouse, warehouse.transaction():
            warehouse.lock_for_write("swapped")
            locked.set()
            time.sleep(1.0)
            warehouse.execute("UPDATE swapped SET v = 'first'")

    thread = threading.Thread(target=first_run)
    thread.start()
    assert locked.wait(timeout=30)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING), open_warehouse(postgres_url) as warehouse:
        warehouse.replace("swapped", pa.table({"k": [1, 2], "v": ["second", "second"]}))
    assert time.monotonic() - started > 0.5  # it waited for the first run's commit
    thread.join()
    assert "another run is writing swapped; waiting for it to finish" in caplog.text
    with open_warehouse(postgres_url, read_only=True) as warehouse:
        assert warehouse.query("SELECT v FROM swapped ORDER BY k").column("v").to_pylist() == [
            "second",
            "second",
        ]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda url, port: url.replace(PASSWORD, "wrong"), "password authentication failed"),
        (lambda url, port: url.rsplit("/", 1)[0] + "/missing", 'database "missing" does not exist'),
        (
            lambda url, port: url.replace(f":{port}/", f":{free_port()}/"),
            "Connection refused",
        ),
    ],
)
def test_connection_failures_are_one_clear_line_without_the_password(
    postgres: tuple[str, int], change, expected: str
) -> None:
    url, port = postgres
    bad = change(url, port)
    with pytest.raises(WarehouseError) as raised, open_warehouse(bad):
        pass
    message = str(raised.value)
    assert message.startswith("cannot connect to PostgreSQL at 127.0.0.1:")
    assert expected in message
    assert "\n" not in message
    assert PASSWORD not in message and "wrong" not in message.split(":", 3)[-1].split()[0]
    # Only an unreachable server is worth retrying; a refusal is final.
    assert isinstance(raised.value, WarehouseUnavailableError) == (expected == "Connection refused")


def test_the_cli_exits_1_with_the_connection_error(
    postgres: tuple[str, int], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url, _ = postgres
    monkeypatch.setenv("DATABASE_URL", url.replace(PASSWORD, "wrong"))
    assert main(["recommend", "someone"]) == 1
    error = capsys.readouterr().err
    assert error.startswith("octorec: cannot connect to PostgreSQL at 127.0.0.1:")
    assert error.count("\n") == 1 and PASSWORD not in error


@pytest.mark.parametrize(
    "bad_url",
    [
        f"postgresql://octorec:se/{PASSWORD}@127.0.0.1/octorec",
        f"postgresql://octorec:s3%ZZ{PASSWORD}@127.0.0.1:5432/octorec",
    ],
)
def test_a_malformed_url_never_echoes_its_password(bad_url: str) -> None:
    with pytest.raises(WarehouseError) as raised, open_warehouse(bad_url):
        pass
    assert "is not a valid postgresql://" in str(raised.value)
    assert PASSWORD not in str(raised.value) and "ZZ" not in str(raised.value)


def test_cached_api_answers_round_trip_on_postgres(postgres_url: str) -> None:
    # JSON columns read back as text on both backends, so the ETag cache works on either.
    with open_warehouse(postgres_url) as warehouse:
        state = WarehouseScrapeState(warehouse)
        state.put("/users/x/starred?page=1", '"etag"', {"body": [1, 2], "link": None})
        assert state.get("/users/x/starred?page=1") == ('"etag"', {"body": [1, 2], "link": None})
