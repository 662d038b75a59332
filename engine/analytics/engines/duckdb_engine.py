"""DuckDB over the Parquet export: no server, the views read the parts in place."""
from __future__ import annotations

import os
import re
import shutil
import tempfile

from pathlib import Path

import duckdb

from .. import centroids
from ..errors import AnalyticsError
from ..layout import SCHEMAS, check_root, parts


def _list(paths) -> str:
    return "[" + ", ".join("'" + str(p).replace("'", "''") + "'" for p in paths) + "]"


def _why(exc) -> str:
    """DuckDB's message (it names the file of a damaged part), without its hints."""
    return str(exc).split("\n\n")[0].strip()


class DuckDBEngine:
    DIALECT = "duckdb"

    def __init__(self, root, since=None, memory_limit: str | None = None, threads: int | None = None,
                 temp_directory: str | None = None):
        """memory_limit bounds DuckDB's buffers (e.g. "4GB"); what does not fit spills to
        temp_directory, by default a folder of this engine's in the system's temp (DuckDB makes
        it only when it spills; removed on close), not DuckDB's default .tmp in the current
        directory."""
        self._own_temp = None
        if memory_limit and not re.fullmatch(r"\d{1,6}(\.\d{1,3})?\s?[KMGT]i?B", memory_limit):
            raise AnalyticsError(f"memory limit {memory_limit!r}: write e.g. 2GB or 512MB")
        root = check_root(root)
        try:
            self._open(root, since, memory_limit, threads, temp_directory)
        except duckdb.Error as exc:
            raise AnalyticsError(f"the export {root} cannot be read: {_why(exc)}") from None

    def _open(self, root, since, memory_limit, threads, temp_directory) -> None:
        self.con = duckdb.connect()
        if temp_directory is None:
            temp_directory = self._own_temp = str(
                Path(tempfile.gettempdir()) / f"tracecode-duckdb-{os.getpid()}-{id(self):x}")
        self.con.execute("SET temp_directory = " + _list([temp_directory])[1:-1])
        self.con.execute("SET TimeZone = 'UTC'")
        self.con.execute("SET enable_progress_bar = false")   # no bar on a CLI's stdout
        if memory_limit:
            self.con.execute(f"SET memory_limit = '{memory_limit}'")
        if threads:
            self.con.execute(f"SET threads = {int(threads)}")
        self.con.register("centroids", centroids.table())
        for table, schema in SCHEMAS.items():
            files = parts(root, table)
            cols = ", ".join(f'"{n}"' for n in schema.names)
            if files:
                src = f"read_parquet({_list(files)}, hive_partitioning = false, union_by_name = true)"
            else:
                self.con.register(f"_empty_{table}", schema.empty_table())
                src = f"_empty_{table}"
            where = ""
            if table == "scans" and since is not None:
                where = f" WHERE time >= TIMESTAMPTZ '{since.isoformat()}'"
            if table == "events":   # an event an error declaration undid says nothing any more
                where = " AS e WHERE NOT EXISTS (SELECT 1 FROM undone AS u WHERE u.event_seq = e.seq)"
            self.con.execute(f"CREATE VIEW {table} AS SELECT {cols} FROM {src}{where}")

    def rows(self, sql: str) -> list[dict]:
        try:
            return self.con.sql(sql).to_arrow_table().to_pylist()
        except duckdb.Error as exc:   # a damaged part, a value the SQL cannot convert
            raise AnalyticsError(f"DuckDB: {_why(exc)}") from None

    def close(self) -> None:
        self.con.close()
        if self._own_temp:
            shutil.rmtree(self._own_temp, ignore_errors=True)
