"""The counterfeit check: every verdict and every failing check, on a generated registry.

No national data is public, so the module builds one: 40 veterinary drug companies
with about 3,000 approvals (some revoked, suspended or past validity), 400 pesticide
registrations, codes of our own issuance under them, and national code data with
units, boxes and cases. Scans are checked on TODAY.
"""
import csv
import datetime as dt
import json
import os
import random
import subprocess
import sys
import time

import numpy as np
import pytest

import tracecode
from tracecode.checks import DAMM
from tracecode.registry import BIT, CHECKS, names

TODAY = dt.date(2026, 6, 1)
ISSUED_ON = dt.date(2023, 3, 1)       # application date of our codes
COMPANY = "华东某某动物药业有限公司"


def qr(code, approval, company=COMPANY, sep=","):
    return sep.join([code, "兽用阿莫西林可溶性粉", approval, company, "0571-88888888"])


class World:
    """The generated registry and codes, with the approvals and codes tests pick from."""


def _approvals(rng):
    rows, used = [], set()
    enterprises = rng.sample(range(1, 99999), 40)
    for k, ent in enumerate(enterprises):
        prov = rng.randrange(1, 32)
        company = COMPANY if k == 0 else f"第{k}兽药有限公司"
        for p in range(rng.randrange(60, 90)):
            number = f"兽药字({rng.randrange(2015, 2026)}){prov:02d}{k:03d}{p:04d}"
            if number in used:
                continue
            used.add(number)
            roll = rng.random()
            status, since, until = "valid", "", TODAY + dt.timedelta(days=rng.randrange(30, 1800))
            if roll < 0.04:
                status, since = "revoked", str(dt.date(2024, 1, 1) + dt.timedelta(days=rng.randrange(300)))
            elif roll < 0.07:
                status, since = "suspended", str(dt.date(2025, 1, 1) + dt.timedelta(days=rng.randrange(300)))
            elif roll < 0.12:
                until = TODAY - dt.timedelta(days=rng.randrange(1, 900))
            rows.append({"approval_number": number, "product": f"产品{k}-{p}", "company": company,
                         "enterprise_id": f"{ent:05d}", "dosage_form": rng.choice(["粉剂", "注射液", "片剂"]),
                         "specification": f"{rng.choice([10, 100, 500])}g", "status": status,
                         "status_since": since, "valid_until": until.isoformat()})
    return rows


def _registrations(rng):
    out, seen = [], set()
    while len(out) < 400:
        cls = rng.choice(["PD", "WP", "LS"])
        number = f"{cls}{rng.randrange(2005, 2025)}{rng.randrange(10000):04d}"
        if number[-6:] in seen:
            continue
        seen.add(number[-6:])
        out.append({"number": number, "product": f"农药{len(out)}", "company": f"农化{len(out) % 30}",
                    "spec_codes": sorted(rng.sample([f"{i:03d}" for i in range(1, 20)], rng.randrange(1, 4))),
                    "status": "revoked" if rng.random() < 0.05 else "valid",
                    "valid_until": (TODAY + dt.timedelta(days=rng.randrange(30, 1800))).isoformat()})
    return out


def _national(vet, rng):
    """Units in boxes in cases for a few valid approvals: (rows, {level: [codes]})."""
    rows, levels = [], {1: [], 2: [], 3: []}
    serial = iter(range(10**9))

    def code(a):
        return f"20220101{a['enterprise_id']}{next(serial):011d}"
    for a in vet[:6]:
        for _ in range(2):
            case = code(a)
            rows.append((case, a, 3, None))
            for _ in range(4):
                box = code(a)
                rows.append((box, a, 2, case))
                for _ in range(10):
                    rows.append((code(a), a, 1, box))
    rng.shuffle(rows)  # parents come before or after their children
    out = []
    for c, a, level, parent in rows:
        levels[level].append(c)
        out.append({"code": c, "approval_number": a["approval_number"], "lot": f"N{level}",
                    "production_date": "2022-01-01", "expiry_date": "2028-01-01",
                    "packaging_level": level, "parent_code": parent or ""})
    return out, levels


@pytest.fixture(scope="module", params=["lmdb", "postgres"])
def w(request, tmp_path_factory):
    """The registry world on each store: issue_approved's batch and link are one write on both."""
    tmp = tmp_path_factory.mktemp("registry")
    rng = random.Random(7)
    w = World()
    w.path = tmp / "data"
    store = None
    if request.param == "postgres":
        store = request.getfixturevalue("pg_server").create_database(f"registry_{os.getpid()}")
    d = w.d = tracecode.init(w.path, store=store)
    vet = _approvals(rng)
    with open(tmp / "vet.csv", "w", newline="", encoding="utf-8") as f:
        out = csv.DictWriter(f, fieldnames=list(vet[0]))
        out.writeheader()
        out.writerows(vet)
    assert d.registry.import_file(tmp / "vet.csv").ok
    pest = _registrations(rng)
    (tmp / "pesticide.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in pest))
    assert d.registry.import_file(tmp / "pesticide.jsonl", kind="pesticide").ok
    w.count = d.registry.count()

    def pick(status, company=COMPANY, skip=()):
        return next(r for r in vet if r["company"] == company and r["approval_number"] not in skip
                    and r["status"] == status and (status != "valid" or r["valid_until"] > "2027"))
    w.valid = pick("valid")
    w.valid2 = pick("valid", skip={w.valid["approval_number"]})
    w.other = next(r for r in vet if r["company"] != COMPANY and r["status"] == "valid")
    w.revoked = next(r for r in vet if r["status"] == "revoked")
    w.suspended = next(r for r in vet if r["status"] == "suspended")
    w.lapsed = next(r for r in vet if r["valid_until"] < TODAY.isoformat())
    w.pest = next(r for r in pest if r["status"] == "valid")
    w.pest_revoked = next(r for r in pest if r["status"] == "revoked")
    w.enterprise = w.valid["enterprise_id"]

    def issue(a, n, since=ISSUED_ON, commission=True, **kw):
        kw.setdefault("lot", "L1")
        kw.setdefault("expiry", "20280101")
        b = d.issue_approved(a.get("approval_number") or a["number"], n, date=since, **kw)
        codes = [c.decode() for c in b.codes()]
        if commission:
            assert all(r["ok"] for r in d.apply([{"id": f"c{b.id}", "action": "commission",
                                                  "codes": codes}]))
        return codes
    w.ours = issue(w.valid, 400)
    w.cases = issue(w.valid, 10, level=3)
    w.old = issue(w.valid, 10, lot="L0", expiry="20250101")
    w.lot9 = issue(w.valid, 10, lot="L9")
    w.uncommissioned = issue(w.valid, 5, commission=False)
    def before(a):  # a month before the approval's status took effect
        return dt.date.fromisoformat(a["status_since"]) - dt.timedelta(days=30)
    w.of_revoked = issue(w.revoked, 5, since=before(w.revoked))
    w.of_suspended = issue(w.suspended, 5, since=before(w.suspended))
    unlinked = d.issue("cn-vet-24", {"date": ISSUED_ON.strftime("%Y%m%d"), "enterprise": w.enterprise}, 5,
                       expiry="20280101")
    w.unlinked = [c.decode() for c in unlinked.codes()]
    d.apply([{"id": "u", "action": "commission", "codes": w.unlinked}])
    w.pest_codes = issue(w.pest, 20, spec=w.pest["spec_codes"][0], since=ISSUED_ON)
    rows, w.national = _national([r for r in vet if r["status"] == "valid" and r["valid_until"] > "2027"
                                  and r["company"] != COMPANY], rng)
    w.national_rows = {r["code"]: r for r in rows}
    report = d.registry.import_code_rows(rows)
    assert report.ok and not report.flagged and len(report.added) == len(rows)
    yield w
    d.close()


def case_of(w, unit):
    return w.national_rows[w.national_rows[unit]["parent_code"]]["parent_code"]


def check(w, scan, **kw):
    kw.setdefault("today", TODAY)
    kw.setdefault("record", False)
    return w.d.check(scan, **kw)


def failed(w, scan, **kw):
    a = check(w, scan, **kw)
    return a.failed, a


def test_the_generated_registry_is_realistic(w):
    assert w.count["vet"] > 2500 and w.count["pesticide"] == 400
    recs = w.d.registry.records()
    statuses = {s: sum(r.status == s for r in recs) for s in ("valid", "suspended", "revoked")}
    assert all(n > 20 for n in statuses.values()), statuses
    assert sum(r.valid_until < TODAY.isoformat() for r in recs) > 100
    assert len({r.company for r in recs if r.kind == "vet"}) == 40


def test_genuine_in_every_form_a_scan_arrives(w):
    code, a_num = w.ours[0], w.valid["approval_number"]
    wide = a_num.replace("(", "（").replace(")", "）")
    pest = w.pest_codes[0]
    unit = w.national[1][0]
    scans = [code, qr(code, a_num), qr(code, wide, sep="，"), f" {code[:8]}-{code[8:16]} {code[16:]} ",
             code.translate(str.maketrans("0123456789", "０１２３４５６７８９")), f"{code}\n产品",
             pest, f"https://www.icama.cn/trace?code={pest}", unit,
             qr(unit, w.national_rows[unit]["approval_number"]), w.cases[0]]
    for scan in scans:
        a = check(w, scan)
        assert a.verdict == "GENUINE" and a.genuine, (scan, str(a), a.checks)
        assert all(c.ok for c in a.checks) and [c.name for c in a.checks] == list(CHECKS)
    a = check(w, qr(code, wide))
    assert (a.kind, a.code, a.approval.number, a.scan_approval, a.level) == ("vet", code, a_num, a_num, 1)
    assert a.index.lot == "L1" and a.index.batch
    assert "the QR payload and the code's record agree" in a.checks[2].detail
    n = check(w, unit)
    assert n.checks[0].detail == "imported: issued elsewhere (national code data)" and n.index.lot == "N1"
    p = check(w, pest)
    assert p.kind == "pesticide" and p.approval.number == w.pest["number"]
    assert f"spec code {pest[8:11]} is one" in p.checks[1].detail


def recorded(w, code, k, place):
    """Check a bare code with the scan recorded; wait until it is its k-th committed scan
    (scans are group-committed in the background, and counts include committed ones only)."""
    a = check(w, code, record=True, place=place)
    deadline = time.monotonic() + 10
    while w.d.verify_many([code], record=False).records["scan_count"][0] <= k:
        assert time.monotonic() < deadline, "scan never committed"
        w.d.index.log.flush()
        time.sleep(0.001)
    return a


def test_a_real_code_copied_onto_many_packages_is_a_possible_copy(w):
    code, case = w.ours[10], w.cases[1]
    for k in range(6):
        unit = recorded(w, code, k + 1, "Hangzhou")
        box = recorded(w, case, k + 1, "Hangzhou")
    assert unit.failed == ("plausible_query_count",) and unit.index.scan_count == 6
    assert "6 queries; a unit is plausibly queried at most 5 times: possible copy" in unit.checks[6].detail
    assert box.genuine and box.level == 3 and "6 of at most 20 queries (case)" in box.checks[6].detail
    lenient = tracecode.registry.Registry(w.d.index, plausible={1: 10, 3: 100})
    assert lenient.check(code, today=TODAY, record=False).genuine  # 7 of at most 10
    # the same code turning up at more places than plausible (the index's max_places, 3)
    spread = w.ours[11]
    for k, place in enumerate(("Hangzhou", "Lanzhou", "Kunming")):
        recorded(w, spread, k + 1, place)
    a = check(w, spread, record=True, place="Harbin")
    assert a.failed == ("plausible_query_count",) and "scanned at 4 places" in a.checks[6].detail


def test_a_forged_approval_number_in_the_qr_payload(w):
    code = w.ours[20]
    for forged, why in [(w.valid2["approval_number"], f"the QR payload says {w.valid2['approval_number']}"),
                        ("兽药字(2015)990011234", "the QR payload says 兽药字(2015)990011234"),
                        ("兽药字(2015)99001", "is not valid: an approval number has 9 digits"),
                        ("兽药字2015-99001", "is not CATEGORY(YEAR) followed by 9 digits"),
                        ("某某批准", "is not valid: '某某批准' is neither")]:
        got, a = failed(w, qr(code, forged))
        assert got == ("approval_matches",), (forged, str(a))
        assert why in a.checks[2].detail
        assert a.approval.number == w.valid["approval_number"]  # the code's record is what counts


def test_a_valid_looking_code_from_an_unknown_enterprise(w):
    held = {r.enterprise_id for r in w.d.registry.records() if r.kind == "vet"}
    ghost = next(f"{e:05d}" for e in range(1, 99999) if f"{e:05d}" not in held)
    body = f"{ISSUED_ON:%Y%m%d}{ghost}0123456789"
    fake = body + DAMM.calc(body)   # passes our check digit: only the registry can tell
    got, a = failed(w, fake)
    assert got == ("code_exists", "enterprise_matches")
    assert a.checks[0].detail == "neither issued by us nor in the national code data"
    assert a.checks[1].detail == f"enterprise {ghost} holds no approval in the registry"
    assert a.unchecked == ("approval_matches", "approval_valid", "not_expired", "not_recalled",
                           "plausible_query_count")
    # with a real approval number printed next to it
    got, a = failed(w, qr(fake, w.valid["approval_number"]))
    assert got == ("code_exists", "enterprise_matches")
    assert f"but {w.valid['approval_number']} is held by enterprise {w.enterprise}" in a.checks[1].detail
    # an invented code of a real enterprise: the approval checks pass, the code does not exist
    got, a = failed(w, qr(f"{ISSUED_ON:%Y%m%d}{w.enterprise}99999999999", w.valid["approval_number"]))
    assert got == ("code_exists",) and "check digit mismatch" in a.checks[0].detail


def test_codes_of_revoked_suspended_and_lapsed_approvals(w):
    got, a = failed(w, w.of_revoked[0])
    assert got == ("approval_valid",)
    revoked = w.revoked
    assert a.checks[3].detail == f"{revoked['approval_number']} is revoked since {revoked['status_since']}"
    before = dt.date.fromisoformat(w.revoked["status_since"]) - dt.timedelta(days=1)
    assert check(w, w.of_revoked[0], today=before).genuine  # valid on the scan date
    got, a = failed(w, qr(w.of_suspended[0], w.suspended["approval_number"]))
    assert got == ("approval_valid",) and "is suspended" in a.checks[3].detail
    # a code naming a lapsed approval (its QR payload; the holder's enterprise matches)
    lapsed = w.lapsed
    body = f"{ISSUED_ON:%Y%m%d}{lapsed['enterprise_id']}0000000042"
    got, a = failed(w, qr(body + DAMM.calc(body), lapsed["approval_number"]))
    assert got == ("code_exists", "approval_valid")
    assert f"expired {lapsed['valid_until']}" in a.checks[3].detail


def test_refusing_to_issue_under_an_approval_not_valid(w):
    with pytest.raises(tracecode.errors.ApprovalNotValid, match="revoked since"):
        w.d.issue_approved(w.revoked["approval_number"], 1, date=TODAY)
    with pytest.raises(tracecode.errors.ApprovalNotValid, match="spec codes"):
        w.d.issue_approved(w.pest["number"], 1, spec="999", date=TODAY)
    with pytest.raises(tracecode.errors.UnknownApproval):
        w.d.issue_approved("兽药字(2015)990011234", 1)


def test_expired_products(w):
    got, a = failed(w, w.old[0])
    assert got == ("not_expired",) and a.checks[4].detail == "expired 2025-01-01"
    assert check(w, w.old[0], today=dt.date(2024, 12, 31)).genuine


def test_recalled_and_destroyed_codes_and_containers(w):
    d = w.d
    code, gone = w.ours[30], w.ours[31]
    product = {"date": f"{ISSUED_ON:%Y%m%d}", "enterprise": w.enterprise}
    assert all(r["ok"] for r in d.apply([
        {"id": "r30", "action": "recall", "codes": [code]},
        {"id": "x31", "action": "destroy", "codes": [gone]},
        {"id": "r-lot9", "action": "recall", "scheme": "cn-vet-24", "product": product, "lot": "L9"}]))
    for c in (code, gone, w.lot9[3]):
        got, a = failed(w, c)
        assert got == ("not_recalled",), str(a)
    assert check(w, gone).checks[5].detail == "status destroyed"
    # national data: a recalled case recalls the boxes and units in it
    unit = next(u for u in w.national[1] if case_of(w, u) == w.national[3][-1])
    box = w.national_rows[unit]["parent_code"]
    case = w.national_rows[box]["parent_code"]
    assert check(w, unit).genuine
    assert all(r["ok"] for r in d.apply([{"id": "rc", "action": "recall", "codes": [case]}]))
    for c in (unit, box, case):
        assert failed(w, c)[0] == ("not_recalled",)
    assert "a container it is in (national code data)" in check(w, unit).checks[5].detail


def test_codes_that_do_not_exist(w):
    d = w.d
    cases = {w.uncommissioned[0]: "issued but never commissioned",
             "201403270000200101860785": "check digit mismatch",
             "这不是一个码": "unreadable: WRONG_LENGTH",
             "": "unreadable: EMPTY",
             "20140327000020010186078": "unreadable: WRONG_LENGTH"}
    gone = w.ours[40]
    assert d.apply([{"id": "dc", "action": "decommission", "codes": [gone]}])[0]["ok"]
    cases[gone] = "decommissioned"
    for scan, why in cases.items():
        a = check(w, scan)
        assert a.verdict == "NOT_GENUINE" and "code_exists" in a.failed and why in a.checks[0].detail, scan
    a = check(w, "这不是一个码")
    assert a.kind is None and a.unchecked == CHECKS[1:]


def test_a_batch_of_ours_that_names_no_approval(w):
    got, a = failed(w, w.unlinked[0])
    assert got == ("approval_matches",) and a.checks[2].detail == "the code's record names no approval"
    assert a.unchecked == ("enterprise_matches", "approval_valid")
    # a QR payload may name one; the code's record still names none
    got, a = failed(w, qr(w.unlinked[1], w.valid["approval_number"]))
    assert got == ("approval_matches",) and a.unchecked == ()
    assert a.checks[2].detail == ("the code's record names no approval (the QR payload names "
                                  f"{w.valid['approval_number']})")


def test_a_change_of_holder_breaks_the_enterprise_match(w, tmp_path):
    a = w.valid2
    codes = [c.decode() for c in w.d.issue_approved(a["approval_number"], 3, date=ISSUED_ON, lot="T",
                                                    expiry="20280101").codes()]
    w.d.apply([{"id": "ct", "action": "commission", "codes": codes}])
    assert check(w, codes[0]).genuine
    moved = dict(a, company="新持有人", enterprise_id="99998")
    assert w.d.registry.import_rows([moved]).changed == [a["approval_number"]]
    got, ans = failed(w, codes[0])
    assert got == ("enterprise_matches",)
    assert f"enterprise {w.enterprise} in the code, but {a['approval_number']} is held by enterprise 99998" \
        in ans.checks[1].detail


def test_pesticide_codes(w):
    pest = w.pest_codes[1]
    spec_ok = w.pest["spec_codes"]
    bad_spec = next(f"{i:03d}" for i in range(1, 1000) if f"{i:03d}" not in spec_ok)
    # the registration's digits, an undeclared spec code: a counterfeit label
    forged = pest[:8] + bad_spec + pest[11:31]
    forged += DAMM.calc(forged)
    got, a = failed(w, forged)
    assert got == ("code_exists", "enterprise_matches") and "is not one" in a.checks[1].detail
    # digits encoding no registration at all
    known = {r.code_prefix for r in w.d.registry.records() if r.kind == "pesticide"}
    nobody = next(f"1{k:06d}" for k in range(10**6) if f"1{k:06d}" not in known)
    body = nobody + "1" + spec_ok[0] + "0" * 20
    got, a = failed(w, body + DAMM.calc(body))
    assert got == ("code_exists", "approval_matches") and "no registration of class 1" in a.checks[2].detail
    # a revoked registration
    rv = w.pest_revoked
    body = (tracecode.registry.registrations.code_prefix(rv["number"]) + "1" + rv["spec_codes"][0]
            + "0" * 20)
    got, a = failed(w, body + DAMM.calc(body))
    assert got == ("code_exists", "approval_valid") and "is revoked" in a.checks[3].detail


def test_scans_of_other_schemes_are_not_covered(w):
    a = check(w, "81773220000000000001")
    assert (a.verdict, a.kind, a.checks) == ("NOT_COVERED", None, ())
    assert a.index.verdict.name == "UNKNOWN" and not a.genuine and str(a) == "NOT_COVERED"


def test_bulk_checks_agree_with_single_checks(w):
    scans = ([w.ours[50], qr(w.ours[51], w.valid2["approval_number"]), w.of_revoked[1], w.old[1],
              w.unlinked[2], w.pest_codes[2], "81773220000000000001", "garbage", w.uncommissioned[1],
              qr(w.national[1][5], w.national_rows[w.national[1][5]]["approval_number"])]
             + w.national[2][:5] + w.ours[60:70])
    batch = w.d.check_many(scans, today=TODAY, record=False)
    assert len(batch) == len(scans)
    rec = batch.records
    for i, scan in enumerate(scans):
        one = check(w, scan)
        many = batch[i]
        assert (many.verdict, many.failed, many.unchecked) == (one.verdict, one.failed, one.unchecked)
        assert [c.detail for c in many.checks] == [c.detail for c in one.checks]
        if many.verdict != "NOT_COVERED":
            assert names(int(rec["failed"][i])) == many.failed
            assert names(int(rec["unchecked"][i])) == many.unchecked
    assert batch.genuine.tolist() == [a.genuine for a in batch]
    assert (rec["failed"][1] & BIT["approval_matches"]) and rec["kind"].tolist()[:7] == [1, 1, 1, 1, 1, 2, 0]


def test_bulk_checks_of_many_scans(w):
    scans = [qr(c, w.valid["approval_number"]) if i % 3 else c for i, c in enumerate(w.ours[100:400])]
    scans += [u for u in w.national[1] if case_of(w, u) != w.national[3][-1]] * 2
    batch = w.d.check_many(scans, today=TODAY, record=False)
    assert batch.genuine.all(), [str(a) for a in batch if not a.genuine][:3]
    assert set(np.unique(batch.records["source"]).tolist()) == {1, 2}


def test_manual_entry(w):
    info = w.d.registry.manual(f" {w.valid['approval_number'].replace('(', '（').replace(')', '）')} ",
                               today=TODAY)
    assert info.valid and info.record.number == w.valid["approval_number"]
    assert [p.name for p in info.products] == [w.valid["product"]] and info.companies == (COMPANY,)
    info = w.d.registry.manual(w.revoked["approval_number"], today=TODAY)
    assert not info.valid and info.validity.startswith("revoked since")
    assert w.d.registry.manual(w.pest["number"].lower(), today=TODAY).valid
    typed = w.d.registry.manual(" ".join([w.ours[70][:8], w.ours[70][8:]]), today=TODAY, record=False)
    assert typed.genuine and typed.code == w.ours[70]


def test_the_command_line(w, tmp_path):
    def run(*args, stdin=None):
        return subprocess.run([sys.executable, "-m", "tracecode", *map(str, args)], input=stdin,
                              capture_output=True, timeout=120)
    data = tmp_path / "data"
    tracecode.init(data).close()
    (tmp_path / "reg.csv").write_text(
        "批准文号,通用名称,生产企业,企业编号,有效期至\n"
        f"{w.valid['approval_number']},阿莫西林,{COMPANY},{w.enterprise},2030-12-31\n"
        "兽药字(2015)0100,x,y,00001,2030-12-31\n", encoding="utf-8")
    p = run("registry", "import", data, tmp_path / "reg.csv", "--kind", "vet")
    out = p.stdout.decode()
    assert p.returncode == 1 and "1 added" in out
    assert "REJECTED line 3: an approval number has 9 digits" in out
    p = run("registry", "show", data, w.valid["approval_number"])
    out = p.stdout.decode()
    assert p.returncode == 0 and "VALID" in out and f"enterprise {w.enterprise}" in out
    assert run("registry", "show", data, "兽药字(2015)990011234").stderr.startswith(b"tracecode registry show: ")
    with tracecode.open(data) as d:
        codes = [c.decode() for c in d.issue_approved(w.valid["approval_number"], 2, lot="C1",
                                                      expiry="20991231").codes()]
        d.apply([{"id": "c", "action": "commission", "codes": codes}])
    p = run("verify", data, "--no-record", stdin="\n".join(
        [qr(codes[0], w.valid["approval_number"]), qr(codes[1], "兽药字(2015)990011234"),
         "81773220000000000001"]).encode())
    lines = p.stdout.decode().splitlines()
    assert p.returncode == 1 and len(lines) == 3
    assert lines[0].startswith(f"GENUINE cn-vet-24 {codes[0]} batch=1 lot=C1") and "approval=" in lines[0]
    assert lines[1].startswith("NOT_GENUINE")
    assert "failed=approval_matches (approval_matches: the QR" in lines[1]
    assert lines[2] == "UNKNOWN cn-drug-20 81773220000000000001 scans=0 (never issued)"


def test_a_scheme_of_a_registry_category_added_as_a_data_file(tmp_path):
    """A custom veterinary layout (enterprise id first, 22 digits) named by its file as
    category "veterinary": its scans are covered by the veterinary checks, and the
    enterprise id is cut from its own layout (the category declares the field, not
    digits 9-13)."""
    path = tmp_path / "data"
    tracecode.init(path).close()
    (path / "schemes" / "vet-farm-22.toml").write_text(
        '[scheme]\nname = "vet-farm-22"\ncategory = "veterinary"\n\n'
        '[[field]]\nname = "enterprise"\nrole = "product"\nlength = 5\n\n'
        '[[field]]\nname = "serial"\nrole = "serial"\nlength = 16\n\n'
        '[[field]]\nname = "check"\nrole = "check"\nlength = 1\nsystem = "damm"\n')
    d = tracecode.open(path)
    try:
        assert not d.scheme_errors
        d.registry.import_rows([{"number": "兽药字(2015)010012345", "product": "阿莫西林可溶性粉",
                                 "company": COMPANY, "enterprise_id": "00002",
                                 "valid_until": "2099-12-31"}])
        code = d.issue("vet-farm-22", {"enterprise": "00002"}, 10).codes()[0].decode()
        d.apply([{"id": "c1", "action": "commission", "codes": [code]}])
        a = d.check(code)
        assert a.kind == "vet" and "code_exists" not in a.failed
        assert {c.name: c.detail for c in a.checks}["enterprise_matches"] == \
            "enterprise 00002 holds 1 approval; none is named to compare"
        body = "99999" + "0" * 16
        ghost = d.check(body + DAMM.calc(body))
        assert ghost.kind == "vet" and "enterprise_matches" in ghost.failed
        assert {c.name: c.detail for c in ghost.checks}["enterprise_matches"] == \
            "enterprise 99999 holds no approval in the registry"
    finally:
        d.close()
