"""Shards: a stable split of users (or projects) by a hash of their name.

`shard_of` must give the same answer on every machine, in every process and for every Python
version (Python's `hash` of a string changes per process), and the warehouse must be able to
compute it too, so that a partition reads only its own rows: the shard is the first 60 bits of
the MD5 digest of the lower-case name, modulo the shard count, which DuckDB and PostgreSQL both
compute in SQL (`Warehouse.shard_condition`). MD5 serves here as a stable, evenly spread hash,
not for security. Names are compared without case, as GitHub does, so `Alice` and `alice`
always land in the same shard.
"""

from __future__ import annotations

import hashlib
import os

HASH_HEX_DIGITS = 15
"""60 bits: a non-negative BIGINT in SQL."""


def shard_of(name: str, shards: int) -> int:
    """The shard (0 to `shards` - 1) that `name` belongs to."""
    if shards < 1:
        raise ValueError(f"the number of shards must be at least 1, not {shards}")
    return shard_hash(name) % shards


def shard_hash(name: str) -> int:
    """The first `HASH_HEX_DIGITS` hexadecimal digits of the MD5 of the lower-case name."""
    digest = hashlib.md5(name.lower().encode("utf-8"), usedforsecurity=False).hexdigest()
    return int(digest[:HASH_HEX_DIGITS], 16)


def shard_keys(shards: int) -> list[str]:
    """The Dagster partition keys of `shards` shards: "0", "1", ..."""
    return [str(shard) for shard in range(shards)]


def configured_shards() -> int:
    """`OCTOREC_SHARDS` (default 1), read when the code location loads: Dagster fixes an asset's
    partitions there, unlike the other settings, which are read when a run starts."""
    text = os.environ.get("OCTOREC_SHARDS", "1").strip() or "1"
    try:
        shards = int(text)
    except ValueError:
        shards = 0
    if shards < 1:
        raise ValueError(f"OCTOREC_SHARDS must be a whole number of at least 1, not {text!r}")
    return shards
