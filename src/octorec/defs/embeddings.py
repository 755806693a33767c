"""Assets of the `ml_embeddings` group: project semantic and hybrid vectors, user vectors.

The asset bodies are module-level functions (call them directly with a context from
`dg.build_asset_context()` and an `OctorecResource`); `_assets` turns them into asset
definitions for a shard count. With `OCTOREC_SHARDS` above 1 the project assets are partitioned
by project shard and the user vectors by user shard (`octorec.defs.partitions`); each partition
writes only its own rows.
"""

import time
from collections.abc import Callable, Sequence
from typing import Any

import dagster as dg

from octorec import constants as c
from octorec.defs.checks import check_result, embedding_check_spec
from octorec.defs.partitions import RETRY_POLICY, every_shard_of, shard_of_run, shard_partitions
from octorec.defs.resources import OctorecResource
from octorec.embeddings.projects import build_project_hybrids, embed_projects
from octorec.embeddings.users import build_user_embeddings
from octorec.scoring.checks import embeddings_unit_norm
from octorec.sharding import configured_shards
from octorec.warehouse import Warehouse

GROUP = "ml_embeddings"
PROGRESS_SECONDS = 5.0
"""How often an embedding step logs how far it has got."""


def embedding_progress(
    log: Callable[[str], None], what: str = "texts", every: float = PROGRESS_SECONDS
) -> Callable[[int, int], None]:
    """A `(done, total)` callback that logs "embedded 1,024 of 6,279 texts (312 texts/s)" at
    most every `every` seconds, and once more when the last text is done.

    The clock starts at the first report (the encoder reports 0 done once its model is loaded),
    so the rate is the encoder's own.
    """
    first: tuple[float, int] | None = None
    last = 0.0

    def report(done: int, total: int) -> None:
        nonlocal first, last
        now = time.perf_counter()
        if first is None:
            first, last = (now, done), now
        if now - last < every and done < total:
            return
        last = now
        elapsed, counted = now - first[0], done - first[1]
        rate = f" ({counted / elapsed:,.0f} {what}/s)" if elapsed > 0 and counted > 0 else ""
        log(f"embedded {done:,} of {total:,} {what}{rate}")

    return report


def _vector_check(
    warehouse: Warehouse, table: str, column: str, dimensions: int, *, zero_allowed: bool = False
) -> dg.AssetCheckResult:
    """The dimension and unit-norm check on every vector stored in `table.column`."""
    vectors = warehouse.query(f"SELECT {column} FROM {table}").column(column)
    return check_result(embeddings_unit_norm(vectors, dimensions, zero_allowed=zero_allowed))


def _shard_metadata(shard: int, shards: int) -> dict[str, int]:
    return {"shard": shard, "shards": shards} if shards > 1 else {}


def project_semantic_embeddings(
    context: dg.AssetExecutionContext, octorec: OctorecResource
) -> dg.MaterializeResult:
    """384-d L2-normalised MiniLM embeddings of each project's text.

    Vectors are cached by (model, backend, content hash): a project whose text did not
    change is not embedded again (unless forced: `octorec run --force`, or the run config
    `{"resources": {"octorec": {"config": {"force": true}}}}`). `EMBEDDING_BACKEND` picks the
    encoder (int8 ONNX on CPU by default). Partitioned by project shard, each partition embeds
    its own projects.
    """
    shard, shards = shard_of_run(context)
    settings = octorec.settings()
    encoder = octorec.encoder()
    with octorec.warehouse() as warehouse:
        summary = embed_projects(
            warehouse,
            encoder,
            context.run_id,
            refresh=settings.force,
            shard=shard,
            shards=shards,
            on_progress=embedding_progress(context.log.info, "project texts"),
        )
        vectors = _vector_check(
            warehouse, c.PROJECT_SEMANTIC_EMBEDDINGS, "embedding", settings.model_dimensions
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
        },
        check_results=[vectors],
    )


def project_hybrid_embeddings(
    context: dg.AssetExecutionContext, octorec: OctorecResource
) -> dg.MaterializeResult:
    """Semantic ⊕ category ⊕ tech stack ⊕ popularity, normalised; with the features.

    Blocks are weighted by the square roots of the scoring weights, so a dot product of two
    hybrid vectors mirrors the recommendation score. Partitioned by project shard, each
    partition reads and writes its own projects.
    """
    shard, shards = shard_of_run(context)
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


def user_embeddings(
    context: dg.AssetExecutionContext, octorec: OctorecResource
) -> dg.MaterializeResult:
    """User vectors from their profile text and the embeddings of the projects they know.

    Users get the project hybrid layout, built from their own categories, tech stack and
    the mean popularity of their projects. Profile texts are cached like project texts.
    Partitioned by user shard, each partition reads its users and the vectors of the projects
    they know, and writes its users' rows.
    """
    shard, shards = shard_of_run(context)
    settings = octorec.settings()
    encoder = octorec.encoder()
    with octorec.warehouse() as warehouse:
        summary = build_user_embeddings(
            warehouse,
            encoder,
            settings,
            context.run_id,
            shard,
            shards,
            on_progress=embedding_progress(context.log.info, "profile texts"),
        )
        # A user with nothing to embed (no profile text, no known project) has a zero vector.
        vectors = _vector_check(
            warehouse,
            c.USER_EMBEDDINGS,
            "semantic_embedding",
            settings.model_dimensions,
            zero_allowed=True,
        )
    context.log.info(
        f"{summary.users} user vectors ({summary.bases}); profile texts embedded "
        f"{summary.texts_embedded}, reused {summary.texts_reused} from the cache; "
        f"in {summary.seconds:.1f} s"
    )
    return dg.MaterializeResult(
        metadata={
            **_shard_metadata(shard, shards),
            "dagster/row_count": summary.users,
            "semantic_basis": summary.bases,
            "profiles_embedded": summary.profiles_embedded,
            "embedded": summary.texts_embedded,
            "reused_from_cache": summary.texts_reused,
            "seconds": round(summary.seconds, 2),
        },
        check_results=[vectors],
    )


def _assets(shards: int) -> Sequence[dg.AssetsDefinition]:
    """The three embedding assets; with `shards` above 1, partitioned by shard."""
    partitions = shard_partitions(shards)
    common: dict[str, Any] = {
        "group_name": GROUP,
        "partitions_def": partitions,
        "retry_policy": RETRY_POLICY if partitions else None,
    }
    return [
        dg.asset(
            deps=[c.DBT_PROJECT_ENRICHED_DATA],
            kinds={"onnx", "duckdb"},
            check_specs=[embedding_check_spec(c.PROJECT_SEMANTIC_EMBEDDINGS, "embedding")],
            **common,
        )(project_semantic_embeddings),
        dg.asset(
            deps=[c.PROJECT_SEMANTIC_EMBEDDINGS, c.DBT_PROJECT_ENRICHED_DATA],
            kinds={"numpy", "duckdb"},
            **common,
        )(project_hybrid_embeddings),
        dg.asset(
            deps=[c.DBT_USER_EMBEDDINGS_DATA, every_shard_of(c.PROJECT_HYBRID_EMBEDDINGS, shards)],
            kinds={"onnx", "duckdb"},
            check_specs=[embedding_check_spec(c.USER_EMBEDDINGS, "semantic_embedding")],
            **common,
        )(user_embeddings),
    ]


def defs() -> dg.Definitions:
    """The embedding assets, partitioned by shard when `OCTOREC_SHARDS` is above 1."""
    return dg.Definitions(assets=_assets(configured_shards()))
