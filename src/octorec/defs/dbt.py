"""The dbt models as Dagster assets (dagster-dbt), with dbt tests as asset checks."""

import logging
from collections.abc import Iterator, Mapping
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)

from octorec import constants as c
from octorec.dbt_project import DBT_PROJECT_DIR, dbt_executable, dbt_project, dbt_resource
from octorec.defs.resources import OctorecResource

__all__ = ["DBT_PROJECT_DIR", "dbt_executable", "dbt_project", "dbt_resource", "defs"]

logger = logging.getLogger(__name__)


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


def _build(
    context: dg.AssetExecutionContext,
    dbt: DbtCliResource,
    octorec: OctorecResource,
    *,
    seed: bool,
) -> Iterator[Any]:
    octorec.export_for_dbt()
    if seed:
        dbt.cli(["seed"], manifest=dbt_project().manifest_path).wait()
    # Events are collected first: row counts need the database, which dbt (DuckDB: one writer
    # process) holds until its whole build, tests included, has finished. dagster-dbt's own
    # fetch_row_counts() would keep an adapter connection, and so the file lock, open here.
    events = list(dbt.cli(["build"], context=context).stream())
    with octorec.warehouse() as warehouse:
        for event in events:
            if isinstance(event, dg.Output):
                table = context.asset_key_for_output(event.output_name).path[-1]
                metadata: dict[str, Any] = {
                    **event.metadata,
                    "dagster/row_count": warehouse.count(table),
                }
                event = event.with_metadata(metadata)
            yield event


def _model_assets(model: str, *, seed: bool) -> dg.AssetsDefinition:
    @dbt_assets(
        manifest=dbt_project().manifest_path,
        project=dbt_project(),
        select=model,
        name=f"{model}_models",
        dagster_dbt_translator=OctorecDbtTranslator(),
    )
    def _assets(
        context: dg.AssetExecutionContext, dbt: DbtCliResource, octorec: OctorecResource
    ) -> Iterator[Any]:
        yield from _build(context, dbt, octorec, seed=seed)

    return _assets


def defs() -> dg.Definitions:
    """The four dbt model assets and the dbt resource."""
    return dg.Definitions(
        assets=[
            _model_assets(c.DBT_PROJECTS, seed=False),
            _model_assets(c.DBT_PROJECT_ENRICHED_DATA, seed=True),
            _model_assets(c.DBT_USER_EMBEDDINGS_DATA, seed=True),
            _model_assets(c.DBT_USER_PROJECT_SIMILARITIES, seed=False),
        ],
        resources={"dbt": dbt_resource()},
    )
