"""Digits to str.isdigit() are not all digits to int(): "²", "፩" (Ethiopic) and "٣"
(Arabic-Indic) pass isdigit(); a guard before int() on a caller's text checks isascii() too, so
such text is the input's clear error, never a ValueError from int() (a 500 over HTTP)."""
import pytest

from tracecode.audit_cli import AuditCliError, _head
from tracecode.registry.records import RowError, level_of, parse_date, spec_codes
from tracecode.serve.config import ServeError, split_address

ODD = ["\u00b2", "\u0663", "1\u00b3", "\u1369"]


@pytest.mark.parametrize("text", ODD)
def test_a_port_of_odd_digits_is_the_address_error(text):
    with pytest.raises(ServeError, match="HOST:PORT"):
        split_address(f"localhost:{text}")


@pytest.mark.parametrize("text", ODD)
def test_an_audit_head_of_odd_digits_is_the_head_error(text):
    with pytest.raises(AuditCliError, match="SEQ:HASH"):
        _head(f"{text}:{'0' * 64}")


@pytest.mark.parametrize("text", ["\u1369", "\u0663"])   # (a cell's "²" is NFKC's "2": read as 2)
def test_registry_cells_of_odd_digits_are_row_errors(text):
    with pytest.raises(RowError):
        level_of(text)
    with pytest.raises(RowError):
        spec_codes(text * 3)
    with pytest.raises(RowError):
        parse_date(text * 8, "valid_until")
