"""Analytics over the Parquet export (scans/, events/, codes/: README "Parquet export"):
rules written once in SQL both DuckDB and Spark run (rules/), their alerts, and reports.
export.py (the export itself) is helper D's."""
