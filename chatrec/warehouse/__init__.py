"""The DuckDB warehouse: connections, transactions, migrations and the SQL models in `warehouse/`."""

from chatrec.warehouse.connection import (
    WarehouseCorrupt,
    connect,
    publish_snapshot,
    read_only_connection,
    snapshot_path,
    transaction,
)
from chatrec.warehouse.migrations import apply_migrations, sql_root

__all__ = [
    "WarehouseCorrupt",
    "apply_migrations",
    "connect",
    "publish_snapshot",
    "read_only_connection",
    "snapshot_path",
    "sql_root",
    "transaction",
]
