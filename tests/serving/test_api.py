"""The HTTP API over a small known warehouse (FastAPI's test client), and live over the
pipeline's real result (`octorec serve` in its own process)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
import httpx
import numpy as np
import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from octorec.constants import USER_PROJECT_SIMILARITIES
from octorec.serving.api import Health, Recommendations, SimilarProjects, Users, create_app
from octorec.settings import load_settings
from octorec.warehouse import open_warehouse

COMPONENTS = ("semantic", "category", "tech_stack", "popularity", "collaborative")
PROJECTS = {
    # name: (hybrid vector, categories, tech stack, stars)
    "torch/vision": ([1.0, 0.0, 0.0], ["ai-ml"], ["Python", "PyTorch"], 900),
    "torch/audio": ([0.9, 0.1, 0.0], ["ai-ml"], ["Python"], 300),
    "web/react-kit": ([0.0, 1.0, 0.0], ["web"], ["TypeScript"], 5000),
    "web/vue-kit": ([0.1, 0.9, 0.2], ["web"], ["TypeScript", "Vue"], 50),
    "data/lake": ([0.5, 0.0, 0.8], ["data"], ["Python"], 70),
}


def _recommendation(login: str, rank: int, project: str, score: float) -> dict:
    return {
        "user_login": login,
        "project_full_name": project,
        "rank": rank,
        "score": score,
        **{f"{name}_similarity": 0.1 * (i + 1) for i, name in enumerate(COMPONENTS)},
        "matched_categories": ["ai-ml"] if project.startswith("torch") else [],
        "matched_tech_stack": ["Python"],
        "similar_known_project": "data/lake" if rank == 1 else None,
        "reason": f"reason {rank}",
        **{f"{name}_weight": 0.2 for name in COMPONENTS},
        "run_id": "run-1",
        "computed_at": datetime(2026, 11, 1, 12, 0, tzinfo=UTC),
    }


@pytest.fixture
def stored(database: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Three users' recommendations, five projects with their hybrid embeddings."""
    rows = [
        _recommendation("Alice", 1, "torch/vision", 0.9),
        _recommendation("Alice", 2, "torch/audio", 0.7),
        _recommendation("Alice", 3, "data/lake", 0.5),
        _recommendation("alina-dev", 1, "web/react-kit", 0.6),
        _recommendation("bob", 1, "web/vue-kit", 0.4),
    ]
    with open_warehouse(database) as warehouse:
        warehouse.replace(USER_PROJECT_SIMILARITIES, pa.Table.from_pylist(rows))
    names = list(PROJECTS)
    projects = pa.table(
        {
            "full_name": names,
            "description": [f"about {n}" for n in names],
            "language": ["Python", "Python", "TypeScript", "TypeScript", "Python"],
            "stars": [PROJECTS[n][3] for n in names],
            "topics": [["t"] for _ in names],
            "categories": [PROJECTS[n][1] for n in names],
            "tech_stack": [PROJECTS[n][2] for n in names],
        }
    )
    hybrid = pa.table(
        {
            "project_full_name": names,
            "categories": [PROJECTS[n][1] for n in names],
            "tech_stack": [PROJECTS[n][2] for n in names],
            "popularity": [0.5] * len(names),
            "embedding": [
                (np.asarray(PROJECTS[n][0]) / np.linalg.norm(PROJECTS[n][0])).tolist()
                for n in names
            ],
            "run_id": ["run-1"] * len(names),
            "computed_at": [datetime(2026, 11, 1, tzinfo=UTC)] * len(names),
        }
    )
    with duckdb.connect(str(database)) as connection:
        connection.register("projects_rows", projects)
        connection.execute("CREATE TABLE dbt_project_enriched_data AS SELECT * FROM projects_rows")
        connection.register("hybrid_rows", hybrid)
        connection.execute("DELETE FROM project_hybrid_embeddings")
        connection.execute(
            "INSERT INTO project_hybrid_embeddings BY NAME SELECT * FROM hybrid_rows"
        )
    monkeypatch.setenv("OCTOREC_DATABASE", str(database))
    return database


@pytest.fixture
def client(stored: Path):
    with TestClient(create_app(load_settings(), refresh_seconds=0)) as test_client:
        yield test_client


def test_recommendations_come_back_in_rank_order_with_components(client: TestClient) -> None:
    response = client.get("/users/alice/recommendations", params={"limit": 2})
    assert response.status_code == 200
    body = response.json()
    assert body["login"] == "Alice" and body["run_id"] == "run-1"
    assert [r["project"]["full_name"] for r in body["recommendations"]] == [
        "torch/vision",
        "torch/audio",
    ]
    first = body["recommendations"][0]
    assert first["rank"] == 1 and first["score"] == pytest.approx(0.9)
    assert first["components"] == pytest.approx(
        {
            "semantic": 0.1,
            "category": 0.2,
            "tech_stack": 0.3,
            "popularity": 0.4,
            "collaborative": 0.5,
        }
    )
    assert first["project"]["stars"] == 900
    assert first["project"]["url"] == "https://github.com/torch/vision"
    assert first["reason"] == "reason 1" and first["similar_known_project"] == "data/lake"
    assert body["weights"] == {name: 0.2 for name in COMPONENTS}


def test_an_unknown_login_is_404_with_close_matches(client: TestClient) -> None:
    response = client.get("/users/alicee/recommendations")
    assert response.status_code == 404
    assert response.json()["close_matches"] == ["Alice"]
    assert "no recommendations stored for 'alicee'" in response.json()["detail"]


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/users/alice/recommendations", {"limit": 0}, "limit"),
        ("/users/alice/recommendations", {"limit": 101}, "limit"),
        ("/users/alice/recommendations", {"limit": "many"}, "limit"),
        ("/users/al'ice--/recommendations", {}, "login"),
        ("/users", {"query": "x' OR 1=1 --"}, "query"),
        ("/projects/torch/vis%20ion/similar", {}, "repo"),
        ("/projects/torch/vision/similar", {"limit": 51}, "limit"),
    ],
)
def test_bad_parameters_are_422_naming_the_field(
    client: TestClient, path: str, params: dict, field: str
) -> None:
    response = client.get(path, params=params)
    assert response.status_code == 422
    assert [error["loc"][-1] for error in response.json()["detail"]] == [field]


def test_user_search_puts_prefix_matches_first(client: TestClient) -> None:
    body = client.get("/users", params={"query": "ali"}).json()
    assert body["users"] == [
        {"login": "Alice", "recommendations": 3},
        {"login": "alina-dev", "recommendations": 1},
    ]
    everyone = client.get("/users", params={"limit": 2}).json()["users"]
    assert [u["login"] for u in everyone] == ["Alice", "alina-dev"]
    assert client.get("/users", params={"query": "nobody"}).json()["users"] == []


def test_similar_projects_by_the_cosine_of_hybrid_embeddings(client: TestClient) -> None:
    body = client.get("/projects/Torch/Vision/similar", params={"limit": 3}).json()
    assert body["project"]["full_name"] == "torch/vision"
    assert body["project"]["categories"] == ["ai-ml"]
    similar = body["similar"]
    # cos(vision, ·): audio 0.9/√0.82 = 0.994, lake 0.5/√0.89 = 0.530, vue 0.1/√0.86 = 0.108
    assert [s["project"]["full_name"] for s in similar] == [
        "torch/audio",
        "data/lake",
        "web/vue-kit",
    ]
    assert [s["similarity"] for s in similar] == pytest.approx([0.9939, 0.5300, 0.1078], abs=1e-3)
    assert similar[0]["shared_categories"] == ["ai-ml"]
    assert similar[0]["shared_tech_stack"] == ["Python"]


def test_an_unknown_project_is_404_with_close_matches(client: TestClient) -> None:
    response = client.get("/projects/torch/visoin/similar")
    assert response.status_code == 404
    assert response.json()["close_matches"][0] == "torch/vision"


def test_health_reports_the_last_run(client: TestClient) -> None:
    body = Health.model_validate(client.get("/health").json()).model_dump()
    assert body["status"] == "ok" and body["database"] == "reachable"
    assert body["last_run_id"] == "run-1" == body["serving_run_id"]
    assert body["last_run_at"].startswith("2026-11-01T12:00:00")


def test_health_is_503_without_a_database(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("OCTOREC_DATABASE", str(tmp_path / "missing.duckdb"))
    with TestClient(create_app(load_settings(), refresh_seconds=0)) as client:
        response = client.get("/health")
        assert response.status_code == 503
        assert response.json()["status"] == "unavailable"
        assert "run the pipeline first" in response.json()["database"]
        # Nothing to serve yet: every login is unknown rather than an error.
        assert client.get("/users/alice/recommendations").status_code == 404


def test_a_newer_run_replaces_the_snapshot(client: TestClient, stored: Path) -> None:
    newer = [_recommendation("carol", 1, "data/lake", 0.8) | {"run_id": "run-2"}]
    with open_warehouse(stored) as warehouse:
        warehouse.replace(USER_PROJECT_SIMILARITIES, pa.Table.from_pylist(newer))
    assert client.get("/users/carol/recommendations").status_code == 404  # not refreshed yet
    assert client.app.state.snapshots.refresh() is True
    assert client.get("/users/carol/recommendations").json()["run_id"] == "run-2"
    assert client.get("/users/alice/recommendations").status_code == 404
    assert client.app.state.snapshots.refresh() is False  # same run: nothing reloaded


def test_the_openapi_document_lists_every_route(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert set(paths) == {
        "/health",
        "/users",
        "/users/{login}/recommendations",
        "/recommendations",
        "/projects/{owner}/{repo}/similar",
        "/users/{login}",
        "/users/{login}/feedback",
        "/users/{login}/feedback/{owner}/{repo}",
    }
    assert client.get("/docs").status_code == 200


@pytest.mark.slow
def test_the_live_server_serves_the_stored_pipeline_result(
    live_server: str, served_database: Path
) -> None:
    with open_warehouse(served_database, read_only=True) as warehouse:
        stored_rows = warehouse.query(
            "SELECT project_full_name, score FROM user_project_similarities "
            "WHERE user_login = 'dkadev' ORDER BY rank"
        ).to_pylist()
    body = httpx.get(f"{live_server}/users/DKADEV/recommendations").json()
    assert [(r["project"]["full_name"], r["score"]) for r in body["recommendations"]] == [
        (row["project_full_name"], pytest.approx(row["score"])) for row in stored_rows
    ]
    health = httpx.get(f"{live_server}/health").json()
    assert health["status"] == "ok" and health["last_run_id"] == body["run_id"]
    page = httpx.get(f"{live_server}/")
    assert page.status_code == 200 and "<html" in page.text.lower()


def test_answers_follow_the_documented_response_models(client: TestClient) -> None:
    Recommendations.model_validate(client.get("/users/alice/recommendations").json())
    SimilarProjects.model_validate(client.get("/projects/torch/vision/similar").json())
    Users.model_validate(client.get("/users", params={"query": "a"}).json())


def test_health_reports_a_busy_database_and_keeps_serving(client: TestClient, stored: Path) -> None:
    import subprocess
    import sys

    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True);"
            " time.sleep(30)",
            str(stored),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        body = client.get("/health").json()
        assert body["status"] == "ok" and body["database"].startswith("busy")
        assert body["serving_run_id"] == "run-1"
        snapshots = client.app.state.snapshots
        assert snapshots.refresh() is False  # waits, gives up, keeps what it serves
        assert "in use by another process" in snapshots.last_error
        assert client.get("/users/alice/recommendations").status_code == 200
    finally:
        holder.kill()
        holder.wait()


def test_an_empty_warehouse_is_loaded_once_not_at_every_refresh(
    database: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with open_warehouse(database):
        pass  # the tables exist, empty
    monkeypatch.setenv("OCTOREC_DATABASE", str(database))
    with TestClient(create_app(load_settings(), refresh_seconds=0)) as client:
        snapshots = client.app.state.snapshots
        assert snapshots.current.run_id is None and snapshots.refresh() is False
        assert client.get("/health").json()["last_run_id"] is None


def test_results_from_an_older_version_say_to_run_again(
    database: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from octorec.cli import main

    with duckdb.connect(str(database)) as connection:
        connection.execute(
            "CREATE TABLE user_project_similarities (user_login VARCHAR, rank INTEGER)"
        )
        connection.execute("INSERT INTO user_project_similarities VALUES ('alice', 1)")
    monkeypatch.setenv("OCTOREC_DATABASE", str(database))
    assert main(["recommend", "alice"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "run the pipeline again" in err


def store_in_postgres(postgres_url: str) -> None:
    """Alice's recommendation and the five projects, in the PostgreSQL warehouse."""
    import psycopg

    rows = [_recommendation("Alice", 1, "torch/vision", 0.9)]
    with open_warehouse(postgres_url) as warehouse:
        warehouse.replace(USER_PROJECT_SIMILARITIES, pa.Table.from_pylist(rows))
        warehouse.replace(
            "project_hybrid_embeddings",
            pa.Table.from_pylist(
                [
                    {
                        "project_full_name": name,
                        "categories": PROJECTS[name][1],
                        "tech_stack": PROJECTS[name][2],
                        "popularity": 0.5,
                        "embedding": PROJECTS[name][0],
                        "run_id": "run-1",
                        "computed_at": datetime(2026, 11, 1, tzinfo=UTC),
                    }
                    for name in PROJECTS
                ]
            ),
        )
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute(
            "CREATE TABLE dbt_project_enriched_data (full_name text, description text, "
            "language text, stars bigint, topics text[], categories text[], tech_stack text[])"
        )
        for name, (_, categories, tech_stack, stars) in PROJECTS.items():
            connection.execute(
                "INSERT INTO dbt_project_enriched_data VALUES (%s, %s, 'Python', %s, %s, %s, %s)",
                [name, f"about {name}", stars, ["t"], categories, tech_stack],
            )


def test_the_api_reads_postgresql_the_same_way(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store_in_postgres(postgres_url)
    monkeypatch.setenv("DATABASE_URL", postgres_url)
    with TestClient(create_app(load_settings(), refresh_seconds=0)) as client:
        body = client.get("/users/alice/recommendations").json()
        assert body["recommendations"][0]["project"]["stars"] == 900
        assert body["weights"] == {name: 0.2 for name in COMPONENTS}
        similar = client.get("/projects/torch/vision/similar", params={"limit": 1}).json()
        assert similar["similar"][0]["project"]["full_name"] == "torch/audio"
        health = client.get("/health").json()
        assert health["status"] == "ok" and health["last_run_id"] == "run-1"


def test_on_request_scoring_without_the_pipelines_inputs_is_503_saying_why(
    client: TestClient,
) -> None:
    response = client.post("/recommendations", json={"starred": ["torch/vision"]})
    assert response.status_code == 503
    assert response.json()["detail"].startswith("request-time scoring unavailable: ")
    past_the_stored = client.get("/users/alice/recommendations", params={"limit": 8})
    assert past_the_stored.status_code == 200  # Alice has 3 stored: all there is to compute
    assert len(past_the_stored.json()["recommendations"]) == 3
    filtered = client.get("/users/alice/recommendations", params={"language": "typescript"})
    assert filtered.status_code == 200 and filtered.json()["recommendations"] == []
