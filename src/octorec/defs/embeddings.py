"""Assets of the `ml_embeddings` group: project semantic and hybrid vectors, user vectors."""

import dagster as dg

from octorec import constants as c
from octorec.defs.resources import OctorecResource
from octorec.embeddings.projects import build_project_hybrids, embed_projects
from octorec.embeddings.users import build_user_embeddings

GROUP = "ml_embeddings"


@dg.asset(
    group_name=GROUP,
    deps=[c.DBT_PROJECT_ENRICHED_DATA],
    kinds={"onnx", "duckdb"},
)
def project_semantic_embeddings(
    context: dg.AssetExecutionContext, octorec: OctorecResource
) -> dg.MaterializeResult:
    """384-d L2-normalised MiniLM embeddings of each project's text.

    Vectors are cached by (model, backend, content hash): a project whose text did not change
    is not embedded again (unless forced: `octorec run --force`). `EMBEDDING_BACKEND` picks the
    encoder (int8 ONNX on CPU by default).
    """
    encoder = octorec.encoder()
    with octorec.warehouse() as warehouse:
        summary = embed_projects(
            warehouse, encoder, context.run_id, refresh=octorec.settings().force
        )
    rate = summary.embedded / summary.seconds if summary.embedded else 0.0
    context.log.info(
        f"{summary.projects} projects: embedded {summary.embedded}, reused {summary.reused} "
        f"from the cache, in {summary.seconds:.1f} s"
    )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": summary.projects,
            "embedded": summary.embedded,
            "reused_from_cache": summary.reused,
            "model": encoder.model_name,
            "backend": str(encoder.backend),
            "device": encoder.device,
            "dimensions": encoder.dimensions,
            "seconds": round(summary.seconds, 2),
            "texts_per_second": round(rate, 1),
        }
    )


@dg.asset(
    group_name=GROUP,
    deps=[project_semantic_embeddings, c.DBT_PROJECT_ENRICHED_DATA],
    kinds={"numpy", "duckdb"},
)
def project_hybrid_embeddings(
    context: dg.AssetExecutionContext, octorec: OctorecResource
) -> dg.MaterializeResult:
    """Semantic ⊕ category ⊕ tech stack ⊕ popularity, normalised; with the features themselves.

    Blocks are weighted by the square roots of the scoring weights, so a dot product of two
    hybrid vectors mirrors the recommendation score.
    """
    settings = octorec.settings()
    with octorec.warehouse() as warehouse:
        summary = build_project_hybrids(warehouse, settings, context.run_id)
    context.log.info(
        f"{summary.projects} hybrid vectors of {summary.layout.dimensions} values "
        f"in {summary.seconds:.1f} s"
    )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": summary.projects,
            "layout": summary.layout.describe(),
            "seconds": round(summary.seconds, 2),
        }
    )


@dg.asset(
    group_name=GROUP,
    deps=[c.DBT_USER_EMBEDDINGS_DATA, project_hybrid_embeddings],
    kinds={"onnx", "duckdb"},
)
def user_embeddings(
    context: dg.AssetExecutionContext, octorec: OctorecResource
) -> dg.MaterializeResult:
    """User vectors from their profile text and the embeddings of the projects they know.

    Users get the project hybrid layout, built from their own categories, tech stack and the
    mean popularity of their projects.
    """
    settings = octorec.settings()
    with octorec.warehouse() as warehouse:
        summary = build_user_embeddings(warehouse, octorec.encoder(), settings, context.run_id)
    context.log.info(f"{summary.users} user vectors ({summary.bases}) in {summary.seconds:.1f} s")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": summary.users,
            "semantic_basis": summary.bases,
            "profiles_embedded": summary.profiles_embedded,
            "seconds": round(summary.seconds, 2),
        }
    )


def defs() -> dg.Definitions:
    """The embedding assets."""
    return dg.Definitions(
        assets=[project_semantic_embeddings, project_hybrid_embeddings, user_embeddings]
    )
