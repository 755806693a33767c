from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from octorec.cli import main
from octorec.constants import USER_PROJECT_SIMILARITIES
from octorec.warehouse import open_warehouse


@pytest.fixture
def stored(monkeypatch: pytest.MonkeyPatch, database: Path) -> Path:
    monkeypatch.setenv("OCTOREC_DATABASE", str(database))
    rows = [
        ("alice", "a/first", 1, 0.9, ["ai-ml"], ["Python"]),
        ("alice", "a/second", 2, 0.5, [], []),
        ("bob", "b/only", 1, 0.3, [], ["Go"]),
    ]
    table = pa.table(
        {
            "user_login": [r[0] for r in rows],
            "project_full_name": [r[1] for r in rows],
            "rank": pa.array([r[2] for r in rows], pa.int32()),
            "score": [r[3] for r in rows],
            "semantic_similarity": [0.5] * 3,
            "category_similarity": [0.4] * 3,
            "tech_stack_similarity": [0.3] * 3,
            "popularity_similarity": [0.2] * 3,
            "collaborative_similarity": [0.1] * 3,
            "matched_categories": [r[4] for r in rows],
            "matched_tech_stack": [r[5] for r in rows],
            "similar_known_project": ["x/liked", None, None],
            "reason": [
                "like x/liked, which you starred or own; matches ai-ml, Python",
                "popular",
                "-",
            ],
            "run_id": ["r"] * 3,
            "computed_at": [datetime.now(UTC)] * 3,
        }
    )
    with open_warehouse(database) as warehouse:
        warehouse.replace(USER_PROJECT_SIMILARITIES, table)
    return database


def test_recommend_prints_a_users_table(stored: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["recommend", "ALICE"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "ALICE:"
    assert "a/first" in lines[2] and "0.900" in lines[2] and "ai-ml, Python" in lines[2]
    assert "a/second" in lines[3]


def test_top_limits_the_rows(stored: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["recommend", "alice", "--top", "1"]) == 0
    assert "a/second" not in capsys.readouterr().out


def test_unknown_login_is_one_line_and_exit_1(
    stored: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["recommend", "nobody"]) == 1
    assert capsys.readouterr().err == "octorec: no recommendations stored for 'nobody'\n"


def test_sample_shows_several_users(stored: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sample", "--users", "2"]) == 0
    out = capsys.readouterr().out
    assert "alice:" in out and "bob:" in out and "b/only" in out


def test_missing_database_says_to_run_the_pipeline(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OCTOREC_DATABASE", str(tmp_path / "none.duckdb"))
    assert main(["recommend", "alice"]) == 1
    assert "run the pipeline first" in capsys.readouterr().err
