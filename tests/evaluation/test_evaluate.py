"""`octorec evaluate` end to end on a slice of the sample: the real pipeline steps, real dbt, the
real model, every baseline; and the `recommendation_evaluation` asset."""

import csv
import json
import logging
from pathlib import Path

import dagster as dg
import pytest

from octorec.cli import main
from octorec.definitions import defs

pytestmark = pytest.mark.slow

MODELS = {
    "octorec",
    "octorec_formula",
    "octorec_fitted",
    "origin",
    "popularity",
    "semantic",
    "content_knn",
    "ease",
    "als",
    "item_knn",
}


def _args(directory: Path, out: Path) -> list[str]:
    return [
        "evaluate",
        "--repos",
        str(directory / "repos.csv"),
        "--stars",
        str(directory / "user_stars.csv"),
        "--users",
        str(directory / "users.csv"),
        "--folds",
        "1",
        "--json",
        str(out),
    ]


@pytest.fixture(scope="module")
def evaluations(sample_slice: Path, tmp_path_factory: pytest.TempPathFactory):
    directory = tmp_path_factory.mktemp("evaluation")
    outputs = []
    embedded = []
    with pytest.MonkeyPatch.context() as env:
        env.setenv("OCTOREC_EVALUATION_DATABASE", str(directory / "evaluation.duckdb"))
        for number in (1, 2):
            records: list[logging.LogRecord] = []
            handler = logging.Handler()
            handler.emit = records.append  # type: ignore[method-assign]
            cache_logger = logging.getLogger("octorec.embeddings.cache")
            cache_logger.addHandler(handler)
            cache_logger.setLevel(logging.INFO)
            try:
                assert main(_args(sample_slice, directory / f"run{number}.json")) == 0
            finally:
                cache_logger.removeHandler(handler)
            outputs.append(json.loads((directory / f"run{number}.json").read_text()))
            embedded.append(sum(record.args[1] for record in records))  # type: ignore[index]
        # Cold again, in another file, with other batches: every text meets other batch-mates.
        env.setenv("OCTOREC_EVALUATION_DATABASE", str(directory / "other.duckdb"))
        env.setenv("MODEL_BATCH_SIZE", "3")
        assert main(_args(sample_slice, directory / "run3.json")) == 0
        outputs.append(json.loads((directory / "run3.json").read_text()))
    return outputs, embedded, directory


def _held_out_by_hand(sample_slice: Path) -> tuple[int, int]:
    with (sample_slice / "user_stars.csv").open() as handle:
        counts: dict[str, int] = {}
        for row in csv.DictReader(handle):
            counts[row["user"].lower()] = counts.get(row["user"].lower(), 0) + 1
    evaluated = [n for n in counts.values() if n >= 5]
    return len(evaluated), sum(min(max(1, round(0.2 * n)), n - 1) for n in evaluated)


def test_the_json_holds_every_model_and_metric(evaluations, sample_slice: Path) -> None:
    [first, *_], _, _ = evaluations
    users, held_out = _held_out_by_hand(sample_slice)
    assert first["dataset"]["users"] == users
    assert first["dataset"]["test_interactions"] == held_out
    assert first["k"] == [5, 10]
    assert set(first["models"]) == MODELS
    for name, metrics in first["models"].items():
        for k in (5, 10):
            for metric in ("precision", "recall", "ndcg", "map", "hit_rate"):
                assert 0.0 <= metrics[f"{metric}@{k}"] <= 1.0, (name, metric, k)
        for metric in ("coverage@10", "diversity@10", "novelty@10"):
            assert 0.0 <= metrics[metric] <= 1.0, (name, metric)
    assert first["models"]["popularity"]["coverage@10"] <= first["models"]["octorec"]["coverage@10"]
    # Five users with stars are too few to train on: octorec is the formula, and says why.
    ranker = first["setup"]["ranker"]
    assert ranker["fitted"] is False and "RANKER_MIN_USERS" in ranker["reason"]
    assert first["models"]["octorec"] == first["models"]["octorec_formula"]


def test_a_repeated_evaluation_embeds_nothing_and_agrees(evaluations) -> None:
    [first, second, _], embedded, _ = evaluations
    assert embedded[0] > 0
    assert embedded[1] == 0
    assert second["models"] == first["models"]
    assert second["setup"]["fitted_weights"] == first["setup"]["fitted_weights"]


def test_a_cold_evaluation_with_other_batches_gives_the_same_numbers(evaluations) -> None:
    [first, _, other], _, _ = evaluations
    assert other["models"] == first["models"]
    assert other["setup"]["fitted_weights"] == first["setup"]["fitted_weights"]


def test_several_seeds_report_each_seed_and_a_mean_with_an_interval(
    evaluations, sample_slice: Path
) -> None:
    [first, *_], _, directory = evaluations
    out = directory / "seeds.json"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("OCTOREC_EVALUATION_DATABASE", str(directory / "evaluation.duckdb"))
        args = [*_args(sample_slice, out), "--seeds", "42,7"]
        assert main(args) == 0
    result = json.loads(out.read_text())
    assert set(result["seeds"]) == {"42", "7"}
    assert result["seeds"]["42"]["models"] == first["models"]
    for model in MODELS:
        for metric in ("recall@10", "ndcg@10"):
            values = [result["seeds"][s]["models"][model][metric] for s in ("42", "7")]
            entry = result["summary"][model][metric]
            assert entry["mean"] == pytest.approx(sum(values) / 2)
            assert entry["low"] <= entry["mean"] <= entry["high"]


def test_bad_arguments_and_files_get_one_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "repos.csv"
    code = main(["evaluate", "--repos", str(missing), "--stars", str(missing)])
    assert code == 1
    assert f"{missing} does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["evaluate", "--repos", "r.csv", "--stars", "s.csv", "--holdout", "1.5"])
    assert "expected a fraction between 0 and 1" in capsys.readouterr().err


def test_the_asset_records_the_metrics_outside_the_pipeline_job(
    sample_slice: Path, evaluations
) -> None:
    _, _, directory = evaluations
    # Not in training_data_pipeline: the pipeline test counts exactly its ten assets.
    definitions = defs()
    asset = definitions.resolve_assets_def("recommendation_evaluation")
    assert asset.group_names_by_key[dg.AssetKey("recommendation_evaluation")] == "ml_evaluation"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("OCTOREC_SNAPSHOT_DIR", str(sample_slice))
        env.setenv("OCTOREC_EVALUATION_DATABASE", str(directory / "evaluation.duckdb"))
        with dg.DagsterInstance.ephemeral() as instance:
            result = definitions.resolve_implicit_global_asset_job_def().execute_in_process(
                instance=instance, asset_selection=[dg.AssetKey("recommendation_evaluation")]
            )
    assert result.success
    [materialization] = result.asset_materializations_for_node("recommendation_evaluation")
    metadata = {key: value.value for key, value in materialization.metadata.items()}
    assert {f"{m}/ndcg@10" for m in MODELS} <= set(metadata)
    assert "█" in metadata["plot"]
    assert metadata["metrics"].startswith("| model |")
