"""The asset graph is a contract other tools rely on: keys, groups and dependencies."""

import dagster as dg
import pytest

from octorec.definitions import defs

PIPELINE = {
    "github_data_ready": ("github_data", set()),
    "github_scraping": ("github_data", {"github_data_ready"}),
    "dbt_projects": ("ml_preparation", {"github_scraping"}),
    "dbt_project_enriched_data": ("ml_preparation", {"dbt_projects"}),
    "project_semantic_embeddings": ("ml_embeddings", {"dbt_project_enriched_data"}),
    "project_hybrid_embeddings": (
        "ml_embeddings",
        {"project_semantic_embeddings", "dbt_project_enriched_data"},
    ),
    "dbt_user_embeddings_data": (
        "ml_preparation",
        {"project_hybrid_embeddings", "github_scraping"},
    ),
    "user_embeddings": ("ml_embeddings", {"dbt_user_embeddings_data", "project_hybrid_embeddings"}),
    "dbt_user_project_similarities": (
        "ml_similarities",
        {"user_embeddings", "dbt_user_embeddings_data"},
    ),
    "recommendation_model": (
        "ml_similarities",
        {"dbt_user_project_similarities", "project_semantic_embeddings"},
    ),
    "user_project_similarities": (
        "ml_similarities",
        {"dbt_user_project_similarities", "project_hybrid_embeddings", "recommendation_model"},
    ),
}
EXPECTED = {**PIPELINE, "recommendation_evaluation": ("ml_evaluation", set())}


def test_asset_keys_groups_and_dependencies() -> None:
    graph = defs().resolve_asset_graph()
    actual = {
        key.to_user_string(): (
            graph.get(key).group_name,
            {parent.to_user_string() for parent in graph.get(key).parent_keys},
        )
        for key in graph.get_all_asset_keys()
    }
    assert actual == EXPECTED


def test_the_job_covers_every_pipeline_asset_and_not_the_evaluation() -> None:
    job = defs().resolve_job_def("training_data_pipeline")
    assert {key.to_user_string() for key in job.asset_layer.executable_asset_keys} == set(PIPELINE)


def test_dbt_tests_are_asset_checks() -> None:
    checks = {
        (key.asset_key.to_user_string(), key.name)
        for key in defs().resolve_asset_graph().asset_check_keys
    }
    assert ("dbt_project_enriched_data", "unique_dbt_project_enriched_data_full_name") in checks
    assert any(
        asset == "dbt_project_enriched_data" and name.startswith("accepted_range")
        for asset, name in checks
    )
    assert {asset for asset, _ in checks} == {
        "dbt_projects",
        "dbt_project_enriched_data",
        "dbt_user_embeddings_data",
        "dbt_user_project_similarities",
        # octorec's own checks on what users read (issue 18)
        "project_semantic_embeddings",
        "user_embeddings",
        "user_project_similarities",
    }


def test_what_users_read_is_checked_and_the_harmful_checks_block() -> None:
    from octorec.scoring import checks as names

    graph = defs().resolve_asset_graph()
    found = {
        (key.asset_key.to_user_string(), key.name): graph.get_check_spec(key).blocking
        for key in graph.asset_check_keys
        if not key.asset_key.to_user_string().startswith("dbt_")
    }
    assert found == {
        ("project_semantic_embeddings", names.EMBEDDINGS_UNIT_NORM): False,
        ("user_embeddings", names.EMBEDDINGS_UNIT_NORM): False,
        ("user_project_similarities", names.AT_MOST_TOP_N): True,
        ("user_project_similarities", names.NOTHING_ALREADY_KNOWN): True,
        ("user_project_similarities", names.SCORES_FINITE_ABOVE_THRESHOLD): True,
        ("user_project_similarities", names.COVERAGE_HELD): False,
    }


def test_every_asset_has_a_description() -> None:
    graph = defs().resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        assert graph.get(key).description, key


def test_definitions_load_without_reading_settings(monkeypatch) -> None:
    # Settings are read when a run starts: a broken value must not stop the code location loading.
    monkeypatch.setenv("RECOMMENDATION_TOP_N", "not a number")
    assert isinstance(defs(), dg.Definitions)


def test_with_user_shards_the_scoring_is_partitioned_and_has_its_own_job(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OCTOREC_SHARDS", "4")
    sharded = defs()
    scoring = sharded.resolve_assets_def("user_project_similarities")
    assert scoring.partitions_def is not None
    assert scoring.partitions_def.get_partition_keys() == ["0", "1", "2", "3"]
    pipeline = sharded.resolve_job_def("training_data_pipeline")
    shards = sharded.resolve_job_def("score_user_shards")
    assert dg.AssetKey("user_project_similarities") not in (
        pipeline.asset_layer.selected_asset_keys
    )
    assert shards.asset_layer.selected_asset_keys == {dg.AssetKey("user_project_similarities")}
    assert shards.partitions_def == scoring.partitions_def


def test_the_schedule_and_the_sensor_target_the_pipeline_job() -> None:
    from octorec.defs.automation import FEEDBACK_SENSOR, PIPELINE_SCHEDULE, SNAPSHOT_SENSOR

    definitions = defs()
    dg.Definitions.validate_loadable(definitions)
    repository = definitions.get_repository_def()
    assert {s.name: s.job_name for s in repository.schedule_defs} == {
        PIPELINE_SCHEDULE: "training_data_pipeline"
    }
    assert {s.name: [t.job_name for t in s.targets] for s in repository.sensor_defs} == {
        SNAPSHOT_SENSOR: ["training_data_pipeline"],
        FEEDBACK_SENSOR: ["training_data_pipeline"],
    }


def test_with_shards_the_schedule_runs_the_stages_before_the_shards(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from octorec.defs.automation import FEEDBACK_SENSOR, PIPELINE_SCHEDULE, SNAPSHOT_SENSOR

    monkeypatch.setenv("OCTOREC_SHARDS", "4")
    sharded = defs()
    dg.Definitions.validate_loadable(sharded)
    schedule = sharded.resolve_schedule_def(PIPELINE_SCHEDULE)
    assert schedule.job_name == "training_data_pipeline"
    assert "Sharded (4): runs the stages before the shards" in (schedule.description or "")
    for name in (SNAPSHOT_SENSOR, FEEDBACK_SENSOR):
        sensor = sharded.resolve_sensor_def(name)
        assert [target.job_name for target in sensor.targets] == ["training_data_pipeline"]
    scheduled = sharded.resolve_job_def(schedule.job_name).asset_layer.selected_asset_keys
    assert dg.AssetKey("github_scraping") in scheduled
    assert dg.AssetKey("project_semantic_embeddings") not in scheduled


def test_a_bad_cron_stops_the_code_location_loading_with_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from octorec.settings import SettingsError

    monkeypatch.setenv("OCTOREC_SCHEDULE_CRON", "0 25 * * *")
    with pytest.raises(SettingsError, match=r"^invalid settings: OCTOREC_SCHEDULE_CRON: '0 25 \*"):
        defs()
