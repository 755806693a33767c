"""The Dagster code location: every stage's definitions, merged, and the shared resources."""

import dagster as dg

from octorec.defs import (
    automation,
    dbt,
    embeddings,
    evaluation,
    ingestion,
    jobs,
    model,
    similarities,
)
from octorec.defs.resources import OctorecResource


@dg.definitions
def defs() -> dg.Definitions:
    """Assemble the definitions (the dbt manifest is parsed here if it is missing or stale)."""
    return dg.Definitions.merge(
        ingestion.defs(),
        dbt.defs(),
        embeddings.defs(),
        model.defs(),
        similarities.defs(),
        evaluation.defs(),
        jobs.defs(),
        automation.defs(),
        dg.Definitions(resources={"octorec": OctorecResource()}),
    )
