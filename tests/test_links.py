"""The links of products through the application layer (tracecode.app.Service: links,
set_links, links_for, link_key_of; app/links.py: the keys), and their LMDB table: who may
read and set them, what is refused and how, the audit, and what survives a reopen, a
read-only store and a full disk."""
import json
from types import SimpleNamespace

import pytest
from hypothesis import given, settings, strategies as st

import tracecode
from tracecode import checks, schemes
from tracecode.app import Caller, ProductRule, Refusal, Service
from tracecode.app.audit import read as read_audit
from tracecode.app.caller import OPERATOR, PUBLIC
from tracecode.app.links import key_of, parse_key
from tracecode.digitallink.links import Link
from tracecode.index import IndexReadOnly, Verdict
from tracecode.index.verdicts import Answer
from tracecode.store.lmdb.env import open_env
from tracecode.store.lmdb.links import LinksTable

GTIN = "09506000134352"          # check digit 2
DRUG = {"drug_id": "8177322"}
KNOWN = schemes.builtin()


def caller(name, *roles, products=()):
    return Caller(name, frozenset(roles), tuple(ProductRule.parse(p) for p in products))


ADMIN = caller("ops", "admin")
DRUG_LINE = caller("line-3", "issuer", products=["cn-drug-20:drug_id=8177322"])
GS1_OWNER = caller("acme", "issuer", products=["gs1-sgtin:gtin=0950600*"])   # a company prefix
OTHER = caller("line-9", "issuer", products=["cn-drug-20:drug_id=1234567",
                                             "gs1-sgtin:gtin=0952123*"])
SCANNER = caller("pda-7", "scanner")
REGULATOR = caller("nmpa", "regulator")

PIP_ZH = {"link_type": "pip", "href": "https://example.com/zh", "title": "产品信息",
          "lang": ["zh"], "default": True}
PIP_EN = {"link_type": "gs1:pip", "href": "https://example.com/en", "lang": ["en"]}
RECALL = {"link_type": "https://gs1.org/voc/recallStatus", "href": "https://example.com/recall"}


@pytest.fixture
def svc(d):
    s = Service(d)
    yield s
    s.close()


def refused(reason, fn, *args, **kw) -> Refusal:
    with pytest.raises(Refusal) as exc:
        fn(*args, **kw)
    assert exc.value.reason == reason, exc.value
    return exc.value


# -- keys ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, canonical", [
    (f"01/{GTIN}", f"01/{GTIN}"),
    ("01/9506000134352", f"01/{GTIN}"),                      # GTIN-13 padded
    ("01/12345670", "01/00000012345670"),                    # GTIN-8
    (f"gs1-sgtin/{GTIN}", f"01/{GTIN}"),                     # one key per GS1 product
    (f" 01/{GTIN}/10/AB-1 ", f"01/{GTIN}/10/AB-1"),
    (f"01/{GTIN}/10/AB/12", f"01/{GTIN}/10/AB/12"),           # a lot may hold "/"
    ("cn-drug-20/8177322", "cn-drug-20/8177322"),
    ("cn-vet-24/2015010100002", "cn-vet-24/2015010100002"),
    ("cn-pesticide-32/10929271001", "cn-pesticide-32/10929271001"),
    ("generic/hz0001", "generic/HZ0001"),                    # as the scheme normalises it
])
def test_keys_are_canonical(text, canonical):
    assert parse_key(text, KNOWN).text == canonical


@pytest.mark.parametrize("text, reason, words", [
    ("", "invalid_argument", "required"),
    ("01", "invalid_argument", "is not a link key"),
    ("01/09506000134353", "invalid_argument", "check digit is 3, it should be 2"),
    ("01/95060001343", "invalid_argument", "not a GTIN"),
    ("01/0950600013435X", "invalid_argument", "not a GTIN"),
    (f"01/{GTIN}/21/123", "invalid_argument", '"/10/<lot>"'),
    (f"01/{GTIN}/10", "invalid_argument", '"/10/<lot>"'),
    (f"01/{GTIN}/10/", "invalid_argument", "lot after \"/10/\" is empty"),
    (f"01/{GTIN}/10/A B", "invalid_argument", "82-character set"),
    (f"01/{GTIN}/10/{'L' * 21}", "invalid_argument", "at most 20"),
    ("cn-drug-20/81773", "invalid_argument", "drug_id (7)"),
    ("cn-pesticide-32/40929271001", "invalid_argument", "reg_class"),
    ("cn-vet-24/2015133100002", "invalid_argument", "date"),
    ("no-such/123", "unknown_scheme", "known: cn-cylinder-16, cn-detonator-13, cn-drug-20"),
    ("x" * 200, "invalid_argument", "at most 128"),
])
def test_bad_keys_are_refused_saying_why(text, reason, words):
    r = refused(reason, parse_key, text, KNOWN)
    assert r.field == "key" and words in r.detail, r.detail


@settings(max_examples=200, deadline=None)
@given(st.text("0123456789", min_size=11, max_size=13), st.sampled_from([7, 11, 12, 13]))
def test_any_gtin_has_one_key_however_short_it_is_written(digits, body):
    body = digits[:body]
    gtin = body + checks.get("gs1").calc(body)
    key = parse_key(f"01/{gtin}", KNOWN)
    assert key.text == f"01/{gtin.zfill(14)}" and parse_key(key.text, KNOWN) == key
    assert key_of(KNOWN["gs1-sgtin"], {"gtin": gtin.zfill(14)}) == key.text


@settings(max_examples=100, deadline=None)
@given(st.sampled_from("123"), st.text("0123456789", min_size=6, max_size=6),
       st.sampled_from("123"), st.text("0123456789", min_size=3, max_size=3))
def test_a_national_product_and_its_key_round_trip(cls, number, kind, spec):
    scheme = KNOWN["cn-pesticide-32"]
    product = scheme.product_values({"reg_class": cls, "reg_number": number,
                                     "production_type": kind, "spec": spec})
    key = parse_key(key_of(scheme, product), KNOWN)
    assert key.product == product and key.scheme == "cn-pesticide-32"


# -- rights ------------------------------------------------------------------------------------

@pytest.mark.parametrize("who", [ADMIN, DRUG_LINE, GS1_OWNER, OTHER, SCANNER, REGULATOR, PUBLIC])
def test_anyone_reads_links(svc, who):
    svc.set_links(ADMIN, "cn-drug-20/8177322", [PIP_ZH])
    assert [x.href for x in svc.links(who, "cn-drug-20/8177322")] == ["https://example.com/zh"]
    assert svc.links(who, f"01/{GTIN}") == []


@pytest.mark.parametrize("who, key, allowed", [
    (ADMIN, "cn-drug-20/8177322", True),
    (ADMIN, f"01/{GTIN}", True),
    (OPERATOR, f"01/{GTIN}/10/L1", True),
    (DRUG_LINE, "cn-drug-20/8177322", True),      # its own product
    (DRUG_LINE, "cn-drug-20/1111111", False),
    (DRUG_LINE, f"01/{GTIN}", False),
    (GS1_OWNER, f"01/{GTIN}", True),              # its company prefix 0950600
    (GS1_OWNER, f"01/{GTIN}/10/L1", True),        # and the lots of its GTINs
    (GS1_OWNER, "cn-drug-20/8177322", False),
    (OTHER, "cn-drug-20/8177322", False),         # an issuer of other products
    (OTHER, f"01/{GTIN}", False),
    (SCANNER, "cn-drug-20/8177322", False),
    (REGULATOR, "cn-drug-20/8177322", False),     # regulators recall; issuers publish
    (PUBLIC, f"01/{GTIN}", False),
])
def test_who_may_set_links(svc, who, key, allowed):
    if allowed:
        got = svc.set_links(who, key, [PIP_ZH, RECALL])
        assert [x.link_type for x in got] == ["gs1:pip", "gs1:recallStatus"]
        assert svc.links(PUBLIC, key) == got
    else:
        r = refused("permission_denied", svc.set_links, who, key, [PIP_ZH])
        assert who.name in r.detail
        assert svc.links(PUBLIC, key) == []


# -- validation ------------------------------------------------------------------------------

@pytest.mark.parametrize("links, field, words", [
    ("https://example.com", "links", "list"),
    ([{"link_type": "pip", "href": "ftp://example.com/x"}], "links[0]", "http(s)"),
    ([PIP_EN, {"link_type": "pip", "href": "javascript:alert(1)"}], "links[1]", "http(s)"),
    ([{"link_type": "noSuchType", "href": "https://example.com"}], "links[0]", "link type"),
    ([PIP_EN, 7], "links[1]", "JSON object"),
    ([{"link_type": "pip", "href": "https://example.com", "lang": ["not a tag"]}], "links[0]", "BCP 47"),
    ([PIP_ZH, {**PIP_ZH, "href": "https://example.com/zh2"}], "links[1]", "default"),
    ([PIP_EN, PIP_EN], "links[1]", "repeats link 1"),
    ([PIP_EN, {**RECALL, "extra": 1}], "links[1]", "no field 'extra'"),
    ([{**PIP_ZH, "lang": ["ZH-cn"]}, {**PIP_ZH, "href": "https://example.com/zh2", "lang": ["zh-CN"]}],
     "links[1]", "default for language zh-CN"),
    ([{"link_type": "pip", "href": f"https://example.com/{i}"} for i in range(101)], "links", "at most"),
])
def test_malformed_links_are_refused_naming_the_link(svc, links, field, words):
    svc.set_links(ADMIN, "cn-drug-20/8177322", [RECALL])
    r = refused("invalid_argument", svc.set_links, ADMIN, "cn-drug-20/8177322", links)
    assert r.field == field and words in r.detail, (r.field, r.detail)
    assert [x.link_type for x in svc.links(PUBLIC, "cn-drug-20/8177322")] == ["gs1:recallStatus"]


def test_a_malformed_key_is_refused_before_product_rights(svc):
    refused("permission_denied", svc.set_links, SCANNER, "01/09506000134353", [PIP_ZH])  # role first
    r = refused("invalid_argument", svc.set_links, OTHER, "01/09506000134353", [PIP_ZH])
    assert r.field == "key"
    refused("unknown_scheme", svc.links, PUBLIC, "nope/1")


def test_links_are_stored_normalised_and_an_empty_list_removes_them(svc):
    got = svc.set_links(DRUG_LINE, "cn-drug-20/8177322",
                        [Link("pip", " https://example.com/zh", lang=("zh-CN", "zh-cn")), RECALL])
    assert got[0] == Link("gs1:pip", "https://example.com/zh", lang=("zh-CN",))
    assert svc.index.store.links_get("cn-drug-20/8177322")[0]["link_type"] == "gs1:pip"
    assert svc.set_links(DRUG_LINE, "cn-drug-20/8177322", []) == []
    assert svc.links(PUBLIC, "cn-drug-20/8177322") == []
    assert "cn-drug-20/8177322" not in svc.index.store.links_keys()


# -- audit -------------------------------------------------------------------------------------

def test_setting_links_is_audited_before_and_after(svc):
    svc.set_links(GS1_OWNER, "01/9506000134352", [PIP_ZH], peer="ipv4:10.0.0.7:5100",
                  method="PUT /api/v1/links")
    records = [r for r in read_audit(svc.dd.path / "audit.log") if "links" in r["event"]]
    assert [r["event"] for r in records] == ["set_links_intent", "set_links"]
    intent, done = records
    assert intent["client"] == "acme" and intent["key"] == f"01/{GTIN}"
    assert intent["links"][0]["href"] == "https://example.com/zh"   # what was published, kept
    assert intent["method"] == "PUT /api/v1/links" and intent["peer"] == "ipv4:10.0.0.7:5100"
    assert done["count"] == 1 and done["key"] == f"01/{GTIN}"


def test_a_refused_setting_writes_nothing_to_the_audit_log(svc):
    refused("permission_denied", svc.set_links, OTHER, "cn-drug-20/8177322", [PIP_ZH])
    refused("invalid_argument", svc.set_links, ADMIN, "cn-drug-20/8177322", [{"href": "x"}])
    path = svc.dd.path / "audit.log"
    assert not path.exists() or not [r for r in read_audit(path) if "links" in r["event"]]


# -- persistence ---------------------------------------------------------------------------------

def test_links_survive_a_reopen(tmp_path):
    path = tmp_path / "data"
    with tracecode.init(path) as d:
        s = Service(d)
        s.set_links(ADMIN, f"01/{GTIN}", [PIP_ZH, PIP_EN])
        s.set_links(ADMIN, f"01/{GTIN}/10/L1", [RECALL])
        s.close()
    with tracecode.open(path) as d:
        s = Service(d)
        assert [x.href for x in s.links(PUBLIC, f"01/{GTIN}")] == ["https://example.com/zh",
                                                                  "https://example.com/en"]
        assert d.index.store.links_keys("01/") == [f"01/{GTIN}", f"01/{GTIN}/10/L1"]
        s.close()


def test_a_read_only_store_reads_links_and_refuses_to_set_them(tmp_path):
    env = open_env(tmp_path / "idx")
    LinksTable(env).put(f"01/{GTIN}", [{"href": "https://example.com"}])
    env.close()
    never = open_env(tmp_path / "never")   # a store that never had links
    never.close()
    for where, want in (("idx", [{"href": "https://example.com"}]), ("never", [])):
        ro = open_env(tmp_path / where, readonly=True)
        table = LinksTable(ro)
        assert table.get(f"01/{GTIN}") == want and table.keys() == [f"01/{GTIN}"] * len(want)
        with pytest.raises(IndexReadOnly):
            table.put(f"01/{GTIN}", [{"href": "https://example.com/2"}])
        ro.close()


def test_a_full_disk_is_index_full_with_nothing_written_and_works_again(tmp_path):
    from test_full_disk import Filler, small_disk, use_up_free_pages
    with small_disk(tmp_path / "disk", "32m") as disk:
        d = tracecode.init(disk / "d")
        s = Service(d, audit_path=tmp_path / "audit.log")   # the audit log on another disk
        s.set_links(ADMIN, f"01/{GTIN}", [RECALL])
        use_up_free_pages(d)
        filler = Filler(disk).fill()
        many = [{"link_type": "pip", "href": f"https://example.com/{i:03}/" + "p" * 1500,
                 "lang": [lang]} for i, lang in enumerate(["zh", "en", "fr", "de", "ja"] * 20)]
        refused("index_full", s.set_links, ADMIN, f"01/{GTIN}", many)
        assert [x.link_type for x in s.links(PUBLIC, f"01/{GTIN}")] == ["gs1:recallStatus"]
        events = [r["event"] for r in read_audit(tmp_path / "audit.log")]
        assert events[-2:] == ["set_links_intent", "set_links_refused"]
        filler.free()
        assert len(s.set_links(ADMIN, f"01/{GTIN}", many)) == 100
        s.close()
        d.close()


# -- the key of a verified code ----------------------------------------------------------------

def test_the_key_of_a_verified_code(svc, d):
    gs1 = d.issue("gs1-sgtin", {"gtin": GTIN}, 3, lot="L1", expiry="261231")
    drug = d.issue("cn-drug-20", DRUG, 3)
    element = gs1.codes(render="element")[0].decode()
    answer = svc.verify(OPERATOR, element, record=False)
    assert svc.link_key_of(answer) == f"01/{GTIN}"
    assert svc.link_key_of(answer, lot=True) == f"01/{GTIN}/10/L1"
    assert svc.link_key_of(svc.verify(OPERATOR, drug.codes()[0].decode(), record=False)) \
        == "cn-drug-20/8177322"
    assert svc.link_key_of(svc.verify(OPERATOR, drug.codes()[0].decode(), record=False),
                           lot=True) == "cn-drug-20/8177322"   # lot-level keys are GS1's
    assert svc.link_key_of(SimpleNamespace(index=answer)) == f"01/{GTIN}"   # a registry check's
    assert svc.link_key_of(Answer(Verdict.UNKNOWN, [])) is None          # no product read
    assert svc.link_key_of(Answer(Verdict.UNKNOWN, [], scheme="gone", product=DRUG)) is None


def test_the_resolver_falls_back_from_a_lot_to_its_product(svc):
    svc.set_links(ADMIN, f"01/{GTIN}", [PIP_ZH])
    assert [x.href for x in svc.links_for(PUBLIC, f"01/{GTIN}/10/L1")] == ["https://example.com/zh"]
    svc.set_links(ADMIN, f"01/{GTIN}/10/L1", [RECALL])
    assert [x.link_type for x in svc.links_for(PUBLIC, f"01/{GTIN}/10/L1")] == ["gs1:recallStatus"]
    assert svc.links_for(PUBLIC, "cn-drug-20/8177322") == []


def test_stored_links_are_plain_json(svc):
    svc.set_links(ADMIN, "cn-drug-20/8177322", [PIP_ZH])
    env = svc.index.env
    with env.begin(db=env.open_db(b"links", create=False)) as txn:
        raw = txn.get(b"cn-drug-20/8177322")
    assert json.loads(raw) == [{"link_type": "gs1:pip", "href": "https://example.com/zh",
                                "title": "产品信息", "lang": ["zh"], "media_type": "",
                                "default": True}]


CSET82 = "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"


@settings(max_examples=200, deadline=None)
@given(st.text(CSET82, min_size=1, max_size=20))
def test_the_key_a_digital_link_names_is_the_key_links_are_set_under(lot):
    """The resolver looks links up by DigitalLink.link_key(): for any lot, the key the
    application parses is that text, as key_of builds it."""
    from urllib.parse import quote as pct
    from tracecode.digitallink import parse
    dl = parse(f"https://trace.example.gov.cn/01/{GTIN}/10/{pct(lot, safe='')}/21/X1")
    assert parse_key(dl.link_key(lot=True), KNOWN).text == dl.link_key(lot=True) \
        == key_of(KNOWN["gs1-sgtin"], {"gtin": GTIN}, lot=lot)
    assert parse_key(dl.link_key(), KNOWN).text == f"01/{GTIN}"
