"""The dbt project models, run for real by dbt against a hand-made raw dataset, on DuckDB and
on PostgreSQL (a server the tests start)."""

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from octorec.dbt_project import run_dbt
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
    # Issue 16: the topic "neural-network" once matched the keyword "network".
    RepositoryRecord(
        full_name="torch/torch",
        description="Tensors and Dynamic neural networks in Python with strong GPU acceleration",
        language="Python",
        topics=("deep-learning", "gpu", "machine-learning", "neural-network", "python"),
        stars=1_000,
    ),
    RepositoryRecord(
        full_name="net/tunnel",
        description="A fast reverse proxy and VPN tunnel for your network",
        language="Go",
        topics=("network", "proxy"),
        stars=50,
    ),
    RepositoryRecord(
        full_name="lab/infer", description="A high-performance neural network inference engine"
    ),
    RepositoryRecord(
        full_name="lab/watch", description="A neural network that watches your network traffic"
    ),
    RepositoryRecord(
        full_name="me/notes",
        description="A self-hosted note-taking tool, AI-driven",
        topics=("social-network",),
    ),
    RepositoryRecord(full_name="lab/neural-network-demo", description="Examples"),
]


@pytest.fixture(scope="module", params=["duckdb", "postgresql"])
def enriched(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, dict]]:
    """`dbt_project_enriched_data` built by dbt from `REPOSITORIES`, by full name."""
    folder = tmp_path_factory.mktemp("dbt")
    on_postgres = request.param == "postgresql"
    location = request.getfixturevalue("postgres")[0] if on_postgres else folder / "models.duckdb"
    # The newer of two case-variants wins; give them distinct push dates.
    records = [
        RepositoryRecord(**{**r.__dict__, "pushed_at": datetime(2024, 1, 1, tzinfo=UTC)})
        if r.full_name == "dup/repo"
        else r
        for r in REPOSITORIES
    ]
    with open_warehouse(location) as warehouse:
        store_source_data(warehouse, SourceData(repositories=records))
    for command in (["seed"], ["build", "--select", "dbt_projects", "dbt_project_enriched_data"]):
        run_dbt(location, command, state_dir=folder / "dbt-state")
    with open_warehouse(location, read_only=True) as warehouse:
        rows = warehouse.query("SELECT * FROM dbt_project_enriched_data").to_pylist()
    yield {row["full_name"]: row for row in rows}
    if on_postgres:
        import psycopg

        with psycopg.connect(str(location), autocommit=True) as connection:
            connection.execute("DROP SCHEMA IF EXISTS raw CASCADE")
            connection.execute("DROP SCHEMA public CASCADE")
            connection.execute("CREATE SCHEMA public")


def test_duplicates_and_unavailable_are_dropped_archived_kept_flagged(
    enriched: dict[str, dict],
) -> None:
    assert sorted(enriched) == [
        "dup/repo",
        "go/words",
        "lab/brain",
        "lab/infer",
        "lab/neural-network-demo",
        "lab/watch",
        "mail/postbox",
        "me/notes",
        "net/tunnel",
        "no/stars",
        "old/archived",
        "torch/torch",
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


def test_a_hyphenated_topic_is_one_token(enriched: dict[str, dict]) -> None:
    # "neural-network" matches "neural network" (ai-ml), never "network" (networking), as
    # "machine-learning" matches "machine learning"; a real networking project still is one.
    assert enriched["torch/torch"]["categories"] == ["ai-ml"]
    assert enriched["torch/torch"]["tech_stack"] == ["Python"]
    assert enriched["net/tunnel"]["categories"] == ["networking"]
    assert enriched["net/tunnel"]["tech_stack"] == ["Go"]


def test_hyphenated_words_of_the_description_match_as_a_whole(enriched: dict[str, dict]) -> None:
    # "self-hosted" and "note-taking" are the keywords "self hosted" and "note taking";
    # "ai-driven" is not "ai", and the topic "social-network" is not "network".
    assert enriched["me/notes"]["categories"] == ["devops", "productivity"]


def test_the_longest_keyword_phrase_wins(enriched: dict[str, dict]) -> None:
    # "network" inside "neural network" is not networking; once more outside it, it is.
    assert enriched["lab/infer"]["categories"] == ["ai-ml"]
    assert enriched["lab/watch"]["categories"] == ["ai-ml", "networking"]
    # A name's words are split on hyphens and read the same way.
    assert enriched["lab/neural-network-demo"]["categories"] == ["ai-ml", "education"]


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


@pytest.mark.parametrize("backend", ["duckdb", "postgresql"])
def test_a_users_mean_popularity_is_summed_exactly(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    # In floating point 0.1 + 0.2 + 0.3 is 0.6000000000000001 or 0.6 by the order of the sum,
    # and neither over 3 is 0.2: a float mean moved with the order the database added the rows
    # in (a nondeterministic table, its fingerprint changing between identical runs).
    import pyarrow as pa

    from octorec import constants as c
    from octorec.sources.base import InteractionRecord, UserRecord

    popularity = {"p/one": 0.1, "p/two": 0.2, "p/three": 0.3}
    # `postgres_url` empties the server's schemas after the test.
    on_postgres = backend == "postgresql"
    location = request.getfixturevalue("postgres_url") if on_postgres else tmp_path / "u.duckdb"
    with open_warehouse(location) as warehouse:
        store_source_data(
            warehouse,
            SourceData(
                repositories=[RepositoryRecord(full_name=name) for name in popularity],
                users=[UserRecord(login="alice")],
                interactions=[InteractionRecord("alice", name) for name in popularity],
            ),
        )
        rows = {
            "project_full_name": list(popularity),
            "categories": [[]] * len(popularity),
            "tech_stack": [[]] * len(popularity),
            "popularity": list(popularity.values()),
            "embedding": [[1.0, 0.0]] * len(popularity),
            "run_id": ["hand-made"] * len(popularity),
            "computed_at": [datetime(2026, 11, 1, tzinfo=UTC)] * len(popularity),
        }
        hybrid = pa.schema(
            [
                ("project_full_name", pa.string()),
                ("categories", pa.list_(pa.string())),
                ("tech_stack", pa.list_(pa.string())),
                ("popularity", pa.float64()),
                ("embedding", pa.list_(pa.float32())),
                ("run_id", pa.string()),
                ("computed_at", pa.timestamp("us", tz="UTC")),
            ]
        )
        warehouse.replace(c.PROJECT_HYBRID_EMBEDDINGS, pa.table(rows, schema=hybrid))
    run_dbt(location, ["seed"], state_dir=tmp_path / "dbt-state")
    run_dbt(
        location,
        ["build", "--select", "+dbt_user_embeddings_data"],
        state_dir=tmp_path / "dbt-state",
    )
    with open_warehouse(location, read_only=True) as warehouse:
        users = warehouse.query(
            "SELECT user_login, known_project_count, mean_popularity FROM dbt_user_embeddings_data"
        ).to_pylist()
    assert users == [{"user_login": "alice", "known_project_count": 3, "mean_popularity": 0.2}]
