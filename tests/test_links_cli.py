"""`tracecode links`, run as a real process the way an operator runs it: list, add, remove,
set from a file or stdin, JSON out that --set reads back, and one-line errors with the exit
codes of every verb (1: refused, 2: usage)."""
import io
import json
import subprocess
import sys

import pytest

from tracecode.app.audit import read as read_audit

GTIN = "09506000134352"
KEY = f"01/{GTIN}"


def run(*args, stdin=None, check=True):
    proc = subprocess.run([sys.executable, "-m", "tracecode", "links", *map(str, args)],
                          input=stdin, capture_output=True, timeout=120)
    assert b"Traceback" not in proc.stderr, proc.stderr.decode()
    if check:
        assert proc.returncode == 0, proc.stderr.decode()
    return proc


def refused(*args, stdin=None, code=1) -> str:
    """The one line a refused command prints (exit `code`, nothing on stdout)."""
    proc = run(*args, stdin=stdin, check=False)
    err = proc.stderr.decode()
    assert proc.returncode == code, err
    assert proc.stdout == b"" and err.count("\n") == 1 and err.startswith("tracecode links: "), err
    return err


def as_json(data, key=KEY) -> list:
    return json.loads(run(data, key, "--json").stdout)


@pytest.fixture
def in_process(capsys, monkeypatch):
    """tracecode.cli.main in this process (the refusal tables: a process each is slow):
    --json output decoded, or (exit code, stdout, stderr) with raw=True."""
    from tracecode.cli import main

    def call(*args, stdin=None, raw=False):
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin or b"")))
        capsys.readouterr()
        try:
            code = main(["links", *map(str, args)])
        except SystemExit as exc:   # argparse's usage errors
            code = exc.code
        out, err = capsys.readouterr()
        if raw:
            return code, out, err
        assert code == 0, err
        return json.loads(out)
    return call


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("links") / "data"
    subprocess.run([sys.executable, "-m", "tracecode", "init", str(d)], check=True,
                   capture_output=True, timeout=120)
    return d


def test_a_product_without_links(data):
    p = run(data, "cn-drug-20/1111111")
    assert p.stdout == b"" and p.stderr.decode() == "no links for cn-drug-20/1111111\n"
    assert as_json(data, "cn-drug-20/1111111") == []


def test_add_list_replace_and_remove(data):
    run(data, KEY, "--add", "pip", "https://example.com/zh", "--lang", "zh", "--default",
        "--title", "产品信息")
    p = run(data, "01/9506000134352", "--add", "https://gs1.org/voc/pip", "https://example.com/en",
            "--lang", "en,en-GB", "--media-type", "text/html")   # a GTIN-13 names the same key
    assert p.stderr.decode() == f"{KEY}: added; 2 links now\n"
    run(data, KEY, "--add", "gs1:recallStatus", "https://example.com/recall")
    table = run(data, f"gs1-sgtin/{GTIN}").stdout.decode().splitlines()
    assert len(table) == 3
    assert table[0].split()[:3] == ["gs1:pip", "zh", "default"] and table[0].endswith("产品信息")
    assert table[1].split() == ["gs1:pip", "en,en-GB", "text/html", "https://example.com/en"]
    assert table[2].split() == ["gs1:recallStatus", "-", "-", "https://example.com/recall"]

    # the same type, languages and href: replaced, not repeated
    p = run(data, KEY, "--add", "pip", "https://example.com/en", "--lang", "en-gb,EN", "--title", "Product")
    assert "replaced; 3 links now" in p.stderr.decode()
    # a new default for zh takes over from the old one
    run(data, KEY, "--add", "pip", "https://example.com/zh-new", "--lang", "zh", "--default")
    links = as_json(data)
    assert [(x["href"], x["default"]) for x in links if x["link_type"] == "gs1:pip"] == [
        ("https://example.com/zh", False), ("https://example.com/en", False),
        ("https://example.com/zh-new", True)]

    p = run(data, KEY, "--remove", "pip", "--lang", "EN")
    assert "removed 1; 3 links now" in p.stderr.decode()
    assert "has no gs1:epcis link" in refused(data, KEY, "--remove", "epcis")
    assert "has no gs1:pip link in fr" in refused(data, KEY, "--remove", "pip", "--lang", "fr")
    run(data, KEY, "--remove", "gs1:pip")
    assert [x["link_type"] for x in as_json(data)] == ["gs1:recallStatus"]


def test_set_from_a_file_and_stdin_and_json_round_trips(data, tmp_path):
    key = "cn-pesticide-32/10929271001"
    f = tmp_path / "links.json"
    f.write_text(json.dumps([
        {"link_type": "pip", "href": "https://example.com/p", "lang": ["zh"], "title": "农药"},
        {"linkType": "gs1:certificationInfo", "href": "https://example.com/cert",
         "hreflang": ["zh", "en"], "type": "application/pdf"},   # the linkset's spelling too
    ], ensure_ascii=False), encoding="utf-8")
    p = run(data, key, "--set", f)
    assert p.stderr.decode() == f"{key}: set; 2 links now\n" and len(p.stdout.splitlines()) == 2
    out = as_json(data, key)
    assert out[1] == {"link_type": "gs1:certificationInfo", "href": "https://example.com/cert",
                      "title": "", "lang": ["zh", "en"], "media_type": "application/pdf",
                      "default": False}
    other = "cn-vet-24/2015010100002"
    run(data, other, "--set", "-", stdin=json.dumps(out).encode())   # --json output is --set input
    assert as_json(data, other) == out
    run(data, other, "--set", "-", stdin=json.dumps({"links": out[:1]}).encode())
    assert as_json(data, other) == out[:1]
    assert run(data, other, "--set", "-", stdin=b"[]").stderr.decode() == f"{other}: set; 0 links now\n"
    assert as_json(data, other) == []

    audit = [r for r in read_audit(data / "audit.log") if r["key"] == other] \
        if (data / "audit.log").exists() else []
    assert [r["event"] for r in audit] == ["set_links_intent", "set_links"] * 3
    assert audit[0]["client"] == "local" and len(audit[0]["links"]) == 2


@pytest.mark.parametrize("args, stdin, words", [
    (("01/09506000134353",), None, "check digit is 3, it should be 2"),
    (("no-such/1",), None, "unknown scheme 'no-such'"),
    (("cn-drug-20/81773",), None, "drug_id (7)"),
    ((KEY, "--add", "pip", "ftp://example.com/x"), None, "not an http(s) URL"),
    ((KEY, "--add", "nosuch", "https://example.com/x"), None, "not a GS1 link type"),
    ((KEY, "--add", "pip", "https://example.com/x", "--lang", "zh_CN"), None, "BCP 47"),
    ((KEY, "--set", "-"), b"{", "-: not JSON"),
    ((KEY, "--set", "-"), b'{"href": "https://example.com"}', "a JSON list of links"),
    ((KEY, "--set", "-"), b"\xff\xfe", "not UTF-8"),
    ((KEY, "--set", "-"), b'[{"link_type": "pip"}]', "not an http(s) URL"),
    ((KEY, "--set", "/nonexistent/links.json"), None, "No such file"),
    ((KEY, "--set", "-"), b'[{"link_type": "pip", "href": "https://example.com", "extra": 1}]',
     "links[0]: link 1: a link has no field 'extra'"),
])
def test_refusals_are_one_line_and_change_nothing(data, args, stdin, words, in_process):
    before = in_process(data, KEY, "--json")
    code, out, err = in_process(data, *args, stdin=stdin, raw=True)
    assert code == 1 and out == "" and err.count("\n") == 1 and words in err, err
    assert err.startswith("tracecode links: ")
    assert in_process(data, KEY, "--json") == before


@pytest.mark.parametrize("args, words", [
    ((KEY, "--title", "x"), "go with --add"),
    ((KEY, "--default"), "go with --add"),
    ((KEY, "--lang", "zh"), "--lang goes with --add or --remove"),
    ((KEY, "--add", "pip", "https://example.com", "--remove", "pip"), "not allowed with"),
    ((KEY, "--add", "pip"), "expected 2 arguments"),
    ((), "required"),
])
def test_usage_errors_exit_2(data, args, words, in_process):
    code, out, err = in_process(data, *args, raw=True)
    assert code == 2 and out == "" and err.count("\n") == 1 and words in err, err


def test_language_tags_are_stored_in_their_bcp47_case(data):
    run(data, "01/09506000134352", "--add", "pip", "https://example.com/zh-cn", "--lang", "ZH-cn", "--default")
    p = run(data, KEY, "--add", "pip", "https://example.com/zh-cn-2", "--lang", "zh-CN", "--default")
    assert "added" in p.stderr.decode()
    links = [x for x in as_json(data) if x["href"].startswith("https://example.com/zh-cn")]
    assert [(x["lang"], x["default"]) for x in links] == [(["zh-CN"], False), (["zh-CN"], True)]
    run(data, KEY, "--remove", "pip", "--lang", "zh-cn")
    assert not [x for x in as_json(data) if "zh-CN" in x["lang"]]


def test_a_refusal_as_a_process_sees_it(data):
    assert "check digit is 3, it should be 2" in refused(data, "01/09506000134353")
    assert "go with --add" in refused(data, KEY, "--default", code=2)


def test_a_missing_data_directory(tmp_path):
    assert "is not a data directory" in refused(tmp_path / "none", KEY)


def test_links_are_in_a_backup_and_come_back_with_a_restore(data, tmp_path):
    key = "generic/HZ0001"
    run(data, key, "--add", "gs1:epcis", "https://epcis.example.com/events")
    tc = [sys.executable, "-m", "tracecode"]
    subprocess.run([*tc, "backup", data, tmp_path / "b"], check=True, capture_output=True, timeout=120)
    subprocess.run([*tc, "restore", tmp_path / "b", tmp_path / "r", "--key", data / "master.key",
                    "--journal", tmp_path / "b" / "reservations.journal"],
                   check=True, capture_output=True, timeout=120)
    assert as_json(tmp_path / "r", key) == as_json(data, key) != []
