"""The resources every asset shares: settings, the source, the warehouse and the encoder."""

import os
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

from octorec.embeddings.encoder import TextEncoder
from octorec.settings import Settings, load_settings
from octorec.sources import GitHubSource, open_source
from octorec.warehouse import DuckDBWarehouse, open_warehouse


class OctorecResource(dg.ConfigurableResource):
    """octorec's configuration and the clients built from it.

    Settings come from the environment (see the README's configuration table) and are read when a
    run starts, never when the code location loads.
    """

    def settings(self) -> Settings:
        """The settings in force for this run."""
        return load_settings()

    def source(self) -> GitHubSource:
        """The GitHub data source `OCTOREC_SOURCE` selects."""
        return open_source(self.settings())

    @contextmanager
    def warehouse(self, *, read_only: bool = False) -> Iterator[DuckDBWarehouse]:
        """An open warehouse connection, closed (and its file lock released) on exit."""
        with open_warehouse(self.settings().database, read_only=read_only) as warehouse:
            yield warehouse

    def encoder(self) -> TextEncoder:
        """The text encoder for `MODEL_NAME`, checked against `MODEL_DIMENSIONS`."""
        settings = self.settings()
        return TextEncoder(
            settings.model_name, settings.model_dimensions, settings.model_batch_size
        )

    def export_for_dbt(self) -> None:
        """Point dbt's profile at this run's database (dbt reads `OCTOREC_DATABASE`).

        The value is the same setting, made absolute, so dbt (which runs in the dbt folder) and
        Python open the same file whatever the working directory.
        """
        os.environ["OCTOREC_DATABASE"] = str(self.settings().database)
