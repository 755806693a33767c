"""How the sharded assets are partitioned and how they depend on each other's partitions.

With `OCTOREC_SHARDS` above 1, the project embeddings are partitioned by project shard and the
user embeddings and similarities by user shard: one static partition set ("0", "1", ...) for
both, split on a stable hash of the project's full name or the user's login
(`octorec.sharding`). A user shard needs every project shard (the projects its users know may
be anywhere), so dependencies on the project embeddings from a user shard read all of their
partitions; the unpartitioned dbt models downstream wait for every partition too (Dagster's
default), so an asset backfill runs the phases in order.
"""

import dagster as dg

from octorec.sharding import shard_keys

RETRY_POLICY = dg.RetryPolicy(max_retries=2, delay=5)
"""A partition that fails (a lost connection, a killed worker) is retried on its own."""


def shard_partitions(shards: int) -> dg.StaticPartitionsDefinition | None:
    """The shard partitions, or None when the pipeline is not sharded."""
    return dg.StaticPartitionsDefinition(shard_keys(shards)) if shards > 1 else None


def every_shard_of(asset: str | dg.AssetsDefinition, shards: int) -> dg.AssetDep:
    """A dependency on all of an asset's shards (the whole asset when not sharded)."""
    if shards > 1:
        return dg.AssetDep(asset, partition_mapping=dg.AllPartitionMapping())
    return dg.AssetDep(asset)


def shard_of_run(context: dg.AssetExecutionContext) -> tuple[int, int]:
    """(shard, shards) this materialisation covers: (0, 1) when the asset is not sharded.

    The shard count is the asset's own partitions' (fixed when the code location loaded), so a
    partition key and the split of the rows always agree.
    """
    if not context.has_partition_key:
        return 0, 1
    partitions = context.assets_def.partitions_def
    assert partitions is not None  # a partition key comes from the asset's partitions
    return int(context.partition_key), len(partitions.get_partition_keys())
