"""The resources every asset shares: settings, the source, the warehouse and the encoder."""

import logging
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import dagster as dg
from pydantic import Field, PrivateAttr

from octorec.dbt_project import export_for_dbt
from octorec.embeddings.encoder import TextEncoder
from octorec.settings import Settings, load_settings
from octorec.sources import GitHubSource, open_source
from octorec.warehouse import (
    Warehouse,
    WarehouseError,
    WarehouseUnavailableError,
    connection_lost,
    is_postgres_url,
    open_warehouse,
)
from octorec.warehouse.run_lock import exclusive_run

WAREHOUSE_RETRIES = 3
"""How many times a step (or the run's start) tries an unreachable PostgreSQL server again."""

FORCE_CONFIG = {"resources": {"octorec": {"config": {"force": True}}}}
"""The run config that recomputes every step (what `octorec run --force` launches with)."""


class OctorecResource(dg.ConfigurableResource):
    """octorec's configuration and the clients built from it.

    Settings come from the environment (see docs/configuration.md) and are read once,
    when the resource is set up for a run (or on first use outside one), never when the code
    location loads; every step of the run then shares that one `Settings` object. `force` is
    run config: `{"resources": {"octorec": {"config": {"force": true}}}}`.
    """

    force: bool = Field(
        default=False,
        description=(
            "Recompute every step even when its inputs have not changed: rebuild every dbt model "
            "and embed every text again (OCTOREC_FORCE=1 forces too)."
        ),
    )

    _settings: Settings | None = PrivateAttr(default=None)
    _run_lock: ExitStack | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """Read the settings for this run, then take the warehouse's run lock: one run at a time
        writes to a warehouse.

        With the job's in-process executor the lock spans the whole run; a second run waits
        (saying so in its log) and stops after `OCTOREC_RUN_LOCK_TIMEOUT` seconds. A run of one
        shard (a partition) on PostgreSQL shares the lock with the other shards' runs.
        """
        self._settings = self._read_settings()
        settings = self._settings
        run = context.dagster_run
        # Shards run side by side on PostgreSQL; DuckDB has one writing process per file, so
        # there they take turns like any other run.
        one_shard = (
            run is not None
            and "dagster/partition" in run.tags
            and is_postgres_url(settings.warehouse_location)
        )
        log = context.log or logging.getLogger(__name__)
        for attempt in range(WAREHOUSE_RETRIES + 1):
            stack = ExitStack()
            try:
                stack.enter_context(
                    exclusive_run(
                        settings.warehouse_location,
                        settings.run_lock_timeout_seconds,
                        log=log,
                        shared=one_shard,
                    )
                )
            except WarehouseUnavailableError as error:
                if attempt == WAREHOUSE_RETRIES:
                    raise dg.Failure(description=str(error), allow_retries=False) from None
                wait = settings.warehouse_retry_seconds * 2**attempt
                log.warning(
                    f"{error}; trying again in {wait:g} s "
                    f"(retry {attempt + 1} of {WAREHOUSE_RETRIES})"
                )
                time.sleep(wait)
                continue
            except WarehouseError as error:
                raise dg.Failure(description=str(error), allow_retries=False) from None
            self._run_lock = stack
            return

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        """Release the run lock."""
        if self._run_lock is not None:
            self._run_lock.close()
            self._run_lock = None

    def _read_settings(self) -> Settings:
        settings = load_settings()
        if self.force and not settings.force:
            settings = settings.model_copy(update={"force": True})
        return settings

    def settings(self) -> Settings:
        """The settings in force for this run: read from the environment once, then shared."""
        if self._settings is None:
            self._settings = self._read_settings()
        return self._settings

    def source(self) -> GitHubSource:
        """The GitHub data source `OCTOREC_SOURCE` selects."""
        return open_source(self.settings())

    @contextmanager
    def warehouse(self, *, read_only: bool = False) -> Iterator[Warehouse]:
        """An open warehouse connection, closed (and its file lock released) on exit.

        A server that cannot be reached right now asks Dagster to retry the step (three times,
        with growing waits); a refusal that retrying cannot cure (wrong password, missing
        database, locked file) fails the step with its one-line message.
        """
        try:
            attempt = dg.OpExecutionContext.get().retry_number
        except dg.DagsterInvariantViolationError:  # outside a run: an asset called directly
            attempt = 0
        settings = self.settings()
        try:
            with open_warehouse(settings.warehouse_location, read_only=read_only) as warehouse:
                yield warehouse
        except WarehouseUnavailableError as error:
            raise self._retry(error, attempt) from error
        except WarehouseError as error:
            raise dg.Failure(description=str(error), allow_retries=False) from None
        except Exception as error:
            # A connection that broke mid-step (the server stopped) is retried like one that
            # could not be opened; anything else is the step's own failure.
            lost = connection_lost(error, settings.warehouse_location)
            if lost is None:
                raise
            raise self._retry(lost, attempt) from lost

    def _retry(self, error: WarehouseUnavailableError, attempt: int) -> dg.RetryRequested:
        """Ask Dagster to run the step again later: `OCTOREC_WAREHOUSE_RETRY_SECONDS`, doubling
        with each attempt, `WAREHOUSE_RETRIES` times; then the step fails with `error`."""
        wait = self.settings().warehouse_retry_seconds * 2**attempt
        if attempt < WAREHOUSE_RETRIES:
            logging.getLogger(__name__).warning(
                "%s; the step runs again in %g s (retry %d of %d)",
                error,
                wait,
                attempt + 1,
                WAREHOUSE_RETRIES,
            )
        return dg.RetryRequested(max_retries=WAREHOUSE_RETRIES, seconds_to_wait=wait)

    def encoder(self) -> TextEncoder:
        """The text encoder for `MODEL_NAME`, checked against `MODEL_DIMENSIONS`."""
        settings = self.settings()
        return TextEncoder.from_settings(settings)

    def export_for_dbt(self) -> None:
        """Point dbt's profile at this run's warehouse (see `octorec.dbt_project`)."""
        export_for_dbt(self.settings().warehouse_location)
