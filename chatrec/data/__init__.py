"""Reading source data (MovieLens, generic CSV/Parquet) and loading it into the warehouse."""
