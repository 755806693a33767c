"""The dbt models as Dagster assets (dagster-dbt), with dbt tests as asset checks."""

import logging
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtCliRuntimeError,
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)

from octorec import constants as c
from octorec.dbt_project import (
    DBT_PROJECT_DIR,
    dbt_executable,
    dbt_project,
    dbt_resource,
    dbt_target_dir,
    project_files_fingerprint,
    upstream_source_tables,
)
from octorec.defs.resources import OctorecResource
from octorec.warehouse import Warehouse, WarehouseError
from octorec.warehouse.fingerprints import (
    combined_fingerprint,
    forget_step,
    last_success,
    record_fingerprint,
    table_fingerprint,
)

__all__ = ["DBT_PROJECT_DIR", "dbt_executable", "dbt_project", "dbt_resource", "defs"]

logger = logging.getLogger(__name__)

SEED_STEP = "dbt seed"


class OctorecDbtTranslator(DagsterDbtTranslator):
    """Model names are asset keys; taxonomy seeds are code, not upstream data assets."""

    def __init__(self) -> None:
        super().__init__(
            settings=DagsterDbtTranslatorSettings(enable_duplicate_source_asset_keys=True)
        )

    def get_asset_spec(
        self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None
    ) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        seed_keys = {
            self.get_asset_key(node)
            for node in manifest["nodes"].values()
            if node["resource_type"] == "seed"
        }
        return spec.replace_attributes(deps=[d for d in spec.deps if d.asset_key not in seed_keys])


def _inputs_fingerprint(warehouse: Warehouse, models: list[str]) -> str:
    tables = upstream_source_tables(Path(dbt_project().manifest_path), models)
    return combined_fingerprint(
        [project_files_fingerprint(), *models, *(table_fingerprint(warehouse, t) for t in tables)]
    )


def _unchanged_results(
    context: dg.AssetExecutionContext, counts: dict[str, int], since_run: str
) -> Iterator[Any]:
    keys = context.assets_def.keys_by_output_name
    # Assets of one step must be reported upstream first (dbt_projects before what reads it).
    deps = context.assets_def.asset_deps
    ordered: list[str] = []
    pending = [name for name in context.selected_output_names if name in keys]
    while pending:
        ready = [
            name
            for name in pending
            if not any(keys[other] in deps.get(keys[name], set()) for other in pending)
        ]
        ordered += sorted(ready)
        pending = [name for name in pending if name not in ready]
    for output_name in ordered:
        table = keys[output_name].path[-1]
        yield dg.Output(
            None,
            output_name=output_name,
            metadata={"dagster/row_count": counts[table], "unchanged_since_run": since_run},
        )
    for check in context.selected_asset_check_keys:
        yield dg.AssetCheckResult(
            asset_key=check.asset_key,
            check_name=check.name,
            passed=True,
            metadata={"reused_from_run": since_run},
        )


def _build(
    context: dg.AssetExecutionContext,
    dbt: DbtCliResource,
    octorec: OctorecResource,
    *,
    seed: bool,
) -> Iterator[Any]:
    """`dbt build` of the selected models, skipped when nothing they read has changed.

    The inputs are the dbt project's files and the contents of every source table upstream of
    the models; when their fingerprint equals the one of the last successful build here (and
    the tables exist), dbt would rebuild identical tables and pass the same tests, so the step
    reports them unchanged instead. Forcing (`force` run config, `OCTOREC_FORCE=1`) always
    rebuilds. Each model is logged as dbt finishes it; dbt's own lines go to the step's stdout.
    """
    settings = octorec.settings()
    models = sorted(key.path[-1] for key in context.selected_asset_keys)
    step = "dbt build " + " ".join(models)
    with octorec.warehouse() as warehouse:
        fingerprint = _inputs_fingerprint(warehouse, models)
        previous = last_success(warehouse, step)
        counts = _row_counts(warehouse, models)
        unchanged = previous is not None and previous.fingerprint == fingerprint
        skip = unchanged and counts is not None and not settings.force
        if not skip:
            # From here the tables change: until this build succeeds, no earlier success may
            # vouch for them (a failed build followed by unchanged inputs must not be skipped).
            forget_step(warehouse, step)
    if skip:
        assert previous is not None and counts is not None
        context.log.info(
            f"{', '.join(models)}: inputs unchanged since run {previous.run_id}, dbt not run"
        )
        yield from _unchanged_results(context, counts, previous.run_id)
        return
    octorec.export_for_dbt()
    # One target folder per warehouse, kept between invocations: dbt's partial parse then
    # skips re-parsing the project (dagster-dbt's default is a fresh folder per invocation).
    target = dbt_target_dir(settings.warehouse_location, settings.dbt_dir)
    if seed:
        _seed_when_changed(context, dbt, octorec, target)
    # Events are collected first: row counts need the database, which dbt (DuckDB: one writer
    # process) holds until its whole build, tests included, has finished. dagster-dbt's own
    # fetch_row_counts() would keep an adapter connection, and so the file lock, open here.
    started = time.perf_counter()
    try:
        invocation = dbt.cli(["build"], context=context, target_path=target)
        events = list(_logged(context, invocation.stream()))
    except DagsterDbtCliRuntimeError:
        # dbt cannot say "the server went away" in a way Python can read: when the warehouse
        # cannot be reached now, opening it asks Dagster to retry the step; else dbt's error.
        with octorec.warehouse():
            pass
        raise
    tests = sum(isinstance(event, dg.AssetCheckResult) for event in events)
    context.log.info(
        f"dbt build {', '.join(models)}: {len(models)} models and {tests} tests "
        f"in {time.perf_counter() - started:.1f} s"
    )
    keys = context.assets_def.keys_by_output_name
    with octorec.warehouse() as warehouse:
        for event in events:
            if isinstance(event, dg.Output) and event.output_name in keys:
                table = keys[event.output_name].path[-1]
                metadata: dict[str, Any] = {
                    **event.metadata,
                    "dagster/row_count": warehouse.count(table),
                }
                event = event.with_metadata(metadata)
            yield event
        record_fingerprint(warehouse, step, fingerprint, context.run_id)


def _logged(context: dg.AssetExecutionContext, events: Iterable[Any]) -> Iterator[Any]:
    """Pass dbt's events on, logging each model (and failed test) as dbt finishes it."""
    for event in events:
        if isinstance(event, dg.Output):
            duration = event.metadata.get("Execution Duration")
            seconds = duration.value if duration is not None else None
            took = f" in {seconds:.1f} s" if isinstance(seconds, int | float) else ""
            context.log.info(f"dbt: built {event.output_name}{took}")
        elif isinstance(event, dg.AssetCheckResult) and not event.passed:
            context.log.warning(f"dbt: test {event.check_name} failed")
        yield event


def _seed_when_changed(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, octorec: OctorecResource, target: Path
) -> None:
    """`dbt seed`, unless the seeds are loaded here and unchanged since (or forced)."""
    fingerprint = project_files_fingerprint()
    with octorec.warehouse() as warehouse:
        previous = last_success(warehouse, SEED_STEP)
        loaded = _row_counts(warehouse, [c.TAXONOMY_CATEGORIES, c.TAXONOMY_TECH_STACK])
        unchanged = previous is not None and previous.fingerprint == fingerprint
        skip = unchanged and loaded is not None and not octorec.settings().force
        if not skip:
            forget_step(warehouse, SEED_STEP)
    if skip:
        context.log.info("taxonomy seeds loaded and unchanged: dbt seed not run")
        return
    context.log.info("dbt seed: loading the taxonomy seeds")
    dbt.cli(["seed"], manifest=dbt_project().manifest_path, target_path=target).wait()
    with octorec.warehouse() as warehouse:
        record_fingerprint(warehouse, SEED_STEP, fingerprint, context.run_id)


def _row_counts(warehouse: Warehouse, tables: list[str]) -> dict[str, int] | None:
    """Each table's row count, or None when one of them does not exist (yet)."""
    try:
        return {table: warehouse.count(table) for table in tables}
    except WarehouseError:
        return None


def _model_assets(name: str, models: Sequence[str], *, seed: bool) -> dg.AssetsDefinition:
    @dbt_assets(
        manifest=dbt_project().manifest_path,
        project=dbt_project(),
        select=" ".join(models),
        name=name,
        dagster_dbt_translator=OctorecDbtTranslator(),
    )
    def _assets(
        context: dg.AssetExecutionContext, dbt: DbtCliResource, octorec: OctorecResource
    ) -> Iterator[Any]:
        yield from _build(context, dbt, octorec, seed=seed)

    return _assets


def defs() -> dg.Definitions:
    """The four dbt model assets, in three dbt invocations, and the dbt resource.

    The two project models run in one `dbt build`; the user models are split by the Python
    `user_embeddings` asset between them.
    """
    return dg.Definitions(
        assets=[
            _model_assets(
                "dbt_project_models", [c.DBT_PROJECTS, c.DBT_PROJECT_ENRICHED_DATA], seed=True
            ),
            _model_assets("dbt_user_models", [c.DBT_USER_EMBEDDINGS_DATA], seed=True),
            _model_assets("dbt_scoring_models", [c.DBT_USER_PROJECT_SIMILARITIES], seed=False),
        ],
        resources={"dbt": dbt_resource()},
    )
