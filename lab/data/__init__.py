"""The store (DuckDB) and the loading of a study's stored runs."""
