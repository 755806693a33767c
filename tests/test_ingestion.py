from pathlib import Path
from typing import Any

import pytest

from octorec.ingestion import ingest, store_source_data
from octorec.sources import SourceUnavailableError
from octorec.sources.base import InteractionRecord, RejectedRow, RepositoryRecord, SourceData
from octorec.sources.snapshot import SnapshotSource
from octorec.warehouse import Warehouse, open_warehouse


def test_loading_twice_never_duplicates(database: Path, sample_slice: Path) -> None:
    data = SnapshotSource(sample_slice).fetch()
    with open_warehouse(database) as warehouse:
        first = store_source_data(warehouse, data)
        second = store_source_data(warehouse, data)
    assert first.raw_repositories_total == second.raw_repositories_total == len(data.repositories)
    assert second.raw_interactions_total == len(data.interactions)
    assert second.raw_users_total == len(data.users)


def test_updates_replace_rows_and_rejections_are_recorded(database: Path) -> None:
    old = SourceData(
        repositories=[RepositoryRecord(full_name="a/b", stars=1, topics=("x",))],
        interactions=[InteractionRecord(user_login="u", repo_full_name="a/b")],
        rejected=[RejectedRow("repos.csv", 3, "stars", "bad", "a/c,,,-1")],
        files_read=["/d/repos.csv"],
    )
    new = SourceData(
        repositories=[RepositoryRecord(full_name="a/b", stars=5, topics=("x", "y"))],
        files_read=["/d/repos.csv"],
    )
    with open_warehouse(database) as warehouse:
        store_source_data(warehouse, old)
        rejected = warehouse.query("SELECT source_file, line_number, field FROM raw.rejected_rows")
        assert rejected.to_pylist() == [
            {"source_file": "repos.csv", "line_number": 3, "field": "stars"}
        ]
        store_source_data(warehouse, new)
        row = warehouse.query("SELECT stars, topics FROM raw.repositories").to_pylist()
        assert row == [{"stars": 5, "topics": ["x", "y"]}]
        # The re-read repos.csv had no bad rows any more, so its old rejection is gone.
        assert warehouse.count("raw.rejected_rows") == 0
        assert warehouse.count("raw.interactions") == 1


REPOS_HEADER = "full_name,description,language,topics,stars\n"


@pytest.fixture(params=["duckdb", "postgres"])
def location(request: pytest.FixtureRequest, database: Path) -> str | Path:
    if request.param == "duckdb":
        return database
    return request.getfixturevalue("postgres_url")


def _write_snapshot(
    directory: Path, repos: list[str], stars: list[str], users: list[str] | None = None
) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "repos.csv").write_text(
        REPOS_HEADER + "".join(f"{name},about {name},Go,,1\n" for name in repos), encoding="utf-8"
    )
    (directory / "user_stars.csv").write_text(
        "user,repo_full_name\n" + "".join(f"{pair}\n" for pair in stars), encoding="utf-8"
    )
    if users is not None:
        (directory / "users.csv").write_text(
            "login,bio\n" + "".join(f"{login},\n" for login in users), encoding="utf-8"
        )
    return directory


def _raw(warehouse: Warehouse) -> dict[str, list[tuple[str, ...]]]:
    return {
        "repositories": [
            tuple(row.values())
            for row in warehouse.query(
                "SELECT full_name FROM raw.repositories ORDER BY full_name"
            ).to_pylist()
        ],
        "users": [
            tuple(row.values())
            for row in warehouse.query("SELECT login FROM raw.users ORDER BY login").to_pylist()
        ],
        "interactions": [
            tuple(row.values())
            for row in warehouse.query(
                "SELECT user_login, repo_full_name FROM raw.interactions "
                "ORDER BY user_login, repo_full_name"
            ).to_pylist()
        ],
    }


def test_a_snapshot_run_makes_the_raw_tables_equal_to_the_snapshot(
    location: str | Path, tmp_path: Path
) -> None:
    first = _write_snapshot(
        tmp_path / "first",
        repos=["a/one", "a/two", "b/three"],
        stars=["alice,a/one", "bob,a/two", "bob,b/three"],
        users=["alice", "bob"],
    )
    second = _write_snapshot(
        tmp_path / "second",
        repos=["a/one", "b/three"],
        stars=["alice,a/one", "alice,b/three"],
        users=["alice"],
    )
    with open_warehouse(location) as warehouse:
        loaded = ingest(SnapshotSource(first), warehouse)
        assert loaded.removed == {"repositories": 0, "users": 0, "interactions": 0}
        run = ingest(SnapshotSource(second), warehouse)
        raw = _raw(warehouse)

    assert raw == {
        "repositories": [("a/one",), ("b/three",)],
        "users": [("alice",)],
        "interactions": [("alice", "a/one"), ("alice", "b/three")],
    }
    assert run.removed == {"repositories": 1, "users": 1, "interactions": 2}


def test_a_snapshot_that_would_empty_a_table_is_refused_unless_asked_for(
    location: str | Path, tmp_path: Path
) -> None:
    full = _write_snapshot(tmp_path / "full", repos=["a/one", "a/two"], stars=["alice,a/one"])
    header_only = _write_snapshot(tmp_path / "empty", repos=[], stars=["alice,a/one"])
    with open_warehouse(location) as warehouse:
        ingest(SnapshotSource(full), warehouse)
        before = _raw(warehouse)
        with pytest.raises(SourceUnavailableError) as refused:
            ingest(SnapshotSource(header_only), warehouse)
        assert _raw(warehouse) == before
        emptied = ingest(SnapshotSource(header_only, allow_empty=True), warehouse)
        after = _raw(warehouse)

    message = str(refused.value)
    assert "\n" not in message
    assert "raw.repositories (2 rows" in message and "OCTOREC_ALLOW_EMPTY_SNAPSHOT=1" in message
    assert emptied.removed["repositories"] == 2
    assert after["repositories"] == []


def test_an_empty_snapshot_into_an_empty_warehouse_is_no_refusal(
    database: Path, tmp_path: Path
) -> None:
    header_only = _write_snapshot(tmp_path / "empty", repos=[], stars=[])
    with open_warehouse(database) as warehouse:
        run = ingest(SnapshotSource(header_only), warehouse)
    assert run.repositories == 0


def test_the_allow_empty_setting_reaches_the_snapshot_source(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from octorec.settings import load_settings
    from octorec.sources import open_source

    monkeypatch.setenv("OCTOREC_SOURCE", "snapshot")
    monkeypatch.setenv("OCTOREC_SNAPSHOT_DIR", str(tmp_path))
    assert open_source(load_settings()).allow_empty is False  # type: ignore[attr-defined]
    monkeypatch.setenv("OCTOREC_ALLOW_EMPTY_SNAPSHOT", "1")
    assert open_source(load_settings()).allow_empty is True  # type: ignore[attr-defined]


def test_a_duplicate_differing_in_case_leaves_once_the_file_is_fixed(
    location: str | Path, tmp_path: Path
) -> None:
    duplicated = _write_snapshot(
        tmp_path / "dup", repos=["Foo/Bar", "foo/bar", "x/y"], stars=["alice,foo/bar"]
    )
    fixed = _write_snapshot(tmp_path / "fixed", repos=["foo/bar", "x/y"], stars=["alice,foo/bar"])
    with open_warehouse(location) as warehouse:
        first = ingest(SnapshotSource(duplicated), warehouse)
        stored_first = _raw(warehouse)["repositories"]
        ingest(SnapshotSource(fixed), warehouse)
        stored_fixed = _raw(warehouse)["repositories"]

    assert [(r.line_number, "letter case" in r.reason) for r in first.rejected] == [(3, True)]
    assert stored_first == [("Foo/Bar",), ("x/y",)]
    assert stored_fixed == [("foo/bar",), ("x/y",)]


def test_nul_bytes_are_stored_the_same_on_both_backends(
    location: str | Path, tmp_path: Path
) -> None:
    directory = tmp_path / "nul"
    directory.mkdir()
    (directory / "repos.csv").write_bytes(
        REPOS_HEADER.encode() + b"a/b,nul\x00inside,Go,x\x00y|z,1\nc/d,fine,Go,,2\n"
    )
    (directory / "user_stars.csv").write_bytes(b"user,repo_full_name\nalice,a/b\n")
    (directory / "users.csv").write_bytes(b"login,bio\nalice,my\x00bio\n")
    with open_warehouse(location) as warehouse:
        run = ingest(SnapshotSource(directory), warehouse)
        repos = warehouse.query(
            "SELECT full_name, description, topics FROM raw.repositories ORDER BY full_name"
        ).to_pylist()
        users = warehouse.query("SELECT login, bio FROM raw.users").to_pylist()

    assert repos == [
        {"full_name": "a/b", "description": "nulinside", "topics": ["xy", "z"]},
        {"full_name": "c/d", "description": "fine", "topics": []},
    ]
    assert users == [{"login": "alice", "bio": "mybio"}]
    assert run.rejected == []
    assert sorted(w.split(": ", 1)[0] for w in run.warnings) == ["repos.csv:2", "users.csv:2"]


def test_nul_bytes_from_any_source_never_reach_a_raw_table(location: str | Path) -> None:
    data = SourceData(
        repositories=[
            RepositoryRecord(
                full_name="a/b",
                description="x\x00y",
                topics=("t\x00",),
                payload={"description": "x\x00y"},
            )
        ],
        rejected=[RejectedRow("live", 1, None, "bad", "raw\x00line")],
    )
    with open_warehouse(location) as warehouse:
        store_source_data(warehouse, data)
        row = warehouse.query("SELECT description, topics, payload FROM raw.repositories")
        rejected = warehouse.query("SELECT raw_line FROM raw.rejected_rows")
    assert row.to_pylist() == [
        {"description": "xy", "topics": ["t"], "payload": '{"description": "xy"}'}
    ]
    assert rejected.column("raw_line").to_pylist() == ["rawline"]


def _scrape(
    monkeypatch: pytest.MonkeyPatch, snapshot: Path, database: Path
) -> tuple[Any, list[str]]:
    """Materialise the ingestion assets on `snapshot`: the result and every logged message."""
    import dagster as dg

    from octorec.defs.ingestion import github_data_ready, github_scraping
    from octorec.defs.resources import OctorecResource

    monkeypatch.setenv("OCTOREC_SOURCE", "snapshot")
    monkeypatch.setenv("OCTOREC_SNAPSHOT_DIR", str(snapshot))
    monkeypatch.setenv("OCTOREC_DATABASE", str(database))
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize(
            [github_data_ready, github_scraping],
            resources={"octorec": OctorecResource()},
            instance=instance,
            raise_on_error=False,
        )
        return result, [entry.user_message for entry in instance.all_logs(result.run_id)]


def test_the_ingestion_asset_reports_rows_removed_warnings_and_refusals(
    monkeypatch: pytest.MonkeyPatch, database: Path, tmp_path: Path
) -> None:
    first = _write_snapshot(
        tmp_path / "first", repos=["a/one", "a/two"], stars=["alice,a/one", "bob,a/two"]
    )
    second = _write_snapshot(tmp_path / "second", repos=["a/one"], stars=["alice,a/one"])
    (second / "users.csv").write_text("login,categories\nalice,Quantum Knitting\n")
    emptied = _write_snapshot(tmp_path / "emptied", repos=[], stars=["alice,a/one"])

    assert _scrape(monkeypatch, first, database)[0].success
    result, logged = _scrape(monkeypatch, second, database)
    refused, _ = _scrape(monkeypatch, emptied, database)

    [materialization] = result.asset_materializations_for_node("github_scraping")
    metadata = {key: value.value for key, value in materialization.metadata.items()}
    assert metadata["rows_removed"] == {
        "raw.repositories": 1,
        "raw.users": 0,
        "raw.interactions": 1,
    }
    assert metadata["warnings"] == 1
    assert "'Quantum Knitting'" in metadata["warnings_sample"]
    assert any("'Quantum Knitting'" in message for message in logged)
    assert any("1 from raw.repositories" in message for message in logged)

    assert not refused.success
    [failure] = [
        event.step_failure_data.error
        for event in refused.all_events
        if event.event_type_value == "STEP_FAILURE"
    ]
    assert "OCTOREC_ALLOW_EMPTY_SNAPSHOT=1" in failure.message
    assert "batches committed" not in failure.message


@pytest.mark.slow
def test_what_left_the_snapshot_leaves_the_dbt_models(database: Path, tmp_path: Path) -> None:
    from octorec.dbt_project import run_dbt

    first = _write_snapshot(
        tmp_path / "first",
        repos=["a/one", "a/two", "Foo/Bar"],
        stars=["alice,a/one", "bob,a/two"],
        users=["alice", "bob"],
    )
    second = _write_snapshot(
        tmp_path / "second", repos=["a/one", "foo/bar"], stars=["alice,a/one"], users=["alice"]
    )
    models = ["dbt_projects", "dbt_user_embeddings_data"]
    seen = []
    for snapshot in (first, second):
        with open_warehouse(database) as warehouse:
            ingest(SnapshotSource(snapshot), warehouse)
        run_dbt(database, ["build", "--quiet", "--select", *[f"+{m}" for m in models]])
        with open_warehouse(database, read_only=True) as warehouse:
            projects = warehouse.query("SELECT full_name FROM dbt_projects ORDER BY 1")
            users = warehouse.query("SELECT user_login FROM dbt_user_embeddings_data ORDER BY 1")
        seen.append((projects.column(0).to_pylist(), users.column(0).to_pylist()))

    assert seen[0] == (["Foo/Bar", "a/one", "a/two"], ["alice", "bob"])
    assert seen[1] == (["a/one", "foo/bar"], ["alice"])
