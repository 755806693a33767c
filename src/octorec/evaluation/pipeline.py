"""The pipeline's own steps, run on a scratch DuckDB file for the splits of an evaluation.

Projects do not depend on interactions, so they are prepared once: the snapshot goes into the raw
tables, then the same dbt models and embedding code as `training_data_pipeline` build the project
tables. For each split, the raw interactions are replaced with that split's training
interactions and the user models, user embeddings and scoring inputs are rebuilt, as the pipeline
would. dbt's tests run once, with the project models (`dbt build`); the user models, the same SQL
the pipeline builds and tests, are only run (`dbt run`) for each split. The embedding cache in
the file survives between evaluations, so a repeated evaluation embeds nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from octorec import constants as c
from octorec.dbt_project import run_dbt
from octorec.embeddings.encoder import TextEncoder
from octorec.embeddings.projects import build_project_hybrids, embed_projects
from octorec.embeddings.users import build_user_embeddings
from octorec.ingestion import records_table, store_source_data
from octorec.ranker.inputs import read_profiles
from octorec.scoring.inputs import ProjectFeatures, UserFeatures, load_features
from octorec.scoring.profiles import Profile
from octorec.settings import Settings
from octorec.sources.base import SourceData
from octorec.warehouse import open_warehouse

logger = logging.getLogger(__name__)

_RAW_TABLES = (c.RAW_REPOSITORIES, c.RAW_USERS, c.RAW_INTERACTIONS, c.RAW_REJECTED_ROWS)
_RUN_ID = "evaluation"


class EvaluationWarehouse:
    """A scratch warehouse holding one snapshot's projects and, in turn, each split's users."""

    def __init__(self, data: SourceData, settings: Settings, database: Path) -> None:
        self.data = data
        self.settings = settings
        self.database = database
        self.encoder = TextEncoder.from_settings(settings)

    def prepare_projects(self) -> None:
        """Load the snapshot without interactions and build every project table."""
        started = time.perf_counter()
        self.database.parent.mkdir(parents=True, exist_ok=True)
        with open_warehouse(self.database) as warehouse:
            with warehouse.transaction():
                for table in _RAW_TABLES:
                    warehouse.execute(f"DELETE FROM {c.RAW_SCHEMA}.{table}")
            store_source_data(warehouse, replace(self.data, interactions=[], rejected=[]))
        run_dbt(self.database, ["build", "--quiet", "--select", f"+{c.DBT_PROJECT_ENRICHED_DATA}"])
        with open_warehouse(self.database) as warehouse:
            embed_projects(warehouse, self.encoder, _RUN_ID)
            build_project_hybrids(warehouse, self.settings, _RUN_ID)
        logger.info("prepared evaluation projects in %.1f s", time.perf_counter() - started)

    def features_for(
        self, training: Iterable[tuple[str, str]]
    ) -> tuple[UserFeatures, ProjectFeatures]:
        """The scorer's inputs when only the `training` (login, repo) interactions are known.

        Logins and repository names are compared without case.
        """
        started = time.perf_counter()
        kept = {(login.lower(), repo.lower()) for login, repo in training}
        interactions = [
            i
            for i in self.data.interactions
            if (i.user_login.lower(), i.repo_full_name.lower()) in kept
        ]
        with open_warehouse(self.database) as warehouse:
            table = f"{c.RAW_SCHEMA}.{c.RAW_INTERACTIONS}"
            if interactions:
                warehouse.replace(table, records_table(interactions, datetime.now(UTC)))
            else:
                warehouse.execute(f"DELETE FROM {table}")
        run_dbt(self.database, ["run", "--quiet", "--select", c.DBT_USER_EMBEDDINGS_DATA])
        with open_warehouse(self.database) as warehouse:
            build_user_embeddings(warehouse, self.encoder, self.settings, _RUN_ID)
        run_dbt(self.database, ["run", "--quiet", "--select", c.DBT_USER_PROJECT_SIMILARITIES])
        with open_warehouse(self.database, read_only=True) as warehouse:
            features = load_features(warehouse, self.settings)
        logger.info(
            "rebuilt evaluation users from %d training interactions in %.1f s",
            len(interactions),
            time.perf_counter() - started,
        )
        return features

    def profiles(self) -> list[Profile]:
        """The users as the last `features_for` left them, as the ranker's training reads them
        (`octorec.ranker.inputs.read_profiles`)."""
        with open_warehouse(self.database) as warehouse:
            return read_profiles(warehouse, self.encoder)
