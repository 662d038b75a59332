"""Hostile input at the engine (issue 11, part C): every free-text field that reaches storage
is bounded (engine/limits.py), lots, event times, event ids and SSCC users are validated, and
one bad item never costs the others. Real LMDB files, through tracecode.DataDir."""
import datetime as dt
import json
import math
import time

import pytest
from hypothesis import example, given, settings, strategies as st

import tracecode
from tracecode import limits
from tracecode.errors import ValidationError
from tracecode.index import lifecycle

DRUG = {"drug_id": "8177322"}
GTIN = {"gtin": "09521234543213"}
SSCC = "(00)106141411234567897"
NOW = time.time()
T_COMMISSION = dt.datetime(2026, 11, 30, 1, 15, 0, 500000, dt.timezone.utc).timestamp()
T_RECEIVE = T_COMMISSION + 3600


def codes_of(d, n=10, **details):
    return [c.decode() for c in d.issue("cn-drug-20", DRUG, n, **details).codes()]


def refused_field(fn, field):
    with pytest.raises(ValidationError) as info:
        fn()
    assert info.value.field == field, info.value
    return info.value


# -- place and scanner: the scan log packs their lengths in 16 bits ------------------------------
def test_a_huge_place_or_scanner_is_refused_and_the_scan_log_keeps_committing(d):
    codes = codes_of(d)
    assert d.apply([{"id": "c", "action": "commission", "codes": codes}])[0]["ok"]
    err = refused_field(lambda: d.verify(codes[0], place="x" * 70_000), "place")
    assert "70,000 bytes" in str(err) and "256" in str(err)
    refused_field(lambda: d.verify(codes[0], scanner="s" * 70_000), "scanner")
    refused_field(lambda: d.verify_many(codes[:3], place="é" * 129), "place")  # 258 bytes
    refused_field(lambda: d.verify_many(codes[:3], scanner="pda\n7"), "scanner")
    # within the bounds: recorded, committed, counted (before the fix the commit failed forever)
    d.verify(codes[0], scanner="s" * limits.SCANNER_BYTES, place="p" * limits.PLACE_BYTES)
    d.verify_many(codes[:3], place="杭州")
    assert d.index.log.flush() == 4
    assert d.verify(codes[0], record=False).scan_count == 3
    scans = [h for h in d.history(codes[0]) if h["kind"] == "scan"]
    assert [s["place"] for s in scans] == ["p" * 256, "杭州"]


def test_the_scan_log_refuses_what_it_cannot_hold_without_losing_the_queue(d):
    log = d.index.log
    log.add_one(None, 1, "pda-1", "A", NOW)
    with pytest.raises(ValueError, match="place is over 32,767 bytes"):
        log.add_one(None, 1, "pda-1", "x" * 70_000, NOW)
    assert log.flush() == 1      # the good scan committed, nothing wedged


def test_scan_times_are_finite_and_sane(d):
    codes = codes_of(d, 2)
    for bad in (math.nan, math.inf, 1e20, -5.0, 12.0):
        refused_field(lambda bad=bad: d.verify(codes[0], when=bad), "when")
        refused_field(lambda bad=bad: d.verify_many(codes, when=bad), "when")
    assert d.index.log.flush() == 0


# -- lots and the other batch text -----------------------------------------------------------------
@pytest.mark.parametrize("lot, fault", [("L" * 12_000_000, "12,000,000 characters"),
                                        ("L" * 21, "at most 20"), ("A\nB", "control character"),
                                        ("A\x00", "control character"), ("A\tB", "control character")])
def test_national_lots_are_validated_and_nothing_is_reserved(d, lot, fault):
    err = refused_field(lambda: d.issue("cn-drug-20", DRUG, 10, lot=lot), "lot")
    assert fault in str(err) and len(str(err)) < 200
    assert d.issued("cn-drug-20", DRUG) == 0 and d.index.batches.list() == []


def test_gs1_lots_follow_ai_10(d):
    for bad in ("批号1", "A#1", "A B", "A" * 21):
        refused_field(lambda bad=bad: d.issue("gs1-sgtin", GTIN, 5, lot=bad), "lot")
    ok = "AZaz09!\"%&'()*+,-./:"  # 20 characters of the GS1 82-character set
    assert d.issue("gs1-sgtin", GTIN, 5, lot=ok).record.lot == ok
    assert d.issue("cn-drug-20", DRUG, 5, lot="批号 A-1").record.lot == "批号 A-1"  # national: printable
    refused_field(lambda: d.issue("gs1-sgtin", GTIN, 5, lot="A1", attributes={"lot": "B2"}), "lot")


def test_line_requester_and_attributes_are_bounded(d):
    refused_field(lambda: d.issue("cn-drug-20", DRUG, 5, line="l" * 129), "line")
    refused_field(lambda: d.issue("cn-drug-20", DRUG, 5, requester="r" * 257), "requester")
    refused_field(lambda: d.issue("cn-drug-20", DRUG, 5, line="line\r3"), "line")
    assert d.issue("cn-drug-20", DRUG, 5, line="l" * 128, requester="r" * 256).record.count == 5


def test_imported_records_are_bounded(d):
    national = ["201403270000200101860785"]
    refused_field(lambda: d.index.import_codes(national, lot="L" * 1_000_000), "lot")
    refused_field(lambda: d.index.import_codes(national, source="s" * 257), "source")
    refused_field(lambda: d.index.import_codes(national, product={"name": "n" * 300}), "product.name")
    refused_field(lambda: d.index.import_codes(national, product={"name": ["x"]}), "product.name")
    assert d.index.import_codes(national, lot="T1", product={"name": "阿莫西林"}) == 1


# -- events: every field bounded, one bad event costs nobody else ----------------------------------
def test_event_fields_are_bounded_one_by_one(d):
    codes = codes_of(d, 20)
    bad = [({"id": "i" * 129}, "id"), ({"id": "编号-1"}, "id"), ({"id": "a\nb"}, "id"),
           ({"place": "p" * 257}, "place"), ({"reason": "r" * 513}, "reason"),
           ({"lot": "L\n1"}, "lot"), ({"lot": "L" * 12_000_000}, "lot"),
           ({"batch": 1 << 64}, "batch"), ({"batch": -1}, "batch"), ({"batch": "abc"}, "batch"),
           ({"codes": 5}, "codes"), ({"time": "yesterday"}, "time")]
    events = [{"id": f"e{i}", "action": "commission", "codes": [codes[i]], **over}
              for i, (over, _) in enumerate(bad)]
    events += [["not", "an", "event"], {"id": "good", "action": "commission", "codes": codes[-2:]}]
    results = d.apply(events)
    for r, (_, field) in zip(results, bad):
        assert not r["ok"] and r["reason"] == lifecycle.INVALID_EVENT and r["field"] == field, r
        assert len(r["error"]) < 300
    assert not results[-2]["ok"] and results[-1]["ok"]
    assert d.verify(codes[0], record=False).status == "issued"   # nothing of the bad ones applied
    assert d.verify(codes[-1], record=False).status == "commissioned"


@pytest.mark.parametrize("when", ["yesterday", 1e20, math.nan, math.inf, True, "2026-11-30T09:15:00",
                                  "2026-13-30T09:15:00Z", 0, 12.5, NOW + 3600, {"t": 1}])
def test_bad_event_times_are_refused(d, when):
    codes = codes_of(d, 2)
    r = d.apply([{"id": "c", "action": "commission", "codes": codes, "time": when}])[0]
    assert not r["ok"] and r["field"] == "time", r
    d.verify(codes[0])
    d.index.log.flush()
    assert [h["kind"] for h in d.history(codes[0])] == ["scan"]


def test_event_times_keep_their_offset(d):
    codes = codes_of(d, 3)
    assert all(r["ok"] for r in d.apply([
        {"id": "c", "action": "commission", "codes": codes, "time": "2026-11-30T09:15:00.5+08:00"},
        {"id": "s", "action": "ship", "codes": codes, "time": "2026-11-30T02:00:00Z"},
        {"id": "r", "action": "receive", "codes": codes, "time": T_RECEIVE}]))
    d.verify(codes[0])
    d.index.log.flush()
    hist = d.history(codes[0])
    assert [(h.get("action"), h["time"], h.get("time_offset")) for h in hist[:3]] == [
        ("commission", T_COMMISSION, "+08:00"), ("ship", T_COMMISSION + 2700 - 0.5, "+00:00"),
        ("receive", T_RECEIVE, None)]
    assert hist[3]["kind"] == "scan"


def test_history_reads_events_stored_before_times_were_checked(d):
    codes = codes_of(d, 4)
    results = d.apply([{"id": f"c{i}", "action": "commission", "codes": [c]} for i, c in enumerate(codes)])
    d.verify(codes[0])
    d.index.log.flush()
    ix = d.index
    with ix.env.begin(write=True) as txn:  # what an older tracecode let through
        for r, old in zip(results, ["yesterday", math.nan, 1e20, "2026-11-30T09:15:00+08:00"]):
            key = r["seq"].to_bytes(8, "big")
            ev = json.loads(txn.get(key, db=ix.db_events))
            ev["time"] = old
            ev.pop("time_offset")
            txn.put(key, json.dumps(ev).encode(), db=ix.db_events)
    hist = d.history(codes[0])
    assert [h["kind"] for h in hist] == ["event", "scan"]
    assert hist[0]["time"] is None and hist[0]["time_given"] == "yesterday"
    assert math.isnan(d.history(codes[1])[0]["time_given"])
    assert d.history(codes[2])[0]["time"] == 1e20
    assert d.history(codes[3])[0]["time_offset"] == "+08:00"


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(max_size=40), st.floats(allow_nan=True), st.integers(), st.booleans(),
                 st.none()))
def test_event_time_parser_never_fails_unexpectedly(value):
    try:
        t, offset = limits.event_time("time", value, now=NOW)
    except ValidationError as exc:
        assert exc.field == "time"
    else:
        assert math.isfinite(t) and limits.EARLIEST_TIME <= t <= NOW + limits.FUTURE_SLACK_S
        assert offset is None or len(offset) == 6


# -- event ids: per client; a resend is the same event or a refusal ------------------------------
def test_event_ids_are_scoped_per_client(d):
    codes = codes_of(d, 10)
    a = d.apply([{"id": "e-1", "action": "commission", "codes": codes[:5]}], client="line-3")[0]
    b = d.apply([{"id": "e-1", "action": "commission", "codes": codes[5:]}], client="line-9")[0]
    assert a["ok"] and b["ok"] and a["seq"] != b["seq"]
    # the same event again from the same client: acknowledged as the one applied, not twice
    again = d.apply([{"id": "e-1", "action": "commission", "codes": codes[:5]}], client="line-3")[0]
    assert again == {"id": "e-1", "ok": True, "seq": a["seq"], "replayed": True}
    # a different event under the used id: refused, and nothing of it applied
    other = d.apply([{"id": "e-1", "action": "ship", "codes": codes[:5]}], client="line-3")[0]
    assert not other["ok"] and other["reason"] == lifecycle.DUPLICATE_EVENT
    assert d.verify(codes[0], record=False).status == "commissioned"
    assert [h["action"] for h in d.history(codes[0])] == ["commission"]
    assert d.history(codes[0])[0]["client"] == "line-3"
    # the data directory's own caller has its own namespace
    assert d.apply([{"id": "e-1", "action": "ship", "codes": codes[:5]}])[0]["ok"]
    with pytest.raises(ValidationError, match="client"):
        d.apply([], client="bad\x00name")


def test_a_resend_within_an_atomic_call_counts_as_applied(d):
    codes = codes_of(d, 4)
    first = d.apply([{"id": "c", "action": "commission", "codes": codes}], client="x")[0]
    res = d.apply([{"id": "c", "action": "commission", "codes": codes},
                   {"id": "s", "action": "ship", "codes": codes}], atomic=True, client="x")
    assert res[0]["seq"] == first["seq"] and res[1]["ok"]


def test_event_ids_recorded_before_scoping_stay_refused(d):
    codes = codes_of(d, 2)
    ix = d.index
    with ix.env.begin(write=True) as txn:   # the old layout: bare id -> seq
        txn.put(b"legacy-1", (1).to_bytes(8, "big"), db=ix.db_event_ids)
    r = d.apply([{"id": "legacy-1", "action": "commission", "codes": codes}])[0]
    assert not r["ok"] and r["reason"] == lifecycle.DUPLICATE_EVENT


# -- SSCCs: the first client that packs into one is recorded ---------------------------------------
def test_the_first_client_packing_into_an_sscc_is_recorded(d):
    codes = codes_of(d, 4)
    assert d.apply([{"id": "c", "action": "commission", "codes": codes}])[0]["ok"]
    assert d.index.sscc_user(SSCC) is None
    assert d.apply([{"id": "p", "action": "pack", "codes": codes[:2], "parent": SSCC}],
                   client="line-9")[0]["ok"]
    # another client's pack into it is refused in the same transaction (no race between
    # the service's check and the write), unless the caller acts for others (an admin)
    r = d.apply([{"id": "p2", "action": "pack", "codes": codes[2:], "parent": SSCC}],
                client="line-3")[0]
    assert not r["ok"] and r["reason"] == lifecycle.NOT_HOLDER and "line-9" in r["error"]
    assert d.apply([{"id": "p2", "action": "pack", "codes": codes[2:], "parent": SSCC}],
                   client="ops", bind_ssccs=False)[0]["ok"]
    assert d.index.sscc_user("106141411234567897") == "line-9"
    other = "(00)106141411234567880"
    assert d.apply([{"id": "u", "action": "unpack", "codes": codes[2:], "parent": SSCC},
                    {"id": "p3", "action": "pack", "codes": codes[2:], "parent": other}])[1]["ok"]
    assert d.index.sscc_user(other) is None    # the data directory's own caller binds nothing
    refused_field(lambda: d.index.sscc_user("123"), "sscc")


# -- registry rows: their text is bounded too, row by row --------------------------------------
REG_HEADER = "approval_number,product,company,enterprise_id,dosage_form,specification,status," \
             "status_since,valid_until\n"
CODE_HEADER = "code,approval_number,lot,production_date,expiry_date,packaging_level,parent_code\n"


def test_registry_rows_with_oversized_or_control_text_are_rejected_alone(d):
    import io
    body = ("兽药字(2015)010012345,阿莫西林,甲公司,00002,粉剂,100g,valid,,2030-12-31\n"
            f"兽药字(2015)010012346,{'x' * 600},甲公司,00002,粉剂,,valid,,2030-12-31\n"
            f"兽药字(2015)010012347,恩诺沙星,{'公' * 200},00002,粉剂,,valid,,2030-12-31\n"
            "兽药字(2015)010012348,恩诺沙星,甲公司,00002,\"注\x00射液\",,valid,,2030-12-31\n"
            f"兽药字(2015)010012349,恩诺沙星,甲公司,00002,注射液,{'s' * 513},valid,,2030-12-31\n")
    report = d.registry.import_file(io.StringIO(REG_HEADER + body), fmt="csv")
    assert report.added == ["兽药字(2015)010012345"]
    reasons = {i.line: i.reason for i in report.rejected}
    assert sorted(reasons) == [3, 4, 5, 6]
    assert "product is 600 bytes" in reasons[3] and "company is 600 bytes" in reasons[4]
    assert "dosage_form holds a control character" in reasons[5]
    assert "specification" in reasons[6] and all(len(r) < 300 for r in reasons.values())
    codes = ("201403270000200101860785,兽药字(2015)010012345,\"L\n1\",2026-01-01,2030-12-31,1,\n"
             f"201403270000200101860786,兽药字(2015)010012345,{'L' * 5000},2026-01-01,2030-12-31,1,\n"
             "201403270000200101860787,兽药字(2015)010012345,L1,2026-01-01,2030-12-31,1,\n")
    report = d.registry.import_codes_file(io.StringIO(CODE_HEADER + codes), fmt="csv")
    reasons = [i.reason for i in report.rejected]
    assert len(reasons) == 2 and all("printable" in r and len(r) < 200 for r in reasons), reasons


def test_client_names_are_bounded_when_the_clients_file_is_read(tmp_path):
    from tracecode.app.clients import ClientsFile, ClientsFileError
    clients = ClientsFile.open_or_create(tmp_path / "clients.toml")
    assert clients.add("浙江-line-3", ["scanner"])
    for bad in ("n" * 65, "line 3", "a/b", "line\n3"):
        with pytest.raises(ClientsFileError, match="client name"):
            clients.add(bad, ["scanner"])


# -- whatever an event holds, apply answers for it alone -------------------------------------------
JSONISH = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
                       lambda inner: st.lists(inner, max_size=3)
                       | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=6)
FIELDS = ["id", "action", "codes", "parent", "time", "place", "batch", "lot", "reason", "scheme",
          "product"]


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    dd = tracecode.init(tmp_path_factory.mktemp("fuzz") / "data")
    yield dd, [c.decode() for c in dd.issue("cn-drug-20", DRUG, 50).codes()]
    dd.close()


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(FIELDS), JSONISH, max_size=8), st.sampled_from(
    ["commission", "pack", "recall", "ship"]))
@example({"action": ["pack"]}, "pack")
@example({"parent": ["(00)106141411234567897"]}, "pack")
@example({"lot": "A", "scheme": "cn-drug-20", "product": {"drug_id": ["8177322"]}}, "recall")
@example({"time": [1.0]}, "ship")
def test_any_event_gets_a_result_of_its_own(shared, ev, action):
    d, codes = shared
    ev = {"action": action, "codes": codes[:2], **ev}
    results = d.apply([ev, {"id": "never", "action": "nonsense"}])
    assert len(results) == 2 and not results[1]["ok"]
    assert all(len(r.get("error", "")) < 1000 for r in results)


def test_an_index_from_before_sscc_users_still_opens_read_only(d):
    from tracecode.index import Index, open_env
    codes = codes_of(d, 2)
    path = d.path / "index"
    with d.index.env.begin(write=True) as txn:  # as an older tracecode left it
        txn.drop(d.index.db_sscc_users, delete=True)
    d.close()
    env = open_env(path, readonly=True)
    try:
        ix = Index(env, d.schemes, d.master_key, record_scans=False)
        assert ix.sscc_user(SSCC) is None
        assert ix.verify(codes[0]).status == "issued"
    finally:
        env.close()


def test_a_time_past_a_floats_range_is_that_events_own_refusal(d):
    """Review 11 #8: 10**400 raised OverflowError and the good events were not applied."""
    codes = codes_of(d, 3)
    results = d.apply([{"id": "g", "action": "commission", "codes": codes[:1]},
                       {"id": "big", "action": "commission", "codes": codes[1:2], "time": 10**400},
                       {"id": "huge", "action": "commission", "codes": codes[1:2], "time": 10**100000},
                       {"id": "list", "action": "commission", "codes": codes[1:2], "time": [1]},
                       {"id": "g2", "action": "commission", "codes": codes[2:]}])
    assert [r["ok"] for r in results] == [True, False, False, False, True], results
    assert all(r["field"] == "time" and len(r["error"]) < 300 for r in results[1:4]), results
    assert "401-digit number" in results[1]["error"]


def test_python_api_type_errors_are_the_items_fault_or_a_validation_error(d):
    """Review 11 #11: verify(None), verify_many([None, code]) and history(None) raised
    TypeError; issue(count=True) issued a code; count=1.5, attributes=[...] raised
    AttributeError and a junk expiry a plain ValueError."""
    from tracecode.errors import ValidationError
    codes = codes_of(d, 2)
    assert d.verify(None, record=False).fault == "EMPTY"
    answers = d.verify_many([None, codes[0], 5], record=False)
    assert [a.fault for a in answers] == ["EMPTY", None, "EMPTY"]
    assert answers[1].verdict == d.verify(codes[0], record=False).verdict
    before = len(d.index.batches.list())
    for call, field in [(lambda: d.history(None), "code"),
                        (lambda: d.issue("cn-drug-20", DRUG, True), "count"),
                        (lambda: d.issue("cn-drug-20", DRUG, 1.5), "count"),
                        (lambda: d.issue("cn-drug-20", DRUG, 1, attributes=["x"]), "attributes"),
                        (lambda: d.issue("cn-drug-20", DRUG, 1, expiry="x" * 100_000), "expiry")]:
        with pytest.raises(ValidationError) as info:
            call()
        assert info.value.field == field and len(str(info.value)) < 200, info.value
    assert len(d.index.batches.list()) == before   # nothing reserved
