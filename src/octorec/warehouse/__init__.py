"""Where octorec keeps its data: raw tables, embeddings and recommendations.

DuckDB is the embedded default; PostgreSQL is selected with `DATABASE_URL`.
"""

from octorec.warehouse.base import (
    Warehouse,
    WarehouseBusyError,
    WarehouseError,
    WarehouseUnavailableError,
)
from octorec.warehouse.connect import connection_lost, is_postgres_url, open_warehouse
from octorec.warehouse.vectors import matrix_from_arrow, vectors_to_arrow

__all__ = [
    "Warehouse",
    "WarehouseBusyError",
    "WarehouseError",
    "WarehouseUnavailableError",
    "connection_lost",
    "is_postgres_url",
    "matrix_from_arrow",
    "open_warehouse",
    "vectors_to_arrow",
]
