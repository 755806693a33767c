"""The whole job, run by Dagster on a slice of the sample data in a temporary directory."""

from pathlib import Path

import dagster as dg
import pytest

from octorec.definitions import defs
from octorec.defs.resources import FORCE_CONFIG
from octorec.settings import ScoringWeights, load_settings
from octorec.warehouse import open_warehouse
from tests.conftest import COLD_START_LOGIN, NO_SIGNAL_LOGIN, OWNED_REPOSITORY, SLICE_USERS

pytestmark = pytest.mark.slow

COMPONENTS = ("semantic", "category", "tech_stack", "popularity", "collaborative")


def _run(run_config: dict | None = None) -> dg.ExecuteInProcessResult:
    job = defs().resolve_job_def("training_data_pipeline")
    with dg.DagsterInstance.ephemeral() as instance:
        return job.execute_in_process(instance=instance, run_config=run_config)


def _metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict:
    [materialization] = [
        event.event_specific_data.materialization
        for event in result.all_events
        if event.event_type_value == "ASSET_MATERIALIZATION"
        and event.asset_key.to_user_string() == asset
    ]
    return {k: v.value for k, v in materialization.metadata.items()}


@pytest.fixture(scope="module")
def runs(sample_slice: Path, tmp_path_factory: pytest.TempPathFactory):
    database = tmp_path_factory.mktemp("pipeline") / "octorec.duckdb"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("OCTOREC_SOURCE", "snapshot")
        env.setenv("OCTOREC_SNAPSHOT_DIR", str(sample_slice))
        env.setenv("OCTOREC_DATABASE", str(database))
        first = _run()
        with open_warehouse(database, read_only=True) as warehouse:
            first_rows = warehouse.query(
                "SELECT * EXCLUDE (run_id, computed_at) FROM user_project_similarities "
                "ORDER BY user_login, rank"
            ).to_pylist()
        second = _run()
        # Forcing is run config: {"resources": {"octorec": {"config": {"force": true}}}}.
        forced = _run(FORCE_CONFIG)
    return database, first, first_rows, second, forced


def test_every_step_succeeds_and_every_asset_is_materialised(runs) -> None:
    _, first, _, second, _ = runs
    assert first.success and second.success
    materialized = {
        event.asset_key.to_user_string()
        for event in first.all_events
        if event.event_type_value == "ASSET_MATERIALIZATION"
    }
    assert len(materialized) == 11
    checks = [e for e in first.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    assert checks and all(e.event_specific_data.passed for e in checks)


def test_every_user_gets_explained_recommendations_they_do_not_know(runs) -> None:
    database, _, rows, *_ = runs
    with open_warehouse(database, read_only=True) as warehouse:
        known = {
            (row["user_login"], row["repo_full_name"].lower())
            for row in warehouse.query(
                "SELECT user_login, repo_full_name FROM raw.interactions"
            ).to_pylist()
        }
    per_user: dict[str, list[dict]] = {}
    for row in rows:
        per_user.setdefault(row["user_login"], []).append(row)
    assert set(per_user) == {*SLICE_USERS, COLD_START_LOGIN, NO_SIGNAL_LOGIN}
    settings = load_settings()
    for login, recommendations in per_user.items():
        assert len(recommendations) in range(1, 6)
        assert [r["rank"] for r in recommendations] == list(range(1, len(recommendations) + 1))
        scores = [r["score"] for r in recommendations]
        assert scores == sorted(scores, reverse=True)
        for r in recommendations:
            assert r["score"] >= settings.min_similarity
            assert (login, r["project_full_name"].lower()) not in known
            assert r["project_full_name"] != OWNED_REPOSITORY
            assert r["reason"]
            # Each row carries the weights it was made with, as shares summing to 1: users who
            # know no project are scored with the content weights, a user with no signal by
            # popularity alone.
            weights = (
                ScoringWeights(semantic=0, tech_stack=0, collaborative=0, popularity=1)
                if login == NO_SIGNAL_LOGIN
                else settings.content_weights.as_scoring_weights()
                if login == COLD_START_LOGIN
                else settings.weights
            )
            total = sum(weights.model_dump().values())
            shares = {n: value / total for n, value in weights.model_dump().items()}
            assert {n: r[f"{n}_weight"] for n in COMPONENTS} == pytest.approx(shares)
            assert 0.0 <= r["score"] <= 1.0
            recomputed = sum(r[f"{n}_weight"] * r[f"{n}_similarity"] for n in COMPONENTS)
            assert r["score"] == pytest.approx(recomputed, abs=1e-5)
            if r["category_similarity"] > 0:
                assert r["matched_categories"]
            if login in SLICE_USERS:
                assert r["similar_known_project"] and r["reason"].startswith("like ")


def test_the_cold_start_user_is_served_from_declared_interests(runs) -> None:
    database, _, rows, *_ = runs
    mine = [r for r in rows if r["user_login"] == COLD_START_LOGIN]
    assert mine and all("ai-ml" in r["matched_categories"] for r in mine)
    with open_warehouse(database, read_only=True) as warehouse:
        [user] = warehouse.query(
            "SELECT profile_basis, categories, tech_stack FROM dbt_user_embeddings_data "
            "WHERE user_login = ?",
            [COLD_START_LOGIN],
        ).to_pylist()
    assert user == {
        "profile_basis": "declared",
        "categories": ["ai-ml", "data-engineering"],
        "tech_stack": ["PyTorch", "Python"],
    }


def test_a_user_with_nothing_gets_popular_active_projects(runs) -> None:
    database, _, rows, *_ = runs
    mine = [r for r in rows if r["user_login"] == NO_SIGNAL_LOGIN]
    assert len(mine) == 5 and all(r["reason"] == "popular" for r in mine)
    with open_warehouse(database, read_only=True) as warehouse:
        projects = warehouse.query(
            "SELECT full_name, popularity, pushed_at FROM dbt_project_enriched_data"
        ).to_pylist()
    newest = max(p["pushed_at"] for p in projects if p["pushed_at"])
    active = [
        p for p in projects if p["pushed_at"] and (newest - p["pushed_at"]).days <= 12 * 30.44
    ]
    expected = sorted(active, key=lambda p: (-p["popularity"], p["full_name"]))[:5]
    assert [r["project_full_name"] for r in mine] == [p["full_name"] for p in expected]
    assert [r["score"] for r in mine] == pytest.approx([p["popularity"] for p in expected])


def test_owned_repositories_count_as_known(runs) -> None:
    database, *_ = runs
    with open_warehouse(database, read_only=True) as warehouse:
        [row] = warehouse.query(
            "SELECT known_projects FROM dbt_user_embeddings_data WHERE user_login = 'dkadev'"
        ).to_pylist()
    assert OWNED_REPOSITORY in row["known_projects"]


def test_a_second_run_embeds_nothing_and_changes_no_result(runs) -> None:
    database, _, first_rows, second, forced = runs
    assert _metadata(second, "project_semantic_embeddings")["embedded"] == 0
    with open_warehouse(database, read_only=True) as warehouse:
        second_rows = warehouse.query(
            "SELECT * EXCLUDE (run_id, computed_at) FROM user_project_similarities "
            "ORDER BY user_login, rank"
        ).to_pylist()
        raw_counts = [
            warehouse.count(t) for t in ("raw.repositories", "raw.interactions", "raw.users")
        ]
        run_ids = warehouse.query("SELECT DISTINCT run_id FROM user_project_similarities")
    assert second_rows == first_rows
    assert raw_counts[0] == len({r for r in open_repos(database)})
    # The forced third run rebuilt everything and replaced the table: still the same rows.
    assert run_ids.column("run_id").to_pylist() == [forced.run_id]


DBT_MODELS = (
    "dbt_projects",
    "dbt_project_enriched_data",
    "dbt_user_embeddings_data",
    "dbt_user_project_similarities",
)


def test_a_second_run_with_nothing_changed_does_not_run_dbt_and_forcing_does(runs) -> None:
    _, first, _, second, forced = runs
    forced_embedding = _metadata(forced, "project_semantic_embeddings")
    assert forced_embedding["embedded"] == forced_embedding["dagster/row_count"]
    for model in DBT_MODELS:
        assert _metadata(second, model)["unchanged_since_run"] == first.run_id
        assert "unchanged_since_run" not in _metadata(forced, model)
        assert (
            _metadata(second, model)["dagster/row_count"]
            == _metadata(first, model)["dagster/row_count"]
        )
    reused = [e for e in second.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    checked = [e for e in first.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    assert len(reused) == len(checked) and all(e.event_specific_data.passed for e in reused)


def open_repos(database: Path) -> list[str]:
    with open_warehouse(database, read_only=True) as warehouse:
        return warehouse.query("SELECT full_name FROM raw.repositories").column(0).to_pylist()


def test_assets_report_counts_and_timings(runs) -> None:
    _, first, _, _, _ = runs
    scraping = _metadata(first, "github_scraping")
    assert scraping["rejected_rows"] == 0
    assert scraping["repositories"] > 150
    semantic = _metadata(first, "project_semantic_embeddings")
    assert semantic["embedded"] == semantic["dagster/row_count"] > 150
    assert semantic["seconds"] > 0
    similarities = _metadata(first, "user_project_similarities")
    assert similarities["users_with_recommendations"] == len(SLICE_USERS) + 2
    assert "| user | rank | project |" in similarities["sample"]
    # Every kept pair is in one bin of the score distribution; coverage counts the users.
    bins = [line.split("|") for line in similarities["score_distribution"].splitlines()[2:]]
    assert sum(int(cells[2]) for cells in bins) == similarities["dagster/row_count"]
    users = similarities["users_with_recommendations"]
    assert (
        f"| users with recommendations | {users} of {users} | 100.0% |"
        in (similarities["coverage"])
    )
    assert _metadata(first, "dbt_projects")["dagster/row_count"] == scraping["repositories"]
    # The slice's five users with stars are too few to fit the ranker: the fallback says so.
    model = _metadata(first, "recommendation_model")
    assert model["fallback"] is True and "RANKER_MIN_USERS" in model["reason"]


def test_an_unavailable_source_fails_clearly(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("OCTOREC_SNAPSHOT_DIR", str(tmp_path / "missing"))
    monkeypatch.setenv("OCTOREC_DATABASE", str(tmp_path / "db.duckdb"))
    job = defs().resolve_job_def("training_data_pipeline")
    result = job.execute_in_process(
        asset_selection=[dg.AssetKey("github_data_ready")], raise_on_error=False
    )
    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    message = failure.event_specific_data.error.message
    assert "snapshot directory" in message and "missing does not exist" in message
    assert "OCTOREC_SNAPSHOT_DIR" in message
