"""Barcode symbols: issued codes rendered, read back with zxing-cpp as a scanner would, parsed.

Every symbol is decoded from its PNG; SVGs are checked as XML and rasterised by a few lines
here (our SVG is one path of axis-aligned rectangles), then decoded too.
"""
import argparse
import functools
import io
import re
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest

zxingcpp = pytest.importorskip("zxingcpp")
Image = pytest.importorskip("PIL.Image")

from tracecode import Issuer, Key, schemes  # noqa: E402
from tracecode.labels import (GS, LabelError, Sheet, element_string, gs1_pairs, hri_text,  # noqa: E402
                              make, render, safe_name, write, write_folder, write_sheet)
from tracecode.labels import cli as label_cli  # noqa: E402
from tracecode.labels.symbols import padded  # noqa: E402

KEY = Key(bytes(32))
PRODUCTS = {name: s.example_product() for name, s in schemes.builtin().items()}
ATTRS = {"gs1-sgtin": {"expiry": "261231", "lot": "A1"}}
START, COUNT = 4242, 2
SVG_NS = "{http://www.w3.org/2000/svg}"
F = zxingcpp.BarcodeFormat
SYMBOLOGY = {"datamatrix": F.DataMatrix, "qr": F.QRCode, "gs1-128": F.Code128, "code128": F.Code128}

# (scheme, render, symbol, symbology identifier a scanner reports)
CASES = [(s, "bare", sym, aim) for s in ("cn-drug-20", "cn-vet-24", "cn-pesticide-32", "generic")
         for sym, aim in (("datamatrix", "]d1"), ("qr", "]Q1"))]
CASES += [("gs1-sgtin", r, sym, aim) for r in ("element", "hri")
          for sym, aim in (("datamatrix", "]d2"), ("qr", "]Q3"), ("gs1-128", "]C1"))]
CASES += [("gs1-sgtin", "dl", "datamatrix", "]d1"), ("gs1-sgtin", "dl", "qr", "]Q1"),
          ("gs1-sgtin", "bare", "datamatrix", "]d1")]
# Bare national codes as the plain linear symbol Chinese drug packs carry.
CASES += [(s, "bare", "code128", "]C0") for s in ("cn-drug-20", "cn-vet-24", "cn-pesticide-32",
                                                   "generic")]
IDS = [f"{s}-{r}-{sym}" for s, r, sym, _ in CASES]


@functools.cache
def issuer(scheme):
    return Issuer(schemes.get(scheme), PRODUCTS[scheme], KEY)


def issued(scheme, render="bare"):
    codes = issuer(scheme).codes(START, COUNT, render, ATTRS.get(scheme))
    return [c.decode() for c in codes]


def read(png: bytes, **kw):
    img = Image.open(io.BytesIO(png)).convert("L")
    return zxingcpp.read_barcodes(img, text_mode=kw.pop("text_mode", zxingcpp.TextMode.Plain), **kw)


def rasterise(svg: bytes) -> np.ndarray:
    """Paint our single-symbol SVG (a viewBox in modules, one path of M x y h w v h h-w z)."""
    root = ET.fromstring(svg)
    _, _, w, h = map(int, root.get("viewBox").split())
    img = np.full((h, w), 255, np.uint8)
    d = root.find(f"{SVG_NS}path").get("d")
    assert re.fullmatch(r"(M\d+ \d+h\d+v\d+h-\d+z)+", d)
    for x, y, rw, rh in re.findall(r"M(\d+) (\d+)h(\d+)v(\d+)", d):
        x, y, rw, rh = map(int, (x, y, rw, rh))
        img[y:y + rh, x:x + rw] = 0
    return np.repeat(np.repeat(img, 4, axis=0), 4, axis=1)


@functools.cache
def decoded(scheme, how, symbol):
    """(encoded text, Symbol, decoded PNG barcodes) for the issued codes of one case."""
    return [(text, sym, read(write(sym, "png")))
            for text in issued(scheme, how) for sym in [make(text, symbol)]]


@pytest.mark.parametrize("scheme,how,symbol,aim", CASES, ids=IDS)
def test_png_decodes_to_what_was_encoded(scheme, how, symbol, aim):
    gs1 = how in ("element", "hri")
    for (text, sym, found), element in zip(decoded(scheme, how, symbol), issued(scheme, "element")
                                           if gs1 else [None] * COUNT):
        assert len(found) == 1
        bc = found[0]
        assert bc.format == SYMBOLOGY[symbol]
        assert bc.symbology_identifier == aim == sym.aim
        # GS1: the issuer's own element string, whichever form went in (so the HRI and
        # element-string readers here agree with render.py); else the text unchanged.
        assert bc.text == sym.content == (element if gs1 else text)
        if gs1:
            assert bc.content_type == zxingcpp.ContentType.GS1
            hri = issued(scheme, "hri")[issued(scheme, "element").index(element)]
            assert sym.text == hri  # printed under the symbol
            img = Image.open(io.BytesIO(write(sym, "png"))).convert("L")
            assert zxingcpp.read_barcodes(img, text_mode=zxingcpp.TextMode.HRI)[0].text == hri


@pytest.mark.parametrize("scheme,how,symbol,aim", CASES, ids=IDS)
def test_svg_is_well_formed_and_decodes(scheme, how, symbol, aim):
    for text, sym, _ in decoded(scheme, how, symbol):
        svg = render(text, symbol, "svg", scale=3)
        root = ET.fromstring(svg)
        rows, cols = padded(sym).shape
        assert root.tag == f"{SVG_NS}svg"
        assert root.get("viewBox") == f"0 0 {cols} {rows}"
        assert (root.get("width"), root.get("height")) == (str(3 * cols), str(3 * rows))
        assert root.find(f"{SVG_NS}title").text == sym.text
        assert len(root.findall(f"{SVG_NS}path")) == 1
        found = zxingcpp.read_barcodes(rasterise(svg), text_mode=zxingcpp.TextMode.Plain)
        assert [(b.text, b.symbology_identifier) for b in found] == [(sym.content, aim)]


@pytest.mark.parametrize("scheme,how,symbol,aim", CASES, ids=IDS)
def test_parser_reads_the_decoded_scan(scheme, how, symbol, aim):
    scan = pytest.importorskip("tracecode.scan")
    iss = issuer(scheme)
    bare = issued(scheme)
    for i, (_text, _sym, found) in enumerate(decoded(scheme, how, symbol)):
        s = scan.parse(found[0].text, master_key=KEY)
        assert (s.scheme, s.code, s.check_ok, s.counter) == (scheme, bare[i], True, START + i)
        expected = {**iss.product, **(ATTRS.get(scheme, {}) if how != "bare" else {})}
        expected["serial"] = bare[i][iss.scheme.offset("serial"):][:iss.scheme.serial.length]
        assert {k: s.fields.get(k) for k in expected} == expected


# -- GS1 by content -------------------------------------------------------------------

@pytest.mark.parametrize("attrs", [{}, {"expiry": "261231"}], ids=["no-attributes", "expiry-only"])
@pytest.mark.parametrize("symbol,aim", [("datamatrix", "]d2"), ("qr", "]Q3"), ("gs1-128", "]C1")])
def test_element_strings_without_a_separator_get_a_gs1_symbol(attrs, symbol, aim):
    """No lot, so no GS anywhere: nothing in the form says GS1, the content does."""
    codes = [c.decode() for c in issuer("gs1-sgtin").codes(START, COUNT, "element", attrs)]
    for i, text in enumerate(codes):
        assert GS not in text and not text.startswith("(")
        sym = make(text, symbol)
        (bc,) = read(write(sym, "png"))
        assert (bc.symbology_identifier, sym.aim, bc.text) == (aim, aim, text)
        assert bc.content_type == zxingcpp.ContentType.GS1
        assert scan_module().parse(bc.text, master_key=KEY).counter == START + i


def scan_module():
    return pytest.importorskip("tracecode.scan")


def test_code128_refuses_gs1_data_and_gs1_128_refuses_bare_codes():
    element = issued("gs1-sgtin", "element")[0]
    with pytest.raises(LabelError, match="is GS1 data.*gs1-128"):
        make(element, "code128")
    with pytest.raises(LabelError, match="GS1 data"):
        make(issued("gs1-sgtin", "hri")[0], "code128")
    with pytest.raises(LabelError, match="gs1-128 carries GS1 element strings only"):
        make(issued("cn-drug-20")[0], "gs1-128")


def test_broken_gs1_text_without_separators_is_refused_not_encoded_plain():
    text = issuer("gs1-sgtin").codes(START, 1, "element", {})[0].decode()
    assert GS not in text
    broken = text[:15] + str((int(text[15]) + 1) % 10) + text[16:]  # the GTIN's check digit
    with pytest.raises(LabelError, match="check character"):
        make(broken, "datamatrix")


def test_issue_piped_to_label_makes_gs1_symbols(tmp_path):
    """The reported pipe: gs1-sgtin without a lot, `-r element`, into `label --symbol datamatrix`."""
    import subprocess
    data, out = tmp_path / "data", tmp_path / "labels"
    tc = [sys.executable, "-m", "tracecode"]
    subprocess.run([*tc, "init", str(data)], check=True, capture_output=True, timeout=60)
    issue = subprocess.run([*tc, "issue", str(data), "--scheme", "gs1-sgtin", "-p", "09521234543213",
                            "-n", "3", "-r", "element"], check=True, capture_output=True, timeout=60)
    label = subprocess.run([*tc, "label", "--symbol", "datamatrix", "--dir", str(out)],
                           input=issue.stdout, capture_output=True, timeout=60)
    assert label.returncode == 0, label.stderr
    found = [read(f.read_bytes()) for f in sorted(out.iterdir())]
    assert len(found) == 3
    assert {b[0].symbology_identifier for b in found} == {"]d2"}
    assert sorted(b[0].text for b in found) == sorted(issue.stdout.decode().split())


def test_cli_stdin_that_is_not_text_names_the_line(monkeypatch):
    with pytest.raises(LabelError, match="standard input line 2: not UTF-8"):
        run(["--out", "x.png"], monkeypatch, b"81773220000000000001\n\xff\xfe\n")


# -- GS1 text -------------------------------------------------------------------------

def test_gs1_element_strings_split_like_biip():
    biip = pytest.importorskip("biip")
    for text in ["0109521234543213310300012310ABC\x1d240XY\x1d70032512311200\x1d21XYZ",
                 "01095212345432131726123110A(1)\x1d21123",
                 "00395123450000000010\x1d0109521234543213"]:  # a GS after a fixed AI is tolerated
        pairs = gs1_pairs(text)
        assert hri_text(pairs) == biip.parse(text).gs1_message.as_hri()
        assert gs1_pairs(hri_text(pairs)) == pairs
        assert element_string(pairs) == text.replace("0010\x1d", "0010")


def test_lot_with_parentheses_round_trips():
    text = "01095212345432131726123110A(1)\x1d21123"
    sym = make(text, "datamatrix")
    assert [b.text for b in read(write(sym, "png"))] == [text]


def test_gs1_without_separators_by_content_and_forced():
    text = "0109521234543213" "21000000000001"  # only the last AI is variable: no GS anywhere
    for sym in (make(text, "datamatrix"), make(text, "datamatrix", gs1=True)):
        assert [(b.text, b.symbology_identifier) for b in read(write(sym, "png"))] == [(text, "]d2")]
    lot_only = "10ABC"  # no AI 00/01/02 first: the parser reads no element string, --gs1 forces it
    assert make(lot_only, "datamatrix").gs1 is False
    sym = make(lot_only, "datamatrix", gs1=True)
    assert [(b.text, b.symbology_identifier) for b in read(write(sym, "png"))] == [(lot_only, "]d2")]


@pytest.mark.parametrize("text,symbol,message", [
    ("81773220000000000001", "gs1-128", "gs1-128 carries GS1 element strings only"),
    ("https://id.gs1.org/01/09521234543213/21/1", "gs1-128", "gs1-128 carries GS1"),
    ("(01)09521234543213(10)ABCDEFGHIJKLMNOPQRST(21)123456789012", "gs1-128", "at most 48"),
    ("(01)0952123454(21)1", "datamatrix", "bad value for (01)"),
    ("(01)09521234543213(21)", "qr", "bad value for (21)"),
    ("0509521234543213\x1d21123", "datamatrix", "unknown GS1 Application Identifier"),
    ("X" * 2400, "datamatrix", "too long"),
    ("\x1b[31m\udcff", "datamatrix", "not UTF-8"),   # from argv: a byte that is not UTF-8
    ("8177322000000\n0000001", "qr", "control characters"),
    ("X" * 4400, "qr", "too long for a QR code"),
    ("", "qr", "empty"),
    ("1", "pdf417", "unknown symbol"),
])
def test_bad_payloads_are_one_line_errors(text, symbol, message):
    with pytest.raises(LabelError, match=re.escape(message)) as exc:
        make(text, symbol)
    assert "\n" not in str(exc.value) and isinstance(exc.value, ValueError)


# -- sheets and folders ---------------------------------------------------------------

def test_svg_sheet_paginates_every_code_in_order():
    codes = issuer("cn-drug-20").codes(0, 200)
    sheet = Sheet(codes, "datamatrix")
    per = sheet.grid.per_page
    assert 1 < sheet.page_count == -(-200 // per)
    texts = []
    for doc in sheet.pages("svg"):
        root = ET.fromstring(doc)
        assert root.get("width") == "210mm" and root.get("height") == "297mm"
        labels = root.findall(f".//{SVG_NS}g[@class='label']")
        assert 1 <= len(labels) <= per
        for g in labels:
            assert len(g.findall(f"{SVG_NS}path")) == 1
            texts.append("".join(t.text for t in g.findall(f"{SVG_NS}text")))
    assert texts == [c.decode() for c in codes]


def test_png_sheet_pages_decode(tmp_path):
    codes = issued("gs1-sgtin", "element") + [c.decode() for c in issuer("gs1-sgtin").codes(
        0, 20, "element", ATTRS["gs1-sgtin"])]
    paths = write_sheet(tmp_path / "labels.png", codes, "gs1-128")
    assert [p.name for p in paths] == ["labels-001.png", "labels-002.png"]
    found = []
    for p in paths:
        with Image.open(p) as img:
            assert img.info["dpi"] == pytest.approx((300, 300), abs=0.01)
            assert img.size == (2480, 3508)  # A4 at 300 dpi
            found += [(b.text, b.symbology_identifier) for b in zxingcpp.read_barcodes(
                img.convert("L"), text_mode=zxingcpp.TextMode.Plain)]
    assert sorted(found) == sorted((c, "]C1") for c in codes)


def test_png_sheet_one_page_keeps_the_name(tmp_path):
    codes = issued("generic") + issued("cn-vet-24")  # mixed sizes share one grid
    paths = write_sheet(tmp_path / "one.png", codes, "qr")
    assert paths == [tmp_path / "one.png"]
    found = zxingcpp.read_barcodes(Image.open(paths[0]).convert("L"))
    assert sorted(b.text for b in found) == sorted(codes)


def test_folder_one_file_per_code(tmp_path):
    codes = issued("gs1-sgtin", "element")
    paths = write_folder(tmp_path / "out", codes, "datamatrix", "png")
    serials = [c.split(GS + "21")[1] for c in codes]
    assert [p.name for p in paths] == [f"01_09521234543213_17_261231_10_A1_21_{s}.png" for s in serials]
    assert [read(p.read_bytes())[0].text for p in paths] == codes
    # deterministic: the same input gives the same files, byte for byte
    again = write_folder(tmp_path / "again", codes, "datamatrix", "png")
    assert [p.read_bytes() for p in again] == [p.read_bytes() for p in paths]
    dl = write_folder(tmp_path / "dl", issued("gs1-sgtin", "dl"), "qr", "svg")
    assert all(re.fullmatch(r"[0-9A-Za-z_-]+\.svg", p.name) for p in dl)
    with pytest.raises(LabelError, match="repeated"):
        write_folder(tmp_path / "dup", codes + codes[:1], "qr", "png")


def test_safe_name():
    assert safe_name("../../etc/passwd") == "etc_passwd"
    assert safe_name("(01)09521234543213(21)1") == "01_09521234543213_21_1"
    assert safe_name("///") == "code"


# -- command line ---------------------------------------------------------------------

def run(argv, monkeypatch, stdin=b""):
    parser = argparse.ArgumentParser(prog="tracecode")
    label_cli.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["label", *argv])
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
    return args.func(args)


def test_cli_stdin_element_strings_to_folder(tmp_path, monkeypatch, capsys):
    codes = issued("gs1-sgtin", "element")
    stdin = "".join(c + "\r\n" for c in codes).encode() + b"\n"
    assert run(["--symbol", "qr", "--dir", str(tmp_path)], monkeypatch, stdin) == 0
    files = sorted(tmp_path.iterdir())
    assert len(files) == COUNT and all(f.suffix == ".png" for f in files)
    assert sorted(read(f.read_bytes())[0].text for f in files) == sorted(codes)
    assert f"wrote {COUNT} qr png symbols" in capsys.readouterr().err


def test_cli_one_code_format_from_extension(tmp_path, monkeypatch):
    code = issued("cn-pesticide-32")[0]
    out = tmp_path / "one.svg"
    run([code, "--out", str(out)], monkeypatch)
    assert ET.fromstring(out.read_bytes()).find(f"{SVG_NS}title").text == code
    run([code, "--out", str(tmp_path / "one.png"), "--scale", "2", "--quiet-zone", "3"], monkeypatch)
    with Image.open(tmp_path / "one.png") as img:
        assert img.size == (2 * (make(code).modules.shape[1] + 6),) * 2


def test_cli_sheet(tmp_path, monkeypatch):
    codes = issued("cn-drug-20")
    run([*codes, "--sheet", str(tmp_path / "s.svg"), "--page", "letter"], monkeypatch)
    assert ET.fromstring((tmp_path / "s.svg").read_bytes()).get("width") == "215.9mm"


@pytest.mark.parametrize("argv,stdin,message", [
    (["--out", "x.png"], b"", "no codes"),
    (["--out", "x.png"], b"1\n2\n", "--out writes one code, got 2"),
    (["81773220000000000001", "--symbol", "gs1-128", "--out", "x.png"], b"", "gs1-128 carries"),
    (["X" * 2400, "--out", "x.png"], b"", "too long"),
    (["81773220000000000001", "--out", "x.png", "--scale", "0"], b"", "scale"),
    (["81773220000000000001", "--sheet", "x.txt"], b"", "image format"),
])
def test_cli_errors(argv, stdin, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(LabelError, match=re.escape(message)):
        run(argv, monkeypatch, stdin)
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_cli_wired_into_tracecode(tmp_path, capsys):
    from tracecode import cli
    try:
        cli.build_parser().parse_args(["label", "1", "--out", "-"])
    except SystemExit:
        pytest.skip("`tracecode label` is not wired into tracecode.cli yet")
    assert cli.main(["label", "81773220000000000001", "--symbol", "gs1-128", "--out",
                     str(tmp_path / "x.png")]) == 1
    assert capsys.readouterr().err.startswith("tracecode label: gs1-128 carries")


@pytest.mark.parametrize("target", ["--dir", "--sheet"])
def test_one_code_that_cannot_be_drawn_names_its_line_and_writes_nothing(tmp_path, monkeypatch, target):
    """A bare code amid GS1 ones for gs1-128: before, --dir had written the files before it."""
    good = issued("gs1-sgtin", "element")
    stdin = (good[0] + "\n\n" + good[1] + "\n" + issued("cn-drug-20")[0] + "\n").encode()
    out = tmp_path / "out"
    out.mkdir()
    dest = str(out if target == "--dir" else out / "sheet.png")
    with pytest.raises(LabelError, match=r"^standard input line 4: gs1-128 carries GS1"):
        run(["--symbol", "gs1-128", target, dest], monkeypatch, stdin)
    assert list(out.iterdir()) == []
