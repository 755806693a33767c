"""Where octorec keeps its data: raw tables, embeddings and recommendations."""

from octorec.warehouse.duckdb_warehouse import DuckDBWarehouse, WarehouseError, open_warehouse
from octorec.warehouse.vectors import matrix_from_arrow, vectors_to_arrow

__all__ = [
    "DuckDBWarehouse",
    "WarehouseError",
    "matrix_from_arrow",
    "open_warehouse",
    "vectors_to_arrow",
]
