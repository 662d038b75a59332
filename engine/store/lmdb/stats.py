"""What the administration verbs read of the LMDB store: batch records in id order from
one id on, the counts and sizes behind `stats`, and the bytes each part of the data
occupies (capacity planning; key layouts and database names stay in this folder)."""
from __future__ import annotations

from .batches import BatchRecord, u64


def batches_after(batches, after_id: int = 0):
    """The batch records with ids above after_id, in id order (one read transaction)."""
    with batches.env.begin(db=batches.records) as txn:
        cur = txn.cursor()
        if cur.set_range(u64(after_id + 1)):
            for _, raw in cur:
                yield BatchRecord.from_bytes(raw)


def index_stats(index) -> dict:
    """events and scans stored, products with a batch per scheme, the index's bytes in
    use and its map's size."""
    env = index.env
    with env.begin() as txn:
        events = txn.stat(index.db_events)["entries"]
        scans = txn.stat(index.db_scans)["entries"]
    products: dict = {}
    with env.begin(db=index.batches.counters) as txn:
        for key, _ in txn.cursor():   # counters are keyed scheme \0 product key
            scheme = key.split(b"\x00", 1)[0].decode()
            products[scheme] = products.get(scheme, 0) + 1
    info = env.info()
    return {"events": events, "scans": scans, "products": products,
            "index_bytes": (info["last_pgno"] + 1) * env.stat()["psize"],
            "map_bytes": info["map_size"]}


# The port's parts of the data (Store.bytes_in_use) and the databases that hold them.
PARTS = {
    "issuance": (b"counters", b"batches", b"ranges", b"products", b"product_ids"),
    "verdicts": (b"codes", b"seen"),   # what verification reads per code: state, container, scans
    "history": (b"children", b"code_events", b"events", b"event_ids"),   # only history() reads
    "scan_log": (b"scans",),
    "epcis": (b"epcis", b"epcis_epcs", b"epcis_times"),   # captured EPCIS events and jobs
}


def part_bytes(env, part: str | None = None) -> int:
    """Bytes of the LMDB pages one part's databases occupy (every named database: None)."""
    if part is None:
        with env.begin() as txn:
            names = [k for k, _ in txn.cursor()]  # the main database lists the named ones
    else:
        names = PARTS[part]
    dbs = [env.open_db(name, create=False) for name in names]
    total = 0
    with env.begin() as txn:
        for db in dbs:
            st = txn.stat(db)
            total += st["psize"] * (st["branch_pages"] + st["leaf_pages"] + st["overflow_pages"])
    return total
