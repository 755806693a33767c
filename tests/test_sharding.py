"""Shards are a stable function of the name: the same on every machine, in every process."""

import subprocess
import sys
from collections import Counter

import pytest

from octorec.sharding import configured_shards, shard_hash, shard_keys, shard_of


def test_known_shards_do_not_change_between_versions() -> None:
    # The first 60 bits of the MD5 of the lower-case name, modulo the shard count: written
    # down once, so a change of hashing (which would move every user to another shard) fails.
    assert [shard_of(n, 4) for n in ["alice", "bob", "carol", "dkadev", "torvalds"]] == [
        3,
        0,
        3,
        3,
        2,
    ]
    assert shard_hash("foo/bar") == 0x82D0F0FA8551DE8  # md5("foo/bar") = 82d0f0fa8551de8b…
    assert shard_of("Alice", 4) == shard_of("alice", 4)
    assert shard_of("anyone", 1) == 0


def test_another_process_agrees() -> None:
    # Python's own str hash changes per process; this one must not.
    script = "from octorec.sharding import shard_of; print(shard_of('guohekui', 7))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert int(out.stdout) == shard_of("guohekui", 7)


def test_shards_split_names_evenly() -> None:
    names = [f"user-{i}" for i in range(8000)]
    counts = Counter(shard_of(n, 4) for n in names)
    assert set(counts) == {0, 1, 2, 3} and min(counts.values()) > 1800


def test_the_shard_count_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OCTOREC_SHARDS", raising=False)
    assert configured_shards() == 1
    monkeypatch.setenv("OCTOREC_SHARDS", "4")
    assert configured_shards() == 4 and shard_keys(4) == ["0", "1", "2", "3"]
    monkeypatch.setenv("OCTOREC_SHARDS", "0")
    with pytest.raises(ValueError, match="OCTOREC_SHARDS must be a whole number of at least 1"):
        configured_shards()
    with pytest.raises(ValueError, match="at least 1"):
        shard_of("alice", 0)
