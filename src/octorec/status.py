"""What the pipeline last did: each asset's last materialisation and its table's rows now.

The materialisations come from the Dagster instance of `DAGSTER_HOME` (the one `make demo`,
`octorec run` and the UI share; `.dagster/` by default); the row counts are read from the
warehouse itself, so the two can be compared (an asset materialised elsewhere shows a different
count). It reads Dagster's own records, so unlike the domain modules it imports dagster.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import dagster as dg

from octorec import constants as c
from octorec.pipeline_run import dagster_home, pipeline_stages
from octorec.warehouse import Warehouse, WarehouseError

TABLES_OF_ASSET = {
    "github_scraping": (
        f"{c.RAW_SCHEMA}.{c.RAW_REPOSITORIES}",
        f"{c.RAW_SCHEMA}.{c.RAW_USERS}",
        f"{c.RAW_SCHEMA}.{c.RAW_INTERACTIONS}",
    ),
    "github_data_ready": (),
}
"""Assets whose tables are not named after them (the others are)."""


@dataclass(frozen=True)
class AssetStatus:
    """One asset: when it was last materialised, by which run, and the rows of its tables."""

    asset: str
    group: str
    materialized_at: datetime | None
    run_id: str | None
    reported_rows: int | None
    """The row count the materialisation reported."""
    stored_rows: dict[str, int | None]
    """Rows in each of its tables now (None: the table does not exist yet)."""


def _stored_rows(warehouse: Warehouse, tables: tuple[str, ...]) -> dict[str, int | None]:
    counts: dict[str, int | None] = {}
    for table in tables:
        try:
            counts[table] = warehouse.count(table)
        except WarehouseError:
            counts[table] = None
    return counts


def pipeline_status(definitions: dg.Definitions, warehouse: Warehouse) -> list[AssetStatus]:
    """Every asset of the job, in stage order."""
    dagster_home()
    instance = dg.DagsterInstance.get()
    result = []
    try:
        for stage in pipeline_stages(definitions, job_only=False):
            for asset in stage.assets:
                event = instance.get_latest_materialization_event(
                    dg.AssetKey.from_user_string(asset)
                )
                reported = None
                if event is not None and event.asset_materialization is not None:
                    value = event.asset_materialization.metadata.get("dagster/row_count")
                    reported = int(value.value) if value is not None else None  # type: ignore[arg-type]
                result.append(
                    AssetStatus(
                        asset=asset,
                        group=stage.group,
                        materialized_at=(
                            datetime.fromtimestamp(event.timestamp, UTC) if event else None
                        ),
                        run_id=event.run_id if event else None,
                        reported_rows=reported,
                        stored_rows=_stored_rows(warehouse, TABLES_OF_ASSET.get(asset, (asset,))),
                    )
                )
    finally:
        instance.dispose()
    return result
