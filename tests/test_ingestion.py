from pathlib import Path

from octorec.ingestion import store_source_data
from octorec.sources.base import InteractionRecord, RejectedRow, RepositoryRecord, SourceData
from octorec.sources.snapshot import SnapshotSource
from octorec.warehouse import open_warehouse


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
