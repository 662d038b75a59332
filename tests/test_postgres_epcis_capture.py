"""EPCIS capture and query through Service on a data directory whose index is PostgreSQL
(tracecode.init(DIR, store=URL)): the capture tests of test_epcis_capture, the same
functions, run here over the PostgreSQL store (this module's `svc`). Commissioning, packing
and shipping change our codes' states; rollback stores nothing; events are queried back by
EPC, time and type with paging and rights; a failing call writes nothing; an event without
an id is known by its GS1 hash; an error declaration is kept beside its event.

GS1's schema is read from ../shared/reference/epcis (epcis_reference.need: skips naming the
path, fails under CI=true)."""
import pytest

import tracecode
from tracecode.app import Service
from tracecode.app.clients import Clients, ClientsFile

from epcis_reference import SCHEMA, need
from test_epcis_capture import (  # noqa: F401  (collected here, run on this module's svc)
    GTIN, OTHER_GTIN, test_an_error_declaration_is_stored_beside_the_event_it_declares,
    test_an_event_without_event_id_is_known_by_its_gs1_hash, test_an_issuer_captures_only_its_products_codes,
    test_commission_pack_and_ship_change_the_state_of_our_codes, test_query_by_epc_time_and_type_with_paging_and_rights,
    test_rollback_stores_nothing_proceed_stores_the_good_ones,
    test_the_index_writes_nothing_of_a_call_whose_also_raises)


@pytest.fixture
def svc(tmp_path, pg_dsn):
    need(SCHEMA)
    tracecode.init(tmp_path / "data", store=pg_dsn).close()
    d = tracecode.open(tmp_path / "data")
    assert type(d.index.store).__name__ == "PgStore"   # the index is PostgreSQL's, not an LMDB file
    clients = ClientsFile.open_or_create(tmp_path / "clients.toml")
    clients.add("line-3", ["issuer"], [f"gs1-sgtin:gtin={GTIN}"])
    clients.add("line-9", ["issuer"], [f"gs1-sgtin:gtin={OTHER_GTIN}"])
    s = Service(d, Clients(tmp_path / "clients.toml"))
    yield s
    s.close()
    d.close()


def test_concurrent_captures_commission_every_code_and_log_every_event_once(svc):
    """Captures from three threads at once, each of its own codes: each capture's EPCIS
    events and the lifecycle events they carry commit together (the EPCIS seq row, then the
    events' counter, in every capture alike: no lock cycle), so every code is commissioned
    and the outbox holds every event once, seqs 1..n without a gap."""
    import threading

    from tracecode.index.verdicts import Verdict
    from tracecode.store.port import EpcisQuery

    from test_epcis_capture import LINE, REGULATOR, codes, document, event
    batches = [codes(svc, 6) for _ in range(3)]
    jobs, errors = [], []

    def capture(i):
        try:
            epcs = batches[i][0]
            for k in range(0, 6, 2):   # three documents each, two codes a document
                jobs.append(svc.capture(LINE, document(event(epcs=epcs[k:k + 2])), "application/json"))
        except BaseException as e:
            errors.append(e)
    threads = [threading.Thread(target=capture, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors and all(j["state"] == "success" for j in jobs), [j["errors"] for j in jobs]
    store = svc.index.store
    logged, last = store.epcis_since(None, 0)
    assert [r.seq for r in logged] == list(range(1, 10)) and last == store.epcis_last_seq() == 9
    assert len(svc.query_events(REGULATOR, EpcisQuery(), per_page=100)[0]) == 9
    assert all(svc.dd.verify(c, record=False).verdict == Verdict.GENUINE for _, hri in batches for c in hri)
