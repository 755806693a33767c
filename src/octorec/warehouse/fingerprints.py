"""Content fingerprints of tables and the fingerprint each pipeline step last ran on.

A step whose inputs have the same fingerprint as when it last succeeded has nothing to do: its
outputs would be identical. Bookkeeping columns (`run_id`, `computed_at`, `ingested_at`) are
left out, so re-writing the same rows in a new run changes nothing.
Fingerprints are compared only within one warehouse, never across backends.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc

from octorec import constants as c
from octorec.warehouse.base import Warehouse, checked

BOOKKEEPING_COLUMNS = frozenset({"run_id", "computed_at", "ingested_at"})
"""When and by which run a row was written; `created_at` is not one (a repository's own date)."""


def table_fingerprint(warehouse: Warehouse, table: str) -> str:
    """SHA-256 of a table's rows (bookkeeping columns left out), independent of storage order."""
    name = checked(table)
    columns = [
        field.name
        for field in warehouse.query(f"SELECT * FROM {name} LIMIT 0").schema
        if field.name not in BOOKKEEPING_COLUMNS
    ]
    listed = ", ".join(columns)
    rows = warehouse.query(f"SELECT {listed} FROM {name} ORDER BY {listed}")
    digest = hashlib.sha256(name.encode())
    for column_name, column in zip(rows.column_names, rows.columns, strict=True):
        digest.update(column_name.encode())
        digest.update(_canonical_bytes(column.combine_chunks()))
    return digest.hexdigest()


def table_exists(warehouse: Warehouse, schema: str, table: str) -> bool:
    """Whether `schema.table` exists (for a table another feature creates, read only if there)."""
    found = warehouse.query(
        "SELECT count(*) AS n FROM information_schema.tables "
        "WHERE table_schema = ? AND table_name = ?",
        [schema, table],
    )
    return bool(found.column("n")[0].as_py())


def _canonical_bytes(array: pa.Array) -> bytes:
    # Arrow's own buffers are not canonical (padding, slack in list children), so the values
    # are serialised explicitly: numeric lists (the vectors) through NumPy, the rest as Python.
    kind = array.type
    if pa.types.is_list(kind) and (
        pa.types.is_floating(kind.value_type) or pa.types.is_integer(kind.value_type)
    ):
        lengths = pc.fill_null(pc.list_value_length(array), -1).to_numpy(zero_copy_only=False)
        values = pc.list_flatten(array).to_numpy(zero_copy_only=False)
        return bytes(lengths.tobytes()) + bytes(values.tobytes())
    return repr(array.to_pylist()).encode()


def combined_fingerprint(parts: Iterable[str]) -> str:
    """One fingerprint for several, in the order given."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()


@dataclass(frozen=True)
class StepRecord:
    """The fingerprint of a step's inputs when it last succeeded, and that run."""

    fingerprint: str
    run_id: str


def last_success(warehouse: Warehouse, step: str) -> StepRecord | None:
    """What `step` last succeeded on in this warehouse, if it ever did."""
    found = warehouse.query(
        f"SELECT fingerprint, run_id FROM {c.PIPELINE_STEPS} WHERE step = ?", [step]
    ).to_pylist()
    return StepRecord(found[0]["fingerprint"], found[0]["run_id"]) if found else None


def forget_step(warehouse: Warehouse, step: str) -> None:
    """Drop `step`'s record: it is about to change its outputs."""
    warehouse.execute(f"DELETE FROM {c.PIPELINE_STEPS} WHERE step = ?", [step])


def record_fingerprint(warehouse: Warehouse, step: str, fingerprint: str, run_id: str) -> None:
    """Remember that `step` succeeded on inputs with `fingerprint`."""
    warehouse.upsert(
        c.PIPELINE_STEPS,
        pa.table(
            {
                "step": [step],
                "fingerprint": [fingerprint],
                "run_id": [run_id],
                "recorded_at": pa.array([datetime.now(UTC)], pa.timestamp("us", tz="UTC")),
            }
        ),
        ["step"],
    )
