"""The dbt project models, run for real by dbt against a hand-made raw dataset."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from octorec.defs.dbt import DBT_PROJECT_DIR
from octorec.ingestion import store_source_data
from octorec.sources.base import RepositoryRecord, SourceData
from octorec.warehouse import open_warehouse

pytestmark = pytest.mark.slow

REPOSITORIES = [
    RepositoryRecord(
        full_name="mail/postbox",
        description="An email client with css themes",
        language="JavaScript",
        stars=100,
    ),
    RepositoryRecord(
        full_name="lab/brain",
        description="Train neural networks; an AI toolkit",
        language="C",
        topics=("machine-learning", "pytorch"),
        stars=10_000,
    ),
    RepositoryRecord(full_name="Dup/Repo", description="older copy", stars=5),
    RepositoryRecord(full_name="dup/repo", description="newer copy", stars=6),
    RepositoryRecord(full_name="old/archived", description="gone", is_archived=True),
    RepositoryRecord(full_name="was/deleted", description="404 now", is_available=False),
    RepositoryRecord(full_name="go/words", description="ready to go with C++ and c#", stars=0),
    RepositoryRecord(full_name="no/stars", description=None, language="Go", stars=None),
]


@pytest.fixture(scope="module")
def enriched(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    database = tmp_path_factory.mktemp("dbt") / "models.duckdb"
    from datetime import UTC, datetime

    # The newer of two case-variants wins; give them distinct push dates.
    records = [
        RepositoryRecord(**{**r.__dict__, "pushed_at": datetime(2024, 1, 1, tzinfo=UTC)})
        if r.full_name == "dup/repo"
        else r
        for r in REPOSITORIES
    ]
    with open_warehouse(database) as warehouse:
        store_source_data(warehouse, SourceData(repositories=records))
    env = {**os.environ, "OCTOREC_DATABASE": str(database)}
    dbt = str(Path(sys.executable).parent / "dbt")
    for command in (["seed"], ["build", "--select", "dbt_projects", "dbt_project_enriched_data"]):
        completed = subprocess.run(
            [dbt, *command, "--profiles-dir", str(DBT_PROJECT_DIR)],
            cwd=DBT_PROJECT_DIR,
            env=env,
            capture_output=True,
            text=True,
        )
        assert completed.returncode == 0, completed.stdout[-3000:]
    with open_warehouse(database, read_only=True) as warehouse:
        rows = warehouse.query("SELECT * FROM dbt_project_enriched_data").to_pylist()
    return {row["full_name"]: row for row in rows}


def test_duplicates_and_unavailable_are_dropped_archived_kept_flagged(
    enriched: dict[str, dict],
) -> None:
    assert sorted(enriched) == [
        "dup/repo",
        "go/words",
        "lab/brain",
        "mail/postbox",
        "no/stars",
        "old/archived",
    ]
    assert enriched["dup/repo"]["description"] == "newer copy"
    assert enriched["old/archived"]["is_archived"] is True
    assert enriched["dup/repo"]["is_archived"] is False


def test_keywords_match_whole_tokens_only(enriched: dict[str, dict]) -> None:
    # "email" must not match "ai"; "css" must not match "c" (only CSS itself).
    assert "ai-ml" not in enriched["mail/postbox"]["categories"]
    assert "C" not in enriched["mail/postbox"]["tech_stack"]
    assert "CSS" in enriched["mail/postbox"]["tech_stack"]
    # "AI", "neural networks" and the topic "machine-learning" all match whole tokens.
    assert "ai-ml" in enriched["lab/brain"]["categories"]
    assert enriched["lab/brain"]["tech_stack"] == ["C", "PyTorch"]


def test_short_aliases_match_only_languages_and_topics(enriched: dict[str, dict]) -> None:
    # "go" in running text is an English word; "C++" and "c#" are unambiguous.
    assert enriched["go/words"]["tech_stack"] == ["C#", "C++"]
    assert enriched["no/stars"]["tech_stack"] == ["Go"]


def test_popularity_is_log_scaled_within_zero_and_one(enriched: dict[str, dict]) -> None:
    import math

    top = math.log(1 + 10_000)
    assert enriched["lab/brain"]["popularity"] == pytest.approx(1.0)
    assert enriched["mail/postbox"]["popularity"] == pytest.approx(math.log(101) / top)
    assert enriched["no/stars"]["popularity"] == 0.0
    assert enriched["mail/postbox"]["popularity"] > 0.45  # not a cap that flattens the tail


def test_embedding_text_and_hash(enriched: dict[str, dict]) -> None:
    import hashlib

    row = enriched["lab/brain"]
    assert row["embedding_text"] == (
        "brain: Train neural networks; an AI toolkit Topics: machine-learning, pytorch. "
        "Language: C."
    )
    assert row["content_hash"] == hashlib.md5(row["embedding_text"].encode()).hexdigest()
