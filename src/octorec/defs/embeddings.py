"""Assets of the `ml_embeddings` group: project semantic and hybrid vectors, user vectors.

With `OCTOREC_SHARDS` above 1 the project assets are partitioned by project shard and the user
vectors by user shard (`octorec.defs.partitions`); each partition writes only its own rows.
"""

from collections.abc import Sequence

import dagster as dg

from octorec import constants as c
from octorec.defs.partitions import RETRY_POLICY, every_shard_of, shard_of_run, shard_partitions
from octorec.defs.resources import OctorecResource
from octorec.embeddings.projects import build_project_hybrids, embed_projects
from octorec.embeddings.users import build_user_embeddings
from octorec.sharding import configured_shards

GROUP = "ml_embeddings"


def _assets(shards: int) -> Sequence[dg.AssetsDefinition]:
    """The three embedding assets; with `shards` above 1, partitioned by shard."""
    partitions = shard_partitions(shards)
    retry = RETRY_POLICY if partitions else None

    @dg.asset(
        group_name=GROUP,
        deps=[c.DBT_PROJECT_ENRICHED_DATA],
        kinds={"onnx", "duckdb"},
        partitions_def=partitions,
        retry_policy=retry,
    )
    def project_semantic_embeddings(
        context: dg.AssetExecutionContext, octorec: OctorecResource
    ) -> dg.MaterializeResult:
        """384-d L2-normalised MiniLM embeddings of each project's text.

        Vectors are cached by (model, backend, content hash): a project whose text did not
        change is not embedded again (unless forced: `octorec run --force`).
        `EMBEDDING_BACKEND` picks the encoder (int8 ONNX on CPU by default). Partitioned by
        project shard, each partition embeds its own projects.
        """
        return _embed_projects(context, octorec, *shard_of_run(context, shards))

    @dg.asset(
        group_name=GROUP,
        deps=[project_semantic_embeddings, c.DBT_PROJECT_ENRICHED_DATA],
        kinds={"numpy", "duckdb"},
        partitions_def=partitions,
        retry_policy=retry,
    )
    def project_hybrid_embeddings(
        context: dg.AssetExecutionContext, octorec: OctorecResource
    ) -> dg.MaterializeResult:
        """Semantic ⊕ category ⊕ tech stack ⊕ popularity, normalised; with the features.

        Blocks are weighted by the square roots of the scoring weights, so a dot product of two
        hybrid vectors mirrors the recommendation score. Partitioned by project shard, each
        partition reads and writes its own projects.
        """
        return _build_hybrids(context, octorec, *shard_of_run(context, shards))

    @dg.asset(
        group_name=GROUP,
        deps=[c.DBT_USER_EMBEDDINGS_DATA, every_shard_of(project_hybrid_embeddings, shards)],
        kinds={"onnx", "duckdb"},
        partitions_def=partitions,
        retry_policy=retry,
    )
    def user_embeddings(
        context: dg.AssetExecutionContext, octorec: OctorecResource
    ) -> dg.MaterializeResult:
        """User vectors from their profile text and the embeddings of the projects they know.

        Users get the project hybrid layout, built from their own categories, tech stack and
        the mean popularity of their projects. Partitioned by user shard, each partition reads
        its users and the vectors of the projects they know, and writes its users' rows.
        """
        return _embed_users(context, octorec, *shard_of_run(context, shards))

    return [project_semantic_embeddings, project_hybrid_embeddings, user_embeddings]


def _shard_metadata(shard: int, shards: int) -> dict[str, int]:
    return {"shard": shard, "shards": shards} if shards > 1 else {}


def _embed_projects(
    context: dg.AssetExecutionContext, octorec: OctorecResource, shard: int, shards: int
) -> dg.MaterializeResult:
    encoder = octorec.encoder()
    with octorec.warehouse() as warehouse:
        summary = embed_projects(
            warehouse,
            encoder,
            context.run_id,
            refresh=octorec.settings().force,
            shard=shard,
            shards=shards,
        )
    rate = summary.embedded / summary.seconds if summary.embedded else 0.0
    context.log.info(
        f"{summary.projects} projects: embedded {summary.embedded}, reused {summary.reused} "
        f"from the cache, in {summary.seconds:.1f} s"
    )
    return dg.MaterializeResult(
        metadata={
            **_shard_metadata(shard, shards),
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


def _build_hybrids(
    context: dg.AssetExecutionContext, octorec: OctorecResource, shard: int, shards: int
) -> dg.MaterializeResult:
    settings = octorec.settings()
    with octorec.warehouse() as warehouse:
        summary = build_project_hybrids(warehouse, settings, context.run_id, shard, shards)
    context.log.info(
        f"{summary.projects} hybrid vectors of {summary.layout.dimensions} values "
        f"in {summary.seconds:.1f} s"
    )
    return dg.MaterializeResult(
        metadata={
            **_shard_metadata(shard, shards),
            "dagster/row_count": summary.projects,
            "layout": summary.layout.describe(),
            "seconds": round(summary.seconds, 2),
        }
    )


def _embed_users(
    context: dg.AssetExecutionContext, octorec: OctorecResource, shard: int, shards: int
) -> dg.MaterializeResult:
    settings = octorec.settings()
    with octorec.warehouse() as warehouse:
        summary = build_user_embeddings(
            warehouse, octorec.encoder(), settings, context.run_id, shard, shards
        )
    context.log.info(f"{summary.users} user vectors ({summary.bases}) in {summary.seconds:.1f} s")
    return dg.MaterializeResult(
        metadata={
            **_shard_metadata(shard, shards),
            "dagster/row_count": summary.users,
            "semantic_basis": summary.bases,
            "profiles_embedded": summary.profiles_embedded,
            "seconds": round(summary.seconds, 2),
        }
    )


def defs() -> dg.Definitions:
    """The embedding assets, partitioned by shard when `OCTOREC_SHARDS` is above 1."""
    return dg.Definitions(assets=_assets(configured_shards()))
