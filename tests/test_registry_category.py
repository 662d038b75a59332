"""A registry category is one module: its numbers, records, code links and checks come
from the module and a data-file scheme, with no edit to the registry (issue 12)."""
import sys
import textwrap

import pytest

import tracecode
from tracecode import categories, checks

TOYS = '''
"""Toys: a test category with a registry of its own (numbers TOY + 6 digits)."""
import re

from tracecode.categories.category import Category, Registry

_SHAPE = re.compile(r"TOY\\d{6}")


def looks_like(text):
    return str(text).strip().upper().startswith("TOY")


def validate(text):
    t = str(text).strip().upper().replace(" ", "")
    if not _SHAPE.fullmatch(t):
        raise ValueError(f"{t!r} is not TOY and 6 digits")
    return t


def record(row, number):
    from tracecode.registry.records import RowError, clean
    maker = clean(row.get("enterprise_id"))
    if len(maker) != 6 or not maker.isdigit():
        raise RowError(f"{number}: maker {maker!r} is not 6 digits")
    return {"enterprise_id": maker}


def link(rec, values):
    if values["maker"] != rec.enterprise_id:
        return f"maker {values['maker']} in the code, but {rec.number} is {rec.enterprise_id}'s"
    return None


def product(rec, on, spec=None, production_type="1"):
    return {"maker": rec.enterprise_id}


def checks(ctx, found, rec, scan, values, today):
    from tracecode.registry.compare import Verdicts, validity
    v = Verdicts()
    v.set("approval_matches", rec >= 0, "the code's record names its licence" if rec >= 0
          else "no licence on the code's record")
    approval = validity(v, ctx.nums, rec, today)
    ok = approval is not None and approval.enterprise_id == values["maker"]
    v.set("enterprise_matches", ok, f"maker {values['maker']}")
    return v.done(rec)


CATEGORY = Category(
    name="toys", title="Toys",
    registry=Registry(kind="toy", number=3, fields=("maker",), checks=checks,
                      numbers="tracecode.categories.toys", noun="toy licence",
                      title="toy licence", number_format="TOY + 6 digits",
                      record=record, link=link, product=product))
'''

SCHEME = """
[scheme]
name = "toy-16"
category = "toys"
title = "Toy code, 16 digits"

[[field]]
name = "maker"
role = "product"
length = 6

[[field]]
name = "serial"
role = "serial"
length = 9
alphabet = "digits"

[[field]]
name = "check"
role = "check"
length = 1
system = "luhn"
"""


@pytest.fixture
def toys(tmp_path, monkeypatch):
    """The toys category, found by scanning the package as a shipped module would be."""
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "toys.py").write_text(textwrap.dedent(TOYS))
    monkeypatch.setattr(categories, "__path__", [*categories.__path__, str(pkg)])
    monkeypatch.delitem(sys.modules, "tracecode.categories.toys", raising=False)  # another test's
    monkeypatch.setattr(categories, "ALL", categories._discover())
    yield categories.get("toys")
    sys.modules.pop("tracecode.categories.toys", None)   # monkeypatch then restores another's


def code(maker: str, serial: int) -> str:
    body = f"{maker}{serial:09d}"
    return body + checks.get("luhn").calc(body)


def test_a_registry_category_defined_only_as_a_module_imports_and_checks(toys, tmp_path):
    tracecode.init(tmp_path / "data").close()
    (tmp_path / "data" / "schemes" / "toy-16.toml").write_text(SCHEME)
    d = tracecode.open(tmp_path / "data")
    try:
        assert [s.name for s in categories.schemes_of("toys", d.schemes)] == ["toy-16"]
        report = d.registry.import_rows([
            {"number": "toy 123456", "product": "积木", "company": "玩具厂",
             "enterprise_id": "424242", "valid_until": "2040-01-01"},
            {"number": "TOY000001", "product": "x", "company": "y", "enterprise_id": "12",
             "valid_until": "2040-01-01"}])
        assert report.added == ["TOY123456"]
        assert "maker '12' is not 6 digits" in report.rejected[0].reason
        assert d.registry.count()["toy"] == 1
        assert d.registry.get("toy123456").enterprise_id == "424242"

        good, foreign = code("424242", 1), code("777777", 2)
        report = d.registry.import_code_rows([
            {"code": good, "number": "TOY123456", "lot": "L1", "production_date": "2024-01-01",
             "expiry_date": "2030-01-01", "packaging_level": "1"},
            {"code": foreign, "number": "TOY123456", "lot": "L1",
             "production_date": "2024-01-01", "expiry_date": "2030-01-01",
             "packaging_level": "1"},
            {"code": good, "number": "PD20092927", "lot": "L1", "production_date": "2024-01-01",
             "expiry_date": "2030-01-01", "packaging_level": "1"}])
        assert report.added == [good]
        reasons = [i.reason for i in report.rejected]
        assert "maker 777777 in the code, but TOY123456 is 424242's" in reasons[0]
        assert "'PD20092927' is not a toy licence number" in reasons[1]

        answer = d.registry.check(good)
        assert answer.kind == "toy" and answer.verdict == "GENUINE", answer
        assert d.registry.product_for("TOY123456") == ("toy-16", {"maker": "424242"})
        info = d.registry.manual("TOY123456")
        assert info.valid and info.record.kind == "toy"
    finally:
        d.close()
