"""Tables the Python side of the pipeline owns (dbt owns its models), in DuckDB's dialect."""

from __future__ import annotations

from typing import Final

from octorec import constants as c

RAW_TABLES: Final[dict[str, str]] = {
    f"{c.RAW_SCHEMA}.{c.RAW_REPOSITORIES}": """
        full_name VARCHAR PRIMARY KEY,
        description VARCHAR,
        language VARCHAR,
        topics VARCHAR[] NOT NULL,
        stars BIGINT,
        forks BIGINT,
        open_issues BIGINT,
        created_at TIMESTAMPTZ,
        pushed_at TIMESTAMPTZ,
        is_fork BOOLEAN NOT NULL,
        is_archived BOOLEAN NOT NULL,
        is_disabled BOOLEAN NOT NULL,
        readme_excerpt VARCHAR,
        source VARCHAR,
        payload JSON,
        ingested_at TIMESTAMPTZ NOT NULL,
        languages JSON,
        watchers BIGINT,
        license VARCHAR,
        homepage VARCHAR,
        updated_at TIMESTAMPTZ,
        is_available BOOLEAN NOT NULL DEFAULT TRUE,
        github_id BIGINT
    """,
    f"{c.RAW_SCHEMA}.{c.RAW_USERS}": """
        login VARCHAR PRIMARY KEY,
        name VARCHAR,
        bio VARCHAR,
        company VARCHAR,
        location VARCHAR,
        declared_categories VARCHAR[] NOT NULL,
        declared_tech_stack VARCHAR[] NOT NULL,
        snapshot_date DATE,
        source VARCHAR,
        payload JSON,
        ingested_at TIMESTAMPTZ NOT NULL
    """,
    f"{c.RAW_SCHEMA}.{c.RAW_INTERACTIONS}": """
        user_login VARCHAR NOT NULL,
        repo_full_name VARCHAR NOT NULL,
        kind VARCHAR NOT NULL,
        interacted_at TIMESTAMPTZ,
        source VARCHAR,
        ingested_at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (user_login, repo_full_name, kind)
    """,
    f"{c.RAW_SCHEMA}.{c.RAW_REJECTED_ROWS}": """
        source_file VARCHAR NOT NULL,
        line_number BIGINT NOT NULL,
        field VARCHAR,
        reason VARCHAR NOT NULL,
        raw_line VARCHAR NOT NULL,
        rejected_at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (source_file, line_number)
    """,
    f"{c.RAW_SCHEMA}.{c.RAW_HTTP_CACHE}": """
        request VARCHAR PRIMARY KEY,
        etag VARCHAR NOT NULL,
        body JSON,
        fetched_at TIMESTAMPTZ NOT NULL
    """,
    f"{c.RAW_SCHEMA}.{c.RAW_FEEDBACK}": """
        user_login VARCHAR NOT NULL,
        project_full_name VARCHAR NOT NULL,
        kind VARCHAR NOT NULL,
        created_at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (user_login, project_full_name)
    """,
}

PIPELINE_TABLES: Final[dict[str, str]] = {
    c.EMBEDDING_CACHE: """
        model VARCHAR NOT NULL,
        backend VARCHAR NOT NULL,
        content_hash VARCHAR NOT NULL,
        embedding FLOAT[] NOT NULL,
        created_at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (model, backend, content_hash)
    """,
    c.PROJECT_SEMANTIC_EMBEDDINGS: """
        project_full_name VARCHAR PRIMARY KEY,
        content_hash VARCHAR NOT NULL,
        model VARCHAR NOT NULL,
        embedding FLOAT[] NOT NULL,
        run_id VARCHAR NOT NULL,
        computed_at TIMESTAMPTZ NOT NULL
    """,
    c.PROJECT_HYBRID_EMBEDDINGS: """
        project_full_name VARCHAR PRIMARY KEY,
        categories VARCHAR[] NOT NULL,
        tech_stack VARCHAR[] NOT NULL,
        popularity DOUBLE NOT NULL,
        embedding FLOAT[] NOT NULL,
        run_id VARCHAR NOT NULL,
        computed_at TIMESTAMPTZ NOT NULL
    """,
    c.USER_EMBEDDINGS: """
        user_login VARCHAR PRIMARY KEY,
        embedding FLOAT[] NOT NULL,
        semantic_embedding FLOAT[] NOT NULL,
        semantic_basis VARCHAR NOT NULL,
        interacted_projects INTEGER NOT NULL,
        run_id VARCHAR NOT NULL,
        computed_at TIMESTAMPTZ NOT NULL
    """,
    c.PIPELINE_STEPS: """
        step VARCHAR PRIMARY KEY,
        fingerprint VARCHAR NOT NULL,
        run_id VARCHAR NOT NULL,
        recorded_at TIMESTAMPTZ NOT NULL
    """,
    c.USER_PROJECT_SIMILARITIES: """
        user_login VARCHAR NOT NULL,
        project_full_name VARCHAR NOT NULL,
        rank INTEGER NOT NULL,
        score DOUBLE NOT NULL,
        semantic_similarity DOUBLE NOT NULL,
        category_similarity DOUBLE NOT NULL,
        tech_stack_similarity DOUBLE NOT NULL,
        popularity_similarity DOUBLE NOT NULL,
        collaborative_similarity DOUBLE NOT NULL DEFAULT 0,
        matched_categories VARCHAR[] NOT NULL,
        matched_tech_stack VARCHAR[] NOT NULL,
        similar_known_project VARCHAR,
        reason VARCHAR NOT NULL DEFAULT '',
        semantic_weight DOUBLE NOT NULL DEFAULT 0,
        category_weight DOUBLE NOT NULL DEFAULT 0,
        tech_stack_weight DOUBLE NOT NULL DEFAULT 0,
        popularity_weight DOUBLE NOT NULL DEFAULT 0,
        collaborative_weight DOUBLE NOT NULL DEFAULT 0,
        formula_score DOUBLE NOT NULL DEFAULT 0,
        model_version VARCHAR,
        run_id VARCHAR NOT NULL,
        computed_at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (user_login, rank)
    """,
    c.RECOMMENDATION_MODELS: """
        run_id VARCHAR PRIMARY KEY,
        version VARCHAR NOT NULL,
        kind VARCHAR NOT NULL,
        training_fingerprint VARCHAR NOT NULL,
        settings JSON NOT NULL,
        metrics JSON NOT NULL,
        model VARCHAR,
        reason VARCHAR NOT NULL,
        fit_seconds DOUBLE NOT NULL,
        fitted_at TIMESTAMPTZ NOT NULL
    """,
    c.SHARD_STEPS: """
        staged_table VARCHAR NOT NULL,
        generation VARCHAR NOT NULL,
        shards INTEGER NOT NULL,
        shard INTEGER NOT NULL,
        rows_staged BIGINT NOT NULL,
        run_id VARCHAR NOT NULL,
        recorded_at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (staged_table, shard)
    """,
}


def _staged(columns: str) -> str:
    """A table's columns without its primary key, plus which shard of which generation."""
    kept = [line for line in columns.strip().split(",\n") if "PRIMARY KEY" not in line]
    return ",\n".join(
        [*kept, "        shard INTEGER NOT NULL", "        generation VARCHAR NOT NULL"]
    )


SHARDED_TABLES: Final = (c.USER_PROJECT_SIMILARITIES,)
"""Tables written shard by shard (partitioned assets), staged until every shard is done."""
PIPELINE_TABLES.update(
    {f"{table}{c.STAGED_SUFFIX}": _staged(PIPELINE_TABLES[table]) for table in SHARDED_TABLES}
)

CACHES_KEYED_BY: Final[dict[str, str]] = {c.EMBEDDING_CACHE: "backend"}
"""Caches whose primary key gained a column: an older table without it is dropped and rebuilt."""
