"""A DATABASE_URL libpq would read otherwise than meant is refused without a piece of it."""

import logging
from pathlib import Path

import pytest

from octorec.warehouse import WarehouseError, open_warehouse
from octorec.warehouse.postgres_warehouse import check_url, describe_url

# Each URL below carries the password fragments "Pw", "Host" and "LeakMe" (characters that
# should have been percent-encoded), none of which may appear in what octorec says.
BROKEN = [
    "postgresql://octorec:Pw@Host/LeakMe@127.0.0.1:5433/octorec",
    "postgresql://octorec:Pw@Host@LeakMe@127.0.0.1:5433/octorec",
    "postgresql://octorec:Pw#Host/LeakMe@127.0.0.1:5433/octorec",
    "postgresql://octorec:Pw?Host/LeakMe@127.0.0.1:5433/octorec",
    "postgresql://octorec:Pw%zzHostLeakMe@127.0.0.1:5433/octorec",
    "postgresql://octorec:PwHostLeakMe@127.0.0.1:54x3/octorec",
    "postgresql://octorec:Pw@Host:LeakMe@127.0.0.1:5433/octorec",
]
SECRETS = ("Pw", "Host", "LeakMe")


@pytest.mark.parametrize("url", BROKEN)
def test_a_url_that_is_not_one_is_refused_without_echoing_it(
    url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(WarehouseError) as refused, open_warehouse(url):
        pass
    message = str(refused.value)
    said = message + "\n" + caplog.text
    assert not [secret for secret in SECRETS if secret in said], said
    assert "DATABASE_URL" in message and "percent-encode" in message
    assert "\n" not in message
    # No chained exception (a parser's message quoting the URL) travels with it.
    error = refused.value
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)
    with pytest.raises(WarehouseError) as described:
        describe_url(url)
    assert not [secret for secret in SECRETS if secret in str(described.value)]


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://octorec:p%40ss%2Fw%3Ard@localhost:5433/octorec",
        "postgresql://octorec:p!$&'()*+,;=:^~ss@db.example.com/octorec?sslmode=require",
        "postgres://localhost/octorec",
        "postgresql:///octorec?host=/var/run/postgresql",
        "postgresql://octorec@h1:5432,h2:5433/octorec?target_session_attrs=any",
        "postgresql://[::1]:5432/octorec",
        "postgresql://octorec:secret@127.0.0.1",
    ],
)
def test_well_formed_urls_pass(url: str) -> None:
    check_url(url)


def test_the_description_names_host_port_and_database_only() -> None:
    url = "postgresql://octorec:p%40ss@db.example.com:5433/my%20db?sslmode=require"
    assert describe_url(url) == "db.example.com:5433/my db"


@pytest.mark.slow
def test_octorec_run_and_dagsters_run_storage_never_hold_a_piece_of_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from octorec.cli import main

    home = tmp_path / "dagster-home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("DATABASE_URL", BROKEN[0])
    monkeypatch.setenv("OCTOREC_SNAPSHOT_DIR", str(tmp_path))

    code = main(["run"])

    out, err = capsys.readouterr()
    assert code != 0
    assert "percent-encode" in out + err
    assert not [secret for secret in SECRETS if secret in out + err], out + err
    stored = [path for path in home.rglob("*") if path.is_file()]
    assert not [path for path in stored if b"LeakMe" in path.read_bytes()]
