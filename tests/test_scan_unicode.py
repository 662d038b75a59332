"""Every scan gets an answer: random bytes, lone surrogates and UTF-8 cut anywhere
(a symbology identifier cut inside a character included) are per-scan faults, and
the genuine codes of the same batch get their GENUINE verdicts, over the parser,
verify, verify_many and a real gRPC VerifyStream."""
import grpc
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import tracecode
from tracecode.index import Verdict
from tracecode.scan import Fault, ScanError, ScanParser
from tracecode.v1 import Client, ServiceError
from tracecode.v1.testing import ServerProcess

DRUG = {"drug_id": "8177322"}
GTIN = {"gtin": "09521234543213"}
CUT = "]a中".encode()[:3]      # "]a" and the first byte of a 3-byte character

APPROVAL = {"approval_number": "兽药字(2020)010010001", "product": "产品", "company": "公司",
            "enterprise_id": "00002", "status": "valid", "valid_until": "2030-01-01"}

lone_surrogate = st.integers(0xD800, 0xDFFF).map(chr)
bad_scans = st.one_of(
    st.binary(max_size=48),
    st.builds(lambda a, s, b: a + s + b, st.text(max_size=12), lone_surrogate, st.text(max_size=12)),
    st.text(min_size=1, max_size=24).map(lambda t: t.encode()[:-1]),           # cut at the end
    st.builds(lambda n, d: "]a中".encode()[:n] + d.encode(), st.integers(3, 4),
              st.from_regex(r"[0-9]{18}", fullmatch=True)),                      # cut identifier
    st.sampled_from([CUT + b"8" * 18, "]a中" + "8" * 18, "\ud800", b"\xff\xfe", b"\xed\xa0\x80",
                     "中" + "8" * 17, "(01)09521234543213(21)\udcff", b"]d2\xc3"]),
)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("unicode")
    d = tracecode.init(root / "data")
    drug = [c.decode() for c in d.issue("cn-drug-20", DRUG, 20).codes()]
    sgtin = [c.decode() for c in d.issue("gs1-sgtin", GTIN, 20, expiry="301231").codes()]
    elements = [c.decode() for c in d.issuer("gs1-sgtin", GTIN).codes(0, 20, "element",
                                                                    {"expiry": "301231"})]
    d.registry.import_rows([APPROVAL], kind="vet")
    vet = [c.decode() for c in d.issue("cn-vet-24", d.schemes["cn-vet-24"].example_product(),
                                       5).codes()]
    res = d.apply([{"id": "c1", "action": "commission", "codes": drug + sgtin + vet}])
    assert all(r["ok"] for r in res), res
    yield {"root": root, "d": d, "genuine": drug + elements, "vet": vet}
    d.close()


def mixed(genuine, bad):
    """The bad scans interleaved with genuine codes; the genuine codes' positions."""
    batch, where = [], []
    for i, b in enumerate(bad):
        where.append(len(batch))
        batch.append(genuine[i % len(genuine)])
        batch.append(b)
    where.append(len(batch))
    batch.append(genuine[-1])
    return batch, where


def test_the_issue_samples_are_faults_not_exceptions(world):
    d, parser = world["d"], ScanParser()
    # "]a中" + 18 digits is 21 characters: the length of cn-edetonator-21, so its '中' is a bad
    # character of that scheme (before that scheme it was a wrong length)
    for scan, fault in ((CUT + b"8" * 18, Fault.NOT_UTF8), ("]a中" + "8" * 18, Fault.BAD_CHARACTER),
                        ("]a中" + "8" * 20, Fault.WRONG_LENGTH),
                        ("\ud800", Fault.NOT_UTF8), ("中" + "8" * 19, Fault.BAD_CHARACTER)):
        with pytest.raises(ScanError) as exc:
            parser.parse(scan)
        assert exc.value.fault == fault, scan
        a = d.verify(scan, record=False)
        assert (a.verdict, a.fault) == (Verdict.UNKNOWN, fault.name), scan
    # the identifier ends at the cut: no code is read from what follows
    assert parser.parse_many([CUT + b"8" * 18, "]a中" + "8" * 18]).records["code"].tolist() == [b""] * 2
    many = d.verify_many(["\ud800", "]a中" + "8" * 18, world["genuine"][0]], record=False)
    assert many.verdicts.tolist() == [Verdict.UNKNOWN, Verdict.UNKNOWN, Verdict.GENUINE]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(bad_scans, min_size=1, max_size=12))
def test_parser_answers_every_scan(bad):
    parser = ScanParser()
    batch = parser.parse_many(bad)
    assert len(batch) == len(bad)
    for scan, rec in zip(bad, batch.records):
        rec["code"].decode("ascii")                  # only ASCII codes, never raw bytes
        try:
            parser.parse(scan)
        except ScanError as exc:
            assert exc.fault == rec["fault"], scan
            str(exc).encode("utf-8")                 # a message that can be printed
        else:
            assert rec["fault"] == Fault.OK


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(bad_scans, min_size=1, max_size=10))
def test_verify_many_and_verify_answer_every_scan(world, bad):
    d = world["d"]
    batch, where = mixed(world["genuine"], bad)
    many = d.verify_many(batch, record=False)
    assert len(many) == len(batch)
    assert [many.verdicts[i] for i in where] == [Verdict.GENUINE] * len(where)
    for i, scan in enumerate(batch):
        a = d.verify(scan, record=False)
        assert a.verdict == many.verdicts[i], scan
    # packed bytes, as the service passes them
    raw = [s.encode("utf-8", "surrogatepass") if isinstance(s, str) else s for s in batch]
    offsets = [0]
    for r in raw:
        offsets.append(offsets[-1] + len(r))
    packed = d.verify_many(b"".join(raw), offsets, record=False)
    assert packed.verdicts.tolist() == many.verdicts.tolist()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(bad_scans, min_size=1, max_size=8))
def test_registry_check_answers_every_scan(tmp_path_factory, bad):
    root = tmp_path_factory.mktemp("registry")
    with tracecode.init(root / "data") as d:
        d.registry.import_rows([APPROVAL], kind="vet")
        scheme = d.schemes["cn-vet-24"]
        codes = [c.decode() for c in d.issue("cn-vet-24", scheme.example_product(), 3).codes()]
        alone = d.check_many(codes, record=False)
        batch, where = mixed(codes, bad)
        got = d.check_many(batch, record=False)
        assert len(got) == len(batch)
        # a row's answer does not depend on the unreadable scans around it
        assert [got[row].checks for row in where] == [alone[codes.index(batch[row])].checks
                                                      for row in where]
        # the last row by -1, as by its number (keys and imported records are by row)
        assert alone[-1] == alone[len(codes) - 1] and got[-1] == got[len(batch) - 1]
        many = d.verify_many(codes, record=False)
        assert many[-1] == many[len(codes) - 1] and many[-1].status == "issued"
        # a bad scan is checked (and fails), unless the parser names it a scheme no registry
        # covers (a 20-character scan is of cn-drug-20's length, an 18-character one of cn-equip-18's)
        covered = {n for n, s in d.schemes.items() if s.category in ("veterinary", "pesticides")}
        named = d.verify_many(batch, record=False)
        for i in set(range(len(batch))) - set(where):
            if named[i].scheme is None or named[i].scheme in covered:
                assert got[i].verdict in ("NOT_GENUINE", "UNVERIFIABLE", "GENUINE"), batch[i]
            else:
                assert got[i].verdict == "NOT_COVERED" and named[i].fault, batch[i]


@pytest.fixture(scope="module")
def server(world):
    world["d"].close()  # the server process opens the data directory itself
    with ServerProcess(world["root"] / "data") as srv:
        client = Client(srv.address, retry_timeout=10)
        yield client
        client.close()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(bad_scans, min_size=1, max_size=10))
def test_verify_stream_answers_every_scan(world, server, bad):
    batch, where = mixed(world["genuine"], bad)
    got = server.verify_many(batch, record=False, answers=True)
    verdicts = got.records["verdict"].tolist()
    assert len(verdicts) == len(batch)
    assert [verdicts[i] for i in where] == [Verdict.GENUINE] * len(where)
    assert [a.verdict for a in got.answers] == verdicts


def test_unary_verify_of_a_bad_scan_is_invalid_argument(world, server):
    for scan in (CUT + b"8" * 18, "]a中" + "8" * 18, "\ud800", b"\xff\xfe", "中" + "8" * 19):
        with pytest.raises(ServiceError) as exc:
            server.verify(scan, record=False)
        assert exc.value.code == grpc.StatusCode.INVALID_ARGUMENT, exc.value
        assert exc.value.reason in ("SCAN_NOT_UTF8", "SCAN_WRONG_LENGTH", "SCAN_BAD_CHARACTER"), exc.value
    assert server.verify(world["genuine"][0], record=False).verdict == Verdict.GENUINE


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(bad_scans, min_size=1, max_size=8))
def test_check_stream_and_check_answer_every_scan(world, server, bad):
    vet = world["vet"]
    alone = server.check_many(vet, record=False, answers=True)
    batch, where = mixed(vet, bad)
    got = server.check_many(batch, record=False, answers=True)
    assert len(got.answers) == len(batch)
    assert [got.answers[row].checks for row in where] == [
        alone.answers[vet.index(batch[row])].checks for row in where]
    for scan in bad:   # unary: an unreadable scan is an answer, not an error
        if scan:
            assert server.check(scan, record=False).verdict in ("NOT_GENUINE", "NOT_COVERED")
