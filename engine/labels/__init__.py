"""Barcode symbols of trace codes: GS1 DataMatrix, QR and GS1-128 as PNG or SVG.

>>> from tracecode.labels import make, render
>>> make("81773220000000000001", "datamatrix").aim
']d1'
>>> sym = make("(01)09521234543213(17)261231(10)A1(21)000000000001", "gs1-128")
>>> sym.aim, sym.content == "01095212345432131726123110A1\\x1d21000000000001"
(']C1', True)
>>> render("81773220000000000001", "qr", "svg")[:5]
b'<?xml'
"""
from .sheet import PAGES, Sheet, label_text, safe_name, write_folder, write_sheet
from .symbols import (FORMATS, GS, SYMBOLS, LabelError, Symbol, element_string, gs1_pairs,
                      hri_text, is_gs1, make, render, write)

__all__ = ["FORMATS", "GS", "PAGES", "SYMBOLS", "LabelError", "Sheet", "Symbol", "element_string",
           "gs1_pairs", "hri_text", "is_gs1", "label_text", "make", "render", "safe_name", "write",
           "write_folder", "write_sheet"]
