"""GT_/GE_/LT_/LE_ILMD_{field}: a top-level ilmd field compared as a number or an RFC 3339
date-time, on both stores; a value that is neither refused by name, never answered empty."""
import pytest

from tracecode.app import epcis_params
from tracecode.app.refusal import Refusal
from tracecode.epcis.facets import facets_of
from tracecode.store.port import EpcisRecord

import test_epcis_query_params as base

# `store`: the two-store fixture (lmdb, postgres), conftest.py's (or the base module's, where it is defined)
if hasattr(base, "store"):
    store = base.store
CONTEXT, _event, _ids = base.CONTEXT, base._event, base._ids

EVENTS = [
    _event("r0", 1, ilmd={"example:weight": 5, "example:made": "2026-01-10T08:00:00+08:00", "example:tag": "abc"}),
    _event("r1", 2, ilmd={"example:weight": [2.5, 12], "example:made": "2026-03-01T00:00:00Z"}),
    # texts shaped like a number or date-time that are none: never compared, never an error
    _event("r2", 3, ilmd={"example:weight": "heavy", "example:made": "2026-02-30T00:00:00Z"}),
    _event("r3", 4),
]


def _put(store):
    recs = [EpcisRecord(event_id=ev["eventID"], event=ev, event_time=1.78e9 + 60 * i, time_offset="+08:00",
                        record_time=1.79e9 + i,
                        type=ev["type"], biz_step=ev["bizStep"], action=ev["action"], epcs={},
                        facets=facets_of(ev, CONTEXT)) for i, ev in enumerate(EVENTS)]
    assert all(store.epcis_put(recs))


@pytest.mark.parametrize("params,expected", [
    ({"GT_ILMD_example:weight": "5"}, ["r1"]),
    ({"GE_ILMD_example:weight": "5"}, ["r0", "r1"]),
    ({"GE_ILMD_example:weight": "5.0"}, ["r0", "r1"]),
    ({"LT_ILMD_example:weight": "5"}, ["r1"]),
    ({"LE_ILMD_example:weight": "2.5"}, ["r1"]),
    ({"LT_ILMD_example:weight": "2.5"}, []),
    ({"GT_ILMD_example:weight": "1e2"}, []),
    ({"GT_ILMD_example:weight": "3", "LT_ILMD_example:weight": "6"}, ["r0", "r1"]),   # each for some value
    ({"GT_ILMD_http://ns.example.com/epcis#weight": "5"}, ["r1"]),                      # namespace#name
    ({"GE_ILMD_example:made": "2026-01-10T00:00:00Z"}, ["r0", "r1"]),                   # the same instant
    ({"GT_ILMD_example:made": "2026-01-10T00:00:00Z"}, ["r1"]),
    ({"LT_ILMD_example:made": "2026-02-01T08:00:00+08:00"}, ["r0"]),
    ({"LE_ILMD_example:made": "2026-01-10T08:00:00+08:00"}, ["r0"]),
    ({"GT_ILMD_example:tag": "1"}, []),                                                # a text is no number
    ({"GT_ILMD_example:other": "1"}, []),
])
def test_ilmd_ranges(store, params, expected):
    _put(store)
    assert _ids(store, params) == expected


@pytest.mark.parametrize("params,named", [
    ({"GT_ILMD_example:weight": "heavy"}, "GT_ILMD_example:weight"),
    ({"GE_ILMD_example:made": "2026-01-10"}, "GE_ILMD_example:made"),                  # no time, no offset
    ({"LT_ILMD_example:weight": ["1", "2"]}, "LT_ILMD_example:weight"),
    ({"GT_INNER_ILMD_example:weight": "heavy"}, "GT_INNER_ILMD_example:weight"),
    ({"EXISTS_INNER_ILMD_example:weight": "5"}, "EXISTS_INNER_ILMD_example:weight"),   # takes no value
    ({"EXISTS_INNER_example:myField": "red"}, "EXISTS_INNER_example:myField"),
])
def test_refused_by_name(params, named):
    with pytest.raises(Refusal) as e:
        epcis_params.parse(params)
    assert e.value.field == named


site = base.site   # a served site with the base module's events captured over HTTP


def test_ilmd_ranges_and_inner_over_http(site):
    assert base._http_ids(site, {"GE_ILMD_example:count": "5"}) == ["e0"]
    assert base._http_ids(site, {"GT_ILMD_example:count": "5"}) == []
    # INNER_ is of nested fields only (test_epcis_inner_query): e0's count is a top-level field
    assert base._http_ids(site, {"EQ_INNER_ILMD_example:count": "5"}) == []
