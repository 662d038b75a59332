"""Registry and national code data imports: formats, reports, incremental updates, atomicity."""
import io
import json
import re

import pytest

import tracecode
from tracecode.errors import ImportRefused, UnknownApproval
from tracecode.index import Verdict
from tracecode.registry import ApprovalRecord

HEADER = "approval_number,product,company,enterprise_id,dosage_form,specification,status," \
         "status_since,valid_until\n"
AMOX = "兽药字(2015)010012345"


def csv_import(d, body, header=HEADER, **kw):
    return d.registry.import_file(io.StringIO(header + body), fmt="csv", **kw)


def test_csv_rows_become_records_and_bad_rows_are_reported_by_line(d):
    report = csv_import(d, (
        "兽药字（2015） 010012345,阿莫西林可溶性粉,甲动物药业有限公司,00002,粉剂,100g:10g,valid,,2030-12-31\n"
        f"{AMOX},阿莫西林可溶性粉,甲动物药业有限公司,00002,粉剂,500g:50g,valid,,20301231\n"
        "兽药字(2015)010012346,恩诺沙星,甲动物药业有限公司,0002,注射液,,valid,,2030-12-31\n"
        "兽药字(2015)010012347,恩诺沙星,甲动物药业有限公司,00002,注射液,,cancelled,,2030-12-31\n"
        "兽药字(2015)010012348,恩诺沙星,甲动物药业有限公司,00002,注射液,,valid,,2030-02-30\n"
        "兽药字(2015)010012349,,甲动物药业有限公司,00002,注射液,,valid,,2030-12-31\n"
        f"{AMOX},阿莫西林可溶性粉,乙公司,00002,粉剂,1kg,valid,,2030-12-31\n"
        "兽药字(2015)01001234,x,y,00002,,,valid,,2030-12-31\n"
        "\n"
        "PD20092927,吡虫啉,戊农化,,可湿性粉剂,10%,valid,,2029-01-01,surplus\n"))
    assert report.added == [AMOX]
    reasons = {i.line: i.reason for i in report.rejected}
    assert sorted(reasons) == [4, 5, 6, 7, 8, 9, 11]
    assert "enterprise_id '0002' is not 5 digits" in reasons[4]
    assert "status 'cancelled'" in reasons[5]
    assert "not a calendar date" in reasons[6]
    assert "missing product" in reasons[7]
    assert "company '乙公司' differs" in reasons[8]
    assert "9 digits after the year, got 8" in reasons[9]
    assert "10 cells, the header has 9" in reasons[11]
    rec = d.registry.get(" 兽药字〔2015〕010012345")
    assert [p.specification for p in rec.products] == ["100g:10g", "500g:50g"]
    assert (rec.enterprise_id, rec.valid_until, rec.status) == ("00002", "2030-12-31", "valid")
    assert not report.ok and "REJECTED line 4:" in "\n".join(report.lines())


def test_updates_are_incremental_and_reported(d):
    base = (f"{AMOX},阿莫西林可溶性粉,甲,00002,粉剂,100g,valid,,2030-12-31\n"
            "兽药字(2016)020031001,恩诺沙星,乙,00031,注射液,10ml,valid,,2030-12-31\n")
    assert csv_import(d, base).added == [AMOX, "兽药字(2016)020031001"]
    again = csv_import(d, base)
    assert (again.added, again.changed, again.unchanged) == ([], [], [AMOX, "兽药字(2016)020031001"])
    changed = csv_import(d, f"{AMOX},阿莫西林可溶性粉,甲,00002,粉剂,100g,valid,,2035-12-31\n")
    assert changed.changed == [AMOX] and d.registry.get(AMOX).valid_until == "2035-12-31"
    # status-only rows: revocation and suspension of stored records; unknown numbers refused
    status = csv_import(d, "兽药字(2016)020031001,revoked,2024-03-01\n兽药字(2017)020031002,suspended,\n"
                           f"{AMOX},暂停,\n兽药字(2016)020031001,,\n", header="number,status,status_since\n")
    assert status.revoked == ["兽药字(2016)020031001"] and status.changed == [AMOX]
    assert [(i.line, i.reason) for i in status.rejected] == [
        (3, "兽药字(2017)020031002 is not in the registry; a status change needs a stored record"),
        (5, "兽药字(2016)020031001: a row with only the number needs a status")]
    rec = d.registry.get("兽药字(2016)020031001")
    assert (rec.status, rec.status_since, rec.products[0].name) == ("revoked", "2024-03-01", "恩诺沙星")
    assert d.registry.get(AMOX).status == "suspended"
    trail = d.registry.imports()
    assert [t["added"] for t in trail] == [2, 0, 0, 0] and trail[-1]["revoked"] == 1
    # the enterprise index follows a change of holder
    csv_import(d, f"{AMOX},阿莫西林可溶性粉,丙,00077,粉剂,100g,valid,,2035-12-31\n")
    assert [r.number for r in d.registry.approvals_of("00077")] == [AMOX]
    assert d.registry.approvals_of("00002") == []


def test_json_lines_arrays_and_chinese_headers(d):
    lines = "\n".join(json.dumps(r, ensure_ascii=False) for r in [
        {"registration_number": "pd-2009 2927", "product": "吡虫啉", "company": "戊农化",
         "spec_codes": ["001", "002"], "valid_until": "2029-01-01"},
        {"number": "WP20180123", "product": "杀虫气雾剂", "company": "己公司", "spec_codes": "001;3",
         "valid_until": "2030-01-01"},
        ["not", "an", "object"]]) + "\n{broken\n"
    report = d.registry.import_file(io.StringIO(lines), fmt="json")
    assert report.added == ["PD20092927"]
    assert [(i.line, i.reason[:20]) for i in report.rejected] == [
        (2, "spec code '3' is not"), (3, "line is not a JSON o"), (4, "not JSON: Expecting ")]
    assert d.registry.get("PD20092927").spec_codes == ("001", "002")
    assert [r.number for r in d.registry.registrations_for("1092927" + "1" * 25)] == ["PD20092927"]
    array = json.dumps([{"登记证号": "LS20170012", "农药名称": "草甘膦", "登记证持有人": "庚公司",
                         "有效期至": "2027年5月1日", "状态": "有效"}], ensure_ascii=False)
    assert d.registry.import_file(io.StringIO(array), fmt="json", kind="pesticide").added == ["LS20170012"]
    chinese = ("批准文号,通用名称,生产企业,企业编号,剂型,规格,状态,有效期至,备注\n"
               f"{AMOX},阿莫西林,甲,00002,粉剂,100g,有效,2030-12-31,x\n")
    report = d.registry.import_file(io.StringIO(chinese), fmt="csv", kind="vet")
    assert report.added == [AMOX] and report.ignored_columns == ["备注"]
    wrong_kind = d.registry.import_file(io.StringIO(chinese), fmt="csv", kind="pesticide")
    assert "is not a pesticide registration number" in wrong_kind.rejected[0].reason


def test_a_strict_import_with_a_bad_row_writes_nothing(d):
    with pytest.raises(ImportRefused) as exc:
        csv_import(d, f"{AMOX},阿莫西林,甲,00002,粉剂,,valid,,2030-12-31\nbad,,,,,,,,\n", strict=True)
    assert len(exc.value.report.rejected) == 1 and exc.value.report.added == [AMOX]
    with pytest.raises(UnknownApproval):
        d.registry.get(AMOX)
    assert d.registry.imports() == []


def test_an_import_failing_midway_leaves_nothing_behind(d, monkeypatch):
    rows = "".join(f"兽药字(2015)0100{k:05d},产品{k},甲,00002,粉剂,,valid,,2030-12-31\n" for k in range(50))
    calls = []
    put = d.registry.store.put

    def failing(txn, rec, old):
        calls.append(rec.number)
        if len(calls) == 30:
            raise OSError("disk full")
        put(txn, rec, old)
    monkeypatch.setattr(d.registry.store, "put", failing)
    with pytest.raises(OSError):
        csv_import(d, rows)
    assert d.registry.records() == [] and d.registry.count() == {"vet": 0, "pesticide": 0}


def registry_for_codes(d):
    csv_import(d, f"{AMOX},阿莫西林,甲,00002,粉剂,,valid,,2030-12-31\n"
                  "兽药字(2016)020031001,恩诺沙星,乙,00031,注射液,,revoked,2020-01-01,2030-12-31\n"
                  "PD20092927,吡虫啉,戊农化,,,,valid,,2029-01-01\n")
    d.registry.import_rows([{"number": "WP20180123", "product": "杀虫气雾剂", "company": "己",
                             "spec_codes": "001", "valid_until": "2030-01-01"}])


CODE_HEADER = "code,approval_number,lot,production_date,expiry_date,packaging_level,parent_code\n"


def test_national_code_data_is_linked_to_the_registry(d):
    registry_for_codes(d)
    unit, box = "201501010000200000000001", "201501010000290000000001"
    body = (f"{box},{AMOX},N1,2015-01-01,2030-01-01,box,\n"
            f"{unit},{AMOX},N1,2015-01-01,2030-01-01,1,{box}\n"
            f"201501010000200000000002,{AMOX},N1,2015-01-01,2030-01-01,1,201501010000299999999999\n"
            f"201501010003100000000001,兽药字(2016)020031001,R1,2015-01-01,2030-01-01,1,\n"
            f"201501010000700000000001,{AMOX},N1,2015-01-01,2030-01-01,1,\n"        # enterprise 00007
            f"201501010000200000000003,兽药字(2019)990011111,N1,2015-01-01,2030-01-01,1,\n"
            f"{unit},{AMOX},N1,2015-01-01,2030-01-01,1,{box}\n"                      # twice
            f"201513010000200000000004,{AMOX},N1,2015-01-01,2030-01-01,1,\n"         # month 13
            f"201501010000200000000005,{AMOX},N1,2015-01-01,2014-01-01,1,\n"
            f"201501010000200000000006,{AMOX},N1,2015-01-01,2030-01-01,7,{unit}\n"   # parent lower
            f"201501010000200000000007,PD20092927,N1,2015-01-01,2030-01-01,1,\n"
            f"10929271001{'0' * 21},PD20092927,P1,2019-01-01,2021-01-01,1,\n"
            f"21801231001{'0' * 21},WP20180123,W1,2019-01-01,2021-01-01,1,\n"
            f"21801231002{'0' * 21},WP20180123,W1,2019-01-01,2021-01-01,1,\n"          # spec 002
            f"10929271001{'0' * 20}1,WP20180123,W1,2019-01-01,2021-01-01,1,\n")
    report = d.registry.import_codes_file(io.StringIO(CODE_HEADER + body), fmt="csv")
    assert report.added == [box, unit, "201501010000200000000002", "201501010003100000000001",
                            f"10929271001{'0' * 21}", f"21801231001{'0' * 21}"]
    reasons = {i.line: i.reason for i in report.rejected}
    assert "enterprise 00007 in the code, but 兽药字(2015)010012345 is held by enterprise 00002" in reasons[6]
    assert "兽药字(2019)990011111 is not in the registry" in reasons[7]
    assert "is already on line 3" in reasons[8]
    assert "digits 1-8 are not a date" in reasons[9]
    assert "is before production" in reasons[10]
    assert "has packaging level 1, not above 7" in reasons[11]
    assert "'PD20092927' is not a veterinary approval number" in reasons[12]
    assert "spec code 002 is not one 己 declared" in reasons[15]
    assert "do not encode WP20180123" in reasons[16]
    assert [(i.line, "parent 201501010000299999999999 is not imported (yet)" in i.reason)
            for i in report.flagged] == [(4, True)]
    a = d.verify(unit)
    assert (a.verdict.name, a.lot, a.expiry) == ("GENUINE", "N1", "20300101")
    assert a.product["approval_number"] == AMOX
    # again: unchanged; a changed lot: changed
    again = d.registry.import_codes_file(io.StringIO(CODE_HEADER + body), fmt="csv")
    assert len(again.unchanged) == 6 and not again.added and not again.changed
    moved = d.registry.import_code_rows([{"code": unit, "approval_number": AMOX, "lot": "N2",
                                          "production_date": "20150101", "expiry_date": "20300101",
                                          "packaging_level": "unit", "parent_code": box}])
    assert moved.changed == [unit] and d.verify(unit).lot == "N2"


def test_unknown_approvals_are_rejected_or_flagged_and_strict_writes_nothing(d):
    registry_for_codes(d)
    rows = [{"code": "201501010000200000000001", "approval_number": "兽药字(2019)990011111",
             "lot": "N1", "production_date": "2015-01-01", "expiry_date": "2030-01-01",
             "packaging_level": 1},
            {"code": "201501010000200000000002", "approval_number": AMOX, "lot": "N1",
             "production_date": "2015-01-01", "expiry_date": "2030-01-01", "packaging_level": 1}]
    with pytest.raises(ImportRefused):
        d.registry.import_code_rows(rows, strict=True)
    assert d.verify(rows[1]["code"]).verdict.name == "UNKNOWN"
    flagged = d.registry.import_code_rows(rows, allow_unknown=True)
    assert flagged.added == [r["code"] for r in rows] and len(flagged.flagged) == 1
    a = d.check(rows[0]["code"])
    assert a.failed == ("approval_matches", "approval_valid")
    assert "兽药字(2019)990011111 is not in the registry" in a.checks[2].detail


def test_large_code_imports_are_chunked_and_idempotent(d):
    from tracecode.registry import importer
    registry_for_codes(d)
    rows = [{"code": f"2015010100002{k:011d}", "approval_number": AMOX, "lot": "N1",
             "production_date": "2015-01-01", "expiry_date": "2030-01-01", "packaging_level": 1}
            for k in range(2500)]
    report = importer.import_codes(d.registry.store, importer.dict_rows(rows, importer.CODE_COLUMNS,
                                                                        set()), chunk=1000)
    assert len(report.added) == 2500
    assert d.verify_many([r["code"] for r in rows[::250]], record=False).verdicts.tolist() == [Verdict.GENUINE] * 10
    assert len(d.registry.import_code_rows(rows).unchanged) == 2500


def test_records_round_trip_through_bytes():
    rec = ApprovalRecord(kind="pesticide", number="PD20092927", company="戊", valid_until="2029-01-01",
                         spec_codes=("001",))
    assert ApprovalRecord.from_bytes(rec.to_bytes()) == rec


# -- hostile files: a bad row is rejected on its line, the others imported -----------------

GOOD = f"{AMOX},阿莫西林可溶性粉,甲动物药业有限公司,00002,粉剂,100g:10g,valid,,2030-12-31\n"


def test_a_field_over_the_csv_limit_rejects_its_row_only(d):
    report = csv_import(d, "兽药字(2015)010012346," + "x" * 200_000 + ",甲,00002,,,valid,,2030-12-31\n"
                        + GOOD)
    assert report.added == [AMOX]
    assert [(i.line, i.reason) for i in report.rejected] == [
        (2, "a field is longer than 131,072 characters")]


def test_bytes_that_are_not_utf8_reject_their_row_only(d, tmp_path):
    path = tmp_path / "approvals.csv"
    path.write_bytes((HEADER + GOOD).encode() + b"\xff\xfe garbage,\x00\r\x81\n"
                     + "兽药字(2016)020031001,恩诺沙星,乙,00031,注射液,10ml,valid,,2030-12-31\n".encode())
    report = d.registry.import_file(path)
    assert report.added == [AMOX, "兽药字(2016)020031001"]
    assert [(i.line, i.reason) for i in report.rejected] == [(3, "not UTF-8 (byte 1 of the line)")]


def test_a_quoted_field_spanning_lines_keeps_the_line_numbers(d):
    """A row is named by its first line (a line break in a value is itself refused)."""
    report = csv_import(d, f'{AMOX},"阿莫西林\n可溶性粉",甲,00002,粉剂,100g,valid,,2030-12-31\n'
                        '兽药字(2015)01001234,x,y,00002,,,valid,,2030-12-31\n' + GOOD)
    assert report.added == [AMOX] and [i.line for i in report.rejected] == [2, 4]


@pytest.mark.parametrize("content,message", [
    (b"", "no header row (the file is empty)"),
    (b"\xff\xfe\x00binary\n", "line 1: the header row is unusable: not UTF-8"),
    (b"a" * (2 << 20) + b"\n", "line 1: the header row is unusable: longer than 1,048,576 bytes"),
])
def test_a_file_without_a_readable_header_is_one_error_naming_it(d, tmp_path, content, message):
    path = tmp_path / "approvals.csv"
    path.write_bytes(content)
    with pytest.raises(tracecode.TracecodeError, match=re.escape(message)) as exc:
        d.registry.import_file(path)
    assert str(exc.value).startswith(str(path))


@pytest.mark.parametrize("line,reason", [
    ("[1, 2]", "line is not a JSON object"),
    ('"PD20092927"', "line is not a JSON object"),
    ('{"number": NaN}', "not JSON: NaN is not a JSON number"),
    ("[" * 100_000 + "]" * 100_000, "nested deeper than 32 levels"),
    ('{"number": ' + "[" * 40 + "]" * 40 + "}", "nested deeper than 32 levels"),
])
def test_json_lines_that_are_not_rows_are_rejected_on_their_line(d, line, reason):
    good = json.dumps({"number": AMOX, "product": "阿莫西林可溶性粉", "company": "甲",
                       "enterprise_id": "00002", "status": "valid", "valid_until": "2030-12-31"},
                      ensure_ascii=False)
    report = d.registry.import_file(io.StringIO(good + "\n" + line + "\n"), fmt="json")
    assert report.added == [AMOX]
    assert [(i.line, i.reason) for i in report.rejected] == [(2, reason)]


def test_a_json_array_nested_100k_deep_is_one_error(d):
    with pytest.raises(tracecode.TracecodeError, match="not a JSON array .nested deeper"):
        d.registry.import_file(io.StringIO("[" * 100_000 + "]" * 100_000), fmt="json")
