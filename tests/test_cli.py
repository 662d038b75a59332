"""The tracecode command, run as a real process."""
import json
import os
import re
import stat
import subprocess
import sys

import numpy as np
import pytest

from tracecode import schemes


def run(*args, stdin=None, check=True):
    proc = subprocess.run([sys.executable, "-m", "tracecode", *map(str, args)], input=stdin,
                          capture_output=True, timeout=120)
    assert b"Traceback" not in proc.stderr, proc.stderr.decode()
    if check:
        assert proc.returncode == 0, proc.stderr.decode()
    return proc


@pytest.fixture
def data(tmp_path):
    d = tmp_path / "data"
    run("init", d)
    return d


def test_init_makes_a_private_data_directory(data):
    key = data / "master.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert len(key.read_bytes()) == 32
    again = run("init", data, check=False)
    assert again.returncode == 1 and b"not empty" in again.stderr


def test_issue_writes_fresh_valid_codes_every_time(data, tmp_path):
    out1, out2 = tmp_path / "a.txt", tmp_path / "b.txt"
    p = run("issue", data, "--scheme", "cn-drug-20", "--product", "8177322", "-n", 20000, "-o", out1)
    assert b"counters 0..19,999" in p.stderr
    run("issue", data, "--scheme", "cn-drug-20", "-p", "drug_id=8177322", "-n", 5000, "-o", out2)
    a, b = out1.read_bytes().split(), out2.read_bytes().split()
    assert len(a) == 20000 and len(b) == 5000
    assert len(set(a) | set(b)) == 25000  # the second batch continues the counters
    drug = schemes.get("cn-drug-20")
    assert drug.validate_many(np.array(a + b)).all()


def test_issue_gs1_renders_to_stdout(data):
    p = run("issue", data, "--scheme", "gs1-sgtin", "-p", "gtin=09521234543213", "-n", 3,
            "--render", "dl", "--attr", "expiry=261231", "--attr", "lot=L1")
    lines = p.stdout.decode().splitlines()
    assert len(lines) == 3
    assert all(line.startswith("https://id.gs1.org/01/09521234543213/10/L1/21/") for line in lines)
    assert all(line.endswith("?17=261231") for line in lines)


def test_check_arguments_and_stdin(data, tmp_path):
    out = tmp_path / "codes.txt"
    run("issue", data, "--scheme", "cn-vet-24", "-p", "date=20140327", "-p", "enterprise=00002",
        "-n", 1000, "-o", out)
    codes = out.read_text().split()
    good = run("check", "--scheme", "cn-vet-24", stdin=out.read_bytes())
    assert b"1,000 valid, 0 invalid" in good.stderr
    code = codes[0]
    k = next(k for k in range(13, 22) if code[k] != code[k + 1])  # swap two unequal digits
    typo = code[:k] + code[k + 1] + code[k] + code[k + 2:]
    bad = run("check", "--scheme", "cn-vet-24", codes[1], typo, check=False)
    assert bad.returncode == 1
    assert f"valid   {codes[1]}".encode() in bad.stdout
    assert f"INVALID {typo}".encode() in bad.stdout and b"check" in bad.stdout
    sys_ok = run("check", "--system", "gs1", "6291041500213")
    assert b"valid   6291041500213" in sys_ok.stdout


@pytest.mark.parametrize("args,message", [
    (["issue", "{data}", "--scheme", "nope", "-p", "1", "-n", "1"], b"unknown scheme 'nope'"),
    (["issue", "{data}", "--scheme", "cn-drug-20", "-p", "123", "-n", "1"], b"must be 7 characters"),
    (["issue", "{data}", "--scheme", "cn-drug-20", "-p", "8177322", "-n", "0"], b"at least 1"),
    (["issue", "{data}", "--scheme", "cn-drug-20", "-p", "8177322", "-n", "x"], b"invalid int"),
    (["issue", "{data}", "--scheme", "cn-drug-20", "-p", "8177322", "-n", "5", "-r", "dl"],
     b"renders as bare"),
    (["issue", "{data}/missing", "--scheme", "cn-drug-20", "-p", "8177322", "-n", "1"],
     b"not a data directory"),
    (["issue", "{data}", "--scheme", "cn-vet-24", "-p", "date=20140327", "-p", "enterprise=00002",
      "-n", "1000001"], b"999,999 left"),
    (["check", "--system", "crc", "123"], b"unknown check system"),
    (["check", "123"], b"exactly one of --scheme or --system"),
])
def test_bad_arguments_get_one_clear_line(data, args, message):
    p = run(*[a.format(data=data) for a in args], check=False)
    assert p.returncode in (1, 2)
    assert message in p.stderr, p.stderr
    verb = "tracecode " + args[0]
    assert p.stderr.count(b"\n") == 1 and p.stderr.startswith(verb.encode() + b": "), p.stderr


def test_malformed_custom_scheme_is_reported(data):
    (data / "schemes" / "broken.toml").write_text('[scheme]\nname = "broken"\n')
    p = run("issue", data, "--scheme", "broken", "-p", "1", "-n", "1", check=False)
    assert p.returncode == 1 and b"broken.toml" in p.stderr and b"[[field]]" in p.stderr


def test_custom_scheme_issues(data):
    (data / "schemes" / "cyl.toml").write_text(
        '[scheme]\nname = "gas-cylinder"\n'
        '[[field]]\nname = "station"\nrole = "product"\nlength = 4\n'
        '[[field]]\nname = "serial"\nrole = "serial"\nlength = 9\n'
        '[[field]]\nname = "check"\nrole = "check"\nlength = 1\nsystem = "verhoeff"\n')
    p = run("issue", data, "--scheme", "gas-cylinder", "-p", "0571", "-n", 100)
    codes = p.stdout.split()
    assert len(set(codes)) == 100 and all(c.startswith(b"0571") and len(c) == 14 for c in codes)
    listing = run("schemes", "--data", data).stdout
    assert b"gas-cylinder" in listing and b"cn-drug-20" in listing


def test_broken_pipe_is_quiet(data):
    proc = subprocess.Popen([sys.executable, "-m", "tracecode", "issue", str(data), "--scheme",
                             "cn-drug-20", "-p", "8177322", "-n", "3000000"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.read(100)
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == 0 and b"Traceback" not in err


def test_master_key_never_printed(data):
    key = (data / "master.key").read_bytes()
    p = run("issue", data, "--scheme", "generic", "-p", "HZ0001", "-n", 10)
    for blob in (p.stdout, p.stderr):
        assert key.hex().encode() not in blob.lower() and key not in blob


def test_unsafe_key_permissions_are_refused(data):
    os.chmod(data / "master.key", 0o644)
    p = run("issue", data, "--scheme", "generic", "-p", "HZ0001", "-n", 1, check=False)
    assert p.returncode == 1 and b"chmod 600" in p.stderr


def test_scan_reads_scans_and_recovers_counters(data, tmp_path):
    p = run("issue", data, "--scheme", "gs1-sgtin", "-p", "09521234543213", "-n", 5, "-r", "element",
            "-a", "expiry=261231", "-a", "lot=A1")
    element = p.stdout.split(b"\n")[2].decode()
    one = run("scan", "--data", data, element)
    assert b"OK      gs1-sgtin element 09521234543213" in one.stdout and b"counter=2" in one.stdout
    assert b"lot = A1" in one.stdout
    bad = run("scan", "81773220000000000002", check=False)
    assert bad.returncode == 1 and b"[CHECK_MISMATCH]" in bad.stdout
    bulk = run("scan", "--data", data, stdin=p.stdout + b"junk\n", check=False)
    rows = [line.split(b"\t") for line in bulk.stdout.splitlines()]
    assert [r[0] for r in rows] == [b"OK"] * 5 + [b"WRONG_LENGTH"]
    assert [r[3] for r in rows[:5]] == [b"0", b"1", b"2", b"3", b"4"]
    assert bulk.returncode == 1 and b"5 ok, 1 with faults" in bulk.stderr


def test_index_verbs(data, tmp_path):
    p = run("issue", data, "--scheme", "cn-drug-20", "-p", "8177322", "-n", 4, "--lot", "L7",
            "--expiry", "20301231", "--line", "line-2")
    codes = p.stdout.decode().split()
    events = tmp_path / "events.jsonl"
    events.write_text(json.dumps({"id": "e1", "action": "commission", "codes": codes[:3]}) + "\n"
                      + json.dumps({"id": "e2", "action": "sell", "codes": [codes[3]]}) + "\n")
    e = run("events", data, events, check=False)
    assert e.returncode == 1 and b"REJECTED e2: cannot sell" in e.stdout
    assert b"1 events applied, 1 rejected" in e.stderr
    v = run("verify", data, codes[0], "--place", "Hangzhou")
    assert v.stdout.startswith(b"GENUINE cn-drug-20 " + codes[0].encode()) and b"lot=L7" in v.stdout
    bulk = run("verify", data, "--no-record", stdin=("\n".join(codes) + "\njunk\n").encode(), check=False)
    verdicts = [line.split()[0] for line in bulk.stdout.splitlines()]
    assert verdicts == [b"GENUINE"] * 3 + [b"NOT_COMMISSIONED", b"UNKNOWN"] and bulk.returncode == 1
    h = run("history", data, codes[0])
    kinds = [json.loads(line)["kind"] for line in h.stdout.splitlines()]
    assert kinds == ["event", "scan"]
    (tmp_path / "ext.txt").write_text("201403270000200101860785\n")
    run("import", data, tmp_path / "ext.txt", "--field", "lot=B1")
    assert run("verify", data, "201403270000200101860785").stdout.startswith(b"GENUINE")
    listing = run("batches", data).stdout.decode().split("\t")
    assert listing[:5] == ["1", "cn-drug-20", "drug_id=8177322", "0", "4"] and "line-2\n" in listing
    bad = run("issue", data, "--scheme", "cn-drug-20", "-p", "8177322", "-n", 1, "--expiry", "2030",
              check=False)
    assert bad.returncode == 1 and b"not a YYYYMMDD" in bad.stderr


# -- hostile input: every verb that reads a file or stdin answers in one line --------------

_RANDOM = np.random.default_rng(11).integers(0, 256, 4096, dtype=np.uint8).tobytes()
HOSTILE = {  # name -> content; None: no such file; "dir": a directory in its place
    "json-array": b"[1, 2]\n",
    "json-scalar": b'"81773220000000000001"\n',
    "nested-100k": b"[" * 100_000 + b"]" * 100_000 + b"\n",
    "nan": b'{"id": "e1", "action": "commission", "codes": NaN}\n',
    "binary": _RANDOM,
    "invalid-utf8": b"number,code\n\xff\xfe\xfd,\xc3\n",
    "huge-field": b"number,product\n" + b"9" * 200_000 + b",x\n",
    "huge-line": b"8" * (65 << 20) + b"\n",
    "empty": b"",
    "missing": None,
    "directory": "dir",
}
JSON_SHAPES = ("json-array", "json-scalar", "nested-100k", "nan")
TEXT = ("binary", "invalid-utf8", "huge-field", "huge-line", "empty")
# (verb arguments, the hostile inputs for it: JSON shapes only where JSON is what is read)
FILE_VERBS = {
    "events": (["events", "{data}", "{file}"], JSON_SHAPES + TEXT),
    "import": (["import", "{data}", "{file}"], TEXT),
    "registry-csv": (["registry", "import", "{data}", "{file}"], TEXT),
    "registry-json": (["registry", "import", "{data}", "{file}", "--format", "json"],
                      JSON_SHAPES + TEXT),
    "registry-codes": (["registry", "import", "{data}", "{file}", "--codes"], TEXT),
    "capacity-workload": (["capacity", "--quick", "--workload", "{file}"], JSON_SHAPES + TEXT),
    "capacity-reuse": (["capacity", "--reuse", "{file}", "--codes-per-day", "5",
                        "--peak-scans-per-second", "5", "--out", "{tmp}/report"], JSON_SHAPES + TEXT),
}
STDIN_VERBS = {
    "events": ["events", "{data}"],
    "import": ["import", "{data}", "-"],
    "registry": ["registry", "import", "{data}", "-"],
    "check": ["check", "--scheme", "cn-drug-20"],
    "scan": ["scan"],
    "verify": ["verify", "{data}", "--no-record"],
    "label": ["label", "--out", "{tmp}/x.png"],
}
# Verbs whose errors come per line; the others read a file whole or answer per token.
LINE_NUMBERED = ("events", "import", "registry")
SLOW = {"huge-line"}  # 65 MiB through each verb


# The default run takes these (each case is a process, ~0.5 s of CPU): every reported defect,
# every verb and every input at least once; the slow run takes all of them.
DEFAULT = {"events-json-array", "events-nested-100k", "events-nan", "events-binary",
           "events-missing", "events-directory", "events-empty", "import-invalid-utf8",
           "import-empty", "registry-csv-huge-field", "registry-csv-binary",
           "registry-json-json-scalar", "registry-json-nested-100k", "registry-codes-invalid-utf8",
           "capacity-workload-nested-100k", "capacity-reuse-directory", "import-huge-field",
           "registry-binary", "check-invalid-utf8", "scan-binary", "verify-binary", "label-binary"}


def _cases(table, inputs_of):
    out = []
    for verb, entry in table.items():
        for name in inputs_of(entry):
            case = f"{verb}-{name}"
            slow = name in SLOW or case not in DEFAULT
            out.append(pytest.param(verb, name, marks=[pytest.mark.slow] if slow else [], id=case))
    return out


@pytest.fixture(scope="module")
def hostile_data(tmp_path_factory):
    d = tmp_path_factory.mktemp("hostile") / "data"
    run("init", d)
    return d


def _one_line_error(p, line_numbered: bool, where: str):
    err = p.stderr.decode("utf-8", "replace")
    assert p.returncode in (1, 2), (p.returncode, err)
    assert "Traceback" not in err
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert err.startswith("tracecode ") or " rejected" in err or " faults" in err or "invalid" in err, err
    if line_numbered:
        assert re.search(r"line \d+", err + p.stdout.decode("utf-8", "replace")), (err, p.stdout[:300])
    if where:
        assert where in err, err


@pytest.mark.parametrize("verb,name", _cases(FILE_VERBS, lambda e: e[1] + ("missing", "directory")))
def test_hostile_files_get_one_line(verb, name, hostile_data, tmp_path):
    content = HOSTILE[name]
    suffix = ".json" if verb.startswith("capacity") or verb == "registry-json" else ".csv"
    path = tmp_path / f"input{suffix}"
    if content == "dir":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)
    args, _ = FILE_VERBS[verb]
    p = run(*[a.format(data=hostile_data, file=path, tmp=tmp_path) for a in args], check=False)
    whole_file = content is None or content == "dir" or name == "empty"
    line_numbered = not whole_file and not verb.startswith("capacity") and name != "nested-100k"
    _one_line_error(p, line_numbered, str(path) if whole_file else "")


# (Standard input opened on a directory is not here: Python itself refuses to start on it.)
@pytest.mark.parametrize("verb,name", _cases(STDIN_VERBS, lambda e: TEXT))
def test_hostile_stdin_gets_one_line(verb, name, hostile_data, tmp_path):
    content = HOSTILE[name]
    args = [a.format(data=hostile_data, tmp=tmp_path) for a in STDIN_VERBS[verb]]
    p = run(*args, stdin=content, check=False)
    if verb in ("scan", "verify") and name != "empty":
        # per-scan faults on stdout, the count (or nothing) on stderr: never a traceback
        assert p.returncode == 1 and b"Traceback" not in p.stderr and p.stderr.count(b"\n") <= 1
        return
    if verb in ("scan", "verify") and name == "empty":
        assert b"Traceback" not in p.stderr
        return
    line_numbered = verb in LINE_NUMBERED and name not in ("empty", "directory")
    _one_line_error(p, line_numbered, "")


def test_events_with_bad_lines_apply_the_good_ones_unless_atomic(data, tmp_path):
    codes = run("issue", data, "--scheme", "cn-drug-20", "-p", "8177322", "-n", 3).stdout.decode().split()
    lines = [json.dumps({"id": "e1", "action": "commission", "codes": codes[:1]}),
             "[1, 2]", "{not json", "[" * 5000 + "]" * 5000,
             json.dumps({"id": "e2", "action": "commission", "codes": codes[1:2]})]
    path = tmp_path / "events.jsonl"
    path.write_bytes("\n".join(lines).encode() + b"\n\xff\xfe\n")
    atomic = run("events", data, path, "--atomic", check=False)
    assert atomic.returncode == 1 and atomic.stderr == b"0 events applied, 6 rejected\n"
    assert [line.split(b":")[0] for line in atomic.stdout.splitlines()] == [
        b"REJECTED e1", b"REJECTED line 2", b"REJECTED line 3", b"REJECTED line 4",
        b"REJECTED e2", b"REJECTED line 6"]
    assert run("verify", data, codes[0], "--no-record", check=False).stdout.startswith(b"NOT_COMMISSIONED")
    e = run("events", data, path, check=False)
    assert e.returncode == 1 and e.stderr == b"2 events applied, 4 rejected\n"
    out = e.stdout.decode()
    assert "REJECTED line 2: a JSON object {...} is expected, not an array" in out
    assert "REJECTED line 3: not JSON" in out and "REJECTED line 4: nested deeper than" in out
    assert "REJECTED line 6: not UTF-8" in out
    for code in codes[:2]:
        assert run("verify", data, code, "--no-record").stdout.startswith(b"GENUINE")
    bad_id = tmp_path / "bad-id.jsonl"  # an event the index refuses is named with its line
    bad_id.write_text("\n" + json.dumps({"id": "", "action": "commission", "codes": codes[2:]}) + "\n")
    refused = run("events", data, bad_id, check=False)
    assert refused.returncode == 1 and b"[line 2]" in refused.stdout, refused.stdout


def test_import_reports_bad_lines_and_imports_the_others(data, tmp_path):
    path = tmp_path / "codes.txt"
    path.write_bytes(b"201403270000200101860785\n\xff\xfe\nAB\x01CD\n" + b"9" * 70_000 + b"\n"
                     b"201403270000200101860786\n")
    p = run("import", data, path, check=False)
    assert p.returncode == 1 and p.stderr == b"imported 2 codes, 3 lines rejected\n"
    assert p.stdout.decode().splitlines() == [
        "REJECTED line 2: not UTF-8 (byte 1 of the line)",
        "REJECTED line 3: holds a control character",
        "REJECTED line 4: longer than 65,536 bytes"]
    assert run("verify", data, "201403270000200101860786", "--no-record").stdout.startswith(b"GENUINE")


def test_check_refuses_a_huge_token_alone(tmp_path):
    """Ten million digits next to a code: one array of 2 x 10 MB before, refused alone now."""
    good = b"81773220000000000001"
    p = run("check", "--scheme", "cn-drug-20", stdin=b"9" * 10_000_000 + b"\n" + good + b"\n",
            check=False)
    assert p.returncode == 1 and b"Traceback" not in p.stderr
    assert p.stdout.startswith(b"INVALID 9999") and b"longer than 4,096 characters" in p.stdout
    assert p.stderr == b"checked 2 codes: 1 valid, 1 invalid\n"


@pytest.mark.parametrize("content", [
    b"a = " + b"[" * 100_000 + b"\n",          # tomllib recursed into a RecursionError
    b"client = 5\n", b"client = [5]\n",         # TypeError, AttributeError
    _RANDOM, b"\xff\xfe\n", "dir",
], ids=["nested-100k", "client-scalar", "client-not-tables", "binary", "invalid-utf8", "directory"])
def test_hostile_clients_files_get_one_line(content, tmp_path):
    path = tmp_path / "clients.toml"
    if content == "dir":
        path.mkdir()
    else:
        path.write_bytes(content)
    p = run("token", "list", path, check=False)
    _one_line_error(p, False, str(path))


def test_events_with_bad_lines_over_the_server(data, tmp_path):
    """--server reads the file the same way: bad lines reported by number, good events sent."""
    from tracecode.v1.testing import ServerProcess
    codes = run("issue", data, "--scheme", "cn-drug-20", "-p", "8177322", "-n", 2).stdout.decode().split()
    path = tmp_path / "events.jsonl"
    path.write_text(json.dumps({"id": "s1", "action": "commission", "codes": codes[:1]}) + "\n"
                    + "[" * 100_000 + "\n"
                    + json.dumps({"id": "s2", "action": "sell", "codes": codes[1:]}) + "\n")
    with ServerProcess(data) as server:
        atomic = run("events", "--server", server.address, path, "--atomic", check=False)
        assert atomic.returncode == 1 and atomic.stderr == b"0 events applied, 3 rejected\n"
        p = run("events", "--server", server.address, path, check=False)
    assert p.returncode == 1 and p.stderr == b"1 events applied, 2 rejected\n", p.stderr
    out = p.stdout.decode().splitlines()
    assert out[0] == "REJECTED line 2: nested deeper than 32 levels"
    assert out[1].startswith("REJECTED s2: cannot sell") and out[1].endswith("[line 3]")
    assert run("verify", data, codes[0], "--no-record").stdout.startswith(b"GENUINE")


def test_issue_opens_its_output_before_reserving_and_names_the_batch(data):
    """Review 11 #11: `issue --out /nonexistent/x` reserved a batch first, and a failed
    write (/dev/full) was a raw [Errno N] that did not name the batch."""
    issue = ("issue", data, "--scheme", "cn-drug-20", "-p", "8177322", "-n", "5")
    p = run(*issue, "--out", "/nonexistent/x", check=False)
    lines = p.stderr.decode().strip().splitlines()
    assert p.returncode == 1 and len(lines) == 1 and "nothing was issued" in lines[0], lines
    assert run("batches", data).stdout.strip() == b""
    if os.path.exists("/dev/full"):
        p = run(*issue, "--out", "/dev/full", check=False)
        lines = p.stderr.decode().strip().splitlines()
        assert p.returncode == 1 and len(lines) == 1 and "batch 1 (5 codes) was issued" in lines[0]


@pytest.mark.parametrize("verb", ["check", "scan", "verify"])
def test_endless_stdin_is_read_in_bounded_chunks_and_refused(data, verb):
    """Review 11 #11: check, scan and verify read all of stdin at once (out of memory on
    /dev/zero); stdin is read in chunks, and a line or token without an end is one line."""
    args = {"check": ("check", "--scheme", "cn-drug-20"), "scan": ("scan",),
            "verify": ("verify", data, "--no-record")}[verb]
    with open("/dev/zero", "rb") as zero:
        proc = subprocess.run([sys.executable, "-m", "tracecode", *map(str, args)], stdin=zero,
                              capture_output=True, timeout=60)
    lines = proc.stderr.decode().strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 1 and "without its end" in lines[0], lines
    # chunk edges split no line or token
    codes = run("issue", data, "--scheme", "cn-drug-20", "-p", "8177322", "-n", "3").stdout
    import io

    from tracecode import cli
    for chunk in (1, 7, 64):
        old, cli.STDIN_CHUNK = cli.STDIN_CHUNK, chunk
        try:
            sys_stdin, cli.sys.stdin = cli.sys.stdin, io.TextIOWrapper(io.BytesIO(codes + b"x y\n\nz"))
            assert cli._stdin_items(lines=True) == codes.split(b"\n")[:-1] + [b"x y", b"", b"z"]
            cli.sys.stdin = io.TextIOWrapper(io.BytesIO(codes + b"x  y\n\nz"))
            assert cli._stdin_items(lines=False) == codes.split() + [b"x", b"y", b"z"]
        finally:
            cli.STDIN_CHUNK, cli.sys.stdin = old, sys_stdin
