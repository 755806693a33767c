"""Assets of the `github_data` group: is the source there, and loading it into raw tables."""

import time

import dagster as dg

from octorec.defs.metadata import markdown_table
from octorec.defs.resources import OctorecResource
from octorec.ingestion import store_source_data
from octorec.sources import SourceUnavailableError

GROUP = "github_data"
REJECTED_ROWS_SHOWN = 20


@dg.asset(group_name=GROUP, kinds={"python"})
def github_data_ready(octorec: OctorecResource) -> dg.MaterializeResult:
    """Checks that the configured GitHub source is available and readable."""
    try:
        source = octorec.source()
        facts = source.check_available()
    except SourceUnavailableError as error:
        raise dg.Failure(description=str(error), allow_retries=False) from None
    return dg.MaterializeResult(metadata={"source": source.name, **facts})


@dg.asset(group_name=GROUP, deps=[github_data_ready], kinds={"python", "duckdb"})
def github_scraping(
    context: dg.AssetExecutionContext, octorec: OctorecResource
) -> dg.MaterializeResult:
    """Loads repositories, users and their stars or owned repositories into the raw tables.

    Rows are upserted on their natural keys, so re-runs never duplicate; rows that break the
    source format are kept out, logged with file, line and field, and stored in
    `raw.rejected_rows`.
    """
    started = time.perf_counter()
    try:
        data = octorec.source().fetch()
    except SourceUnavailableError as error:
        raise dg.Failure(description=str(error), allow_retries=False) from None
    for row in data.rejected[:REJECTED_ROWS_SHOWN]:
        context.log.warning(f"rejected {row.describe()}")
    if len(data.rejected) > REJECTED_ROWS_SHOWN:
        context.log.warning(
            f"... and {len(data.rejected) - REJECTED_ROWS_SHOWN} more rejected rows, "
            "all listed in raw.rejected_rows"
        )
    with octorec.warehouse() as warehouse:
        summary = store_source_data(warehouse, data)
    seconds = time.perf_counter() - started
    context.log.info(
        f"stored {summary.repositories} repositories, {summary.users} users, "
        f"{summary.interactions} interactions ({summary.rejected_rows} rejected) in {seconds:.1f} s"
    )
    metadata: dict[str, dg.RawMetadataValue] = {
        "repositories": summary.repositories,
        "users": summary.users,
        "interactions": summary.interactions,
        "rejected_rows": summary.rejected_rows,
        "raw_repositories_total": summary.raw_repositories_total,
        "raw_users_total": summary.raw_users_total,
        "raw_interactions_total": summary.raw_interactions_total,
        "seconds": round(seconds, 2),
    }
    if data.rejected:
        metadata["rejected_sample"] = dg.MetadataValue.md(
            markdown_table(
                ["file", "line", "field", "reason"],
                [
                    [r.source_file, r.line_number, r.field or "", r.reason]
                    for r in data.rejected[:REJECTED_ROWS_SHOWN]
                ],
            )
        )
    return dg.MaterializeResult(metadata=metadata)


def defs() -> dg.Definitions:
    """The ingestion assets."""
    return dg.Definitions(assets=[github_data_ready, github_scraping])
