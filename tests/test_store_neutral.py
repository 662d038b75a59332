"""The store-neutral modules (codekeys, stamp, durable, known, records, errors) live in
tracecode.store: the PostgreSQL store and the analytics import no LMDB module; the old
names under tracecode.store.lmdb still import and are the same objects."""
import ast
from pathlib import Path

import tracecode

ENGINE = Path(tracecode.__file__).parent


def _imports(path: Path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            yield ("." * node.level) + (node.module or ""), [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, []


def test_the_postgres_store_and_the_analytics_import_no_lmdb_module():
    found = []
    for folder in ("store/postgres", "analytics"):
        for path in sorted((ENGINE / folder).glob("*.py")):
            for module, names in _imports(path):
                if "lmdb" in module.split(".") or "lmdb" in names:
                    found.append(f"{path.relative_to(ENGINE)}: {module} {names}")
    assert not found, found


def test_the_old_names_are_the_neutral_modules():
    from tracecode.store import codekeys, durable, errors, known, records, stamp
    from tracecode.store.lmdb import codekeys as c, durable as d, known as k, stamp as s
    from tracecode.store.lmdb.batches import FIRST_PRODUCT_ID, BatchRecord
    from tracecode.store.lmdb.env import IndexFull, IndexReadOnly
    assert (c, d, k, s) == (codekeys, durable, known, stamp)
    assert (BatchRecord, FIRST_PRODUCT_ID) == (records.BatchRecord, records.FIRST_PRODUCT_ID)
    assert (IndexFull, IndexReadOnly) == (errors.IndexFull, errors.IndexReadOnly)
