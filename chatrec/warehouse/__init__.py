"""The DuckDB warehouse: connections, transactions, migrations and the SQL models in `warehouse/`."""

from chatrec.warehouse.connection import connect, read_only_connection, transaction
from chatrec.warehouse.migrations import apply_migrations, sql_root

__all__ = ["apply_migrations", "connect", "read_only_connection", "sql_root", "transaction"]
