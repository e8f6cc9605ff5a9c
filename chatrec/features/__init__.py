"""Feature extraction: aggregates pushed down into DuckDB, per-user Python work on Dask partitions."""
