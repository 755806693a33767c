"""Assets of the `github_data` group: is the source there, and loading it into raw tables."""

import time

import dagster as dg

from octorec import constants as c
from octorec.defs.metadata import markdown_table
from octorec.defs.resources import OctorecResource
from octorec.github.http import GitHubFetchError
from octorec.github.source import ScrapeProgress
from octorec.ingestion import SnapshotRefusedError, ingest
from octorec.sources import SourceUnavailableError, open_source

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
    `raw.rejected_rows`. A snapshot is the whole truth: rows it no longer holds are deleted
    (counted in `rows_removed`), and one that would empty a raw table is refused unless
    `OCTOREC_ALLOW_EMPTY_SNAPSHOT=1`.
    """
    started = time.perf_counter()

    def report(progress: ScrapeProgress) -> None:
        context.log.info(
            f"{progress.phase}: {progress.done}/{progress.total}; "
            f"requests {progress.stats['requests']}, 304s {progress.stats['not_modified']}, "
            f"retries {progress.stats['retries']}, "
            f"rate limit remaining {progress.stats['rate_limit_remaining']}"
        )

    with octorec.warehouse() as warehouse:
        try:
            source = open_source(octorec.settings(), warehouse, on_progress=report)
            run = ingest(source, warehouse)
        except SnapshotRefusedError as error:
            raise dg.Failure(description=str(error), allow_retries=False) from None
        except (SourceUnavailableError, GitHubFetchError) as error:
            raise dg.Failure(
                description=f"{error} (batches committed before this are kept)",
                allow_retries=False,
            ) from None
        raw_totals = {
            f"raw_{name}_total": warehouse.count(f"{c.RAW_SCHEMA}.{name}")
            for name in (c.RAW_REPOSITORIES, c.RAW_USERS, c.RAW_INTERACTIONS)
        }
    rejected = run.rejected
    for row in rejected[:REJECTED_ROWS_SHOWN]:
        context.log.warning(f"rejected {row.describe()}")
    if len(rejected) > REJECTED_ROWS_SHOWN:
        context.log.warning(
            f"... and {len(rejected) - REJECTED_ROWS_SHOWN} more rejected rows, "
            "all listed in raw.rejected_rows"
        )
    for warning in run.warnings[:REJECTED_ROWS_SHOWN]:
        context.log.warning(warning)
    if len(run.warnings) > REJECTED_ROWS_SHOWN:
        context.log.warning(f"... and {len(run.warnings) - REJECTED_ROWS_SHOWN} more warnings")
    removed = {f"raw.{table}": count for table, count in run.removed.items()}
    if any(removed.values()):
        context.log.info(
            "removed what left the snapshot: "
            + ", ".join(f"{count} from {table}" for table, count in removed.items())
        )
    seconds = time.perf_counter() - started
    context.log.info(
        f"stored {run.repositories} repositories, {run.users} users, "
        f"{run.interactions} interactions ({len(rejected)} rejected, "
        f"{sum(removed.values())} removed, {len(run.warnings)} warnings) "
        f"in {run.batches} batches, {seconds:.1f} s"
    )
    metadata: dict[str, dg.RawMetadataValue] = {
        "source": source.name,
        "repositories": run.repositories,
        "users": run.users,
        "interactions": run.interactions,
        "rejected_rows": len(rejected),
        "warnings": len(run.warnings),
        "batches": run.batches,
        **raw_totals,
        "seconds": round(seconds, 2),
    }
    if removed:
        metadata["rows_removed"] = removed
    if run.warnings:
        metadata["warnings_sample"] = dg.MetadataValue.md(
            "\n".join(f"- {warning}" for warning in run.warnings[:REJECTED_ROWS_SHOWN])
        )
    if source.request_stats():
        metadata["api"] = source.request_stats()
    if rejected:
        metadata["rejected_sample"] = dg.MetadataValue.md(
            markdown_table(
                ["file", "line", "field", "reason"],
                [
                    [r.source_file, r.line_number, r.field or "", r.reason]
                    for r in rejected[:REJECTED_ROWS_SHOWN]
                ],
            )
        )
    return dg.MaterializeResult(metadata=metadata)


def defs() -> dg.Definitions:
    """The ingestion assets."""
    return dg.Definitions(assets=[github_data_ready, github_scraping])
