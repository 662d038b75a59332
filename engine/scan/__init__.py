"""Reading what scanners send: every spelling of a code to its scheme, fields and counter.

>>> from tracecode import scan
>>> s = scan.parse(" ８１７７３２２００００００００００００１ ")   # full-width, as an input method types it
>>> s.scheme, s.form, s.code
('cn-drug-20', 'bare', '81773220000000000001')
>>> s = scan.parse("]d2010952123454321317261231" "10A1\\x1d" "21123456789012")
>>> s.scheme, s.fields["serial"], s.fields["expiry"], s.fields["lot"]
('gs1-sgtin', '123456789012', '261231', 'A1')
>>> scan.parse("https://example.com/01/09521234543213/21/123456789012?17=261231").form
'digital-link'
>>> scan.parse("81773220000000000002")
Traceback (most recent call last):
    ...
tracecode.scan.parser.ScanError: check character mismatch in 'check' of cn-drug-20
"""
from .parser import (SCAN_DTYPE, Fault, Form, Scan, ScanBatch, ScanError, ScanParser,
                     parse, parse_many)

__all__ = ["SCAN_DTYPE", "Fault", "Form", "Scan", "ScanBatch", "ScanError",
           "ScanParser", "parse", "parse_many"]
